/**
 * `baseline --up-to NAME` (Prisma format): for a database migrated by other means, record the
 * local migrations through NAME as applied without running them, after checking by definition
 * that what each creates exists (lambda/reconcile.ts, missingObjects: the judgement a reconciled
 * deploy makes). Under the migration lock; the rows are Prisma's `migrate resolve --applied`
 * rows (lambda/prisma/prisma-ledger.ts), all written in one transaction, or none.
 */
import type { Db } from './db.js';
import {
  type BaselineResult,
  DEFAULT_LOCK_WAIT_MS,
  ErrorCode,
  failedMigrationsError,
  MigrateError,
  type MissingObject,
  type ParsedBaseline,
  redact,
  remedyCommand,
  shorten,
} from './contract/index.js';
import { acquireMigrationLock } from './lock.js';
import { failedRows, PrismaLedger, successfulNames } from './prisma/prisma-ledger.js';
import { isCheckable, missingObjects } from './reconcile.js';

const LISTED = 20;

export async function baselineMigrations(
  db: Db,
  openSession: () => Promise<Db>,
  request: ParsedBaseline,
  remainingMs: number,
): Promise<BaselineResult> {
  const lock = await acquireMigrationLock(
    openSession,
    Math.min(request.lockWaitMs ?? DEFAULT_LOCK_WAIT_MS, Math.max(0, remainingMs - 2000)),
  );
  try {
    const ledger = await PrismaLedger.open(db);
    const rows = (await ledger.exists()) ? await ledger.read() : [];
    const failed = failedRows(rows);
    if (failed.length > 0) throw failedMigrationsError([...new Set(failed.map((r) => r.migration_name))]);
    const done = successfulNames(rows);
    const todo = request.migrations.filter((m) => !done.has(m.name));
    const _upTo = request.migrations[request.migrations.length - 1]!.name;
    const missing = await missingObjects(db, todo, { definitions: true });
    if (missing.length > 0)
      throw mismatch(
        request.migrations.map((m) => m.name),
        missing,
      );
    await db.query('BEGIN');
    try {
      const ledgerCreated = await ledger.ensure();
      const recorded = [];
      for (const m of todo) recorded.push(await ledger.insertResolvedApplied(m.name, m.checksum, { clock: true }));
      await db.query('COMMIT');
      return {
        recorded,
        alreadyRecorded: request.migrations.filter((m) => done.has(m.name)).map((m) => m.name),
        unchecked: todo.filter((m) => !isCheckable(m)).map((m) => m.name),
        ledgerCreated,
        lockWaitMs: lock.waitedMs,
      };
    } catch (error) {
      await db.query('ROLLBACK').catch(() => undefined);
      throw error;
    }
  } finally {
    await lock.release();
  }
}

function mismatch(names: string[], missing: MissingObject[]): MigrateError {
  const upTo = names[names.length - 1]!;
  const lines = missing.slice(0, LISTED).map((x) => `  ${x.migration} line ${x.line}: ${x.object} ${x.why}`);
  if (missing.length > LISTED) lines.push(`  … and ${missing.length - LISTED} more`);
  const first = missing[0]!.migration;
  const before = names[names.indexOf(first) - 1];
  const earlier = before
    ? `Baseline only through the migrations the database has ` +
      `in full: ${remedyCommand('baseline', '--up-to', before)} ` +
      `(the one before ${first}), then deploy applies the ` +
      `rest; or `
    : `The objects of the first migration, ${first}, are not ` +
      `all here: check that this is the database you meant. ` +
      `If it is, `;
  return new MigrateError(
    ErrorCode.BaselineMismatch,
    `Cannot baseline through ${upTo}: the database lacks, ` +
      `or holds differently, ${missing.length} object(s) those ` +
      `migrations create. Nothing was recorded.\n${lines.join('\n')}`,
    `${earlier}${remedyCommand('deploy', '--baseline')} applies every migration, reconciling what exists. ` +
      ('An object a later migration dropped or changed also ' +
        'shows here: baseline through an earlier migration in ' +
        'that case.'),
    {
      details: {
        upTo,
        missing: missing.slice(0, LISTED).map((x) => ({
          ...x,
          ...(x.existing ? { existing: shorten(redact(x.existing), 2000) } : {}),
          ...(x.wanted ? { wanted: shorten(redact(x.wanted), 2000) } : {}),
        })),
      },
    },
  );
}
