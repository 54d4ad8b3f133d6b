/**
 * The wire protocol between the CLI (`scripts/`) and the worker (`lambda/`).
 *
 * This is the only module both sides import. It holds types and constants, no I/O, so the
 * worker bundle stays small and the CLI can type-check what it sends.
 */

export const PROTOCOL_VERSION = 1;

/** Prisma's advisory lock key (schema-engine `flavour/postgres.rs`): we and Prisma exclude each other. */
export const MIGRATION_LOCK_KEY = 72707369;

/** Synchronous Invoke limits (request and response): 6 MB each. */
export const INVOKE_PAYLOAD_LIMIT_BYTES = 6 * 1024 * 1024;

/** SQL longer than this travels gzip+base64 in the event. */
export const COMPRESS_THRESHOLD_BYTES = 64 * 1024;

/** The ledger table Prisma owns. */
export const PRISMA_LEDGER_TABLE = '_prisma_migrations';

// ---------------------------------------------------------------------------------------------
// Statements: the CLI parses each migration.sql with PostgreSQL's own parser and sends the
// boundaries; the worker executes and never parses.

/**
 * - `transactional`: may run inside a transaction block.
 * - `non-transactional`: PostgreSQL refuses it inside a transaction block (CONCURRENTLY, VACUUM, ...).
 * - `begin` / `commit`: the file's own transaction control (BEGIN, START TRANSACTION, COMMIT,
 *   END, ROLLBACK); files holding them run as scripts.
 */
export type StatementKind = 'transactional' | 'non-transactional' | 'begin' | 'commit';

export interface StatementSpan {
  /** Offset of the first character in the migration text (UTF-16 code units, i.e. JS string index). */
  start: number;
  /** Offset one past the last character (exclusive); the trailing `;` is not included. */
  end: number;
  /** 1-based line in migration.sql where the statement starts (after leading comments/whitespace). */
  line: number;
  kind: StatementKind;
}

/**
 * How the worker runs a file:
 * - `transactional`: one transaction holding the whole file and its ledger row (atomic).
 * - `non-transactional`: Prisma-style; the ledger row is written first, then each statement runs
 *   in autocommit, `applied_steps_count` counting progress, `finished_at` set at the end.
 * - `script`: the file manages its own transactions (BEGIN/COMMIT); it runs as written, with the
 *   ledger row written before and completed after, exactly as Prisma does.
 */
export type ExecutionMode = 'transactional' | 'non-transactional' | 'script';

export interface MigrationPayload {
  /** Folder name, e.g. `20240101000000_init`; the ledger's `migration_name`. */
  name: string;
  /** sha256 of migration.sql's bytes, lowercase hex. The worker recomputes it from `sql`. */
  checksum: string;
  /** The file's text; exactly one of `sql` / `sqlGzipBase64` is set. */
  sql?: string;
  /** gzip of the UTF-8 bytes, base64: used when the text is large. */
  sqlGzipBase64?: string;
  mode: ExecutionMode;
  /** Statement boundaries. Absent or empty: the file runs as one statement. */
  statements?: StatementSpan[];
}

export interface ApplyOptions {
  /** Upper bound for each statement; the worker lowers it to fit the Lambda's remaining time. */
  statementTimeoutMs?: number;
  /** `lock_timeout` for each migration's statements (0 = PostgreSQL's default: wait forever). */
  lockTimeoutMs?: number;
  /** How long to wait for the migration advisory lock before refusing. */
  lockWaitMs?: number;
  /** Reconcile "already exists" failures statement by statement (default true). */
  reconcileExisting?: boolean;
}

// ---------------------------------------------------------------------------------------------
// Events

export interface LedgerEvent {
  action: 'ledger';
  requestId?: string;
}

export interface ApplyEvent {
  action: 'apply';
  /** Identifies the request in logs; a retried batch finds its own finished work in the ledger. */
  requestId: string;
  migrations: MigrationPayload[];
  options?: ApplyOptions;
}

export interface RunSqlEvent {
  action: 'run-sql';
  requestId?: string;
  sql: string;
  /** Without it the statement runs in a READ ONLY transaction, enforced by PostgreSQL. */
  write?: boolean;
  params?: unknown[];
  /** Rows returned at most (default 1000); more sets `truncated`. */
  maxRows?: number;
  statementTimeoutMs?: number;
}

export type WorkerEvent = LedgerEvent | ApplyEvent | RunSqlEvent;
export type WorkerAction = WorkerEvent['action'];
export const WORKER_ACTIONS: readonly WorkerAction[] = ['ledger', 'apply', 'run-sql'];

// ---------------------------------------------------------------------------------------------
// Responses: the worker answers with an envelope, never by throwing, so typed errors survive
// the Lambda boundary as JSON. A thrown error reaches the CLI as `X-Amz-Function-Error`.

export interface ErrorBody {
  /** Stable code, e.g. `VPCM_LOCK_TIMEOUT`; see lambda/errors.ts. */
  code: string;
  message: string;
  /** The next step for the person reading it. */
  remedy: string;
  details?: Record<string, unknown>;
}

export type WorkerResponse<T> =
  | { ok: true; protocol: number; action: WorkerAction; result: T }
  | { ok: false; protocol: number; action?: string; error: ErrorBody };

/** One row of `_prisma_migrations`, timestamps as ISO strings. */
export interface LedgerRow {
  id: string;
  checksum: string;
  finished_at: string | null;
  migration_name: string;
  logs: string | null;
  rolled_back_at: string | null;
  started_at: string;
  applied_steps_count: number;
}

export interface LockHolder {
  pid: number;
  application: string | null;
  user: string | null;
  since: string | null;
  query: string | null;
}

export interface ServerFacts {
  version: string;
  database: string;
  schema: string;
  user: string;
  /** Who holds the migration advisory lock right now, if anyone. */
  lockHolder: LockHolder | null;
}

export interface LedgerResult {
  server: ServerFacts;
  tableExists: boolean;
  /** Tables in the schema other than the ledger: a non-empty schema with no ledger is baselined. */
  userTableCount: number;
  rows: LedgerRow[];
}

/** A PostgreSQL error, placed in the migration file. */
export interface SqlErrorInfo {
  /** SQLSTATE, e.g. `42P01`. */
  code?: string;
  message: string;
  detail?: string;
  hint?: string;
  where?: string;
  /** 1-based line and column in migration.sql, when known. */
  line?: number;
  column?: number;
  /** The failing statement (shortened). */
  statement?: string;
  /** Index of the failing statement in the file's statement list. */
  statementIndex?: number;
}

export interface SkippedStatement {
  index: number;
  line: number;
  code: string;
  message: string;
  statement: string;
}

export type MigrationStatus =
  | 'applied'
  | 'reconciled'
  | 'already-applied'
  | 'failed'
  | 'not-started';

export interface MigrationResult {
  name: string;
  status: MigrationStatus;
  mode: ExecutionMode;
  durationMs: number;
  /** Statements skipped because the object already existed (status `reconciled`). */
  skipped?: SkippedStatement[];
  error?: SqlErrorInfo;
  /** For non-transactional and script files: statements that completed before a failure. */
  appliedSteps?: number;
  /** Set when the statement timeout was lowered to the Lambda's remaining time and fired. */
  timeBudgetExhausted?: boolean;
}

export interface ApplyResult {
  requestId: string;
  results: MigrationResult[];
  /** Why the batch ended before its last migration, if it did. */
  stopped?: 'failed' | 'time-budget' | 'blocked';
  ledgerCreated: boolean;
  /** The schema held tables but no ledger: what already exists is reconciled and recorded. */
  baselining: boolean;
  lockWaitMs: number;
}

export interface RunSqlField {
  name: string;
  dataTypeID: number;
}

export interface RunSqlResult {
  command: string;
  rowCount: number | null;
  fields: RunSqlField[];
  rows: Record<string, unknown>[];
  truncated: boolean;
  notices: string[];
  durationMs: number;
}
