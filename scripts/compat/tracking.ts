/**
 * `_prisma_migrations` writes as SQL text, for a worker that takes no parameters. The columns
 * and values are lambda/prisma/prisma-ledger.ts's (Prisma's, docs/design.md §2); the table DDL is reused as is.
 * `started_at` is the database's `now()` (the start of the call's transaction), `finished_at`
 * its `clock_timestamp()`, so the client's clock never enters the ledger.
 */
import { randomUUID } from 'node:crypto';
import { PRISMA_LEDGER_TABLE } from '../../lambda/contract/index.js';
import { literal } from './sql.js';

export { CREATE_LEDGER_SQL } from '../../lambda/contract/index.js';

const TABLE = `"${PRISMA_LEDGER_TABLE}"`;
const COLUMNS = '(id, checksum, finished_at, migration_name, logs, rolled_back_at, started_at, applied_steps_count)';
const text = (value: string | null) => (value === null ? 'NULL' : literal(value));

export const newRowId = (): string => randomUUID();

/** A finished row; inside the migration's own DO block, so both commit together. */
export function insertFinishedSql(id: string, m: { name: string; checksum: string }, logs: string | null): string {
  return `INSERT INTO ${TABLE} ${COLUMNS} VALUES (${literal(id)}, ${literal(m.checksum)}, clock_timestamp(), ${literal(m.name)}, ${text(logs)}, NULL, now(), 1)`;
}

/** Prisma's "started" row, written before a file that cannot run in one transaction. */
export function insertStartedSql(id: string, m: { name: string; checksum: string }): string {
  return `INSERT INTO ${TABLE} ${COLUMNS} VALUES (${literal(id)}, ${literal(m.checksum)}, NULL, ${literal(m.name)}, NULL, NULL, now(), 0)`;
}

/** A failed attempt of a transactional file: nothing of it was committed, only this record. */
export function insertFailedSql(id: string, m: { name: string; checksum: string }, logs: string): string {
  return `INSERT INTO ${TABLE} ${COLUMNS} VALUES (${literal(id)}, ${literal(m.checksum)}, NULL, ${literal(m.name)}, ${literal(logs)}, NULL, now(), 0)`;
}

export function recordProgressSql(id: string, appliedSteps: number): string {
  return `UPDATE ${TABLE} SET applied_steps_count = ${appliedSteps} WHERE id = ${literal(id)}`;
}

export function markFinishedSql(id: string, logs: string | null): string {
  return `UPDATE ${TABLE} SET finished_at = clock_timestamp(), applied_steps_count = 1, logs = ${text(logs)} WHERE id = ${literal(id)}`;
}

export function markFailedSql(id: string, logs: string, appliedSteps: number): string {
  return `UPDATE ${TABLE} SET logs = ${literal(logs)}, applied_steps_count = ${appliedSteps} WHERE id = ${literal(id)}`;
}
