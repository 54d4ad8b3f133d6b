/**
 * `_prisma_migrations`, written exactly as Prisma's schema engine writes it
 * (docs/design.md §2): no unique constraint on the name, so rows are found by name, never upserted.
 */
import { randomUUID } from 'node:crypto';
import { CREATE_LEDGER_SQL, type LedgerRow } from '../contract/index.js';
import type { Db } from '../db.js';

export async function ledgerTableExists(db: Db): Promise<boolean> {
  const { rows } = await db.query<{ exists: boolean }>(
    `SELECT to_regclass(format('%I.%I', current_schema(), '_prisma_migrations')) IS NOT NULL AS exists`,
  );
  return rows[0]?.exists === true;
}

/** Creates the table in the connection's schema; returns whether it was missing. */
export async function ensureLedgerTable(db: Db): Promise<boolean> {
  if (await ledgerTableExists(db)) return false;
  await db.query(CREATE_LEDGER_SQL);
  return true;
}

const MAX_LOG_CHARS_IN_RESPONSE = 4000;

/** Rows in Prisma's order (started_at); long logs are shortened so 800+ rows fit one response. */
export async function readLedger(db: Db): Promise<LedgerRow[]> {
  const { rows } = await db.query<RawLedgerRow>(
    `SELECT id, checksum, finished_at, migration_name,
            CASE WHEN length(logs) > ${MAX_LOG_CHARS_IN_RESPONSE} THEN left(logs, ${MAX_LOG_CHARS_IN_RESPONSE}) || '…' ELSE logs END AS logs,
            rolled_back_at, started_at, applied_steps_count
       FROM "_prisma_migrations" ORDER BY started_at ASC, migration_name ASC`,
  );
  return rows.map(toLedgerRow);
}

/** A row as pg returns it: timestamps as Dates. */
export type RawLedgerRow = Omit<LedgerRow, 'finished_at' | 'started_at' | 'rolled_back_at'> & {
  finished_at: Date | null;
  rolled_back_at: Date | null;
  started_at: Date;
};

/** The wire form: timestamps as ISO strings. */
export function toLedgerRow(r: RawLedgerRow): LedgerRow {
  return { ...r, finished_at: iso(r.finished_at), rolled_back_at: iso(r.rolled_back_at), started_at: iso(r.started_at) as string };
}

export function iso(value: Date | null): string | null {
  return value ? new Date(value).toISOString() : null;
}

/** A finished row inserted in the caller's transaction: the migration and its record commit together. */
export async function insertFinished(
  db: Db,
  row: { name: string; checksum: string; startedAt: Date; logs: string | null; appliedSteps?: number },
): Promise<string> {
  const id = randomUUID();
  await db.query(
    `INSERT INTO "_prisma_migrations" (id, checksum, finished_at, migration_name, logs, rolled_back_at, started_at, applied_steps_count)
     VALUES ($1, $2, clock_timestamp(), $3, $4, NULL, $5, $6)`,
    [id, row.checksum, row.name, row.logs, row.startedAt, row.appliedSteps ?? 1],
  );
  return id;
}

/**
 * {@link insertFinished} and the COMMIT of the caller's transaction in ONE round trip: the row's
 * values are literals (escaped by the driver), so both travel as one simple-protocol query. If
 * the INSERT fails, PostgreSQL skips the COMMIT and the transaction stays aborted for the
 * caller's ROLLBACK, exactly as with two queries. Saves a round trip per migration
 * (docs/benchmarks.md: no per-migration round trips for the ledger).
 */
export async function insertFinishedAndCommit(db: Db, row: { name: string; checksum: string; startedAt: Date; logs: string | null }): Promise<string> {
  const id = randomUUID();
  const lit = (v: string | null) => (v === null ? 'NULL' : db.escapeLiteral(v));
  await db.query(
    `INSERT INTO "_prisma_migrations" (id, checksum, finished_at, migration_name, logs, rolled_back_at, started_at, applied_steps_count)
     VALUES (${lit(id)}, ${lit(row.checksum)}, clock_timestamp(), ${lit(row.name)}, ${lit(row.logs)}, NULL, ${lit(row.startedAt.toISOString())}::timestamptz, 1); COMMIT`,
  );
  return id;
}

/**
 * Prisma's "started" row, written before a script that cannot be wrapped in our transaction.
 * `logs`: NULL as Prisma writes it, or the resumable marker of a stepwise run (lambda/contract/wire.ts).
 */
export async function insertStarted(db: Db, row: { name: string; checksum: string; startedAt: Date; logs?: string }): Promise<string> {
  const id = randomUUID();
  await db.query(
    `INSERT INTO "_prisma_migrations" (id, checksum, finished_at, migration_name, logs, rolled_back_at, started_at, applied_steps_count)
     VALUES ($1, $2, NULL, $3, $5, NULL, $4, 0)`,
    [id, row.checksum, row.name, row.startedAt, row.logs ?? null],
  );
  return id;
}

export async function recordProgress(db: Db, id: string, appliedSteps: number): Promise<void> {
  await db.query(`UPDATE "_prisma_migrations" SET applied_steps_count = $2 WHERE id = $1`, [id, appliedSteps]);
}

/**
 * The end of a stepwise run. applied_steps_count goes back to 1, the value Prisma's engine leaves
 * on every finished row; while running it counted statements done (recordProgress) so a resumed
 * run knows where to start.
 */
export async function markFinished(db: Db, id: string, logs: string | null): Promise<void> {
  await db.query(
    `UPDATE "_prisma_migrations" SET finished_at = clock_timestamp(), applied_steps_count = 1, logs = $2 WHERE id = $1`,
    [id, logs],
  );
}

export async function markFailed(db: Db, id: string, logs: string, appliedSteps: number): Promise<void> {
  await recordRunState(db, id, logs, appliedSteps);
}

/** An unfinished row's `logs` and `applied_steps_count`: what a reader learns if the run stops here. */
export async function recordRunState(db: Db, id: string, logs: string, appliedSteps: number): Promise<void> {
  await db.query(`UPDATE "_prisma_migrations" SET logs = $2, applied_steps_count = $3 WHERE id = $1`, [id, logs, appliedSteps]);
}

/** A failed attempt of a transactional file: nothing of it was committed, only this record. */
export async function insertFailed(
  db: Db,
  row: { name: string; checksum: string; startedAt: Date; logs: string },
): Promise<string> {
  const id = randomUUID();
  await db.query(
    `INSERT INTO "_prisma_migrations" (id, checksum, finished_at, migration_name, logs, rolled_back_at, started_at, applied_steps_count)
     VALUES ($1, $2, NULL, $3, $4, NULL, $5, 0)`,
    [id, row.checksum, row.name, row.logs, row.startedAt],
  );
  return id;
}

export function successfulNames(rows: LedgerRow[]): Set<string> {
  return new Set(rows.filter((r) => r.finished_at !== null && r.rolled_back_at === null).map((r) => r.migration_name));
}

export function failedRows(rows: LedgerRow[]): LedgerRow[] {
  return rows.filter((r) => r.finished_at === null && r.rolled_back_at === null);
}
