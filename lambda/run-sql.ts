/**
 * Ad-hoc SQL for the people on call. Read-only unless asked: the statement runs in a
 * `READ ONLY` transaction that PostgreSQL enforces, through the extended protocol so only a
 * single statement is accepted (a `COMMIT; DELETE …` cannot escape the read-only transaction).
 * Rows are capped by count and bytes; the rest are read off the wire and dropped.
 */
import pg from 'pg';
import type { Db } from './db.js';
import { DEFAULT_READER_ROLE, describeSqlError, ErrorCode, MigrateError, type RunSqlResult } from './contract/index.js';
import { becomeReader } from './reader.js';

/** Keep responses inside Lambda's 6 MB limit with room for the envelope. */
export const MAX_RESULT_BYTES = 5 * 1024 * 1024;
/** Notices kept, in characters all told (a RAISE NOTICE loop must not overflow the response either). */
const MAX_NOTICE_CHARS = 64 * 1024;
const MAX_NOTICES = 100;

interface RunSqlRequest {
  sql: string;
  write: boolean;
  /** The role read-only SQL runs as (default {@link DEFAULT_READER_ROLE}). */
  readerRole?: string;
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
  constructor(config: pg.QueryConfig, private readonly maxRows: number, private readonly maxBytes: number) {
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
  const started = Date.now();
  try {
    await db.query(request.write ? 'BEGIN' : 'BEGIN READ ONLY');
    await db.query(`SET LOCAL statement_timeout = ${timeout}`);
    if (!request.write) await becomeReader(db, request.readerRole ?? DEFAULT_READER_ROLE);
    const settingsBefore = request.write ? '' : await sessionSettings(db);
    const config: pg.QueryConfig = request.params ? { text: request.sql, values: request.params } : { text: request.sql };
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
    } catch (error) {
      await db.query('ROLLBACK').catch(() => undefined);
      const info = describeSqlError(error, request.sql, 0, request.sql.length);
      // Under the reader role, a privilege error is read-only mode refusing too.
      const readOnly = info.code === '25006' || (!request.write && info.code === '42501');
      throw new MigrateError(
        ErrorCode.SqlFailed,
        `${info.code ? info.code + ': ' : ''}${info.message}`,
        readOnly
          ? 'This statement writes or needs more than read access; run-sql is read-only by default (PostgreSQL READ ONLY, as a role that can only read). Re-run with --write if you mean it.'
          : 'Fix the SQL and run it again; nothing was changed (the transaction was rolled back).',
        { details: { error: info } },
      );
    }
    if (!request.write) {
      const changed = await sessionSettings(db).then(
        (after) => after !== settingsBefore,
        (error: { code?: string }) => {
          // Our own check cancelled: the statement lowered statement_timeout for the session.
          if (error.code === '57014') return true;
          throw error;
        },
      );
      if (changed) await refuse(db, request.sql, 'it changes a session setting (SET, set_config), which would outlast the query');
      await refuseIfWritten(db, request.sql);
    }
    await db.query('COMMIT');
    if (!request.write) await refuseIfSessionState(db, request.sql);
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

/** Every setting the session has changed, as one string (pg_settings, source `session`). */
async function sessionSettings(db: Db): Promise<string> {
  const { rows } = await db.query<{ s: string | null }>(
    `SELECT string_agg(name || '=' || setting, ',' ORDER BY name) AS s FROM pg_settings WHERE source = 'session'`,
  );
  return rows[0]?.s ?? '';
}

async function refuse(db: Db, sql: string, why: string): Promise<never> {
  await db.query('ROLLBACK').catch(() => undefined);
  throw new MigrateError(
    ErrorCode.SqlFailed,
    `25006: refused in read-only run-sql: ${why}; it was rolled back.`,
    'run-sql without --write may only read. Re-run with --write if you mean it.',
    { details: { error: { code: '25006', message: `read-only run-sql: ${why}`, statement: sql.slice(0, 300) } } },
  );
}

/**
 * What a read-only query may not leave behind in the session, though the transaction ended:
 * a session-level advisory lock (the migration lock 72707369 would block every deploy), a
 * LISTEN, a prepared statement. Undone at once, and the query refused.
 */
async function refuseIfSessionState(db: Db, sql: string): Promise<void> {
  const { rows } = await db.query<{ locks: number; channels: number; prepared: number }>(
    `SELECT (SELECT count(*)::int FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()) AS locks,
            (SELECT count(*)::int FROM pg_listening_channels()) AS channels,
            (SELECT count(*)::int FROM pg_prepared_statements) AS prepared`,
  );
  const left = rows[0] ?? { locks: 0, channels: 0, prepared: 0 };
  const what = [
    left.locks > 0 && 'a session-level advisory lock',
    left.channels > 0 && 'a LISTEN',
    left.prepared > 0 && 'a prepared statement',
  ].filter(Boolean);
  if (what.length === 0) return;
  await db.query('SELECT pg_advisory_unlock_all(); UNLISTEN *; DEALLOCATE ALL');
  throw new MigrateError(
    ErrorCode.SqlFailed,
    `25006: refused in read-only run-sql: it left ${what.join(' and ')} in the session, which would outlast the query; undone.`,
    'run-sql without --write may only read (to test a lock, use pg_try_advisory_xact_lock). Re-run with --write if you mean it.',
    { details: { error: { code: '25006', message: `read-only run-sql: ${what.join(', ')}`, statement: sql.slice(0, 300) } } },
  );
}

/**
 * The backstop of read-only mode: a transaction that wrote anything has a transaction id. Some
 * writes pass PostgreSQL's READ ONLY check on older servers (large objects: `lo_create`,
 * `lo_unlink`, `lo_put` before PostgreSQL 17), so if one was assigned, roll back and refuse.
 */
async function refuseIfWritten(db: Db, sql: string): Promise<void> {
  const { rows } = await db.query<{ xid: string | null }>('SELECT txid_current_if_assigned()::text AS xid');
  if (rows[0]?.xid == null) return;
  await db.query('ROLLBACK').catch(() => undefined);
  throw new MigrateError(
    ErrorCode.SqlFailed,
    '25006: the statement wrote to the database inside run-sql\'s read-only transaction (PostgreSQL assigned it a transaction id); it was rolled back.',
    'This statement writes; run-sql is read-only by default. Re-run with --write if you mean to change data.',
    { details: { error: { code: '25006', message: 'write detected in a read-only run-sql', statement: sql.slice(0, 300) } } },
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
