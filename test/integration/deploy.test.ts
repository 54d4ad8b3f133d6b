/**
 * The core executor end to end on real PostgreSQL: deploy/status through the SDK, the local
 * Invoke endpoint and the worker, against the embedded server and (when it answers) the
 * machine's own server on 5432.
 */
import { createHash } from 'node:crypto';
import { readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { deploy } from '../../scripts/commands/deploy.js';
import { status } from '../../scripts/commands/status.js';
import { databaseTargets, freshDatabase, query, prismaLedger } from '../helpers/db.js';
import { appliedBy, deployAtOnce, ledgerNames } from '../helpers/deploy.js';
import { addMigration, copyOfExample, exampleMigrations, migrationsDir } from '../helpers/migrations.js';
import { startTestWorker, useFreshWorker } from '../helpers/test-worker.js';

describe.each(databaseTargets())('deploy on the $name PostgreSQL', ({ adminUrl }) => {
  const { db, tw } = useFreshWorker(adminUrl);

  it('applies the example app with a Prisma-shaped ledger, then says up to date', async () => {
    const first = await deploy(tw.worker, { migrationsDir: exampleMigrations });

    expect(first.exitCode).toBe(0);
    expect(first.verified).toBe(true);
    expect(first.results.map((r) => r.status)).toEqual(Array(6).fill('applied'));
    expect(first.results.find((r) => r.name.includes('index_orders'))?.mode).toBe('non-transactional');
    const rows = await prismaLedger(db.url);
    expect(rows).toHaveLength(6);
    for (const row of rows) {
      const bytes = await readFile(path.join(exampleMigrations, row.migration_name, 'migration.sql'));
      expect(row.checksum).toBe(createHash('sha256').update(bytes).digest('hex'));
      expect(row.finished_at).not.toBeNull();
      expect(row.applied_steps_count).toBe(1);
      expect(row.logs).toBeNull();
    }
    const [index] = await query<{ valid: boolean }>(
      db.url,
      `SELECT indisvalid AS valid FROM pg_index WHERE indexrelid = '"Order_customerId_createdAt_idx"'::regclass`,
    );
    expect(index?.valid).toBe(true);
    const values = await query<{ v: string }>(db.url, `SELECT unnest(enum_range(NULL::"OrderStatus"))::text AS v`);
    expect(values.map((v) => v.v)).toContain('REFUNDED');

    const second = await deploy(tw.worker, { migrationsDir: exampleMigrations });
    expect(second.exitCode).toBe(0);
    expect(second.results).toEqual([]);
    expect(second.pending).toEqual([]);
    const st = await status(tw.worker, { migrationsDir: exampleMigrations });
    expect(st.exitCode).toBe(0);
    expect(await prismaLedger(db.url)).toHaveLength(6);
  });

  it('a migration failing mid-file leaves no trace, is recorded as failed, and blocks the next deploy', async () => {
    const dir = await migrationsDir({
      '001_base': 'CREATE TABLE a (id int primary key);\n',
      '002_broken': '-- adds b\nCREATE TABLE b (id int);\nINSERT INTO b VALUES (1);\nSELECT * FROM missing_table;\n',
      '003_later': 'CREATE TABLE c (id int);\n',
    });

    const report = await deploy(tw.worker, { migrationsDir: dir });

    expect(report.exitCode).toBe(2);
    const failed = report.results.find((r) => r.status === 'failed');
    expect(failed?.name).toBe('002_broken');
    expect(failed?.error?.code).toBe('42P01');
    expect(failed?.error?.line).toBe(4);
    expect(report.results.map((r) => r.name)).toEqual(['001_base', '002_broken']);
    expect(await query(db.url, `SELECT to_regclass('b') AS t`)).toEqual([{ t: null }]);
    expect(await query(db.url, `SELECT to_regclass('c') AS t`)).toEqual([{ t: null }]);
    const row = (await prismaLedger(db.url)).find((r) => r.migration_name === '002_broken');
    expect(row?.finished_at).toBeNull();
    expect(row?.rolled_back_at).toBeNull();
    expect(row?.logs).toContain('42P01');

    const again = await deploy(tw.worker, { migrationsDir: dir });
    expect(again.exitCode).toBe(2);
    expect(again.results).toEqual([]);
    expect(again.problems.map((p) => [p.code, p.migration])).toContainEqual(['VPCM_FAILED_MIGRATION', '002_broken']);
    expect((await status(tw.worker, { migrationsDir: dir })).exitCode).toBe(2);
  });

  it('locates a failure that PostgreSQL reports without a position (unique violation)', async () => {
    const dir = await migrationsDir({
      '001_dupes': 'CREATE TABLE u (id int primary key);\nINSERT INTO u VALUES (1);\n\nINSERT INTO u VALUES (1);\n',
    });

    const report = await deploy(tw.worker, { migrationsDir: dir });

    const failed = report.results[0];
    expect(failed?.status).toBe('failed');
    expect(failed?.error?.code).toBe('23505');
    expect(failed?.error?.line).toBe(4);
    expect(failed?.error?.detail).toContain('already exists');
    expect(await query(db.url, `SELECT to_regclass('u') AS t`)).toEqual([{ t: null }]);
  });

  it('reconciles objects that already exist, reporting each skipped statement, and skips nothing else', async () => {
    // The database was migrated by other means: the enum and the Product table are there already.
    await query(db.url, `CREATE TYPE "OrderStatus" AS ENUM ('PENDING', 'PAID', 'SHIPPED', 'CANCELLED')`);
    await query(
      db.url,
      `CREATE TABLE "Product" ("id" TEXT NOT NULL, "sku" TEXT ` +
        `NOT NULL, "title" TEXT NOT NULL, "priceCents" INTEGER ` +
        `NOT NULL, "active" BOOLEAN NOT NULL DEFAULT true, CONSTRAINT ` +
        `"Product_pkey" PRIMARY KEY ("id"))`,
    );

    const report = await deploy(tw.worker, { migrationsDir: exampleMigrations, apply: { baseline: true } });

    expect(report.exitCode).toBe(0);
    expect(report.baselining).toBe(true);
    const init = report.results.find((r) => r.name === '20250101090000_init');
    expect(init?.status).toBe('reconciled');
    expect(init?.skipped?.map((s) => [s.code, s.line])).toEqual([['42710', 2]]);
    const products = report.results.find((r) => r.name === '20250108120000_add_products');
    expect(products?.status).toBe('reconciled');
    expect(products?.skipped?.map((s) => s.code)).toEqual(['42P07']);
    // The statement after the skipped one still ran.
    expect(await query(db.url, `SELECT to_regclass('"Product_sku_key"') IS NOT NULL AS t`)).toEqual([{ t: true }]);
    const row = (await prismaLedger(db.url)).find((r) => r.migration_name === '20250101090000_init');
    expect(row?.logs).toContain('skipped');
    expect(row?.finished_at).not.toBeNull();

    const other = await migrationsDir({ '001_x': 'CREATE TABLE x (id int);\nALTER TABLE y ADD COLUMN z int;\n' });
    const db2 = await freshDatabase(adminUrl);
    const tw2 = await startTestWorker(db2.url);
    try {
      const failing = await deploy(tw2.worker, { migrationsDir: other });
      expect(failing.results[0]?.status).toBe('failed');
      expect(failing.results[0]?.error?.code).toBe('42P01');
      expect(failing.results[0]?.skipped ?? []).toEqual([]);
    } finally {
      await tw2.close();
      await db2.drop();
    }
  });

  it('two deploys started at once apply each migration exactly once', async () => {
    const w2 = tw.another();
    const reports = await deployAtOnce([tw.worker, w2], exampleMigrations);

    expect(reports.map((r) => r.exitCode)).toEqual([0, 0]);
    expect(appliedBy(reports)).toEqual(await ledgerNames(db.url, 6));
  });

  it(
    'refuses with exit 2 and a remedy on a modified file, ' + 'a row with no folder, and an out-of-order folder',
    async () => {
      const dir = await copyOfExample();
      expect((await deploy(tw.worker, { migrationsDir: dir })).exitCode).toBe(0);

      const file = path.join(dir, '20250108120000_add_products', 'migration.sql');
      const original = await readFile(file);
      await writeFile(file, original.toString() + '\n-- edited after it was applied\n');
      for (const report of [
        await status(tw.worker, { migrationsDir: dir }),
        await deploy(tw.worker, { migrationsDir: dir }),
      ]) {
        expect(report.exitCode).toBe(2);
        const problem = (report.command === 'status' ? report.plan.problems : report.problems).find(
          (p) => p.code === 'VPCM_CHECKSUM_MODIFIED',
        );
        expect(problem?.migration).toBe('20250108120000_add_products');
        expect(problem?.remedy.length).toBeGreaterThan(10);
      }
      await writeFile(file, original);

      const last = path.join(dir, '20250210140000_backfill_order_totals');
      const lastSql = await readFile(path.join(last, 'migration.sql'), 'utf8');
      await rm(last, { recursive: true });
      const ahead = await status(tw.worker, { migrationsDir: dir });
      expect(ahead.exitCode).toBe(2);
      expect(ahead.plan.problems.map((p) => p.code)).toContain('VPCM_MISSING_LOCALLY');
      expect((await deploy(tw.worker, { migrationsDir: dir })).exitCode).toBe(2);
      await addMigration(dir, '20250210140000_backfill_order_totals', lastSql);

      await addMigration(dir, '20250105000000_forgotten_branch', 'CREATE TABLE forgotten (id int);\n');
      const late = await status(tw.worker, { migrationsDir: dir });
      expect(late.exitCode).toBe(2);
      expect(late.plan.outOfOrder).toEqual(['20250105000000_forgotten_branch']);
      const refused = await deploy(tw.worker, { migrationsDir: dir });
      expect(refused.exitCode).toBe(2);
      expect(refused.results).toEqual([]);
      expect(refused.problems.map((p) => p.code)).toEqual(['VPCM_OUT_OF_ORDER']);
      expect(await query(db.url, `SELECT to_regclass('forgotten') AS t`)).toEqual([{ t: null }]);
      const allowed = await deploy(tw.worker, { migrationsDir: dir, allowOutOfOrder: true });
      expect(allowed.exitCode).toBe(0);
      expect(allowed.results.map((r) => [r.name, r.status])).toEqual([['20250105000000_forgotten_branch', 'applied']]);
    },
  );
});
