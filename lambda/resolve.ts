/**
 * `migrate resolve`, with Prisma's semantics and refusals (schema-engine `core/commands/
 * mark_migration_applied.rs`, `mark_migration_rolled_back.rs`; docs/design.md §2), under the same
 * advisory lock. Unlike Prisma, the rows of one resolve change in one transaction.
 *
 * - `applied`: refuses if any row of that name has `finished_at` (P3008); marks the failed rows
 *   `rolled_back_at = now()`; inserts a row with `logs = ''`, `started_at = finished_at = now()`,
 *   `applied_steps_count = 0`. Creates the ledger if missing, as Prisma's `baseline_initialize`.
 * - `rolled-back`: refuses if no row has that name (P3011) or every row finished (P3012); marks
 *   the rows with neither `finished_at` nor `rolled_back_at` as rolled back.
 *
 * The folder check (P3017) is the CLI's: only it sees the migrations folder.
 */
import { randomUUID } from 'node:crypto';
import type { Db } from './db.js';
import { DEFAULT_LOCK_WAIT_MS, ErrorCode, type LedgerRow, MigrateError, type ParsedResolve, type ResolveResult } from './contract/index.js';
import { acquireMigrationLock, releaseMigrationLock } from './lock.js';
import { ensureLedgerTable, iso, ledgerTableExists, type RawLedgerRow, toLedgerRow } from './prisma/ledger.js';

export async function resolveMigration(db: Db, request: ParsedResolve, remainingMs: number): Promise<ResolveResult> {
  const lockWaitMs = await acquireMigrationLock(db, Math.min(request.lockWaitMs ?? DEFAULT_LOCK_WAIT_MS, Math.max(0, remainingMs - 2000)));
  try {
    return request.to === 'applied' ? await markApplied(db, request, lockWaitMs) : await markRolledBack(db, request, lockWaitMs);
  } finally {
    await releaseMigrationLock(db).catch(() => undefined);
  }
}

async function rowsNamed(db: Db, name: string): Promise<RawLedgerRow[]> {
  const { rows } = await db.query<RawLedgerRow>(
    `SELECT id, checksum, finished_at, migration_name, logs, rolled_back_at, started_at, applied_steps_count
       FROM "_prisma_migrations" WHERE migration_name = $1 ORDER BY started_at, id FOR UPDATE`,
    [name],
  );
  return rows;
}

async function inTransaction<T>(db: Db, work: () => Promise<T>): Promise<T> {
  await db.query('BEGIN');
  try {
    const result = await work();
    await db.query('COMMIT');
    return result;
  } catch (error) {
    await db.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}

async function markApplied(db: Db, request: ParsedResolve, lockWaitMs: number): Promise<ResolveResult> {
  const { name } = request;
  return inTransaction(db, async () => {
    const ledgerCreated = await ensureLedgerTable(db);
    const rows = await rowsNamed(db, name);
    const finished = rows.find((r) => r.finished_at !== null);
    if (finished) {
      throw new MigrateError(
        ErrorCode.ResolveAlreadyApplied,
        `P3008: The migration \`${name}\` is already recorded as applied in the database (finished at ${iso(finished.finished_at)}). Nothing was changed.`,
        `Nothing to resolve. If it failed again later, its newer failed row is what \`vpc-migrate status\` reports; otherwise run \`vpc-migrate deploy\`.`,
        { details: { prismaCode: 'P3008', migration: name, row: toLedgerRow(finished) } },
      );
    }
    const failed = rows.filter((r) => r.finished_at === null && r.rolled_back_at === null).map((r) => r.id);
    if (failed.length > 0) {
      await db.query(`UPDATE "_prisma_migrations" SET rolled_back_at = now() WHERE id = ANY($1::varchar[])`, [failed]);
    }
    const { rows: inserted } = await db.query<RawLedgerRow>(
      `INSERT INTO "_prisma_migrations" (id, checksum, finished_at, migration_name, logs, rolled_back_at, started_at, applied_steps_count)
       VALUES ($1, $2, now(), $3, '', NULL, now(), 0)
       RETURNING id, checksum, finished_at, migration_name, logs, rolled_back_at, started_at, applied_steps_count`,
      [randomUUID(), request.checksum, name],
    );
    return { name, to: 'applied', rolledBackIds: failed, inserted: toLedgerRow(inserted[0] as RawLedgerRow), ledgerCreated, lockWaitMs };
  });
}

async function markRolledBack(db: Db, request: ParsedResolve, lockWaitMs: number): Promise<ResolveResult> {
  const { name } = request;
  const neverApplied = (why: string) =>
    new MigrateError(
      ErrorCode.ResolveNeverApplied,
      `P3011: Migration \`${name}\` cannot be rolled back because it was never applied to the database (${why}). Nothing was changed.`,
      'Check the name: it is the whole folder name, e.g. "20201207184859_initial_migration" (`vpc-migrate status` lists them).',
      { details: { prismaCode: 'P3011', migration: name } },
    );
  if (!(await ledgerTableExists(db))) throw neverApplied('there is no _prisma_migrations table');
  return inTransaction(db, async () => {
    const rows = await rowsNamed(db, name);
    if (rows.length === 0) throw neverApplied('no row has that name');
    if (rows.every((r) => r.finished_at !== null)) {
      throw new MigrateError(
        ErrorCode.ResolveNotFailed,
        `P3012: Migration \`${name}\` cannot be rolled back because it is not in a failed state. Nothing was changed.`,
        'Only a failed migration can be marked rolled back. To undo an applied migration, write a new migration that reverses it.',
        { details: { prismaCode: 'P3012', migration: name } },
      );
    }
    const failed = rows.filter((r) => r.finished_at === null && r.rolled_back_at === null).map((r) => r.id);
    if (failed.length > 0) {
      await db.query(`UPDATE "_prisma_migrations" SET rolled_back_at = now() WHERE id = ANY($1::varchar[])`, [failed]);
    }
    return { name, to: 'rolled-back', rolledBackIds: failed, ledgerCreated: false, lockWaitMs };
  });
}
