/**
 * Ad-hoc SQL for the people on call. Read-only unless asked: the statement runs in a
 * `READ ONLY` transaction that PostgreSQL enforces, through the extended protocol so only a
 * single statement is accepted (a `COMMIT; DELETE …` cannot escape the read-only transaction).
 * Rows are capped by count and bytes; the rest are read off the wire and dropped.
 */
import pg from 'pg';
import type { Db } from './db.js';
import { ErrorCode, MigrateError } from './errors.js';
import type { RunSqlResult } from './protocol.js';
import { describeSqlError } from './sql-error.js';

/** Keep responses inside Lambda's 6 MB limit with room for the envelope. */
export const MAX_RESULT_BYTES = 5 * 1024 * 1024;

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
  const onNotice = (n: { severity?: string; message?: string }) => {
    if (notices.length < 100) notices.push(`${n.severity ?? 'NOTICE'}: ${n.message ?? ''}`);
  };
  db.on('notice', onNotice);
  const timeout = Math.max(100, Math.min(request.statementTimeoutMs ?? 60_000, remainingMs - 1000));
  const started = Date.now();
  try {
    await db.query(request.write ? 'BEGIN' : 'BEGIN READ ONLY');
    await db.query(`SET LOCAL statement_timeout = ${timeout}`);
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
      const readOnly = info.code === '25006';
      throw new MigrateError(
        ErrorCode.SqlFailed,
        `${info.code ? info.code + ': ' : ''}${info.message}`,
        readOnly
          ? 'This statement writes; run-sql is read-only by default. Re-run with --write if you mean to change data.'
          : 'Fix the SQL and run it again; nothing was changed (the transaction was rolled back).',
        { details: { error: info } },
      );
    }
    await db.query('COMMIT');
    const last = Array.isArray(result) ? (result[result.length - 1] as pg.QueryResult) : result;
    return {
      command: last.command,
      rowCount: last.rowCount,
      fields: (last.fields ?? []).map((f) => ({ name: f.name, dataTypeID: f.dataTypeID })),
      rows: last.rows ?? [],
      truncated: query.truncated,
      notices,
      durationMs: Date.now() - started,
    };
  } finally {
    db.off('notice', onNotice);
  }
}

/** pg takes the simple protocol when there are no values; an empty values list must still prepare. */
function forceExtended(query: pg.Query): void {
  (query as unknown as { requiresPreparation: () => boolean }).requiresPreparation = () => true;
}
