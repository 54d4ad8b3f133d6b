/**
 * Which worker the CLI talks to. Production names a function (`--function`, VPC_MIGRATE_FUNCTION
 * or `--stack`); `--local` starts the local worker explicitly. With none, the CLI refuses: a
 * deploy must never fall back to a local database by accident.
 *
 * The reader function, when there is one, comes from `--reader-function`, else
 * VPC_MIGRATE_READER_FUNCTION, else the stack's `ReaderFunctionName`/`ReaderFunctionArn` output;
 * `--local` serves its own. core/worker-client.ts `targetFor` decides which of the two a command uses.
 */
import {
  DATABASE_NAME_RULE,
  ErrorCode,
  isDatabaseName,
  MigrateError,
  parseDatabaseList,
  WORKER_ENV,
} from '../../lambda/contract/index.js';
import type { TargetFlags, WorkerTarget } from '../core/worker-client.js';
import { DEFAULT_FUNCTION_NAME, readerFunctionNameOf } from '../local/names.js';

export interface ResolvedTarget {
  target: WorkerTarget;
  /** Where the local worker's database lives (local mode only). */
  localDatabase?: { url: string; embedded: boolean; dataDir?: string };
  close(): Promise<void>;
}

/**
 * The target flags' own consistency (one target; no --reader-function with --local; a
 * `--database` name the worker could accept): refused before anything starts. {@link resolveTarget}
 * checks it first too, for the API as for the CLI.
 */
export function checkTargetFlags(flags: TargetFlags): void {
  if (flags.database !== undefined && !isDatabaseName(flags.database)) {
    throw new MigrateError(
      ErrorCode.UsageError,
      `--database must be ${DATABASE_NAME_RULE}, got ${JSON.stringify(flags.database.slice(0, 140))}.`,
      "Pass --database NAME with a name from the worker's allow-list (the construct's databases prop).",
    );
  }
  const chosen = [flags.local && '--local', flags.stack && '--stack', flags.function && '--function'].filter(Boolean);
  if (chosen.length > 1) {
    throw new MigrateError(
      ErrorCode.UsageError,
      `Choose one worker target; got ${chosen.join(' and ')}.`,
      'Pass exactly one of --local, --function NAME or --stack NAME.',
    );
  }
  if (flags.local && flags.readerFunction !== undefined) {
    throw new MigrateError(
      ErrorCode.UsageError,
      '--reader-function names a deployed reader function; --local serves its own beside the local worker.',
      'Leave out --reader-function with --local, or drop --local ' +
        'and name the deployed worker (--function NAME or --stack ' +
        'NAME).',
    );
  }
}

/** VPCM_DATABASES's list (the local worker's default) with `extra` over it. */
function localDatabaseList(env: NodeJS.ProcessEnv, extra: Readonly<Record<string, string>>): Record<string, string> {
  const listed = parseDatabaseList(env[WORKER_ENV.databases]);
  if (listed instanceof MigrateError) throw listed;
  return { ...listed, ...extra };
}

/**
 * `--local` serves the worker in-process, behind the local Invoke endpoint. (A worker thread was
 * measured and removed: its own start made `status --local` ~35 ms slower and deploy no faster,
 * docs/benchmarks.md.)
 */
export async function resolveTarget(flags: TargetFlags, env: NodeJS.ProcessEnv = process.env): Promise<ResolvedTarget> {
  const common = {
    ...(flags.database !== undefined ? { database: flags.database } : {}),
    ...(flags.region ? { region: flags.region } : {}),
    ...(flags.profile ? { profile: flags.profile } : {}),
    ...(flags.functionTimeoutMs ? { functionTimeoutMs: flags.functionTimeoutMs } : {}),
  };
  checkTargetFlags(flags);
  if (flags.local) {
    const databaseUrl = flags.databaseUrl ?? env.DATABASE_URL;
    const databases = flags.localDatabases ? localDatabaseList(env, flags.localDatabases) : undefined;
    const options = {
      ...(databaseUrl ? { databaseUrl } : {}),
      ...(flags.functionTimeoutMs ? { timeoutMs: flags.functionTimeoutMs } : {}),
      ...(databases ? { databases } : {}),
    };
    const local = await (await import('../local/local-worker.js')).startLocalWorker(options);
    return {
      target: { ...plannedLocalTarget(flags), endpoint: local.endpoint },
      localDatabase: {
        url: local.databaseUrl,
        embedded: local.embedded,
        ...(local.dataDir ? { dataDir: local.dataDir } : {}),
      },
      close: () => local.close(),
    };
  }
  const endpoint = flags.endpoint ? { endpoint: flags.endpoint } : {};
  if (flags.stack) {
    const { resolveStackFunctions } = await import('./stack-outputs.js');
    const stack = await resolveStackFunctions({ stackName: flags.stack, ...common });
    const reader = readerFunctionOf(flags, env, stack.readerFunctionName);
    return {
      target: {
        functionName: stack.functionName,
        ...(reader ? { readerFunctionName: reader } : {}),
        ...common,
        ...endpoint,
      },
      close: async () => undefined,
    };
  }
  const functionName = flags.function ?? env.VPC_MIGRATE_FUNCTION ?? (flags.endpoint ? 'vpc-migrate' : undefined);
  const reader = readerFunctionOf(flags, env);
  // A reader function alone is a target too: who may invoke only the reader runs status, lint and sql with it.
  if (functionName || reader) {
    return {
      target: {
        functionName: functionName ?? '',
        ...(reader ? { readerFunctionName: reader } : {}),
        ...common,
        ...endpoint,
      },
      close: async () => undefined,
    };
  }
  throw new MigrateError(
    ErrorCode.NoTarget,
    'No worker to talk to: nothing was applied.',
    'Name the worker with --function NAME|ARN (or VPC_MIGRATE_FUNCTION), ' +
      '--stack STACK_NAME, or --endpoint URL; use --local ' +
      'to run against the local embedded database on purpose.',
  );
}

/** The target `--local` resolves to, but its endpoint (known once it listens). */
export function plannedLocalTarget(flags: Pick<TargetFlags, 'functionTimeoutMs' | 'database'>): WorkerTarget {
  return {
    functionName: DEFAULT_FUNCTION_NAME,
    readerFunctionName: readerFunctionNameOf(DEFAULT_FUNCTION_NAME),
    localCredentials: true,
    region: 'us-east-1',
    ...(flags.database !== undefined ? { database: flags.database } : {}),
    ...(flags.functionTimeoutMs ? { functionTimeoutMs: flags.functionTimeoutMs } : {}),
  };
}

/**
 * The reader function of a deployed target: `--reader-function`, else VPC_MIGRATE_READER_FUNCTION,
 * else the stack's output (`fromStack`); undefined when none names one (a stack from before the
 * reader function: every command then goes to the migrator).
 */
export function readerFunctionOf(
  flags: Pick<TargetFlags, 'readerFunction'>,
  env: NodeJS.ProcessEnv,
  fromStack?: string,
): string | undefined {
  if (flags.readerFunction !== undefined) {
    if (flags.readerFunction.trim() === '')
      throw new MigrateError(
        ErrorCode.UsageError,
        '--reader-function is empty.',
        'Pass --reader-function NAME|ARN, or leave it out.',
      );
    return flags.readerFunction;
  }
  return env.VPC_MIGRATE_READER_FUNCTION || fromStack || undefined;
}
