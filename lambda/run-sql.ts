/**
 * Ad-hoc SQL for the people on call. Read-only unless asked: the handler connects as the reader
 * login (lambda/reader.ts), and the statement runs in a `READ ONLY` transaction that PostgreSQL
 * enforces and that is always rolled back, through the extended protocol so only a single
 * statement is accepted (a `COMMIT; DELETE …` cannot escape the transaction). Rows are capped by
 * count and bytes; the rest are read off the wire and dropped.
 */
import pg from 'pg';
import type { Db } from './db.js';
import { asPgError, describeSqlError, ErrorCode, MigrateError, type RunSqlResult } from './contract/index.js';
import { refusedCall } from './read-only-guard.js';

/** Keep responses inside Lambda's 6 MB limit with room for the envelope. */
export const MAX_RESULT_BYTES = 5 * 1024 * 1024;
/** Notices kept, in characters all told (a RAISE NOTICE loop must not overflow the response either). */
const MAX_NOTICE_CHARS = 64 * 1024;
const MAX_NOTICES = 100;
/** The statement_timeout of the worker's own queries around the user's statement. */
export const WORKER_STATEMENT_TIMEOUT_MS = 10_000;

interface RunSqlRequest {
  sql: string;
  write: boolean;
  params?: unknown[];
  maxRows: number;
  statementTimeoutMs?: number;
}

/** pg's Query has this hook at run time; its type declarations leave it out. */
interface QueryInternals {
  handleDataRow(msg: { fields: (string | null)[] }): void;
}
const BaseQuery = pg.Query as unknown as new (config: pg.QueryConfig) => pg.Query & QueryInternals;

/** A pg Query that keeps at most `maxRows` rows and `maxBytes` of them; the rest are discarded. */
class CappedQuery extends BaseQuery {
  truncated = false;
  private kept = 0;
  private bytes = 0;
  constructor(
    config: pg.QueryConfig,
    private readonly maxRows: number,
    private readonly maxBytes: number,
  ) {
    super(config);
  }
  override handleDataRow(msg: { fields: (string | null)[] }): void {
    const size = msg.fields.reduce((n, f) => n + (f === null ? 4 : f.length + 8), 0);
    if (this.kept >= this.maxRows || this.bytes + size > this.maxBytes) {
      this.truncated = true;
      return;
    }
    this.kept++;
    this.bytes += size;
    super.handleDataRow(msg);
  }
}

export async function runSql(db: Db, request: RunSqlRequest, remainingMs: number): Promise<RunSqlResult> {
  if (!request.write) {
    const refused = refusedCall(request.sql);
    if (refused) throw readOnlyRefused(request.sql, refusedWhy(refused));
  }
  const notices: string[] = [];
  let noticeChars = 0;
  let droppedNotices = 0;
  const onNotice = (n: { severity?: string; message?: string }) => {
    const line = `${n.severity ?? 'NOTICE'}: ${n.message ?? ''}`;
    const room = Math.min(2000, MAX_NOTICE_CHARS - noticeChars);
    if (notices.length >= MAX_NOTICES || room <= 0) return void droppedNotices++;
    const kept = line.length > room ? `${line.slice(0, room)}…` : line;
    notices.push(kept);
    noticeChars += kept.length;
  };
  db.on('notice', onNotice);
  // As asked (at least 1 ms, validated on both sides), but always ending before the function does.
  const timeout = Math.min(request.statementTimeoutMs ?? 60_000, Math.max(100, remainingMs - 1000));
  // The worker's own queries (the transaction, the checks, COMMIT) run under the worker's own
  // timeout; the user's timeout applies to the user's statement alone. A 5 ms timeout must not
  // cancel the worker's COMMIT and come back as "the worker failed".
  const own = Math.min(WORKER_STATEMENT_TIMEOUT_MS, Math.max(100, remainingMs - 1000));
  const started = Date.now();
  try {
    await db.query(request.write ? 'BEGIN' : 'BEGIN READ ONLY');
    // A SELECT, not a SET: it takes the transaction's snapshot, after which PostgreSQL refuses
    // `SET TRANSACTION READ WRITE` (25001); after a SET alone it would still allow it.
    // Read-only: strings read as the refused-name scan reads them (read-only-guard.ts): with
    // standard_conforming_strings off, a backslash would end a '…' string early for the server.
    await db.query(
      `SELECT set_config('statement_timeout', '${timeout}', true)` +
        (request.write ? '' : `, set_config('standard_conforming_strings', 'on', true)`),
    );
    const config: pg.QueryConfig = request.params
      ? { text: request.sql, values: request.params }
      : { text: request.sql };
    const query = new CappedQuery(config, request.maxRows, MAX_RESULT_BYTES);
    // Read-only always goes through the extended protocol: one statement, no escape by COMMIT.
    if (!request.write) forceExtended(query);
    let result: pg.QueryResult | pg.QueryResult[];
    try {
      // A Submittable is not a promise: pg hands the query back and reports through events.
      result = await new Promise<pg.QueryResult | pg.QueryResult[]>((resolve, reject) => {
        query.once('end', resolve);
        query.once('error', reject);
        db.query(query);
      });
      // Back to the worker's own timeout at once (this SET still starts under the user's).
      await db.query(`SET LOCAL statement_timeout = ${own}`);
    } catch (error) {
      await db.query('ROLLBACK').catch(() => undefined);
      // CONCURRENTLY, VACUUM and the like refuse a transaction block (25001) before doing
      // anything: with --write, run such a statement alone in autocommit, as psql would.
      if (request.write && asPgError(error).code === '25001')
        return await runOutsideTransaction(db, request, timeout, own, started, notices);
      throw statementFailed(error, request, timeout);
    }
    if (request.write) {
      try {
        await db.query('COMMIT');
      } catch (error) {
        // A deferred constraint or trigger fails at COMMIT: the user's statement's error, not ours.
        await db.query('ROLLBACK').catch(() => undefined);
        throw statementFailed(error, request, timeout, 'at COMMIT');
      }
    } else {
      // Whatever the statement did inside the transaction is undone here: settings it changed
      // (set_config, SET), notifications it queued (NOTIFY, pg_notify: delivered on commit only),
      // transaction-level locks. What a rollback cannot undo is refused below.
      await refuseIfWritten(db, request.sql, own);
      await db.query('ROLLBACK');
      await refuseIfSessionState(db, request.sql);
    }
    const last = Array.isArray(result) ? (result[result.length - 1] as pg.QueryResult) : result;
    const all = last.rows ?? [];
    const rows = fitInResponse(all);
    if (droppedNotices > 0) notices.push(`… ${droppedNotices} more notice(s) not shown`);
    return {
      command: last.command,
      rowCount: last.rowCount,
      fields: (last.fields ?? []).map((f) => ({ name: f.name, dataTypeID: f.dataTypeID })),
      rows,
      truncated: query.truncated || rows.length < all.length,
      notices,
      durationMs: Date.now() - started,
    };
  } finally {
    db.off('notice', onNotice);
  }
}

/**
 * `--write` SQL that cannot run inside a transaction block, run in autocommit: the user's timeout
 * set for the session around it, the worker's own restored after.
 */
async function runOutsideTransaction(
  db: Db,
  request: RunSqlRequest,
  timeout: number,
  own: number,
  started: number,
  notices: string[],
): Promise<RunSqlResult> {
  let result: pg.QueryResult | pg.QueryResult[];
  try {
    await db.query(`SET statement_timeout = ${timeout}`);
    result = await db.query(request.params ? { text: request.sql, values: request.params } : { text: request.sql });
  } catch (error) {
    throw statementFailed(error, request, timeout);
  } finally {
    await db.query(`SET statement_timeout = ${own}`).catch(() => undefined);
  }
  const last = Array.isArray(result) ? (result[result.length - 1] as pg.QueryResult) : result;
  const all = last.rows ?? [];
  const rows = fitInResponse(all);
  return {
    command: last.command,
    rowCount: last.rowCount,
    fields: (last.fields ?? []).map((f) => ({ name: f.name, dataTypeID: f.dataTypeID })),
    rows,
    truncated: rows.length < all.length,
    notices,
    durationMs: Date.now() - started,
  };
}

function statementFailed(error: unknown, request: RunSqlRequest, timeoutMs: number, when?: string): MigrateError {
  const info = describeSqlError(error, request.sql, 0, request.sql.length);
  let remedy = 'Fix the SQL and run it again; nothing was changed (the transaction was rolled back).';
  if (info.code === '57014' && /statement timeout/.test(info.message)) {
    remedy =
      `The statement ran longer than its statement timeout ` +
      `(${timeoutMs} ms: --statement-timeout, never past the ` +
      `function's remaining time); nothing was changed. Raise ` +
      `--statement-timeout, or make the statement cheaper.`;
  } else if (!request.write && info.code === '25006') {
    remedy =
      'This statement writes, and read-only run-sql cannot; ' +
      'nothing was changed. If you mean to change data, re-run ' +
      'with --write (it runs on the migrating function and ' +
      'asks for confirmation).';
  } else if (!request.write && info.code === '42501') {
    // The reader login's limits are the point: there is no flag that lifts them.
    remedy =
      'Read-only run-sql runs as the reader login, which may ' +
      'read tables, views and sequences (pg_read_all_data) ' +
      'and nothing else; this statement needs a privilege ' +
      'it does not have. Nothing was changed.';
  }
  return new MigrateError(
    ErrorCode.SqlFailed,
    `${info.code ? info.code + ': ' : ''}${info.message}${when ? ` (${when})` : ''}`,
    remedy,
    { details: { error: info } },
  );
}

function refusedWhy(name: string): string {
  if (name === 'uescape') return 'it names something with UESCAPE, which this check does not decode';
  if (name === 'do') return 'a DO block runs procedural code whose calls this check cannot see';
  if (/^(table|schema|database)_to_xml/.test(name))
    return `${name} reads tables named by value (pg_authid is OID 1260), out of the read-only check's sight`;
  if (name.startsWith('pg_advisory_') || name.startsWith('pg_try_advisory_'))
    return `it takes an advisory lock (${name}), which would hold deploys back while it runs`;
  if (name === 'pg_logical_emit_message')
    return 'pg_logical_emit_message writes to the WAL even in a read-only transaction';
  if (['pg_authid', 'pg_shadow', 'pg_user_mapping'].includes(name))
    return `${name} holds credentials (password hashes, foreign servers' passwords)`;
  return `${name} runs SQL given as text, out of the read-only check's sight`;
}

function readOnlyRefused(sql: string, why: string): MigrateError {
  return new MigrateError(
    ErrorCode.ReadOnlyRefused,
    `Refused in read-only run-sql: ${why}. Nothing was run.`,
    'Read-only run-sql runs only what cannot change the ' +
      'database or hold up others. Use a query without it; ' +
      'to test the migration lock, look at pg_locks.',
    { details: { error: { code: '25006', message: `read-only run-sql: ${why}`, statement: sql.slice(0, 300) } } },
  );
}

/**
 * What a read-only query may not leave behind in the session though the transaction was rolled
 * back: a session-level advisory lock (the migration lock 72707369 would block every deploy), a
 * prepared statement. Undone at once, and the query refused.
 */
async function refuseIfSessionState(db: Db, sql: string): Promise<void> {
  const { rows } = await db.query<{ locks: number; prepared: number }>(
    `SELECT (SELECT count(*)::int FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()) AS locks,
            (SELECT count(*)::int FROM pg_prepared_statements) AS prepared`,
  );
  const left = rows[0] ?? { locks: 0, prepared: 0 };
  const what = [left.locks > 0 && 'a session-level advisory lock', left.prepared > 0 && 'a prepared statement'].filter(
    Boolean,
  );
  if (what.length === 0) return;
  await db.query('SELECT pg_advisory_unlock_all(); DEALLOCATE ALL');
  throw readOnlyRefused(sql, `it left ${what.join(' and ')} in the session, which would outlast the query (undone)`);
}

/**
 * The backstop of read-only mode: a transaction that wrote anything has a transaction id. Some
 * writes pass PostgreSQL's READ ONLY check on older servers (large objects: `lo_create`,
 * `lo_unlink`, `lo_put` before PostgreSQL 17), so if one was assigned, roll back and refuse.
 * The statement may have lowered statement_timeout for the transaction: restore ours first.
 */
async function refuseIfWritten(db: Db, sql: string, ownTimeoutMs: number): Promise<void> {
  let xid: string | null | undefined;
  try {
    await db.query(`SET LOCAL statement_timeout = ${ownTimeoutMs}`);
    xid = (await db.query<{ xid: string | null }>('SELECT txid_current_if_assigned()::text AS xid')).rows[0]?.xid;
  } catch (error) {
    await db.query('ROLLBACK').catch(() => undefined);
    throw readOnlyRefused(sql, `its transaction could not be checked afterwards (${(error as Error).message})`);
  }
  if (xid == null) return;
  await db.query('ROLLBACK').catch(() => undefined);
  throw readOnlyRefused(
    sql,
    'it wrote to the database inside the read-only transaction (PostgreSQL assigned it a transaction id); rolled back',
  );
}

/**
 * The rows that fit MAX_RESULT_BYTES once serialized. The wire-size cap above bounds memory, but
 * JSON can be several times larger than the wire text (escaped control characters, multi-byte
 * characters, bytea as a Buffer's byte list): this is the exact check.
 */
function fitInResponse(rows: Record<string, unknown>[]): Record<string, unknown>[] {
  let bytes = 0;
  for (let i = 0; i < rows.length; i++) {
    bytes += Buffer.byteLength(JSON.stringify(rows[i]) ?? '', 'utf8') + 1;
    if (bytes > MAX_RESULT_BYTES) return rows.slice(0, i);
  }
  return rows;
}

/** pg takes the simple protocol when there are no values; an empty values list must still prepare. */
function forceExtended(query: pg.Query): void {
  (query as unknown as { requiresPreparation: () => boolean }).requiresPreparation = () => true;
}
