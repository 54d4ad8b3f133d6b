/**
 * The `ledger` action, for every format: the format's rows plus the facts a status report needs
 * (server, schema, user, who holds the migration lock, whether the schema holds tables). Reads
 * only; takes no lock.
 */
import type { Db } from './db.js';
import type { WorkerFormat } from './format.js';
import { LOCK_HOLDER_SQL, type LockHolderRow, toLockHolder } from './lock.js';
import { type LedgerResult, USER_TABLE_COUNT_SQL } from './contract/index.js';

/**
 * The server's facts, the lock's holder and the schema's table count in one round trip (they
 * were three queries): the holder's columns come from a lateral join, NULL when no one holds it.
 */
const FACTS_SQL = `SELECT current_setting('server_version') AS version, current_database() AS database,
            current_schema() AS schema, current_user AS "user", ${USER_TABLE_COUNT_SQL} AS n,
            h.pid AS holder_pid, h.application AS holder_application, h."user" AS holder_user,
            h.since AS holder_since, h.query AS holder_query
       FROM (SELECT 1) AS one LEFT JOIN LATERAL (${LOCK_HOLDER_SQL}) AS h ON true`;

interface FactsRow {
  version: string;
  database: string;
  schema: string;
  user: string;
  n: number;
  holder_pid: number | null;
  holder_application: string | null;
  holder_user: string | null;
  holder_since: Date | null;
  holder_query: string | null;
}

export async function readLedgerState(db: Db, format: WorkerFormat): Promise<LedgerResult> {
  const { rows } = await db.query<FactsRow>(FACTS_SQL);
  const f = rows[0] as FactsRow;
  const { tableExists, ...ledger } = await format.readLedger(db);
  const holder: LockHolderRow | null =
    f.holder_pid === null
      ? null
      : {
          pid: f.holder_pid,
          application: f.holder_application,
          user: f.holder_user,
          since: f.holder_since,
          query: f.holder_query,
        };
  return {
    server: {
      version: f.version,
      database: f.database,
      schema: f.schema,
      user: f.user,
      lockHolder: holder ? toLockHolder(holder) : null,
    },
    tableExists,
    userTableCount: Number(f.n ?? 0),
    ...ledger,
  };
}

/** Tables in the current schema other than the ledger (a non-empty schema is baselined). */
export async function userTableCount(db: Db): Promise<number> {
  const { rows } = await db.query<{ n: number }>(`SELECT ${USER_TABLE_COUNT_SQL} AS n`);
  return Number(rows[0]?.n ?? 0);
}
