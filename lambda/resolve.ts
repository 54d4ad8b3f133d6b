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
import type { Db } from './db.js';
import {
  DEFAULT_LOCK_WAIT_MS,
  ErrorCode,
  MigrateError,
  type ParsedResolve,
  type ResolveResult,
} from './contract/index.js';
import { acquireMigrationLock } from './lock.js';
import { iso, PrismaLedger, toLedgerRow } from './prisma/prisma-ledger.js';

export async function resolveMigration(
  db: Db,
  openSession: () => Promise<Db>,
  request: ParsedResolve,
  remainingMs: number,
): Promise<ResolveResult> {
  const lock = await acquireMigrationLock(
    openSession,
    Math.min(request.lockWaitMs ?? DEFAULT_LOCK_WAIT_MS, Math.max(0, remainingMs - 2000)),
  );
  try {
    const ledger = await PrismaLedger.open(db);
    return request.to === 'applied'
      ? await markApplied(ledger, request, lock.waitedMs)
      : await markRolledBack(ledger, request, lock.waitedMs);
  } finally {
    await lock.release();
  }
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

async function markApplied(ledger: PrismaLedger, request: ParsedResolve, lockWaitMs: number): Promise<ResolveResult> {
  const { name } = request;
  return inTransaction(ledger.db, async () => {
    const ledgerCreated = await ledger.ensure();
    const rows = await ledger.rowsNamed(name);
    const finished = rows.find((r) => r.finished_at !== null);
    if (finished) {
      throw new MigrateError(
        ErrorCode.ResolveAlreadyApplied,
        `P3008: The migration \`${name}\` is already recorded ` +
          `as applied in the database (finished at ${iso(finished.finished_at)}). ` +
          `Nothing was changed.`,
        `Nothing to resolve. If it failed again later, its newer ` +
          `failed row is what \`vpc-migrate status\` reports; ` +
          `otherwise run \`vpc-migrate deploy\`.`,
        { details: { prismaCode: 'P3008', migration: name, row: toLedgerRow(finished) } },
      );
    }
    const failed = rows.filter((r) => r.finished_at === null && r.rolled_back_at === null).map((r) => r.id);
    await ledger.markRolledBack(failed);
    // parseResolve requires the checksum when `to` is "applied".
    const inserted = await ledger.insertResolvedApplied(name, request.checksum as string);
    return { name, to: 'applied', rolledBackIds: failed, inserted, ledgerCreated, lockWaitMs };
  });
}

async function markRolledBack(
  ledger: PrismaLedger,
  request: ParsedResolve,
  lockWaitMs: number,
): Promise<ResolveResult> {
  const { name } = request;
  const neverApplied = (why: string) =>
    new MigrateError(
      ErrorCode.ResolveNeverApplied,
      `P3011: Migration \`${name}\` cannot be rolled back ` +
        `because it was never applied to the database (${why}). ` +
        `Nothing was changed.`,
      'Check the name: it is the whole folder name, e.g. "20201207184859_initial_migration" ' +
        '(`vpc-migrate status` lists them).',
      { details: { prismaCode: 'P3011', migration: name } },
    );
  if (!(await ledger.exists())) throw neverApplied('there is no _prisma_migrations table');
  return inTransaction(ledger.db, async () => {
    const rows = await ledger.rowsNamed(name);
    if (rows.length === 0) throw neverApplied('no row has that name');
    if (rows.every((r) => r.finished_at !== null)) {
      throw new MigrateError(
        ErrorCode.ResolveNotFailed,
        `P3012: Migration \`${name}\` cannot be rolled back because it is not in a failed state. Nothing was changed.`,
        'Only a failed migration can be marked rolled back. ' +
          'To undo an applied migration, write a new migration ' +
          'that reverses it.',
        { details: { prismaCode: 'P3012', migration: name } },
      );
    }
    const failed = rows.filter((r) => r.finished_at === null && r.rolled_back_at === null).map((r) => r.id);
    await ledger.markRolledBack(failed);
    return { name, to: 'rolled-back', rolledBackIds: failed, ledgerCreated: false, lockWaitMs };
  });
}
