/** How the migration lock (Prisma's advisory key) is found in pg_locks, written once for every query that looks. */
import { MIGRATION_LOCK_KEY } from './wire.js';

/**
 * A condition on a pg_locks row `alias`: it is the migration lock of this database, granted or
 * awaited. A bigint key is stored as classid = high 32 bits, objid = low 32 bits.
 */
export function migrationLockRowSql(alias = 'l'): string {
  const key = `${MIGRATION_LOCK_KEY}::bigint`;
  return `${alias}.locktype = 'advisory' AND ${alias}.objsubid = 1
    AND ${alias}.classid = (${key} >> 32)::oid AND ${alias}.objid = (${key} & 4294967295)::oid
    AND ${alias}.database = (SELECT oid FROM pg_catalog.pg_database WHERE datname = pg_catalog.current_database())`;
}
