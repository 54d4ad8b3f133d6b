/**
 * What the commands need of a worker, and nothing of how it is reached: transport/invoke.ts
 * implements it over Lambda Invoke, compat/run-sql-worker.ts over a plain run-sql worker, and
 * tests may pass their own. Keeping the interface here lets the pure core and the formats
 * name a worker without loading the AWS SDK.
 */
import type {
  ApplyEvent,
  ApplyResult,
  LedgerResult,
  MigrationFormat,
  RunSqlEvent,
  RunSqlResult,
  WorkerEvent,
} from '../../lambda/contract/index.js';

export interface WorkerTarget {
  functionName: string;
  /** An Invoke-compatible endpoint (the local one, or any emulator); default: AWS. */
  endpoint?: string;
  region?: string;
  profile?: string;
  /** The function's timeout: the HTTP request may take this long plus a margin. */
  functionTimeoutMs?: number;
  /** Static credentials for the local endpoint (it does not check signatures). */
  localCredentials?: boolean;
}

export interface Worker {
  readonly target: WorkerTarget;
  /** Invocations made so far (the benchmark counts them). */
  readonly invocations: number;
  /** The ledger of `format` (default prisma: the event then carries no format, as a Prisma-only worker expects). */
  ledger(format?: MigrationFormat): Promise<LedgerResult>;
  apply(event: Omit<ApplyEvent, 'action' | 'requestId'> & { requestId?: string }): Promise<ApplyResult>;
  runSql(event: Omit<RunSqlEvent, 'action'>): Promise<RunSqlResult>;
  /**
   * What this worker cannot guarantee (the run-sql compatibility protocol, scripts/compat/);
   * deploy prints each as a warning. Absent for our worker.
   */
  readonly limitations?: readonly string[];
  /** Sends any event and returns the raw envelope (protocol tests, other commands). */
  send<T>(event: WorkerEvent | Record<string, unknown>, opts?: { writes?: boolean }): Promise<T>;
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
}
