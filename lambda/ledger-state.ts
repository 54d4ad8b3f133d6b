/**
 * The `ledger` action, for every format: the format's rows plus the facts a status report needs
 * (server, schema, user, who holds the migration lock, whether the schema holds tables). Reads
 * only; takes no lock.
 */
import type { Db } from './db.js';
import type { WorkerFormat } from './format.js';
import { lockHolder } from './lock.js';
import { type LedgerResult, USER_TABLE_COUNT_SQL } from './contract/index.js';

export async function readLedgerState(db: Db, format: WorkerFormat): Promise<LedgerResult> {
  const { rows } = await db.query<{ version: string; database: string; schema: string; user: string }>(
    `SELECT current_setting('server_version') AS version, current_database() AS database,
            current_schema() AS schema, current_user AS "user"`,
  );
  const facts = rows[0] as { version: string; database: string; schema: string; user: string };
  const { tableExists, ...ledger } = await format.readLedger(db);
  return {
    server: { ...facts, lockHolder: await lockHolder(db) },
    tableExists,
    userTableCount: await userTableCount(db),
    ...ledger,
  };
}

/** Tables in the current schema other than the ledger (a non-empty schema is baselined). */
export async function userTableCount(db: Db): Promise<number> {
  const { rows } = await db.query<{ n: number }>(`SELECT ${USER_TABLE_COUNT_SQL} AS n`);
  return Number(rows[0]?.n ?? 0);
}
