/**
 * Issue 8, acceptance 1 and 2 on real migration histories used as TEST DATA
 * (../shared/corpora; skipped when absent): deployed through a count-only run-sql worker
 * (test/helpers/count-only-worker.ts, Prisma-native behaviour: one prepared statement per call,
 * a new connection per call), then judged by Prisma 6.19.3's own `migrate status`.
 */
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { deploy } from '../../scripts/commands/deploy.js';
import { status } from '../../scripts/commands/status.js';
import { compareMigrationNames } from '../../scripts/core/plan.js';
import { startCountOnlyWorker } from '../helpers/count-only-worker.js';
import { embeddedTarget, freshDatabase, prismaLedger } from '../helpers/db.js';
import { corporaDir } from '../helpers/migrations.js';
import { expectPrismaUpToDate } from '../helpers/prisma-agrees.js';
import { prismaAvailable } from '../helpers/prisma-judge.js';
import { applyByOtherMeans } from '../helpers/psql.js';
import { startTestWorker, useFreshWorker } from '../helpers/test-worker.js';

const corpora = [
  { name: 'triggerdotdev__trigger.dev', count: 820 },
  { name: 'documenso__documenso', count: 163 },
].map((c) => ({ ...c, dir: path.join(corporaDir, c.name, 'migrations') }));

const embedded = embeddedTarget();

async function folders(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  return entries
    .filter((e) => e.isDirectory() && existsSync(path.join(dir, e.name, 'migration.sql')))
    .map((e) => e.name)
    .sort(compareMigrationNames);
}

async function ledgerCounts(url: string): Promise<{ done: number; reconciled: number }> {
  const rows = await prismaLedger(url);
  return {
    done: rows.filter((r) => r.finished_at !== null && r.rolled_back_at === null && r.applied_steps_count === 1).length,
    reconciled: rows.filter((r) => r.logs?.startsWith('Applied by vpc-migrate with ')).length,
  };
}

describe.skipIf(!existsSync(corporaDir))('run-sql protocol on real histories (corpora as test data)', () => {
  const { db, tw: cw } = useFreshWorker(embedded.adminUrl, {
    start: (url) => startCountOnlyWorker(url, { timeoutMs: 900_000 }),
  });

  it.each(corpora)('$name: deploy applies every migration and Prisma says up to date', async ({ dir, count }) => {
    const started = performance.now();
    const report = await deploy(cw.worker, { migrationsDir: dir });
    const deployMs = Math.round(performance.now() - started);

    expect(report.problems).toEqual([]);
    expect(report.exitCode).toBe(0);
    expect(report.verified).toBe(true);
    expect(report.results).toHaveLength(count);
    expect(report.results.filter((r) => r.status !== 'applied')).toEqual([]);
    expect((await ledgerCounts(db.url)).done).toBe(count);
    expect((await status(cw.worker, { migrationsDir: dir })).exitCode).toBe(0);
    if (prismaAvailable()) await expectPrismaUpToDate(db.url, dir, { timeoutMs: 180_000 });
    console.log(
      `[compat-run-sql] ${path.basename(path.dirname(dir))}: ` +
        `${count} migrations through run-sql in ${deployMs} ` +
        `ms, ${report.invocations} invocations`,
    );
  }, 900_000);

  it('documenso: migrations applied by other means and never ' +
    'recorded are recorded, the rest applied, skipped statements ' +
    'listed', async () => {
    const dir = corpora.find((c) => c.name === 'documenso__documenso')!.dir;
    const names = await folders(dir);
    // Its first 12 files can be re-run over the schema they built; from the 15th on, files
    // change what earlier ones created, so re-running them fails for any reconciler (below).
    const prefix = names.slice(0, 12);
    await applyByOtherMeans(db.url, dir, prefix);

    const report = await deploy(cw.worker, { migrationsDir: dir, apply: { baseline: true } });

    expect(report.problems).toEqual([]);
    expect(report.exitCode).toBe(0);
    expect(report.baselining).toBe(true);
    const first = report.results.slice(0, prefix.length);
    expect(first.map((r) => r.name)).toEqual(prefix);
    const reconciled = first.filter((r) => r.status === 'reconciled');
    // The rest re-ran without conflict (they only alter or update): applied again, recorded.
    expect(first.filter((r) => r.status !== 'reconciled').every((r) => r.status === 'applied')).toBe(true);
    expect(reconciled.length).toBeGreaterThanOrEqual(prefix.length - 2);
    for (const r of reconciled)
      expect(r.skipped!.every((s) => s.line > 0 && s.statement.length > 0 && /^42/.test(s.code))).toBe(true);
    expect(report.results.slice(prefix.length).every((r) => r.status === 'applied')).toBe(true);
    expect((await ledgerCounts(db.url)).done).toBe(names.length);
    expect((await ledgerCounts(db.url)).reconciled).toBe(reconciled.length);
    if (prismaAvailable()) await expectPrismaUpToDate(db.url, dir, { timeoutMs: 180_000 });
    const skipped = reconciled.reduce((n, r) => n + (r.skipped?.length ?? 0), 0);
    console.log(
      `[compat-run-sql] documenso, first ${prefix.length} ` +
        `applied by other means: ${reconciled.length} reconciled ` +
        `(${skipped} statements skipped), ${report.results.length - prefix.length} ` +
        `applied, ${report.invocations} invocations`,
    );
  }, 900_000);

  it('documenso with its first half applied by other means: ' +
    'our worker refuses a table that differs; run-sql mode, ' +
    'which cannot compare definitions, skips by code (a ' +
    'listed gap)', async () => {
    const dir = corpora.find((c) => c.name === 'documenso__documenso')!.dir;
    const half = (await folders(dir)).slice(0, 81);
    const db2 = await freshDatabase(embedded.adminUrl);
    const ours = await startTestWorker(db2.url, { timeoutMs: 900_000 });
    try {
      await applyByOtherMeans(db.url, dir, half);
      await applyByOtherMeans(db2.url, dir, half);
      const [viaRunSql, viaOurs] = await Promise.all([
        deploy(cw.worker, { migrationsDir: dir, apply: { baseline: true } }),
        deploy(ours.worker, { migrationsDir: dir, apply: { baseline: true } }),
      ]);
      // Ours: the first file's "Document" is not the table that exists (later files changed it).
      expect(viaOurs.exitCode).toBe(2);
      expect(viaOurs.results).toHaveLength(1);
      expect(viaOurs.results[0]).toMatchObject({
        status: 'failed',
        error: { code: '42P07', message: 'relation "Document" already exists' },
      });
      expect(viaOurs.results[0]?.error?.detail).toContain(
        'Not reconciled: the object that exists is not what this statement creates.',
      );
      // run-sql mode: skipped by SQLSTATE, until a statement fails for another reason.
      expect(viaRunSql.results.at(-1)).toMatchObject({
        name: '20230505085625_create_subscription_table',
        status: 'failed',
        error: { code: '42703' },
      });
      expect(viaRunSql.exitCode).toBe(2);
    } finally {
      await ours.close();
      await db2.drop();
    }
  }, 900_000);
});
