/**
 * Issue 8: `--protocol run-sql`, deploy and status through a worker that only runs SQL and
 * returns a count (test/helpers/count-only-worker.ts), on real PostgreSQL through the SDK and
 * the local Invoke endpoint. The corpora half is in compat-run-sql-corpora.test.ts.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { MIGRATION_LOCK_KEY } from '../../lambda/contract/index.js';
import { deploy } from '../../scripts/commands/deploy.js';
import { status } from '../../scripts/commands/status.js';
import { databaseTargets, freshDatabase, query, prismaLedger } from '../helpers/db.js';
import { appliedBy, deployAtOnce, ledgerNames } from '../helpers/deploy.js';
import { startCountOnlyWorker } from '../helpers/count-only-worker.js';
import { addMigration, copyOfExample, exampleMigrations, migrationsDir } from '../helpers/migrations.js';
import { expectPrismaUpToDate } from '../helpers/prisma-agrees.js';
import { prismaAvailable } from '../helpers/prisma-judge.js';
import { applyByOtherMeans } from '../helpers/psql.js';
import { startTestWorker, useFreshWorker } from '../helpers/test-worker.js';
import { runSqlWorker } from '../../scripts/compat/run-sql-worker.js';
import { lambdaTransport } from '../../scripts/compat/transport.js';
import type { StatusReport } from '../../scripts/commands/status.js';
import { renderDeploy } from '../../scripts/render/deploy.js';
import { renderStatus } from '../../scripts/render/status.js';
import { sqlParser } from '../../scripts/core/sql-parser.js';
import { splitMigration } from '../../scripts/core/split.js';

const parser = await sqlParser();
const splitCount = (sql: string) => splitMigration(parser, sql).statements.length;

/** A status report without what legitimately differs between transports (timing, invocation count). */
function comparable(r: StatusReport): Omit<StatusReport, 'durationMs' | 'invocations'> {
  const { durationMs: _d, invocations: _i, ...rest } = r;
  return rest;
}

describe.each(databaseTargets())('run-sql protocol on the $name PostgreSQL', ({ adminUrl }) => {
  const { db, tw: cw, restart } = useFreshWorker(adminUrl, { start: (url) => startCountOnlyWorker(url) });

  it.each([false, true])(
    'deploys the example app with a Prisma-shaped ledger ' + '(worker accepts several statements: %s)',
    async (multiStatement) => {
      await restart((url) =>
        startCountOnlyWorker(url, { multiStatement, connections: multiStatement ? 'pooled' : 'per-call' }),
      );

      const first = await deploy(cw.worker, { migrationsDir: exampleMigrations });

      expect(first.problems).toEqual([]);
      expect(first.exitCode).toBe(0);
      expect(first.verified).toBe(true);
      expect(first.results.map((r) => r.status)).toEqual(Array(6).fill('applied'));
      expect(first.warnings.join('\n')).toContain('run-sql compatibility mode');
      const rows = await prismaLedger(db.url);
      expect(rows).toHaveLength(6);
      for (const row of rows) {
        expect(row.finished_at).not.toBeNull();
        expect(row.applied_steps_count).toBe(1);
        expect(row.logs).toBeNull();
      }
      const [index] = await query<{ valid: boolean }>(
        db.url,
        `SELECT indisvalid AS valid FROM pg_index WHERE indexrelid = '"Order_customerId_createdAt_idx"'::regclass`,
      );
      expect(index?.valid).toBe(true);
      // Every call was a single statement: the worker's Prisma may prepare it.
      expect(
        cw.calls.every((sql) => !/;\s*\S/.test(sql.replace(/\$vpcm_[0-9a-f]+\$[\s\S]*\$vpcm_[0-9a-f]+\$/, ''))),
      ).toBe(true);

      const second = await deploy(cw.worker, { migrationsDir: exampleMigrations });
      expect(second.exitCode).toBe(0);
      expect(second.results).toEqual([]);
      expect((await status(cw.worker, { migrationsDir: exampleMigrations })).exitCode).toBe(0);
      if (prismaAvailable()) await expectPrismaUpToDate(db.url, exampleMigrations);
    },
  );

  it.each([
    ['passes SQLSTATEs', false],
    ['passes only the message', true],
  ])(
    'acceptance 2: the first half applied by other means ' +
      'and never recorded is recorded, the second half applied, ' +
      'skipped statements listed (worker %s)',
    async (_, messageOnly) => {
      await restart((url) => startCountOnlyWorker(url, { messageOnly }));
      const half = ['20250101090000_init', '20250108120000_add_products', '20250115093000_order_items'];
      await applyByOtherMeans(db.url, exampleMigrations, half);
      // Tables but no ledger: refused as our worker refuses it (Prisma's P3005) unless --baseline.
      const refused = await deploy(cw.worker, { migrationsDir: exampleMigrations });
      expect(refused.problems.map((p) => p.code)).toEqual(['VPCM_SCHEMA_NOT_EMPTY']);
      expect(refused.results).toEqual([]);

      const report = await deploy(cw.worker, { migrationsDir: exampleMigrations, apply: { baseline: true } });

      expect(report.problems).toEqual([]);
      expect(report.exitCode).toBe(0);
      expect(report.baselining).toBe(true);
      expect(report.results.map((r) => [r.name, r.status])).toEqual([
        ['20250101090000_init', 'reconciled'],
        ['20250108120000_add_products', 'reconciled'],
        ['20250115093000_order_items', 'reconciled'],
        ['20250122160000_add_refunded_status', 'applied'],
        ['20250203110000_index_orders_customer', 'applied'],
        ['20250210140000_backfill_order_totals', 'applied'],
      ]);
      for (const r of report.results.slice(0, 3)) {
        const sql = await readFile(path.join(exampleMigrations, r.name, 'migration.sql'), 'utf8');
        // Every statement of these files created something that exists: all of them are skipped, each listed.
        expect(r.skipped?.length).toBe(splitCount(sql));
        for (const s of r.skipped!) expect(['42P07', '42710', '42701']).toContain(s.code);
      }
      expect(report.results[0]!.skipped!.map((s) => [s.code, s.line])[0]).toEqual(['42710', 2]);
      const rows = await prismaLedger(db.url);
      expect(rows.map((r) => r.migration_name)).toEqual(report.results.map((r) => r.name));
      expect(
        rows.slice(0, 3).every((r) => r.logs?.startsWith('Applied by vpc-migrate with ') && r.finished_at !== null),
      ).toBe(true);
      expect(rows.slice(3).every((r) => r.logs === null)).toBe(true);
      const text = renderDeploy(report);
      expect(text).toContain('reconciled, ');
      expect(text).toMatch(/line 2: 42710 type "OrderStatus" already exists/);
      if (prismaAvailable()) await expectPrismaUpToDate(db.url, exampleMigrations);
    },
  );

  it('a failing migration leaves no trace, is recorded as failed at its line, and blocks the next deploy', async () => {
    const dir = await migrationsDir({
      '001_base': 'CREATE TABLE a (id int primary key);\n',
      '002_broken': '-- adds b\nCREATE TABLE b (id int);\nINSERT INTO b VALUES (1);\nSELECT * FROM missing_table;\n',
      '003_later': 'CREATE TABLE c (id int);\n',
    });

    const report = await deploy(cw.worker, { migrationsDir: dir });

    expect(report.exitCode).toBe(2);
    expect(report.results.map((r) => [r.name, r.status])).toEqual([
      ['001_base', 'applied'],
      ['002_broken', 'failed'],
    ]);
    const failed = report.results[1]!;
    expect(failed.error?.code).toBe('42P01');
    expect(failed.error?.line).toBe(4);
    expect(failed.error?.statement).toBe('SELECT * FROM missing_table');
    expect(await query(db.url, `SELECT to_regclass('b') AS t`)).toEqual([{ t: null }]);
    const row = (await prismaLedger(db.url)).find((r) => r.migration_name === '002_broken');
    expect(row?.finished_at).toBeNull();
    expect(row?.logs).toContain('42P01');

    const again = await deploy(cw.worker, { migrationsDir: dir });
    expect(again.exitCode).toBe(2);
    expect(again.results).toEqual([]);
    expect(again.problems.map((p) => [p.code, p.migration])).toContainEqual(['VPCM_FAILED_MIGRATION', '002_broken']);
  });

  it('places an error without a position (unique violation) and skips nothing but duplicates', async () => {
    const dir = await migrationsDir({
      '001_dupes': 'CREATE TABLE u (id int primary key);\nINSERT INTO u VALUES (1);\n\nINSERT INTO u VALUES (1);\n',
    });
    const report = await deploy(cw.worker, { migrationsDir: dir });
    expect(report.results[0]).toMatchObject({ status: 'failed', error: { code: '23505', line: 4 } });
    expect(report.results[0]!.error?.detail).toContain('already exists');
    expect(await query(db.url, `SELECT to_regclass('u') AS t`)).toEqual([{ t: null }]);

    const other = await migrationsDir({ '001_x': 'CREATE TABLE x (id int);\nALTER TABLE y ADD COLUMN z int;\n' });
    const db2 = await freshDatabase(adminUrl);
    const cw2 = await startCountOnlyWorker(db2.url);
    try {
      await query(db2.url, 'CREATE TABLE x (id int)');
      const failing = await deploy(cw2.worker, { migrationsDir: other, apply: { baseline: true } });
      expect(failing.results[0]).toMatchObject({ status: 'failed', error: { code: '42P01', line: 2 } });
      // Only the duplicate was skipped (and reported, as our worker does); the other error fails the file.
      expect(failing.results[0]?.skipped?.map((x) => [x.code, x.line])).toEqual([['42P07', 1]]);
      expect(
        (await query(db2.url, `SELECT count(*)::int AS n FROM _prisma_migrations WHERE finished_at IS NOT NULL`))[0],
      ).toEqual({ n: 0 });
    } finally {
      await cw2.close();
      await db2.drop();
    }
  });

  it(
    'runs files with their own BEGIN/COMMIT block by block, ' +
      "and a file's SET does not outlive it on a pooled connection",
    async () => {
      await restart((url) => startCountOnlyWorker(url, { connections: 'pooled' }));
      const dir = await migrationsDir({
        '001_types': "CREATE TYPE s AS ENUM ('A', 'B');\nCREATE TABLE t (id int, s s NOT NULL DEFAULT 'A');\n",
        '002_drop_b':
          "SET lock_timeout = '5s';\nUPDATE t SET s = 'A' WHERE " +
          "s = 'B';\nBEGIN;\nCREATE TYPE s_new AS ENUM ('A');\nALTER " +
          'TABLE t ALTER COLUMN s DROP DEFAULT;\nALTER TABLE t ' +
          'ALTER COLUMN s TYPE s_new USING (s::text::s_new);\nDROP ' +
          'TYPE s;\nALTER TYPE s_new RENAME TO s;\nALTER TABLE ' +
          "t ALTER COLUMN s SET DEFAULT 'A';\nCOMMIT;\nALTER TABLE " +
          't ADD COLUMN note text;\n',
        '003_set': "SET statement_timeout = '12345ms';\nCREATE TABLE later (id int);\n",
      });

      const report = await deploy(cw.worker, { migrationsDir: dir });

      expect(report.problems).toEqual([]);
      expect(report.results.map((r) => [r.name, r.mode, r.status])).toEqual([
        ['001_types', 'transactional', 'applied'],
        ['002_drop_b', 'script', 'applied'],
        ['003_set', 'transactional', 'applied'],
      ]);
      expect(await query(db.url, `SELECT unnest(enum_range(NULL::s))::text AS v`)).toEqual([{ v: 'A' }]);
      const shown = await cw.worker.runSql({
        sql: `SELECT current_setting('statement_timeout') AS st, current_setting('lock_timeout') AS lt`,
        maxRows: 5,
      });
      expect(shown.rows).toEqual([{ st: '0', lt: '0' }]);
      expect(shown.fields.map((f) => f.name)).toEqual(['st', 'lt']);
    },
  );

  it(
    'acceptance 3: status through the count-only worker ' +
      'reports pending, failed, modified, missing and out-of-order ' +
      'exactly as our worker',
    async () => {
      const ours = await startTestWorker(db.url);
      try {
        const empty = await status(ours.worker, { migrationsDir: exampleMigrations });
        expect(comparable(await status(cw.worker, { migrationsDir: exampleMigrations }))).toEqual(comparable(empty));

        const dir = await copyOfExample();
        const last = '20250210140000_backfill_order_totals';
        const lastSql = await readFile(path.join(dir, last, 'migration.sql'), 'utf8');
        await import('node:fs/promises').then((fs) => fs.rm(path.join(dir, last), { recursive: true }));
        expect((await deploy(ours.worker, { migrationsDir: dir })).exitCode).toBe(0);
        await addMigration(dir, last, lastSql);
        const pending = await status(ours.worker, { migrationsDir: dir });
        expect(pending.exitCode).toBe(1);
        expect(comparable(await status(cw.worker, { migrationsDir: dir }))).toEqual(comparable(pending));

        // modified, failed (with logs and without), rolled back, missing locally, out of order.
        const file = path.join(dir, '20250108120000_add_products', 'migration.sql');
        await import('node:fs/promises').then((fs) => fs.appendFile(file, '\n-- edited after it was applied\n'));
        await addMigration(dir, '20250105000000_forgotten_branch', 'CREATE TABLE forgotten (id int);\n');
        await query(
          db.url,
          `INSERT INTO _prisma_migrations (id, checksum, finished_at, migration_name, logs, rolled_back_at,
            started_at, applied_steps_count) VALUES
          ('11111111-1111-4111-8111-111111111111', repeat('a', 64), NULL, '${last}',
            E'Migration name: x\n\nDatabase error code: 42P01\n\nDatabase error:\nERROR: relation "y" does not exist',
              NULL, now(), 0),
          ('22222222-2222-4222-8222-222222222222', repeat('b', 64), NULL, '20250301000000_gone', NULL, now() -
            interval '1 hour', now() - interval '2 hours', 0),
          ('33333333-3333-4333-8333-333333333333', repeat('c', 64), now(), '20250302000000_elsewhere', repeat('é',
            5000), NULL, now(), 1),
          ('44444444-4444-4444-8444-444444444444', repeat('d', 64), NULL, '20250303000000_interrupted', NULL, NULL,
            now(), 2)`,
        );
        const problem = await status(ours.worker, { migrationsDir: dir });
        expect(problem.exitCode).toBe(2);
        expect(problem.plan.failed.map((f) => f.name)).toEqual([last, '20250303000000_interrupted']);
        expect(problem.plan.modified.map((m) => m.name)).toEqual(['20250108120000_add_products']);
        expect(problem.plan.missingLocally).toEqual(['20250302000000_elsewhere']);
        expect(problem.plan.outOfOrder).toEqual(['20250105000000_forgotten_branch']);
        const viaRunSql = await status(cw.worker, { migrationsDir: dir });
        expect(comparable(viaRunSql)).toEqual(comparable(problem));
        expect(renderStatus({ ...viaRunSql, durationMs: 0, invocations: 0 })).toBe(
          renderStatus({ ...problem, durationMs: 0, invocations: 0 }),
        );

        // The same through small pages, and through a worker that cuts long error messages.
        const paged = cw.another({ ledgerPageBytes: 600 });
        const pagedStatus = await status(paged, { migrationsDir: dir });
        expect(comparable(pagedStatus)).toEqual(comparable(problem));
        expect(pagedStatus.invocations).toBeGreaterThan(5);
        const cutting = await startCountOnlyWorker(db.url, { maxErrorChars: 14_000 });
        try {
          expect(comparable(await status(cutting.worker, { migrationsDir: dir }))).toEqual(comparable(problem));
        } finally {
          await cutting.close();
        }
        // A worker passing on too little for the longest row: logs come back shorter, nothing else changes.
        const stingy = await startCountOnlyWorker(db.url, { maxErrorChars: 6000 });
        try {
          const short = await status(stingy.worker, { migrationsDir: dir });
          const withoutLogs = (r: StatusReport) => ({
            ...comparable(r),
            plan: { ...r.plan, applied: r.plan.applied.map((a) => ({ ...a, logs: a.logs?.slice(0, 100) ?? null })) },
          });
          expect(withoutLogs(short)).toEqual(withoutLogs(problem));
          expect(short.plan.applied.find((a) => a.name === '20250302000000_elsewhere')?.logs?.length).toBeLessThan(
            4000,
          );
        } finally {
          await stingy.close();
        }
      } finally {
        await ours.close();
      }
    },
  );

  it('two run-sql deploys at once, and one next to our worker, apply each migration exactly once', async () => {
    const other = cw.another();
    const reports = await deployAtOnce([cw.worker, other], exampleMigrations);
    expect(reports.map((r) => r.exitCode)).toEqual([0, 0]);
    expect(appliedBy(reports)).toEqual(await ledgerNames(db.url, 6));

    const db2 = await freshDatabase(adminUrl);
    const cw2 = await startCountOnlyWorker(db2.url);
    const ours = await startTestWorker(db2.url);
    try {
      const mixed = await deployAtOnce([cw2.worker, ours.worker], exampleMigrations);
      expect(mixed.map((r) => r.exitCode)).toEqual([0, 0]);
      expect(appliedBy(mixed)).toEqual(await ledgerNames(db2.url, 6));
    } finally {
      await ours.close();
      await cw2.close();
      await db2.drop();
    }
  });

  it(
    'an unfinished row with logs while another deploy holds ' +
      'the lock is in flight, not failed: the deploy waits, ' +
      'then finds it recorded',
    async () => {
      // Our worker writes its interrupted-run marker into `logs` before a non-transactional
      // statement runs, under its session lock. Here another deploy reaches that moment right
      // after this one planned: between the plan and the batch's first look at the ledger.
      const dir = await migrationsDir({
        '001_index': 'CREATE TABLE t (n int);\n',
        '002_more': 'CREATE TABLE u (n int);\n',
      });
      expect((await deploy(cw.worker, { migrationsDir: dir })).exitCode).toBe(0);
      await query(db.url, `DELETE FROM _prisma_migrations WHERE migration_name = '002_more'; DROP TABLE u`);
      const other = new pg.Client({ connectionString: db.url });
      await other.connect();
      let step = 0;
      const racing = await startCountOnlyWorker(db.url, {
        beforeCall: async (sql) => {
          if (step === 0 && sql.includes('vpcm_failed')) {
            step = 1; // the batch's first look: the other deploy is mid-statement
            await other.query(`SELECT pg_advisory_lock(${MIGRATION_LOCK_KEY})`);
            await other.query(
              `UPDATE _prisma_migrations SET finished_at = NULL, logs ` +
                `= 'vpc-migrate: in progress' WHERE migration_name = ` +
                `'001_index'`,
            );
          } else if (step === 1) {
            step = 2; // the next call: the other deploy has finished and let go
            await other.query(
              `UPDATE _prisma_migrations SET finished_at = now(), logs = NULL WHERE migration_name = '001_index'`,
            );
            await other.query(`SELECT pg_advisory_unlock(${MIGRATION_LOCK_KEY})`);
          }
        },
      });
      try {
        const report = await deploy(racing.worker, { migrationsDir: dir });
        expect(step).toBe(2);
        expect(report.problems).toEqual([]);
        expect(report.exitCode).toBe(0);
        expect(report.results.map((r) => [r.name, r.status])).toEqual([['002_more', 'applied']]);
      } finally {
        await racing.close();
        await other.end();
      }
    },
  );

  it(
    "speaks to any worker shape: our own worker's run-sql " +
      'action through --payload-template, --error-path and ' +
      '--count-path',
    async () => {
      const ours = await startTestWorker(db.url);
      const worker = runSqlWorker(
        lambdaTransport(
          { functionName: ours.functionName, endpoint: ours.endpoint, localCredentials: true, region: 'us-east-1' },
          {
            payloadTemplate: '{"action":"run-sql","sql":"{{sql}}","write":true}',
            errorPath: 'error',
            countPath: 'result.rowCount',
          },
        ),
      );
      try {
        await query(db.url, `CREATE TABLE "Product" (id text)`);
        const dir = await migrationsDir({
          '001_products': 'CREATE TABLE "Product" (id text);\nCREATE TABLE "Order" (id text);\n',
          '002_rows': `INSERT INTO "Order" VALUES ('a'), ('b');\n`,
        });
        const report = await deploy(worker, { migrationsDir: dir, apply: { baseline: true } });
        expect(report.problems).toEqual([]);
        expect(report.results.map((r) => [r.name, r.status, r.skipped?.map((s) => s.code)])).toEqual([
          ['001_products', 'reconciled', ['42P07']],
          ['002_rows', 'applied', undefined],
        ]);
        expect((await status(worker, { migrationsDir: dir })).exitCode).toBe(0);
        expect((await worker.runSql({ sql: `UPDATE "Order" SET id = id`, write: true })).rowCount).toBe(2);
      } finally {
        worker.close();
        await ours.close();
      }
    },
  );
});
