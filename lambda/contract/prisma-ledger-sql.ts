/**
 * Every statement that touches `_prisma_migrations`, written once (docs/design.md §2): the worker
 * (lambda/prisma/prisma-ledger.ts, `resolve`, `baseline`) sends them parameterised, compatibility mode
 * (scripts/compat/) inlines the same statements' values (sql-text.ts `inline`), since its
 * run-sql worker takes no parameters. The rows are Prisma's schema engine's: no unique constraint
 * on the name, so rows are found by name, never upserted.
 *
 * `table` is the table as it is to appear, quoted: the worker names it with its schema (a
 * migration may change search_path), compatibility mode unqualified (the session's schema).
 */
import { literal, placeholders, quoteIdent, type SqlStatement } from './sql-text.js';
import { PRISMA_LEDGER_TABLE } from './wire.js';

/** Prisma's DDL on PostgreSQL. */
export function createLedgerSql(table: string): string {
  return `CREATE TABLE IF NOT EXISTS ${table} (
    "id"                    VARCHAR(36) PRIMARY KEY NOT NULL,
    "checksum"              VARCHAR(64) NOT NULL,
    "finished_at"           TIMESTAMPTZ,
    "migration_name"        VARCHAR(255) NOT NULL,
    "logs"                  TEXT,
    "rolled_back_at"        TIMESTAMPTZ,
    "started_at"            TIMESTAMPTZ NOT NULL DEFAULT now(),
    "applied_steps_count"   INTEGER NOT NULL DEFAULT 0
)`;
}

/** The table in the session's schema, unqualified. */
export const PRISMA_LEDGER_IN_SESSION_SCHEMA = quoteIdent(PRISMA_LEDGER_TABLE);
export const CREATE_LEDGER_SQL = createLedgerSql(PRISMA_LEDGER_IN_SESSION_SCHEMA);

/** The ledger's regclass in the session's schema, NULL when it does not exist. */
export const LEDGER_REGCLASS_SQL =
  `pg_catalog.to_regclass(pg_catalog.format('%I.%I', pg_catalog.current_schema(), ` +
  `${literal(PRISMA_LEDGER_TABLE)}))`;

/**
 * An int expression: the tables (and views) of the session's schema other than the ledger. A
 * schema holding some but no ledger is Prisma's P3005 (baselining).
 */
export const USER_TABLE_COUNT_SQL = `(SELECT count(*)::int FROM pg_catalog.pg_class c
    JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = pg_catalog.current_schema() AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
      AND c.relname <> ${literal(PRISMA_LEDGER_TABLE)})`;

export const LEDGER_COLUMNS =
  'id, checksum, finished_at, migration_name, logs, rolled_back_at, started_at, applied_steps_count';

/** Ledger answers shorten `logs` to this many characters, so 800+ rows fit one response. */
export const MAX_LOG_CHARS = 4000;

/** `logs`, shortened to `chars` characters (with an ellipsis) as every ledger read returns it. */
export function shortenedLogsSql(chars: number = MAX_LOG_CHARS): string {
  const n = Math.trunc(chars);
  return `CASE WHEN length(logs) > ${n} THEN left(logs, ${n}) || '…' ELSE logs END`;
}

/** Every row, shortened logs, in Prisma's order (started_at). */
export function readLedgerSql(table: string): string {
  return `SELECT id, checksum, finished_at, migration_name, ${shortenedLogsSql()} AS logs,
              rolled_back_at, started_at, applied_steps_count
         FROM ${table} ORDER BY started_at ASC, migration_name ASC`;
}

/** The rows of one migration, locked for the caller's transaction (resolve). */
export function rowsNamedSql(table: string, name: string): SqlStatement {
  return {
    text: `SELECT ${LEDGER_COLUMNS} FROM ${table} WHERE migration_name = $1 ORDER BY started_at, id FOR UPDATE`,
    values: [name],
  };
}

/** The start and finish of the rows with these ids (a chain's, lambda/prisma/chain.ts). */
export function rowTimesSql(table: string, ids: readonly string[]): SqlStatement {
  return {
    text: `SELECT id, started_at, finished_at FROM ${table} WHERE id = ANY($1::varchar[])`,
    values: [[...ids]],
  };
}

/**
 * A SQL condition, true when the ledger records `name` as applied (finished, not rolled back):
 * the guard of every write that records a migration as run. `nameLiteral` is already quoted
 * (guards are DO blocks, which take no parameters).
 */
export function recordedAsAppliedSql(table: string, nameLiteral: string): string {
  return `EXISTS (SELECT FROM ${table} WHERE migration_name = ${nameLiteral}
    AND finished_at IS NOT NULL AND rolled_back_at IS NULL)`;
}

/**
 * The names of failed migrations: unfinished, not rolled back, with logs (an unfinished row
 * without logs may be a deploy running now).
 */
export function failedNamesJsonSql(table: string): string {
  return `SELECT coalesce(json_agg(DISTINCT migration_name), '[]') FROM ${table}
    WHERE finished_at IS NULL AND rolled_back_at IS NULL AND logs IS NOT NULL`;
}

/**
 * A time a row records: a client time, the transaction's start (`now`), this statement's
 * (`clock`), or when a chained migration's reset ran (`link-start`, {@link LINK_STARTED_SETTING}).
 */
export type LedgerTime = Date | 'now' | 'clock' | 'link-start';

/**
 * Where a chained migration's reset keeps the time it ran, in epoch seconds (lambda/session.ts):
 * every migration of a chain (lambda/prisma/chain.ts) shares one query, and with it `now()` and
 * statement_timestamp(), so its own start is kept here. Read defensively: a file may change or
 * reset it, and its row then records the INSERT's clock instead.
 */
export const LINK_STARTED_SETTING = 'vpc_migrate.link_started';

const LINK_STARTED = `pg_catalog.current_setting('${LINK_STARTED_SETTING}', true)`;
const LINK_STARTED_SQL =
  `CASE WHEN ${LINK_STARTED} ~ '^[0-9]+([.][0-9]+)?$' ` +
  `THEN pg_catalog.to_timestamp(${LINK_STARTED}::double precision) ELSE c.clock END`;

export interface NewLedgerRow {
  id: string;
  checksum: string;
  name: string;
  logs: string | null;
  startedAt: LedgerTime;
  /** Unset for a started or failed row; `'started'`: the same instant as started_at (resolve's row). */
  finishedAt?: LedgerTime | 'started';
  appliedSteps: number;
  /** Return the row written (resolve, baseline). */
  returning?: boolean;
}

/**
 * The one INSERT into the ledger, for each row Prisma writes: started (no finished_at), finished
 * (finished_at at the end of the run, applied_steps_count 1), failed (logs, not finished) and
 * `resolve --applied`'s (logs '', finished_at = started_at, no steps). `clock` is read once per
 * statement, so rows written in one transaction keep their order in started_at.
 */
export function insertLedgerRowSql(table: string, row: NewLedgerRow): SqlStatement {
  const { values, p } = placeholders();
  const time = (t: LedgerTime) =>
    t === 'now'
      ? 'pg_catalog.now()'
      : t === 'clock'
        ? 'c.clock'
        : t === 'link-start'
          ? LINK_STARTED_SQL
          : `${p(t)}::timestamptz`;
  // Cast: in INSERT … SELECT a parameter's type is not taken from its column.
  const id = `${p(row.id)}::varchar`;
  const checksum = `${p(row.checksum)}::varchar`;
  const name = `${p(row.name)}::varchar`;
  const logs = `${p(row.logs)}::text`;
  const started = time(row.startedAt);
  const finished =
    row.finishedAt === undefined ? 'NULL::timestamptz' : row.finishedAt === 'started' ? started : time(row.finishedAt);
  const steps = `${p(row.appliedSteps)}::integer`;
  return {
    text:
      `INSERT INTO ${table} (${LEDGER_COLUMNS})` +
      ` SELECT ${id}, ${checksum}, ${finished}, ${name}, ${logs}, NULL::timestamptz, ${started}, ${steps}` +
      ` FROM (SELECT pg_catalog.clock_timestamp() AS clock) c${row.returning ? ` RETURNING ${LEDGER_COLUMNS}` : ''}`,
    values,
  };
}

export interface LedgerRowUpdate {
  logs?: string | null;
  appliedSteps?: number;
  /** finished_at = now (the statement's clock); applied_steps_count goes back to 1, as Prisma leaves it. */
  finished?: true;
  /** rolled_back_at = the transaction's now(). */
  rolledBack?: true;
}

/**
 * The one UPDATE of ledger rows by id: progress of a stepwise run, its end, a failure's logs and
 * steps, `resolve`'s rolled_back_at.
 */
export function updateLedgerRowsSql(
  table: string,
  ids: string | readonly string[],
  set: LedgerRowUpdate,
): SqlStatement {
  const { values, p } = placeholders();
  const where = typeof ids === 'string' ? `id = ${p(ids)}::varchar` : `id = ANY(${p(ids)}::varchar[])`;
  const sets: string[] = [];
  if (set.finished) sets.push('finished_at = pg_catalog.clock_timestamp()', 'applied_steps_count = 1');
  if (set.rolledBack) sets.push('rolled_back_at = pg_catalog.now()');
  if (set.logs !== undefined) sets.push(`logs = ${p(set.logs)}::text`);
  if (set.appliedSteps !== undefined && !set.finished) {
    sets.push(`applied_steps_count = ${p(set.appliedSteps)}::integer`);
  }
  if (sets.length === 0) throw new Error('updateLedgerRowsSql: nothing to set');
  return { text: `UPDATE ${table} SET ${sets.join(', ')} WHERE ${where}`, values };
}
