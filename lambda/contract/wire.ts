/**
 * The wire types between the CLI (`scripts/`) and the worker (`lambda/`): events, answers, limits.
 *
 * Part of the contract (./index.ts). It holds types and constants, no I/O, so the
 * worker bundle stays small and the CLI can type-check what it sends.
 */

export const PROTOCOL_VERSION = 1;

/** Prisma's advisory lock key (schema-engine `flavour/postgres.rs`): we and Prisma exclude each other. */
export const MIGRATION_LOCK_KEY = 72707369;

/** How long deploy and resolve wait for the migration lock by default (Prisma waits 10 s too). */
export const DEFAULT_LOCK_WAIT_MS = 10_000;

/** The ledger table Prisma owns. */
export const PRISMA_LEDGER_TABLE = '_prisma_migrations';

// ---------------------------------------------------------------------------------------------
// Statements: the CLI parses each migration.sql with PostgreSQL's own parser and sends the
// boundaries; the worker executes and never parses.

/**
 * - `transactional`: may run inside a transaction block.
 * - `non-transactional`: PostgreSQL refuses it inside a transaction block (CONCURRENTLY, VACUUM, ...).
 * - `self-committing`: a `DO` block whose body commits or rolls back, or a `CALL` (the procedure
 *   may): it must run outside a transaction block (else `2D000 invalid transaction termination`),
 *   and once interrupted it cannot be re-run safely, since what it committed is unknown.
 * - `begin` / `commit`: the file's own transaction control (BEGIN, START TRANSACTION, COMMIT,
 *   END, ROLLBACK); files holding them run as scripts.
 * - `transaction-control`: statements that must run exactly as written, never inside a savepoint
 *   of ours: `SET TRANSACTION …` and `SET SESSION CHARACTERISTICS` (PostgreSQL requires them at
 *   the start of the real transaction), and the author's own `SAVEPOINT` / `RELEASE` /
 *   `ROLLBACK TO` (a savepoint of ours around them would release or hide theirs).
 * - `timeout-setting`: `SET [LOCAL] statement_timeout`, `RESET statement_timeout`: the worker
 *   checks the value afterwards against the Lambda's time budget.
 */
export type StatementKind =
  | 'transactional'
  | 'non-transactional'
  | 'self-committing'
  | 'begin'
  | 'commit'
  | 'transaction-control'
  | 'timeout-setting';

export const STATEMENT_KINDS: readonly StatementKind[] = [
  'transactional',
  'non-transactional',
  'self-committing',
  'begin',
  'commit',
  'transaction-control',
  'timeout-setting',
];

/** Statements the worker runs in autocommit, outside any transaction block. */
export function runsOutsideTransaction(kind: StatementKind): boolean {
  return kind === 'non-transactional' || kind === 'self-committing';
}

/**
 * Statements the worker may wrap in a savepoint of its own to skip an "already exists". Every
 * other kind either cannot raise one or changes meaning inside a savepoint.
 */
export function isGuardable(kind: StatementKind): boolean {
  return kind === 'transactional';
}

export interface StatementSpan {
  /** Offset of the first character in the migration text (UTF-16 code units, i.e. JS string index). */
  start: number;
  /** Offset one past the last character (exclusive); the trailing `;` is not included. */
  end: number;
  /** 1-based line in migration.sql where the statement starts (after leading comments/whitespace). */
  line: number;
  kind: StatementKind;
  /**
   * What the statement creates, by name (scripts/core/creates.ts): when it fails because the object
   * "already exists", the worker compares that object's definition with what the statement
   * makes, and skips the statement only when they are the same.
   */
  creates?: CreatedObject[];
  /**
   * For a statement that cannot run inside a transaction (CREATE INDEX CONCURRENTLY): the same
   * statement without CONCURRENTLY, which the comparison builds inside one and rolls back.
   */
  comparable?: string;
}

export type CreatedKind = 'relation' | 'index' | 'constraint' | 'column' | 'type' | 'routine' | 'trigger' | 'schema' | 'extension';
export const CREATED_KINDS: readonly CreatedKind[] = ['relation', 'index', 'constraint', 'column', 'type', 'routine', 'trigger', 'schema', 'extension'];

export interface CreatedObject {
  kind: CreatedKind;
  name: string;
  /** As written in the statement; absent: the first schema of the search_path (or the table's). */
  schema?: string;
  /** For an index, constraint, column or trigger: the table it belongs to. */
  table?: string;
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
  /** Drizzle only (required there): the journal entry's `when`, recorded as `created_at`. */
  createdAt?: number;
  /** Drizzle only (required there): the file's `--> statement-breakpoint` chunks, each sent as one query. */
  chunks?: ChunkSpan[];
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
  /**
   * Apply into a schema that holds tables but no ledger, reconciling what exists (`deploy
   * --baseline`). Without it the worker refuses such a schema (VPCM_SCHEMA_NOT_EMPTY, Prisma's
   * P3005): it may be the wrong database.
   */
  baseline?: boolean;
}

// ---------------------------------------------------------------------------------------------
// Events

export interface LedgerEvent {
  action: 'ledger';
  requestId?: string;
  /** Which ledger to read; absent = `prisma`. */
  format?: MigrationFormat;
}

export interface ApplyEvent {
  action: 'apply';
  /** Identifies the request in logs; a retried batch finds its own finished work in the ledger. */
  requestId: string;
  migrations: MigrationPayload[];
  options?: ApplyOptions;
  /** Which ledger records the migrations and how they run; absent = `prisma`. */
  format?: MigrationFormat;
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

/**
 * Once per database cluster (the CDK stack invokes it on deploy): creates the role read-only
 * run-sql switches to, and lets the worker's login role switch to it.
 */
export interface SetupEvent {
  action: 'setup';
  requestId?: string;
}

/** The CloudFormation type of the reader-role set-up resource (infra/migration-worker.ts). */
export const READER_ROLE_RESOURCE_TYPE = 'Custom::VpcMigrateReaderRole';

export interface SetupResult {
  readerRole: string;
  /** False when the role already existed. */
  created: boolean;
  loginRole: string;
  /** `pg_read_all_data` (PostgreSQL 14+), else SELECT on the tables of `public`. */
  reads: 'pg_read_all_data' | 'public-tables';
}

export type WorkerEvent = LedgerEvent | ApplyEvent | RunSqlEvent | ResolveEvent | RehearseEvent | BackfillEvent | SetupEvent | BaselineEvent;
export type WorkerAction = WorkerEvent['action'];
export const WORKER_ACTIONS: readonly WorkerAction[] = ['ledger', 'apply', 'run-sql', 'resolve', 'rehearse', 'backfill', 'setup', 'baseline'];

// ---------------------------------------------------------------------------------------------
// Responses: the worker answers with an envelope, never by throwing, so typed errors survive
// the Lambda boundary as JSON. A thrown error reaches the CLI as `X-Amz-Function-Error`.

export interface ErrorBody {
  /** Stable code, e.g. `VPCM_LOCK_TIMEOUT`; see lambda/contract/errors.ts. */
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
  /** Set for a Drizzle ledger; `rows` is then empty and `tableExists` is about `drizzle.__drizzle_migrations`. */
  format?: MigrationFormat;
  drizzleRows?: DrizzleLedgerRow[];
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
  /**
   * A lock_timeout (55P03): the sessions the statement last waited for, seen by the migration
   * lock's session while it ran (lambda/lock.ts).
   */
  blockedBy?: BlockingSession[];
  /** A failed `CREATE INDEX CONCURRENTLY` left this index INVALID (pg_index.indisvalid = false). */
  invalidIndex?: { schema: string; name: string };
}

/** A session another one waits for (pg_blocking_pids), as pg_stat_activity shows it. */
export interface BlockingSession {
  pid: number;
  application: string | null;
  user: string | null;
  state: string | null;
  /** When its current (or last) query started, ISO. */
  queryStart: string | null;
  /** Its current (or last) query, first line, shortened. */
  query: string | null;
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
  /** With `timeBudgetExhausted`: the statement_timeout (ms) the remaining time allowed. */
  statementTimeoutMs?: number;
  /** A non-transactional file interrupted earlier, resumed at this 0-based statement. */
  resumedFrom?: number;
  /** The file changed statement_timeout: what it asked for, what was in force, and why. */
  timeouts?: TimeoutDecision[];
  /** For a failure: false when the ledger could not take the failed row (the error's hint says why). */
  failureRecorded?: boolean;
}

/**
 * A file's own `SET [LOCAL] statement_timeout` against the worker's time budget (the Lambda's
 * remaining time minus a margin). The file's value stands when it is within the budget; a
 * larger one (or 0, no limit) would let a statement outlive the function, which Lambda then
 * kills mid-write, so the budget is re-imposed for the rest of the migration — and said here.
 */
export interface TimeoutDecision {
  /** 1-based line of the SET in migration.sql. */
  line: number;
  /** The value the file set, in ms (0 = no limit). */
  requestedMs: number;
  /** The value in force afterwards, in ms. */
  effectiveMs: number;
  winner: 'file' | 'time-budget';
}

/**
 * `logs` of a non-transactional migration's ledger row while the worker runs it statement by
 * statement; `applied_steps_count` then counts the statements that took effect (each
 * transactional statement commits together with that count). A row still unfinished with this
 * text was interrupted (the worker died, hit its timeout or lost its connection), not failed: the
 * next deploy resumes it there. A SQL failure replaces the text with the error (Prisma P3018).
 */
export const RESUMABLE_LOG_PREFIX = 'vpc-migrate: running statement by statement';

export function isResumableLog(logs: string | null | undefined): boolean {
  return typeof logs === 'string' && logs.startsWith(RESUMABLE_LOG_PREFIX);
}

export interface ApplyResult {
  requestId: string;
  results: MigrationResult[];
  /** Why the batch ended before its last migration, if it did. */
  stopped?: 'failed' | 'time-budget' | 'blocked';
  /** With `stopped: 'blocked'`: the reason, in a sentence (e.g. a session blocked on the lock). */
  stoppedBecause?: string;
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

// ---------------------------------------------------------------------------------------------
// Operator actions: resolve, rehearse, backfill (lambda/resolve.ts, rehearse.ts, backfill.ts)

export type ResolveTarget = 'applied' | 'rolled-back';

/** `migrate resolve` with Prisma's semantics (docs/design.md §2), under the migration advisory lock. */
export interface ResolveEvent {
  action: 'resolve';
  requestId?: string;
  /** The migration folder name (`migration_name`). */
  name: string;
  /** sha256 of the local migration.sql; required for `applied` (the new row records it). */
  checksum?: string;
  to: ResolveTarget;
  /** How long to wait for the migration advisory lock (default 10 s). */
  lockWaitMs?: number;
}

export interface ResolveResult {
  name: string;
  to: ResolveTarget;
  /** Ids of the failed rows now marked `rolled_back_at`. */
  rolledBackIds: string[];
  /** The row `applied` inserted. */
  inserted?: LedgerRow;
  /** `applied` created `_prisma_migrations` (Prisma does too: `baseline_initialize`). */
  ledgerCreated: boolean;
  lockWaitMs: number;
}

/**
 * `baseline --up-to NAME` (Prisma format): the local migrations from the first through NAME, in
 * order, NAME last. Under the migration lock the worker checks by definition that what each one
 * creates exists (lambda/reconcile.ts), then records each not yet recorded as Prisma's `migrate
 * resolve --applied` does, all in one transaction. Nothing of the SQL runs.
 */
export interface BaselineEvent {
  action: 'baseline';
  requestId?: string;
  migrations: MigrationPayload[];
  /** How long to wait for the migration advisory lock (default 10 s). */
  lockWaitMs?: number;
}

/** What of a migration the database lacks, or holds differently, for `baseline`. */
export interface MissingObject {
  migration: string;
  /** Line of the creating statement in migration.sql. */
  line: number;
  /** e.g. `relation "User"`, `index "User_email_key"`. */
  object: string;
  why: string;
  existing?: string;
  wanted?: string;
}

export interface BaselineResult {
  /** Recorded now, in order. */
  recorded: LedgerRow[];
  /** Already recorded as applied: left as they were. */
  alreadyRecorded: string[];
  /** Recorded now, though they create nothing by name to check (data migrations, ALTER … TYPE): recorded on the user's word. */
  unchecked: string[];
  /** `_prisma_migrations` was created. */
  ledgerCreated: boolean;
  lockWaitMs: number;
}

/** Pending migrations applied inside ONE transaction, measured, then rolled back. */
export interface RehearseEvent {
  action: 'rehearse';
  requestId?: string;
  migrations: MigrationPayload[];
  /** `statementTimeoutMs`, `lockTimeoutMs`, `lockWaitMs`, `reconcileExisting` as for apply. */
  options?: ApplyOptions;
}

/**
 * - `rehearsed`: every statement ran.
 * - `partial`: the statements that can run in a transaction ran; the rest are in `notRehearsed`.
 * - `failed`: a statement failed; deploy would fail the same way (see `note` for a possible
 *   earlier cause).
 * - `shared-transaction`: PostgreSQL refused only because the rehearsal holds every migration in
 *   one transaction (e.g. a new enum value added by an earlier pending file); not a defect.
 * - `not-rehearsable`: nothing in it can run inside a transaction.
 * - `already-applied`: the ledger records it; not run.
 * - `not-started`: the time budget ran out first.
 */
export type RehearsalStatus =
  | 'rehearsed'
  | 'partial'
  | 'failed'
  | 'shared-transaction'
  | 'not-rehearsable'
  | 'already-applied'
  | 'not-started';

/** What a lock mode makes other sessions wait for. */
export type LockImpact = 'reads-and-writes' | 'writes' | 'schema-changes' | 'ddl';

export interface RehearsalLock {
  /** `relation`, `object`, `advisory`, ... (pg_locks.locktype). */
  locktype: string;
  /** e.g. `AccessExclusiveLock`. */
  mode: string;
  /** The relation (schema-qualified), the object's description, or the advisory key. */
  target: string;
  /** pg_class.relkind name for relations: table, index, sequence, view, ... */
  kind?: string;
  /** The relation did not exist before the rehearsal: nobody else can be waiting for it. */
  newObject?: boolean;
  /** For relation locks: what concurrent sessions must wait for while it is held. */
  blocks?: LockImpact;
}

export interface RowsTouched {
  table: string;
  inserted: number;
  updated: number;
  deleted: number;
}

export interface NotRehearsedStatement {
  index: number;
  line: number;
  statement: string;
  /** `non-transactional`: cannot run in a transaction block; `transaction-control`: the file's own BEGIN/COMMIT, replaced by the rehearsal's transaction. */
  reason: 'non-transactional' | 'transaction-control';
}

export interface RehearsalResult {
  name: string;
  mode: ExecutionMode;
  status: RehearsalStatus;
  durationMs: number;
  statements: number;
  statementsRun: number;
  notRehearsed: NotRehearsedStatement[];
  /** Statements skipped because the object already exists, as deploy would reconcile them. */
  skipped: SkippedStatement[];
  /** Locks this migration took first in the rehearsal (one already held by an earlier pending migration is not repeated). */
  locks: RehearsalLock[];
  rows: RowsTouched[];
  error?: SqlErrorInfo;
  /** Why the status is `shared-transaction`, or what earlier problem a failure may come from. */
  note?: string;
  timeBudgetExhausted?: boolean;
}

export interface SequenceAdvance {
  sequence: string;
  before: string | null;
  after: string | null;
}

export interface RehearseResult {
  results: RehearsalResult[];
  /** Always true when the action answers: everything ran in one transaction that was rolled back. */
  rolledBack: boolean;
  stopped?: 'time-budget';
  /**
   * Sequences whose value moved during the rehearsal: `nextval` is not transactional, so a
   * rolled-back INSERT still consumes ids (concurrent sessions may account for part of it).
   */
  sequencesAdvanced: SequenceAdvance[];
  lockWaitMs: number;
  durationMs: number;
}

/** A tracked data backfill (`prisma/backfills/NAME.sql`): one transaction, recorded, run once. */
export interface BackfillEvent {
  action: 'backfill';
  requestId?: string;
  /** The file name without `.sql`. */
  name: string;
  /** sha256 of the file's bytes; the worker recomputes it from `sql`. */
  checksum: string;
  sql: string;
  /** Run even though a run is recorded. */
  again?: boolean;
  /** Who runs it (recorded); default: the database user. */
  runBy?: string;
  statementTimeoutMs?: number;
  lockTimeoutMs?: number;
}

/** The tracking table for backfills, in the connection's schema. */
export const BACKFILL_TABLE = '_vpc_migrate_backfills';

export interface BackfillRun {
  id: string;
  name: string;
  checksum: string;
  startedAt: string;
  finishedAt: string;
  rowsAffected: number;
  runBy: string;
  /** Run with `--again` over an earlier recorded run. */
  again: boolean;
}

export interface CheckOutcome {
  fields: RunSqlField[];
  rows: Record<string, unknown>[];
  truncated: boolean;
  error?: SqlErrorInfo;
}

export interface BackfillResult {
  name: string;
  checksum: string;
  run: BackfillRun;
  /** Runs recorded before this one (only when `again`). */
  previousRuns: BackfillRun[];
  /** Rows the file's INSERT/UPDATE/DELETE/MERGE statements reported; pg_stat's count when it has none (DO blocks). */
  rowsAffected: number;
  /** Per table, from pg_stat_xact_user_tables (triggers included). */
  rows: RowsTouched[];
  commands: { command: string; rowCount: number | null }[];
  /** The file's `-- check:` query, run read-only before and after. */
  check?: { query: string; before: CheckOutcome; after: CheckOutcome };
  notices: string[];
  tableCreated: boolean;
  durationMs: number;
}

// ---------------------------------------------------------------------------------------------
// Formats (docs/drizzle.md): Prisma's folders and `_prisma_migrations` (the default), or a Drizzle
// journal and `drizzle.__drizzle_migrations` (lambda/drizzle/).

export type MigrationFormat = 'prisma' | 'drizzle';
export const MIGRATION_FORMATS: readonly MigrationFormat[] = ['prisma', 'drizzle'];

/** Where drizzle-orm's `migrate()` keeps its ledger (its defaults: `migrationsSchema`, `migrationsTable`). */
export const DRIZZLE_LEDGER_SCHEMA = 'drizzle';
export const DRIZZLE_LEDGER_TABLE = '__drizzle_migrations';

/**
 * One `--> statement-breakpoint` chunk of a Drizzle file, in file offsets, sent as ONE query as
 * drizzle-orm sends it. `kind`: `commit` / `begin` when the chunk's last transaction-control
 * statement ends / opens a transaction block; `non-transactional` when it holds a statement
 * PostgreSQL refuses in one (CONCURRENTLY, ...); else `transactional`.
 */
export type ChunkSpan = StatementSpan;

/** One row of `drizzle.__drizzle_migrations`; `created_at` (bigint) read as drizzle-orm reads it, with `Number()`. */
export interface DrizzleLedgerRow {
  id: number;
  /** sha256 of the file's text, lowercase hex. */
  hash: string;
  /** The journal entry's `when` (milliseconds since the epoch). */
  created_at: number | null;
}
