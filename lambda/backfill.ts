/**
 * Tracked data backfills (`prisma/backfills/NAME.sql`): deploy never runs them; `pnpm backfill
 * NAME` runs one here, in ONE transaction that also records it in `_vpc_migrate_backfills`, so
 * it cannot run twice by accident (`again` insists). An optional sanity query in the file's
 * leading comments (`-- check: SELECT …`) runs read-only before and after, inside the same
 * transaction, and its rows come back with the result.
 */
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { timeMargin } from './session.js';
import type { Db } from './db.js';
import {
  asPgError,
  BACKFILL_TABLE,
  type BackfillResult,
  type BackfillRun,
  CHECK_MAX_ROWS,
  type CheckOutcome,
  describeSqlError,
  ErrorCode,
  MigrateError,
  MIGRATION_LOCK_KEY,
  parseBackfillCheck,
  type ParsedBackfill,
} from './contract/index.js';
import { querySingle, rowCounts, rowsDelta, total, trackTransactionStatus } from './measure.js';

export const CREATE_BACKFILL_TABLE_SQL = `CREATE TABLE IF NOT EXISTS "${BACKFILL_TABLE}" (
    "id"            VARCHAR(36) PRIMARY KEY NOT NULL,
    "name"          VARCHAR(200) NOT NULL,
    "checksum"      VARCHAR(64) NOT NULL,
    "started_at"    TIMESTAMPTZ NOT NULL,
    "finished_at"   TIMESTAMPTZ NOT NULL,
    "rows_affected" BIGINT NOT NULL,
    "run_by"        TEXT NOT NULL,
    "again"         BOOLEAN NOT NULL DEFAULT false
)`;

const BACKFILL_LOCK_WAIT_MS = 10_000;
const DML = new Set(['INSERT', 'UPDATE', 'DELETE', 'MERGE']);

interface RawRun {
  id: string;
  name: string;
  checksum: string;
  started_at: Date;
  finished_at: Date;
  rows_affected: string;
  run_by: string;
  again: boolean;
}

function toRun(r: RawRun): BackfillRun {
  return {
    id: r.id,
    name: r.name,
    checksum: r.checksum,
    startedAt: new Date(r.started_at).toISOString(),
    finishedAt: new Date(r.finished_at).toISOString(),
    rowsAffected: Number(r.rows_affected),
    runBy: r.run_by,
    again: r.again,
  };
}

export async function runBackfill(db: Db, request: ParsedBackfill, remainingMs: number): Promise<BackfillResult> {
  const started = Date.now();
  const notices: string[] = [];
  const onNotice = (n: { severity?: string; message?: string }) => {
    if (notices.length < 100) notices.push(`${n.severity ?? 'NOTICE'}: ${n.message ?? ''}`);
  };
  const checkQuery = parseBackfillCheck(request.sql);
  const margin = timeMargin(remainingMs);
  const budget = Math.max(100, remainingMs - margin);
  const statementTimeout = request.statementTimeoutMs ? Math.min(request.statementTimeoutMs, budget) : budget;
  const tracker = trackTransactionStatus(db);
  db.on('notice', onNotice);
  let open = false;
  try {
    await db.query('BEGIN');
    open = true;
    await db.query(
      `SET LOCAL statement_timeout = ${statementTimeout}; SET LOCAL lock_timeout = ${request.lockTimeoutMs ?? 0}`,
    );
    await backfillLock(db);
    const tableCreated = await ensureBackfillTable(db);
    const { rows: previous } = await db.query<RawRun>(
      `SELECT id, name, checksum, started_at, finished_at, rows_affected::text AS rows_affected, run_by, again
         FROM "${BACKFILL_TABLE}" WHERE name = $1 ORDER BY started_at, id`,
      [request.name],
    );
    const previousRuns = previous.map(toRun);
    const last = previousRuns[previousRuns.length - 1];
    if (last && !request.again) {
      const changed = last.checksum !== request.checksum;
      const times = previousRuns.length === 1 ? 'once' : `${previousRuns.length} times`;
      const orRename = changed ? ', or put the new work in a backfill with a new name' : '';
      throw new MigrateError(
        ErrorCode.BackfillAlreadyRun,
        `Backfill ${request.name} already ran ${times}, ` +
          `last at ${last.finishedAt} by ${last.runBy} ` +
          `(${last.rowsAffected} row(s))${changed ? '; the file has changed since' : ''}. Nothing was run.`,
        `Pass --again to run it once more on purpose${orRename}.`,
        { details: { backfill: request.name, previousRuns, checksumChanged: changed } },
      );
    }
    const before = checkQuery ? await runCheck(db, checkQuery) : undefined;
    const rowsBefore = await rowCounts(db);
    const { rows: clock } = await db.query<{ now: Date; user: string }>(
      'SELECT clock_timestamp() AS now, current_user AS "user"',
    );
    const startedAt = clock[0]?.now ?? new Date();
    let results: pg.QueryResult[];
    try {
      const out = (await db.query(request.sql)) as pg.QueryResult | pg.QueryResult[];
      results = Array.isArray(out) ? out : [out];
    } catch (error) {
      const info = describeSqlError(error, request.sql, 0, request.sql.length);
      throw new MigrateError(
        ErrorCode.SqlFailed,
        `Backfill ${request.name} failed${info.code ? ` (${info.code})` : ''}: ${info.message}`,
        'Nothing was changed and nothing was recorded (the transaction ' +
          'was rolled back). Fix the file and run it again.',
        { details: { backfill: request.name, error: info } },
      );
    }
    if (tracker.status() === 'I') {
      open = false;
      throw new MigrateError(
        ErrorCode.BackfillInvalid,
        `Backfill ${request.name} ended the transaction itself ` +
          `(COMMIT/ROLLBACK in the file): part of it may be committed, ` +
          `and the run was NOT recorded.`,
        'Check the data by hand. Remove transaction control ' +
          'from the file: vpc-migrate runs a backfill in one transaction ' +
          'it manages.',
        { details: { backfill: request.name } },
      );
    }
    const commands = results.map((r) => ({ command: r.command, rowCount: r.rowCount }));
    const rows = rowsDelta(rowsBefore, await rowCounts(db));
    const dml = commands.filter((c) => DML.has(c.command));
    const rowsAffected =
      dml.length > 0 ? dml.reduce((n, c) => n + (c.rowCount ?? 0), 0) : rows.reduce((n, r) => n + total(r), 0);
    const after = checkQuery ? await runCheck(db, checkQuery) : undefined;
    const runBy = request.runBy ?? clock[0]?.user ?? 'unknown';
    const { rows: inserted } = await db.query<RawRun>(
      `INSERT INTO "${BACKFILL_TABLE}" (id, name, checksum, started_at, finished_at, rows_affected, run_by, again)
       VALUES ($1, $2, $3, $4, clock_timestamp(), $5, $6, $7)
       RETURNING id, name, checksum, started_at, finished_at, rows_affected::text AS rows_affected, run_by, again`,
      [randomUUID(), request.name, request.checksum, startedAt, rowsAffected, runBy, previousRuns.length > 0],
    );
    await db.query('COMMIT');
    open = false;
    const result: BackfillResult = {
      name: request.name,
      checksum: request.checksum,
      run: toRun(inserted[0] as RawRun),
      previousRuns,
      rowsAffected,
      rows,
      commands,
      notices,
      tableCreated,
      durationMs: Date.now() - started,
    };
    if (checkQuery && before && after) result.check = { query: checkQuery, before, after };
    return result;
  } finally {
    if (open) await db.query('ROLLBACK').catch(() => undefined);
    tracker.stop();
    db.off('notice', onNotice);
  }
}

/** One backfill at a time per database: a second waits briefly, then is refused. */
async function backfillLock(db: Db): Promise<void> {
  const started = Date.now();
  for (;;) {
    const { rows } = await db.query<{ ok: boolean }>('SELECT pg_try_advisory_xact_lock($1, 2) AS ok', [
      MIGRATION_LOCK_KEY,
    ]);
    if (rows[0]?.ok) return;
    if (Date.now() - started > BACKFILL_LOCK_WAIT_MS) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new MigrateError(
    ErrorCode.LockTimeout,
    `Another backfill is running on this database; waited ${Math.round(BACKFILL_LOCK_WAIT_MS / 1000)} s.`,
    'Wait for it to finish (pg_stat_activity shows an application_name ' +
      'starting with "vpc-migrate backfill"), then run the ' +
      'command again.',
  );
}

/** Creates the tracking table inside the backfill's transaction: a failed first run leaves nothing behind. */
async function ensureBackfillTable(db: Db): Promise<boolean> {
  const { rows } = await db.query<{ exists: boolean }>(
    `SELECT to_regclass(format('%I.%I', current_schema(), $1::text)) IS NOT NULL AS exists`,
    [BACKFILL_TABLE],
  );
  if (rows[0]?.exists) return false;
  await db.query(CREATE_BACKFILL_TABLE_SQL);
  return true;
}

/**
 *  The check query, read-only, in a savepoint of the backfill's transaction (its settings and any error stay inside).
 */
async function runCheck(db: Db, query: string): Promise<CheckOutcome> {
  await db.query('SAVEPOINT vpcm_check');
  try {
    await db.query('SET TRANSACTION READ ONLY');
    const result = await querySingle(db, query);
    const rows = (result.rows ?? []) as Record<string, unknown>[];
    return {
      fields: (result.fields ?? []).map((f) => ({ name: f.name, dataTypeID: f.dataTypeID })),
      rows: rows.slice(0, CHECK_MAX_ROWS),
      truncated: rows.length > CHECK_MAX_ROWS,
    };
  } catch (error) {
    return {
      fields: [],
      rows: [],
      truncated: false,
      error: describeSqlError(asPgError(error), query, 0, query.length),
    };
  } finally {
    await db.query('ROLLBACK TO SAVEPOINT vpcm_check');
    await db.query('RELEASE SAVEPOINT vpcm_check');
  }
}
