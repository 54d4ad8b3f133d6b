/** Prisma's `_prisma_migrations`, as its schema engine creates it on PostgreSQL (docs/design.md §2). */

/** `table`: the name as it is to appear, quoted (and schema-qualified where the caller needs it). */
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

export const CREATE_LEDGER_SQL = createLedgerSql('"_prisma_migrations"');
