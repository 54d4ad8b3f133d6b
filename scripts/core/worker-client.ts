/**
 * What the commands need of a worker, and nothing of how it is reached: transport/invoke.ts
 * implements it over Lambda Invoke, compat/run-sql-worker.ts over a plain run-sql worker, and
 * tests may pass their own. Keeping the interface here lets the pure core and the formats
 * name a worker without loading the AWS SDK.
 */
import type {
  ApplyEvent,
  ApplyResult,
  BackfillEvent,
  BackfillResult,
  BaselineEvent,
  BaselineResult,
  DriftEvent,
  DriftResult,
  LedgerResult,
  MigrationFormat,
  RehearseEvent,
  RehearseResult,
  ResolveEvent,
  ResolveResult,
  RunSqlEvent,
  RunSqlResult,
  WorkerEvent,
} from '../../lambda/contract/index.js';
import { ErrorCode, MigrateError } from '../../lambda/contract/index.js';

/** An action's event as a method takes it: the client adds `action`, and a `requestId` when none is given. */
export type Request<E extends { action: string; requestId?: string }> = Omit<E, 'action' | 'requestId'> & {
  requestId?: string;
};

export interface WorkerTarget {
  /** The migrator function: the one that applies migrations and writes ('' when only a reader function is named). */
  functionName: string;
  /**
   * The reader function (the same worker deployed with `VPC_MIGRATE_MODE=reader`): it answers
   * only the ledger and run-sql without write, as a login role that can only read.
   */
  readerFunctionName?: string;
  /** Set by {@link targetFor} when a reader function was known: which of the two `functionName` is. */
  role?: FunctionRole;
  /** An Invoke-compatible endpoint (the local one, or any emulator); default: AWS. */
  endpoint?: string;
  region?: string;
  profile?: string;
  /** The function's timeout: the HTTP request may take this long plus a margin. */
  functionTimeoutMs?: number;
  /** Static credentials for the local endpoint (it does not check signatures). */
  localCredentials?: boolean;
  /**
   * One of the worker's named databases (its allow-list, the construct's `databases` prop): every
   * event sent carries it as `database`. Absent: the worker's own database.
   */
  database?: string;
}

export interface Worker {
  readonly target: WorkerTarget;
  /** Invocations made so far (the benchmark counts them). */
  readonly invocations: number;
  /** The ledger of `format` (default prisma: the event then carries no format, as a Prisma-only worker expects). */
  ledger(format?: MigrationFormat): Promise<LedgerResult>;
  apply(event: Request<ApplyEvent>): Promise<ApplyResult>;
  runSql(event: Omit<RunSqlEvent, 'action'>): Promise<RunSqlResult>;
  /** `migrate resolve` under the migration lock. Each action's answer is validated against its schema (wire.ts). */
  resolve(event: Request<ResolveEvent>): Promise<ResolveResult>;
  rehearse(event: Request<RehearseEvent>): Promise<RehearseResult>;
  backfill(event: Request<BackfillEvent>): Promise<BackfillResult>;
  baseline(event: Request<BaselineEvent>): Promise<BaselineResult>;
  /** One step of a drift check (lambda/drift/action.ts); every step writes (it creates or drops a database). */
  drift(event: Request<DriftEvent>): Promise<DriftResult>;
  /**
   * What this worker cannot guarantee (the run-sql compatibility protocol, scripts/compat/);
   * deploy prints each as a warning. Absent for our worker.
   */
  readonly limitations?: readonly string[];
  /**
   * Sends any event and returns its `result` unchecked (protocol tests send malformed events):
   * commands use the typed method of their action instead.
   */
  send(event: WorkerEvent | Record<string, unknown>, opts?: { writes?: boolean }): Promise<unknown>;
  close(): void;
}

/** How a run names its worker (the target flags; transport/target.ts resolves them to a `WorkerTarget`). */
export interface TargetFlags {
  local?: boolean;
  function?: string;
  endpoint?: string;
  stack?: string;
  region?: string;
  profile?: string;
  databaseUrl?: string;
  functionTimeoutMs?: number;
  /** `--reader-function NAME|ARN` (else VPC_MIGRATE_READER_FUNCTION, the stack's output, the local worker's). */
  readerFunction?: string;
  /** `--database NAME`: one of the worker's named databases. */
  database?: string;
  /**
   * More named databases for the local worker (name → URL), beside VPCM_DATABASES's: drift's
   * `--dev-database URL` with `--local`. Never sent anywhere: a deployed worker has its own list.
   */
  localDatabases?: Readonly<Record<string, string>>;
}

export type FunctionRole = 'reader' | 'migrator';

/** Which function answered a report's calls; reports carry it (as `function`) when a reader function was known. */
export interface AnsweredBy {
  name: string;
  role: FunctionRole;
}

/** The `function` of a report made through `worker`, or undefined when there was no reader function to choose. */
export function answeredBy(worker: Pick<Worker, 'target'>): AnsweredBy | undefined {
  return worker.target.role ? { name: worker.target.functionName, role: worker.target.role } : undefined;
}

/**
 * The commands whose every call the reader function answers: they read the ledger (status, lint
 * of the pending migrations) or run SQL read-only (`sql` without `--write`). Everything else
 * (deploy, resolve, rehearse, backfill, `sql --write`) goes to the migrator function.
 */
const READ_ONLY_COMMANDS: ReadonlySet<string> = new Set(['status', 'lint', 'sql']);

/** Whether `command` (with `--write` or not) sends only what the reader function answers. */
export function readsOnly(command: string, opts: { write?: boolean } = {}): boolean {
  return READ_ONLY_COMMANDS.has(command) && opts.write !== true;
}

/**
 * The one routing rule between the two functions: a read-only command goes to the reader
 * function when one is known, anything else to the migrator. The returned target names the
 * function to invoke in `functionName`, and `role` says which it is when there was a choice.
 * With a named database everything goes to the migrator: the reader function serves only its own.
 *
 * @example targetFor('status', { functionName: 'w', readerFunctionName: 'r' }) // { functionName: 'r', role: 'reader' }
 */
export function targetFor(command: string, target: WorkerTarget, opts: { write?: boolean } = {}): WorkerTarget {
  if (readsOnly(command, opts) && target.readerFunctionName && target.database === undefined) {
    const { readerFunctionName, ...rest } = target;
    return { ...rest, functionName: readerFunctionName, role: 'reader' };
  }
  return migratorOnly(target, target.database === undefined ? command : `${command} --database`);
}

/** The migrator function of `target` alone; refused when only a reader function was named. */
export function migratorOnly(target: WorkerTarget, command = 'this command'): WorkerTarget {
  const { readerFunctionName, ...rest } = target;
  if (!rest.functionName) {
    throw new MigrateError(
      ErrorCode.NoTarget,
      `Only a reader function (${String(readerFunctionName)}) ` +
        `is named, and ${command} needs the migrator function: ` +
        `nothing was run.`,
      'Name the migrator with --function NAME|ARN (or VPC_MIGRATE_FUNCTION) ' +
        'or --stack STACK_NAME; the reader function answers ' +
        'only status, lint and sql without --write, on its own database (never with --database).',
    );
  }
  return readerFunctionName ? { ...rest, role: 'migrator' } : rest;
}
