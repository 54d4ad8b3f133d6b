/** The `ledger` action: rows plus the facts a status report needs. Reads only; takes no lock. */
import type { Db } from './db.js';
import { lockHolder } from './lock.js';
import type { LedgerResult } from './contract/index.js';
import { ledgerTableExists, readLedger, userTableCount } from './tracking.js';

export async function readLedgerState(db: Db): Promise<LedgerResult> {
  const { rows } = await db.query<{ version: string; database: string; schema: string; user: string }>(
    `SELECT current_setting('server_version') AS version, current_database() AS database,
            current_schema() AS schema, current_user AS "user"`,
  );
  const facts = rows[0] as { version: string; database: string; schema: string; user: string };
  const tableExists = await ledgerTableExists(db);
  return {
    server: { ...facts, lockHolder: await lockHolder(db) },
    tableExists,
    userTableCount: await userTableCount(db),
    rows: tableExists ? await readLedger(db) : [],
  };
}
