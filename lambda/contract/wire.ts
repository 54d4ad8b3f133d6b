/**
 * The wire contract between the CLI (`scripts/`) and the worker (`lambda/`), defined once as
 * valibot schemas: events, answers, limits. Every type here is inferred from its schema
 * (`v.InferInput` for what the CLI sends, `v.InferOutput` for what the worker reads and
 * answers), and the same schemas validate events in the worker (./validate.ts) and answers in
 * the CLI (scripts/transport/invoke.ts), so the two sides cannot drift apart.
 *
 * Part of the contract (./index.ts): no I/O. valibot's functions are tree-shaken, so the worker
 * bundle carries only the validators used here.
 */
import * as v from 'valibot';

export const PROTOCOL_VERSION = 1;

/** Prisma's advisory lock key (schema-engine `flavour/postgres.rs`): we and Prisma exclude each other. */
export const MIGRATION_LOCK_KEY = 72707369;

/** How long deploy and resolve wait for the migration lock by default (Prisma waits 10 s too). */
export const DEFAULT_LOCK_WAIT_MS = 10_000;

/** The ledger table Prisma owns. */
export const PRISMA_LEDGER_TABLE = '_prisma_migrations';

/** The most SQL one event may carry once decoded (the 6 MB Invoke limit applies to the wire form). */
export const MAX_SQL_BYTES = 64 * 1024 * 1024;
export const MAX_MIGRATIONS_PER_BATCH = 5000;
export const DEFAULT_MAX_ROWS = 1000;
export const MAX_ROWS_LIMIT = 100_000;
const MAX_TIMEOUT_MS = 3_600_000;

// ---------------------------------------------------------------------------------------------
// Building blocks. Messages are what the worker reports (prefixed by the field's path): they
// say what is expected, since the sender is a program of another version, or a person.

const HEX64 = /^[0-9a-f]{64}$/;
const int = (message: string) => v.pipe(v.number(message), v.safeInteger(message));
const intIn = (min: number, max: number) => {
  const message = `an integer from ${min} to ${max}`;
  return v.pipe(v.number(message), v.safeInteger(message), v.minValue(min, message), v.maxValue(max, message));
};
const timeoutMs = intIn(0, MAX_TIMEOUT_MS);
const bool = v.boolean('a boolean');
const hex64 = v.pipe(v.string('64 lowercase hex characters'), v.regex(HEX64, '64 lowercase hex characters'));
/** A folder or file name: no path separators, no NUL. */
const fileName = (max: number, message: string) =>
  v.pipe(v.string(message), v.minLength(1, message), v.maxLength(max, message), v.regex(/^[^/\\\0]*$/, message));
const idString = (max: number) => {
  const message = `a string of 1-${max} characters`;
  return v.pipe(v.string(message), v.minLength(1, message), v.maxLength(max, message));
};
const requestId = idString(128);
const nonBlankSql = v.pipe(
  v.string('a non-empty string'),
  v.check((s) => s.trim().length > 0, 'a non-empty string'),
  v.check((s) => Buffer.byteLength(s, 'utf8') <= MAX_SQL_BYTES, `larger than ${MAX_SQL_BYTES} bytes`),
);
/** `schema`, refusing an array first (valibot's objects accept arrays). */
const notArray = <S extends v.GenericSchema>(schema: S) => {
  const refused = v.custom<v.InferInput<S>>(() => false, 'must be an object');
  return v.lazy((input) => (Array.isArray(input) ? refused : schema));
};
/** PostgreSQL names are at most 63 bytes; a little room for the unusual. */
const pgName = v.pipe(v.string(), v.minLength(1), v.maxLength(256), v.regex(/^[^\0]*$/));
const isoOrNull = v.nullable(v.string());
/** A database name as events, flags and the construct spell it: it is printed in remedies and logs. */
export const DATABASE_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;
export const DATABASE_NAME_RULE = '1-128 letters, digits, _ . or -, starting with a letter or digit';
/**
 * Which of the worker's named databases the event is for (./database-selector.ts); absent: the
 * worker's own database. A name outside the worker's allow-list is refused before anything connects.
 */
const database = v.optional(v.pipe(v.string(DATABASE_NAME_RULE), v.regex(DATABASE_NAME_PATTERN, DATABASE_NAME_RULE)));

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
const STATEMENT_KIND_LIST = [
  'transactional',
  'non-transactional',
  'self-committing',
  'begin',
  'commit',
  'transaction-control',
  'timeout-setting',
] as const;
export const StatementKindSchema = v.picklist(STATEMENT_KIND_LIST, `one of ${STATEMENT_KIND_LIST.join(', ')}`);
export type StatementKind = v.InferOutput<typeof StatementKindSchema>;
export const STATEMENT_KINDS: readonly StatementKind[] = STATEMENT_KIND_LIST;

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

const CREATED_KIND_LIST = [
  'relation',
  'index',
  'constraint',
  'column',
  'type',
  'routine',
  'trigger',
  'schema',
  'extension',
] as const;
export const CreatedKindSchema = v.picklist(CREATED_KIND_LIST);
export type CreatedKind = v.InferOutput<typeof CreatedKindSchema>;
export const CREATED_KINDS: readonly CreatedKind[] = CREATED_KIND_LIST;

export const CreatedObjectSchema = v.strictObject({
  kind: CreatedKindSchema,
  name: pgName,
  /** As written in the statement; absent: the first schema of the search_path (or the table's). */
  schema: v.optional(pgName),
  /** For an index, constraint, column or trigger: the table it belongs to. */
  table: v.optional(pgName),
});
export type CreatedObject = v.InferOutput<typeof CreatedObjectSchema>;

const CREATES_MESSAGE = `a list of {kind: ${CREATED_KIND_LIST.join('|')}; name, schema?, table?: names}`;

export const StatementSpanSchema = v.pipe(
  v.object(
    {
      /** Offset of the first character in the migration text (UTF-16 code units, i.e. JS string index). */
      start: int('an integer'),
      /** Offset one past the last character (exclusive); the trailing `;` is not included. */
      end: int('an integer'),
      /** 1-based line in migration.sql where the statement starts (after leading comments/whitespace). */
      line: int('an integer'),
      kind: StatementKindSchema,
      /**
       * What the statement creates, by name (scripts/core/creates.ts): when it fails because the object
       * "already exists", the worker compares that object's definition with what the statement
       * makes, and skips the statement only when they are the same.
       */
      creates: v.optional(v.pipe(v.array(CreatedObjectSchema, CREATES_MESSAGE), v.maxLength(100, CREATES_MESSAGE))),
      /**
       * For a statement that cannot run inside a transaction (CREATE INDEX CONCURRENTLY): the same
       * statement without CONCURRENTLY, which the comparison builds inside one and rolls back.
       */
      comparable: v.optional(v.pipe(v.string(), v.minLength(1, 'a non-empty string no longer than the statement'))),
    },
    'must be an object',
  ),
  v.forward(
    v.partialCheck(
      [['start'], ['end'], ['comparable']],
      (s) => s.comparable === undefined || s.comparable.length <= s.end - s.start,
      'a non-empty string no longer than the statement',
    ),
    ['comparable'],
  ),
);
export type StatementSpan = v.InferOutput<typeof StatementSpanSchema>;
const spans = v.array(StatementSpanSchema, 'must be an array');

/**
 * How the worker runs a file:
 * - `transactional`: one transaction holding the whole file and its ledger row (atomic).
 * - `non-transactional`: Prisma-style; the ledger row is written first, then each statement runs
 *   in autocommit, `applied_steps_count` counting progress, `finished_at` set at the end.
 * - `script`: the file manages its own transactions (BEGIN/COMMIT); it runs as written, with the
 *   ledger row written before and completed after, exactly as Prisma does.
 */
const EXECUTION_MODE_LIST = ['transactional', 'non-transactional', 'script'] as const;
export const ExecutionModeSchema = v.picklist(EXECUTION_MODE_LIST, `one of ${EXECUTION_MODE_LIST.join(', ')}`);
export type ExecutionMode = v.InferOutput<typeof ExecutionModeSchema>;

export const MigrationPayloadSchema = v.pipe(
  v.strictObject(
    {
      /** Folder name, e.g. `20240101000000_init`; the ledger's `migration_name`. */
      name: fileName(255, 'a folder name of 1-255 characters without / \\ or NUL'),
      /** sha256 of migration.sql's bytes, lowercase hex. The worker recomputes it from `sql`. */
      checksum: hex64,
      /** The file's text; exactly one of `sql` / `sqlGzipBase64` is set. */
      sql: v.optional(v.string('exactly one of sql (string) or sqlGzipBase64 (string)')),
      /** gzip of the UTF-8 bytes, base64: used when the text is large. */
      sqlGzipBase64: v.optional(v.string('exactly one of sql (string) or sqlGzipBase64 (string)')),
      mode: ExecutionModeSchema,
      /** Statement boundaries. Absent or empty: the file runs as one statement. */
      statements: v.optional(spans),
      /** Drizzle only (required there): the journal entry's `when`, recorded as `created_at`. */
      createdAt: v.optional(
        v.pipe(
          v.number("a non-negative integer (the journal entry's when)"),
          v.safeInteger("a non-negative integer (the journal entry's when)"),
          v.minValue(0, "a non-negative integer (the journal entry's when)"),
        ),
      ),
      /** Drizzle only (required there): the file's `--> statement-breakpoint` chunks, each sent as one query. */
      chunks: v.optional(spans),
    },
    'must be an object',
  ),
  // Checked even when other fields are wrong, so one answer lists every problem.
  v.partialCheck(
    [['sql'], ['sqlGzipBase64']],
    (m) => (m.sql === undefined) !== (m.sqlGzipBase64 === undefined),
    'exactly one of sql (string) or sqlGzipBase64 (string)',
  ),
);
export type MigrationPayload = v.InferInput<typeof MigrationPayloadSchema>;

/**
 * A batch's migrations: non-empty and bounded (`noun` names the batch in the message). The bound
 * is checked before the items, so an oversized list is refused without looking at each one.
 */
const migrationList = (noun: string) => {
  const list = v.pipe(
    v.array(MigrationPayloadSchema, 'must be a non-empty array'),
    v.minLength(1, 'must be a non-empty array'),
  );
  const tooMany = v.custom<v.InferInput<typeof list>>(
    () => false,
    (issue) => {
      const got = Array.isArray(issue.input) ? issue.input.length : '?';
      return `at most ${MAX_MIGRATIONS_PER_BATCH} per ${noun}, got ${got}`;
    },
  );
  return v.lazy((input) => (Array.isArray(input) && input.length > MAX_MIGRATIONS_PER_BATCH ? tooMany : list));
};

// valibot's objects take arrays too; every field here is optional, so `[]` would pass as `{}`.
export const ApplyOptionsSchema = notArray(
  v.strictObject(
    {
      /** Upper bound for each statement; the worker lowers it to fit the Lambda's remaining time. */
      statementTimeoutMs: v.optional(timeoutMs),
      /** `lock_timeout` for each migration's statements (0 = PostgreSQL's default: wait forever). */
      lockTimeoutMs: v.optional(timeoutMs),
      /** How long to wait for the migration advisory lock before refusing. */
      lockWaitMs: v.optional(timeoutMs),
      /** Reconcile "already exists" failures statement by statement (default true). */
      reconcileExisting: v.optional(bool),
      /**
       * Apply into a schema that holds tables but no ledger, reconciling what exists (`deploy
       * --baseline`). Without it the worker refuses such a schema (VPCM_SCHEMA_NOT_EMPTY, Prisma's
       * P3005): it may be the wrong database.
       */
      baseline: v.optional(bool),
    },
    'must be an object',
  ),
);
export type ApplyOptions = v.InferOutput<typeof ApplyOptionsSchema>;

// ---------------------------------------------------------------------------------------------
// Formats (docs/drizzle.md): Prisma's folders and `_prisma_migrations` (the default), or a Drizzle
// journal and `drizzle.__drizzle_migrations` (lambda/drizzle/).

const MIGRATION_FORMAT_LIST = ['prisma', 'drizzle'] as const;
export const MigrationFormatSchema = v.picklist(MIGRATION_FORMAT_LIST, `one of ${MIGRATION_FORMAT_LIST.join(', ')}`);
export type MigrationFormat = v.InferOutput<typeof MigrationFormatSchema>;
export const MIGRATION_FORMATS: readonly MigrationFormat[] = MIGRATION_FORMAT_LIST;

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

// ---------------------------------------------------------------------------------------------
// Events

export const LedgerEventSchema = v.strictObject({
  action: v.literal('ledger'),
  database,
  requestId: v.optional(requestId),
  /** Which ledger to read; absent = `prisma`. */
  format: v.optional(MigrationFormatSchema),
});
export type LedgerEvent = v.InferInput<typeof LedgerEventSchema>;

export const ApplyEventSchema = v.strictObject({
  action: v.literal('apply'),
  database,
  /** Identifies the request in logs; a retried batch finds its own finished work in the ledger. */
  requestId,
  /** Which ledger records the migrations and how they run; absent = `prisma`. */
  format: v.optional(MigrationFormatSchema),
  options: v.optional(ApplyOptionsSchema, {}),
  migrations: migrationList('batch'),
  /**
   * Ask for the worker's time split in the answer (`VPC_MIGRATE_TIMINGS`, docs/benchmarks.md).
   * Sent only when asked for, so a CLI without the flag speaks to any worker of this protocol.
   */
  timings: v.optional(v.literal(true)),
});
export type ApplyEvent = v.InferInput<typeof ApplyEventSchema>;

export const RunSqlEventSchema = v.strictObject({
  action: v.literal('run-sql'),
  database,
  requestId: v.optional(requestId),
  sql: nonBlankSql,
  /** Without it the statement runs in a READ ONLY transaction, enforced by PostgreSQL. */
  write: v.optional(bool, false),
  params: v.optional(v.array(v.unknown(), 'an array')),
  /** Rows returned at most (default 1000); more sets `truncated`. */
  maxRows: v.optional(intIn(0, MAX_ROWS_LIMIT), DEFAULT_MAX_ROWS),
  statementTimeoutMs: v.optional(intIn(1, MAX_TIMEOUT_MS)),
});
export type RunSqlEvent = v.InferInput<typeof RunSqlEventSchema>;

/**
 * Once per database cluster (the CDK stack invokes it on deploy): creates the role read-only
 * run-sql switches to, and lets the worker's login role switch to it.
 */
export const SetupEventSchema = v.strictObject({
  action: v.literal('setup'),
  database,
  requestId: v.optional(requestId),
});
export type SetupEvent = v.InferInput<typeof SetupEventSchema>;

/** The CloudFormation type of the reader-role set-up resource (infra/migration-worker.ts). */
export const READER_ROLE_RESOURCE_TYPE = 'Custom::VpcMigrateReaderRole';

// ---------------------------------------------------------------------------------------------
// Operator actions: resolve, rehearse, backfill, baseline (lambda/resolve.ts, rehearse.ts, ...)

export const ResolveTargetSchema = v.picklist(['applied', 'rolled-back'], '"applied" or "rolled-back"');
export type ResolveTarget = v.InferOutput<typeof ResolveTargetSchema>;

/** `migrate resolve` with Prisma's semantics (docs/design.md §2), under the migration advisory lock. */
export const ResolveEventSchema = v.pipe(
  v.strictObject({
    action: v.literal('resolve'),
    database,
    requestId: v.optional(requestId),
    /** The migration folder name (`migration_name`). */
    name: fileName(255, 'a folder name of 1-255 characters without / \\ or NUL'),
    to: ResolveTargetSchema,
    /** sha256 of the local migration.sql; required for `applied` (the new row records it). */
    checksum: v.optional(hex64),
    /** How long to wait for the migration advisory lock (default 10 s). */
    lockWaitMs: v.optional(timeoutMs),
  }),
  v.forward(
    v.partialCheck(
      [['to'], ['checksum']],
      (e) => e.to !== 'applied' || e.checksum !== undefined,
      'required when to is "applied" (the new row records it)',
    ),
    ['checksum'],
  ),
);
export type ResolveEvent = v.InferInput<typeof ResolveEventSchema>;

/**
 * `baseline --up-to NAME` (Prisma format): the local migrations from the first through NAME, in
 * order, NAME last. Under the migration lock the worker checks by definition that what each one
 * creates exists (lambda/reconcile.ts), then records each not yet recorded as Prisma's `migrate
 * resolve --applied` does, all in one transaction. Nothing of the SQL runs.
 */
export const BaselineEventSchema = v.strictObject({
  action: v.literal('baseline'),
  database,
  requestId: v.optional(requestId),
  migrations: migrationList('baseline'),
  /** How long to wait for the migration advisory lock (default 10 s). */
  lockWaitMs: v.optional(timeoutMs),
});
export type BaselineEvent = v.InferInput<typeof BaselineEventSchema>;

/** Pending migrations applied inside ONE transaction, measured, then rolled back. */
export const RehearseEventSchema = v.strictObject({
  action: v.literal('rehearse'),
  database,
  requestId: v.optional(requestId),
  /** `statementTimeoutMs`, `lockTimeoutMs`, `lockWaitMs`, `reconcileExisting` as for apply. */
  options: v.optional(ApplyOptionsSchema, {}),
  migrations: migrationList('rehearsal'),
});
export type RehearseEvent = v.InferInput<typeof RehearseEventSchema>;

/** A tracked data backfill (`prisma/backfills/NAME.sql`): one transaction, recorded, run once. */
export const BackfillEventSchema = v.strictObject({
  action: v.literal('backfill'),
  database,
  requestId: v.optional(requestId),
  /** The file name without `.sql`. */
  name: fileName(200, 'a backfill name of 1-200 characters without / \\ or NUL'),
  /** sha256 of the file's bytes; the worker recomputes it from `sql`. */
  checksum: hex64,
  sql: nonBlankSql,
  /** Run even though a run is recorded. */
  again: v.optional(bool, false),
  /** Who runs it (recorded); default: the database user. */
  runBy: v.optional(idString(200)),
  statementTimeoutMs: v.optional(timeoutMs),
  lockTimeoutMs: v.optional(timeoutMs),
});
export type BackfillEvent = v.InferInput<typeof BackfillEventSchema>;

// ---------------------------------------------------------------------------------------------
// Drift (lambda/drift/, docs/drift.md): the expected schema is built in a scratch database on the
// target's server (or a dev database the user names) by applying the migrations the ledger records,
// then compared with the live one. The CLI drives it in steps, several invocations when the
// migrations do not fit one function's time.

/** Scratch databases drift creates: the prefix and the marker comment together make one ours. */
export const DRIFT_SCRATCH_PREFIX = 'vpcm_drift_';
export const DRIFT_SCRATCH_PATTERN = /^vpcm_drift_[0-9a-f]{16}$/;
const DRIFT_STEP_LIST = ['begin', 'apply', 'compare', 'end'] as const;
export const DriftStepSchema = v.picklist(DRIFT_STEP_LIST, `one of ${DRIFT_STEP_LIST.join(', ')}`);
export type DriftStep = v.InferOutput<typeof DriftStepSchema>;
const DRIFT_SCRATCH_RULE = 'a scratch database name vpcm_drift_ and 16 hex digits';
const excludePattern = idString(256);

/**
 * - `begin`: removes stale scratch databases of ours, creates a new one (or checks the dev
 *   database is empty) and answers its name.
 * - `apply`: applies `migrations` there through deploy's own path (lambda/apply-batch.ts).
 * - `compare`: introspects it and the live database, answers the differences, then drops it.
 * - `end`: drops it (the CLI's clean-up after a failure); answers whether it was there.
 */
export const DriftEventSchema = v.strictObject({
  action: v.literal('drift'),
  database,
  requestId,
  step: DriftStepSchema,
  /**
   * The check's own id, the same in each of its steps: a dev database's lease names it, so a check
   * whose lease expired and was taken over by another never touches that one's work.
   */
  run: v.optional(requestId),
  format: v.optional(MigrationFormatSchema),
  /** The scratch database `begin` created; every later step names it (or `devDatabase`). */
  scratch: v.optional(v.pipe(v.string(DRIFT_SCRATCH_RULE), v.regex(DRIFT_SCRATCH_PATTERN, DRIFT_SCRATCH_RULE))),
  /** A database of the worker's allow-list to build the expected schema in instead (Atlas's dev database). */
  devDatabase: database,
  options: v.optional(ApplyOptionsSchema, {}),
  /** `apply` only: the next migrations the ledger records as applied, in order. */
  migrations: v.optional(migrationList('drift batch')),
  /** `compare` only: objects not compared (lambda/drift/diff.ts: `*` any run of characters, `?` one). */
  exclude: v.optional(v.pipe(v.array(excludePattern, 'an array of patterns'), v.maxLength(200, 'at most 200'))),
});
export type DriftEvent = v.InferInput<typeof DriftEventSchema>;

/** Every event, told apart by `action`: the worker validates what it receives with this. */
export const WorkerEventSchema = v.variant('action', [
  LedgerEventSchema,
  ApplyEventSchema,
  RunSqlEventSchema,
  ResolveEventSchema,
  RehearseEventSchema,
  BackfillEventSchema,
  SetupEventSchema,
  BaselineEventSchema,
  DriftEventSchema,
]);
export type WorkerEvent = v.InferInput<typeof WorkerEventSchema>;
export type WorkerAction = WorkerEvent['action'];
export const WORKER_ACTIONS: readonly WorkerAction[] = [
  'ledger',
  'apply',
  'run-sql',
  'resolve',
  'rehearse',
  'backfill',
  'setup',
  'baseline',
  'drift',
];

// ---------------------------------------------------------------------------------------------
// Answers: the worker answers with an envelope, never by throwing, so typed errors survive
// the Lambda boundary as JSON. A thrown error reaches the CLI as `X-Amz-Function-Error`.
// Answer objects are not strict: a newer worker may add a field an older CLI ignores.

export const ErrorBodySchema = v.object({
  /** Stable code, e.g. `VPCM_LOCK_TIMEOUT`; see lambda/contract/errors.ts. */
  code: v.string(),
  message: v.string(),
  /** The next step for the person reading it. */
  remedy: v.string(),
  details: v.optional(v.record(v.string(), v.unknown())),
});
export type ErrorBody = v.InferOutput<typeof ErrorBodySchema>;

export type WorkerResponse<T> =
  | { ok: true; protocol: number; action: WorkerAction; result: T }
  | { ok: false; protocol: number; action?: string; error: ErrorBody };

export const SetupResultSchema = v.object({
  readerRole: v.string(),
  /** False when the role already existed. */
  created: v.boolean(),
  loginRole: v.string(),
  /** `pg_read_all_data` (PostgreSQL 14+), else SELECT on the tables of `public`. */
  reads: v.picklist(['pg_read_all_data', 'public-tables']),
});
export type SetupResult = v.InferOutput<typeof SetupResultSchema>;

/** One row of `_prisma_migrations`, timestamps as ISO strings. */
export const LedgerRowSchema = v.object({
  id: v.string(),
  checksum: v.string(),
  finished_at: isoOrNull,
  migration_name: v.string(),
  logs: v.nullable(v.string()),
  rolled_back_at: isoOrNull,
  started_at: v.string(),
  applied_steps_count: v.number(),
});
export type LedgerRow = v.InferOutput<typeof LedgerRowSchema>;

export const LockHolderSchema = v.object({
  pid: v.number(),
  application: v.nullable(v.string()),
  user: v.nullable(v.string()),
  since: isoOrNull,
  query: v.nullable(v.string()),
});
export type LockHolder = v.InferOutput<typeof LockHolderSchema>;

export const ServerFactsSchema = v.object({
  version: v.string(),
  database: v.string(),
  schema: v.string(),
  user: v.string(),
  /** Who holds the migration advisory lock right now, if anyone. */
  lockHolder: v.nullable(LockHolderSchema),
});
export type ServerFacts = v.InferOutput<typeof ServerFactsSchema>;

/** One row of `drizzle.__drizzle_migrations`; `created_at` (bigint) read as drizzle-orm reads it, with `Number()`. */
export const DrizzleLedgerRowSchema = v.object({
  id: v.number(),
  /** sha256 of the file's text, lowercase hex. */
  hash: v.string(),
  /** The journal entry's `when` (milliseconds since the epoch). */
  created_at: v.nullable(v.number()),
});
export type DrizzleLedgerRow = v.InferOutput<typeof DrizzleLedgerRowSchema>;

export const LedgerResultSchema = v.object({
  server: ServerFactsSchema,
  tableExists: v.boolean(),
  /** Tables in the schema other than the ledger: a non-empty schema with no ledger is baselined. */
  userTableCount: v.number(),
  rows: v.array(LedgerRowSchema),
  /** Set for a Drizzle ledger; `rows` is then empty and `tableExists` is about `drizzle.__drizzle_migrations`. */
  format: v.optional(MigrationFormatSchema),
  drizzleRows: v.optional(v.array(DrizzleLedgerRowSchema)),
});
export type LedgerResult = v.InferOutput<typeof LedgerResultSchema>;

/** A session another one waits for (pg_blocking_pids), as pg_stat_activity shows it. */
export const BlockingSessionSchema = v.object({
  pid: v.number(),
  application: v.nullable(v.string()),
  user: v.nullable(v.string()),
  state: v.nullable(v.string()),
  /** When its current (or last) query started, ISO. */
  queryStart: isoOrNull,
  /** Its current (or last) query, first line, shortened. */
  query: v.nullable(v.string()),
});
export type BlockingSession = v.InferOutput<typeof BlockingSessionSchema>;

/** A PostgreSQL error, placed in the migration file. */
export const SqlErrorInfoSchema = v.object({
  /** SQLSTATE, e.g. `42P01`. */
  code: v.optional(v.string()),
  message: v.string(),
  detail: v.optional(v.string()),
  hint: v.optional(v.string()),
  where: v.optional(v.string()),
  /** 1-based line and column in migration.sql, when known. */
  line: v.optional(v.number()),
  column: v.optional(v.number()),
  /** The failing statement (shortened). */
  statement: v.optional(v.string()),
  /** Index of the failing statement in the file's statement list. */
  statementIndex: v.optional(v.number()),
  /**
   * A lock_timeout (55P03): the sessions the statement last waited for, seen by the migration
   * lock's session while it ran (lambda/lock.ts).
   */
  blockedBy: v.optional(v.array(BlockingSessionSchema)),
  /** A failed `CREATE INDEX CONCURRENTLY` left this index INVALID (pg_index.indisvalid = false). */
  invalidIndex: v.optional(v.object({ schema: v.string(), name: v.string() })),
});
export type SqlErrorInfo = v.InferOutput<typeof SqlErrorInfoSchema>;

/**
 * The PostgreSQL error an error body carries in `details.error` (a failed migration, backfill or
 * run-sql statement), checked against its schema; undefined when there is none.
 */
export function sqlErrorOf(
  body: { details?: Record<string, unknown> | undefined } | undefined,
): SqlErrorInfo | undefined {
  const error = body?.details?.error;
  return v.is(SqlErrorInfoSchema, error) ? error : undefined;
}

export const SkippedStatementSchema = v.object({
  index: v.number(),
  line: v.number(),
  code: v.string(),
  message: v.string(),
  statement: v.string(),
});
export type SkippedStatement = v.InferOutput<typeof SkippedStatementSchema>;

export const MigrationStatusSchema = v.picklist(['applied', 'reconciled', 'already-applied', 'failed', 'not-started']);
export type MigrationStatus = v.InferOutput<typeof MigrationStatusSchema>;

/**
 * A file's own `SET [LOCAL] statement_timeout` against the worker's time budget (the Lambda's
 * remaining time minus a margin). The file's value stands when it is within the budget; a
 * larger one (or 0, no limit) would let a statement outlive the function, which Lambda then
 * kills mid-write, so the budget is re-imposed for the rest of the migration — and said here.
 */
export const TimeoutDecisionSchema = v.object({
  /** 1-based line of the SET in migration.sql. */
  line: v.number(),
  /** The value the file set, in ms (0 = no limit). */
  requestedMs: v.number(),
  /** The value in force afterwards, in ms. */
  effectiveMs: v.number(),
  winner: v.picklist(['file', 'time-budget']),
});
export type TimeoutDecision = v.InferOutput<typeof TimeoutDecisionSchema>;

export const MigrationResultSchema = v.object({
  name: v.string(),
  status: MigrationStatusSchema,
  mode: ExecutionModeSchema,
  durationMs: v.number(),
  /** Statements skipped because the object already existed (status `reconciled`). */
  skipped: v.optional(v.array(SkippedStatementSchema)),
  error: v.optional(SqlErrorInfoSchema),
  /** For non-transactional and script files: statements that completed before a failure. */
  appliedSteps: v.optional(v.number()),
  /** Set when the statement timeout was lowered to the Lambda's remaining time and fired. */
  timeBudgetExhausted: v.optional(v.boolean()),
  /** With `timeBudgetExhausted`: the statement_timeout (ms) the remaining time allowed. */
  statementTimeoutMs: v.optional(v.number()),
  /** A non-transactional file interrupted earlier, resumed at this 0-based statement. */
  resumedFrom: v.optional(v.number()),
  /** The file changed statement_timeout: what it asked for, what was in force, and why. */
  timeouts: v.optional(v.array(TimeoutDecisionSchema)),
  /** For a failure: false when the ledger could not take the failed row (the error's hint says why). */
  failureRecorded: v.optional(v.boolean()),
});
export type MigrationResult = v.InferOutput<typeof MigrationResultSchema>;

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

/**
 * One apply invocation's time split, as lambda/timings.ts measures it (milliseconds; the parts sum
 * to `totalMs`): validating and decoding the event, opening connections, PostgreSQL running the
 * queries, writes to the ledger, and the worker's own work in between.
 */
export const WorkerTimingsSchema = v.object({
  totalMs: v.number(),
  decodeMs: v.number(),
  connectMs: v.number(),
  postgresMs: v.number(),
  ledgerMs: v.number(),
  otherMs: v.number(),
  queries: v.number(),
  ledgerWrites: v.number(),
});
export type WorkerTimings = v.InferOutput<typeof WorkerTimingsSchema>;

export const ApplyResultSchema = v.object({
  requestId: v.string(),
  results: v.array(MigrationResultSchema),
  /** Why the batch ended before its last migration, if it did. */
  stopped: v.optional(v.picklist(['failed', 'time-budget', 'blocked'])),
  /** With `stopped: 'blocked'`: the reason, in a sentence (e.g. a session blocked on the lock). */
  stoppedBecause: v.optional(v.string()),
  ledgerCreated: v.boolean(),
  /** The schema held tables but no ledger: what already exists is reconciled and recorded. */
  baselining: v.boolean(),
  lockWaitMs: v.number(),
  /**
   * The ledger as the batch left it, read before the lock was released, as the `ledger` action
   * reads it: the deploy verifies with it instead of another Invoke. Absent when it did not fit
   * (LEDGER_AFTER_MAX_BYTES, or the answer's own room), time was short, the read failed, or the
   * worker predates it: the CLI then reads the ledger itself.
   */
  ledgerAfter: v.optional(LedgerResultSchema),
  /** Only when the event asked for it (`timings: true`): where the invocation's time went. */
  timings: v.optional(WorkerTimingsSchema),
});
export type ApplyResult = v.InferOutput<typeof ApplyResultSchema>;

export const RunSqlFieldSchema = v.object({ name: v.string(), dataTypeID: v.number() });
export type RunSqlField = v.InferOutput<typeof RunSqlFieldSchema>;
const resultRows = v.array(v.record(v.string(), v.unknown()));

export const RunSqlResultSchema = v.object({
  command: v.string(),
  rowCount: v.nullable(v.number()),
  fields: v.array(RunSqlFieldSchema),
  rows: resultRows,
  truncated: v.boolean(),
  notices: v.array(v.string()),
  durationMs: v.number(),
});
export type RunSqlResult = v.InferOutput<typeof RunSqlResultSchema>;

export const ResolveResultSchema = v.object({
  name: v.string(),
  to: ResolveTargetSchema,
  /** Ids of the failed rows now marked `rolled_back_at`. */
  rolledBackIds: v.array(v.string()),
  /** The row `applied` inserted. */
  inserted: v.optional(LedgerRowSchema),
  /** `applied` created `_prisma_migrations` (Prisma does too: `baseline_initialize`). */
  ledgerCreated: v.boolean(),
  lockWaitMs: v.number(),
});
export type ResolveResult = v.InferOutput<typeof ResolveResultSchema>;

/** What of a migration the database lacks, or holds differently, for `baseline`. */
export const MissingObjectSchema = v.object({
  migration: v.string(),
  /** Line of the creating statement in migration.sql. */
  line: v.number(),
  /** e.g. `relation "User"`, `index "User_email_key"`. */
  object: v.string(),
  why: v.string(),
  existing: v.optional(v.string()),
  wanted: v.optional(v.string()),
});
export type MissingObject = v.InferOutput<typeof MissingObjectSchema>;

export const BaselineResultSchema = v.object({
  /** Recorded now, in order. */
  recorded: v.array(LedgerRowSchema),
  /** Already recorded as applied: left as they were. */
  alreadyRecorded: v.array(v.string()),
  /**
   *  Recorded now, though they create nothing by name to check (data migrations, ALTER … TYPE): recorded on the user's
   *  word.
   */
  unchecked: v.array(v.string()),
  /** `_prisma_migrations` was created. */
  ledgerCreated: v.boolean(),
  lockWaitMs: v.number(),
});
export type BaselineResult = v.InferOutput<typeof BaselineResultSchema>;

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
export const RehearsalStatusSchema = v.picklist([
  'rehearsed',
  'partial',
  'failed',
  'shared-transaction',
  'not-rehearsable',
  'already-applied',
  'not-started',
]);
export type RehearsalStatus = v.InferOutput<typeof RehearsalStatusSchema>;

/** What a lock mode makes other sessions wait for. */
export const LockImpactSchema = v.picklist(['reads-and-writes', 'writes', 'schema-changes', 'ddl']);
export type LockImpact = v.InferOutput<typeof LockImpactSchema>;

export const RehearsalLockSchema = v.object({
  /** `relation`, `object`, `advisory`, ... (pg_locks.locktype). */
  locktype: v.string(),
  /** e.g. `AccessExclusiveLock`. */
  mode: v.string(),
  /** The relation (schema-qualified), the object's description, or the advisory key. */
  target: v.string(),
  /** pg_class.relkind name for relations: table, index, sequence, view, ... */
  kind: v.optional(v.string()),
  /** The relation did not exist before the rehearsal: nobody else can be waiting for it. */
  newObject: v.optional(v.boolean()),
  /** For relation locks: what concurrent sessions must wait for while it is held. */
  blocks: v.optional(LockImpactSchema),
});
export type RehearsalLock = v.InferOutput<typeof RehearsalLockSchema>;

export const RowsTouchedSchema = v.object({
  table: v.string(),
  inserted: v.number(),
  updated: v.number(),
  deleted: v.number(),
});
export type RowsTouched = v.InferOutput<typeof RowsTouchedSchema>;

export const NotRehearsedStatementSchema = v.object({
  index: v.number(),
  line: v.number(),
  statement: v.string(),
  /**
   * `non-transactional`: cannot run in a transaction block; `transaction-control`: the file's
   * own BEGIN/COMMIT, replaced by the rehearsal's transaction.
   */
  reason: v.picklist(['non-transactional', 'transaction-control']),
});
export type NotRehearsedStatement = v.InferOutput<typeof NotRehearsedStatementSchema>;

export const RehearsalResultSchema = v.object({
  name: v.string(),
  mode: ExecutionModeSchema,
  status: RehearsalStatusSchema,
  durationMs: v.number(),
  statements: v.number(),
  statementsRun: v.number(),
  notRehearsed: v.array(NotRehearsedStatementSchema),
  /** Statements skipped because the object already exists, as deploy would reconcile them. */
  skipped: v.array(SkippedStatementSchema),
  /**
   *  Locks this migration took first in the rehearsal (one already held by an earlier pending migration is not
   *  repeated).
   */
  locks: v.array(RehearsalLockSchema),
  rows: v.array(RowsTouchedSchema),
  error: v.optional(SqlErrorInfoSchema),
  /** Why the status is `shared-transaction`, or what earlier problem a failure may come from. */
  note: v.optional(v.string()),
  timeBudgetExhausted: v.optional(v.boolean()),
});
export type RehearsalResult = v.InferOutput<typeof RehearsalResultSchema>;

export const SequenceAdvanceSchema = v.object({
  sequence: v.string(),
  before: v.nullable(v.string()),
  after: v.nullable(v.string()),
});
export type SequenceAdvance = v.InferOutput<typeof SequenceAdvanceSchema>;

export const RehearseResultSchema = v.object({
  results: v.array(RehearsalResultSchema),
  /** Always true when the action answers: everything ran in one transaction that was rolled back. */
  rolledBack: v.boolean(),
  stopped: v.optional(v.literal('time-budget')),
  /**
   * Sequences whose value moved during the rehearsal: `nextval` is not transactional, so a
   * rolled-back INSERT still consumes ids (concurrent sessions may account for part of it).
   */
  sequencesAdvanced: v.array(SequenceAdvanceSchema),
  lockWaitMs: v.number(),
  durationMs: v.number(),
});
export type RehearseResult = v.InferOutput<typeof RehearseResultSchema>;

/** The tracking table for backfills, in the connection's schema. */
export const BACKFILL_TABLE = '_vpc_migrate_backfills';

export const BackfillRunSchema = v.object({
  id: v.string(),
  name: v.string(),
  checksum: v.string(),
  startedAt: v.string(),
  finishedAt: v.string(),
  rowsAffected: v.number(),
  runBy: v.string(),
  /** Run with `--again` over an earlier recorded run. */
  again: v.boolean(),
});
export type BackfillRun = v.InferOutput<typeof BackfillRunSchema>;

export const CheckOutcomeSchema = v.object({
  fields: v.array(RunSqlFieldSchema),
  rows: resultRows,
  truncated: v.boolean(),
  error: v.optional(SqlErrorInfoSchema),
});
export type CheckOutcome = v.InferOutput<typeof CheckOutcomeSchema>;

export const BackfillResultSchema = v.object({
  name: v.string(),
  checksum: v.string(),
  run: BackfillRunSchema,
  /** Runs recorded before this one (only when `again`). */
  previousRuns: v.array(BackfillRunSchema),
  /** Rows the file's INSERT/UPDATE/DELETE/MERGE statements reported; pg_stat's count when it has none (DO blocks). */
  rowsAffected: v.number(),
  /** Per table, from pg_stat_xact_user_tables (triggers included). */
  rows: v.array(RowsTouchedSchema),
  commands: v.array(v.object({ command: v.string(), rowCount: v.nullable(v.number()) })),
  /** The file's `-- check:` query, run read-only before and after. */
  check: v.optional(v.object({ query: v.string(), before: CheckOutcomeSchema, after: CheckOutcomeSchema })),
  notices: v.array(v.string()),
  tableCreated: v.boolean(),
  durationMs: v.number(),
});
export type BackfillResult = v.InferOutput<typeof BackfillResultSchema>;

const DRIFT_CHANGE_LIST = ['missing', 'only-in-live', 'changed'] as const;
/** One difference between the expected and the live schema (lambda/drift/diff.ts). */
export const DriftDifferenceSchema = v.object({
  kind: v.string(),
  object: v.string(),
  change: v.picklist(DRIFT_CHANGE_LIST),
  expected: v.optional(v.string()),
  live: v.optional(v.string()),
});
export type DriftDifference = v.InferOutput<typeof DriftDifferenceSchema>;

/** A drift step's answer: which fields are set depends on the step. */
export const DriftResultSchema = v.object({
  step: DriftStepSchema,
  /** `begin`: the scratch database created (absent with a dev database). */
  scratch: v.optional(v.string()),
  /** `begin`: stale scratch databases of ours it removed. */
  removedStale: v.optional(v.array(v.string())),
  /** `begin`: stale ones it left (in use, or not droppable), each with why. */
  keptStale: v.optional(v.array(v.object({ name: v.string(), why: v.string() }))),
  /** `begin` with a dev database: it held only what an earlier drift of ours left, and was emptied. */
  devEmptied: v.optional(v.boolean()),
  /** `apply`: deploy's own answer for the scratch database. */
  apply: v.optional(ApplyResultSchema),
  /** `compare`: the differences, expected against live. */
  differences: v.optional(v.array(DriftDifferenceSchema)),
  /** `compare`: definitions cut short to keep the answer within Lambda's 6 MB (lambda/drift/answer-size.ts). */
  shortened: v.optional(v.number()),
  /** `compare`: differences left out of the answer for the same reason (the count is still drift). */
  omitted: v.optional(v.number()),
  /** `compare`: how many objects were read on each side (the ledgers left out). */
  objects: v.optional(v.object({ expected: v.number(), live: v.number() })),
  /** `compare`, `end`: the scratch database was dropped (the dev database emptied) here. */
  cleanedUp: v.optional(v.boolean()),
});
export type DriftResult = v.InferOutput<typeof DriftResultSchema>;

/** Each action's answer (`result` of an ok envelope): the CLI validates what it receives with these. */
export const ANSWER_SCHEMAS = {
  ledger: LedgerResultSchema,
  apply: ApplyResultSchema,
  'run-sql': RunSqlResultSchema,
  resolve: ResolveResultSchema,
  rehearse: RehearseResultSchema,
  backfill: BackfillResultSchema,
  setup: SetupResultSchema,
  baseline: BaselineResultSchema,
  drift: DriftResultSchema,
} satisfies Record<WorkerAction, v.GenericSchema>;
export type AnswerOf<A extends WorkerAction> = v.InferOutput<(typeof ANSWER_SCHEMAS)[A]>;
