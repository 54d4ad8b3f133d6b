/**
 * A deploy into a schema that holds tables but no _prisma_migrations refuses, as Prisma's P3005
 * (VPCM_SCHEMA_NOT_EMPTY, exit 2), naming both ways out; `deploy --baseline` reconciles as before;
 * `baseline --up-to NAME` records exactly the migrations through NAME after checking their
 * objects by definition. Real PostgreSQL, the real CLI in-process, the worker through the SDK.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CREATE_LEDGER_SQL, ErrorCode } from '../../lambda/contract/index.js';
import { deploy } from '../../scripts/commands/deploy.js';
import { runCli, targetFlags } from '../helpers/cli.js';
import { databaseTargets, prismaLedger, query } from '../helpers/db.js';
import { copyOfExample, exampleMigrations } from '../helpers/migrations.js';
import { expectPrismaAgrees } from '../helpers/prisma-agrees.js';
import { prismaAvailable } from '../helpers/prisma-judge.js';
import { useFreshWorker } from '../helpers/test-worker.js';

const NAMES = [
  '20250101090000_init',
  '20250108120000_add_products',
  '20250115093000_order_items',
  '20250122160000_add_refunded_status',
  '20250203110000_index_orders_customer',
  '20250210140000_backfill_order_totals',
];

/** The first `n` example migrations run as psql would, with no ledger: a database migrated by other means. */
async function migratedByOtherMeans(url: string, n: number): Promise<void> {
  for (const name of NAMES.slice(0, n)) {
    const sql = await readFile(path.join(exampleMigrations, name, 'migration.sql'), 'utf8');
    await query(url, sql);
  }
}

const ledgerExists = async (url: string) =>
  (await query<{ t: string | null }>(url, `SELECT to_regclass('_prisma_migrations')::text AS t`))[0]?.t !== null;

interface ErrorJson {
  ok: false;
  error: { code: string; message: string; remedy: string };
}

describe.each(databaseTargets())('baselining on the $name PostgreSQL', ({ adminUrl }) => {
  const { db, tw } = useFreshWorker(adminUrl);
  const cli = (...args: string[]) => runCli([...args, ...targetFlags(tw), '--migrations', exampleMigrations, '--json']);

  it(
    'a deploy into tables without a ledger exits 2 with ' +
      'VPCM_SCHEMA_NOT_EMPTY (P3005) and both remedies; nothing ' +
      'changes',
    async () => {
      await migratedByOtherMeans(db.url, 3);

      const run = await cli('deploy');

      expect(run.exitCode, run.stderr).toBe(2);
      const report = JSON.parse(run.stdout) as {
        problems: { code: string; message: string; remedy: string }[];
        results: unknown[];
        baselining: boolean;
      };
      expect(report.problems.map((p) => p.code)).toEqual([ErrorCode.SchemaNotEmpty]);
      const [problem] = report.problems;
      expect(problem!.message).toContain('P3005');
      expect(problem!.message).toContain('"Customer"');
      // The newest migration whose objects all exist; 004 adds an enum value, which nothing shows.
      expect(problem!.remedy).toContain(`baseline --up-to ${NAMES[2]}`);
      expect(problem!.remedy).toContain('deploy --baseline');
      expect(report.results).toEqual([]);
      expect(report.baselining).toBe(false);
      expect(await ledgerExists(db.url)).toBe(false);
      expect(await query(db.url, `SELECT to_regclass('"Order_customerId_createdAt_idx"') AS t`)).toEqual([{ t: null }]);
    },
  );

  it('deploy --baseline reconciles what exists and applies the rest, as before', async () => {
    await migratedByOtherMeans(db.url, 3);

    const run = await cli('deploy', '--baseline');

    expect(run.exitCode, run.stderr).toBe(0);
    const report = JSON.parse(run.stdout) as { baselining: boolean; results: { name: string; status: string }[] };
    expect(report.baselining).toBe(true);
    expect(report.results.map((r) => r.status)).toEqual([
      'reconciled',
      'reconciled',
      'reconciled',
      'applied',
      'applied',
      'applied',
    ]);
    expect((await prismaLedger(db.url)).map((r) => r.migration_name)).toEqual(NAMES);
  });

  it('the programmatic deploy takes baseline too; without it the refusal is a report, not an exception', async () => {
    await migratedByOtherMeans(db.url, 1);

    const refused = await deploy(tw.worker, { migrationsDir: exampleMigrations });
    expect(refused.exitCode).toBe(2);
    expect(refused.problems[0]?.code).toBe(ErrorCode.SchemaNotEmpty);
    const done = await deploy(tw.worker, { migrationsDir: exampleMigrations, apply: { baseline: true } });
    expect(done.exitCode).toBe(0);
    expect(done.results[0]?.status).toBe('reconciled');
  });

  it(
    'baseline --up-to NAME records exactly the migrations ' +
      'through NAME, as Prisma resolve --applied rows; deploy ' +
      'applies the rest',
    async () => {
      await migratedByOtherMeans(db.url, 4);

      const run = await cli('baseline', '--up-to', NAMES[3]!);

      expect(run.exitCode, run.stderr).toBe(0);
      const report = JSON.parse(run.stdout) as {
        recorded: string[];
        unchecked: string[];
        ledgerCreated: boolean;
        remaining: number;
      };
      expect(report.recorded).toEqual(NAMES.slice(0, 4));
      expect(report.unchecked).toEqual([NAMES[3]]);
      expect(report.ledgerCreated).toBe(true);
      expect(report.remaining).toBe(2);
      const rows = await prismaLedger(db.url);
      expect(rows.map((r) => r.migration_name)).toEqual(NAMES.slice(0, 4));
      for (const row of rows) {
        expect(row).toMatchObject({ logs: '', applied_steps_count: 0, rolled_back_at: null });
        expect(row.finished_at).toEqual(row.started_at);
      }
      // Distinct times, in order: Prisma reads the rows by started_at.
      const order = await query<{ name: string }>(
        db.url,
        'SELECT migration_name AS name FROM _prisma_migrations ORDER BY started_at',
      );
      expect(order.map((r) => r.name)).toEqual(NAMES.slice(0, 4));
      expect(await query(db.url, 'SELECT count(DISTINCT started_at)::int AS n FROM _prisma_migrations')).toEqual([
        { n: 4 },
      ]);

      const after = await deploy(tw.worker, { migrationsDir: exampleMigrations });
      expect(after.exitCode).toBe(0);
      expect(after.results.map((r) => [r.name, r.status])).toEqual([
        [NAMES[4], 'applied'],
        [NAMES[5], 'applied'],
      ]);
      if (prismaAvailable()) await expectPrismaAgrees(db.url, exampleMigrations);

      // Again: nothing to record, nothing changed.
      const again = await cli('baseline', '--up-to', NAMES[3]!);
      expect(again.exitCode, again.stderr).toBe(0);
      expect((JSON.parse(again.stdout) as { recorded: string[]; alreadyRecorded: string[] }).alreadyRecorded).toEqual(
        NAMES.slice(0, 4),
      );
      expect(await prismaLedger(db.url)).toHaveLength(6);
    },
  );

  it('an unknown NAME exits 2 with VPCM_BASELINE_UNKNOWN_MIGRATION; nothing is recorded', async () => {
    await migratedByOtherMeans(db.url, 2);

    const run = await cli('baseline', '--up-to', '20250108120000_add_product');

    expect(run.exitCode).toBe(2);
    const body = JSON.parse(run.stdout) as ErrorJson;
    expect(body.error.code).toBe(ErrorCode.BaselineUnknownMigration);
    expect(body.error.remedy).toContain(`baseline --up-to ${NAMES[5]}`);
    expect(await ledgerExists(db.url)).toBe(false);
  });

  it('objects missing or different exit 2 with VPCM_BASELINE_MISMATCH listing each; nothing is recorded', async () => {
    await migratedByOtherMeans(db.url, 1);
    // Product exists, but not as the migration makes it: its price is text.
    await query(
      db.url,
      `CREATE TABLE "Product" ("id" TEXT NOT NULL, "sku" TEXT ` +
        `NOT NULL, "title" TEXT NOT NULL, "priceCents" TEXT ` +
        `NOT NULL, "active" BOOLEAN NOT NULL DEFAULT true, CONSTRAINT ` +
        `"Product_pkey" PRIMARY KEY ("id"))`,
    );

    const run = await cli('baseline', '--up-to', NAMES[2]!);

    expect(run.exitCode).toBe(2);
    const body = JSON.parse(run.stdout) as ErrorJson;
    expect(body.error.code).toBe(ErrorCode.BaselineMismatch);
    expect(body.error.message).toContain(
      `${NAMES[1]} line 2: relation Product the object that exists is not what this statement creates`,
    );
    expect(body.error.message).toContain(`${NAMES[1]} line 13: index Product.Product_sku_key does not exist`);
    expect(body.error.message).toContain(`${NAMES[2]} line 5: relation OrderItem does not exist`);
    // The remedy names the migration before the first that is not there, which works as printed.
    expect(body.error.remedy).toContain(`baseline --up-to ${NAMES[0]}`);
    expect(await ledgerExists(db.url)).toBe(false);
    const first = await cli('baseline', '--up-to', NAMES[0]!);
    expect(first.exitCode, first.stdout).toBe(0);
    expect((await prismaLedger(db.url)).map((r) => r.migration_name)).toEqual([NAMES[0]]);
  });

  it('an empty schema, or one holding only the ledger, deploys without --baseline', async () => {
    const empty = await cli('deploy');
    expect(empty.exitCode, empty.stdout).toBe(0);

    const other = await copyOfExample();
    await query(db.url, 'DROP SCHEMA public CASCADE; CREATE SCHEMA public');
    await query(db.url, CREATE_LEDGER_SQL);
    const onlyLedger = await runCli(['deploy', ...targetFlags(tw), '--migrations', other, '--json']);
    expect(onlyLedger.exitCode, onlyLedger.stdout).toBe(0);
    expect(await prismaLedger(db.url)).toHaveLength(6);
  });

  it('Drizzle: baseline is refused as a usage error', async () => {
    const run = await runCli([
      'baseline',
      '--up-to',
      'x',
      ...targetFlags(tw),
      '--migrations',
      exampleMigrations,
      '--format',
      'drizzle',
      '--json',
    ]);
    expect(run.exitCode).toBe(2);
    expect((JSON.parse(run.stdout) as ErrorJson).error.code).toBe(ErrorCode.UsageError);
  });
});
