/**
 * Which worker the CLI talks to. Production names a function (`--function`, VPC_MIGRATE_FUNCTION
 * or `--stack`); `--local` starts the local worker explicitly. With none, the CLI refuses: a
 * deploy must never fall back to a local database by accident.
 */
import { ErrorCode, MigrateError } from '../../lambda/contract/index.js';
import type { TargetFlags, WorkerTarget } from '../core/worker.js';

export interface ResolvedTarget {
  target: WorkerTarget;
  /** Where the local worker's database lives (local mode only). */
  localDatabase?: { url: string; embedded: boolean; dataDir?: string };
  close(): Promise<void>;
}

export async function resolveTarget(flags: TargetFlags, env: NodeJS.ProcessEnv = process.env): Promise<ResolvedTarget> {
  const common = {
    ...(flags.region ? { region: flags.region } : {}),
    ...(flags.profile ? { profile: flags.profile } : {}),
    ...(flags.functionTimeoutMs ? { functionTimeoutMs: flags.functionTimeoutMs } : {}),
  };
  const chosen = [flags.local && '--local', flags.stack && '--stack', flags.function && '--function'].filter(Boolean);
  if (chosen.length > 1) {
    throw new MigrateError(ErrorCode.UsageError, `Choose one worker target; got ${chosen.join(' and ')}.`, 'Pass exactly one of --local, --function NAME or --stack NAME.');
  }
  if (flags.local) {
    const { startLocalWorker } = await import('../local/worker.js');
    const databaseUrl = flags.databaseUrl ?? env.DATABASE_URL;
    const local = await startLocalWorker({
      ...(databaseUrl ? { databaseUrl } : {}),
      ...(flags.functionTimeoutMs ? { timeoutMs: flags.functionTimeoutMs } : {}),
    });
    return {
      target: { functionName: local.functionName, endpoint: local.endpoint, localCredentials: true, region: 'us-east-1', ...(flags.functionTimeoutMs ? { functionTimeoutMs: flags.functionTimeoutMs } : {}) },
      localDatabase: { url: local.databaseUrl, embedded: local.embedded, ...(local.dataDir ? { dataDir: local.dataDir } : {}) },
      close: () => local.close(),
    };
  }
  if (flags.stack) {
    const { resolveStackFunction } = await import('./stack.js');
    const functionName = await resolveStackFunction({ stackName: flags.stack, ...common });
    return { target: { functionName, ...common, ...(flags.endpoint ? { endpoint: flags.endpoint } : {}) }, close: async () => undefined };
  }
  const functionName = flags.function ?? env.VPC_MIGRATE_FUNCTION ?? (flags.endpoint ? 'vpc-migrate' : undefined);
  if (functionName) {
    return { target: { functionName, ...common, ...(flags.endpoint ? { endpoint: flags.endpoint } : {}) }, close: async () => undefined };
  }
  throw new MigrateError(
    ErrorCode.NoTarget,
    'No worker to talk to: nothing was applied.',
    'Name the worker with --function NAME|ARN (or VPC_MIGRATE_FUNCTION), --stack STACK_NAME, or --endpoint URL; use --local to run against the local embedded database on purpose.',
  );
}
