/**
 * Issue 7 on real PostgreSQL: Drizzle journals deployed through the SDK, the local Invoke
 * endpoint and the worker into `drizzle.__drizzle_migrations`, with drizzle-orm 0.45.4's own
 * migrator as the judge of that ledger.
 */
import { readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { deploy } from '../../scripts/commands/deploy.js';
import { status } from '../../scripts/commands/status.js';
import { renderDeploy } from '../../scripts/render/deploy.js';
import { renderStatus } from '../../scripts/render/status.js';
import { databaseTargets, freshDatabase } from '../helpers/db.js';
import { appliedBy, deployAtOnce } from '../helpers/deploy.js';
import {
  drizzleDir,
  drizzleMigrate,
  drizzleRows,
  ledgerShape,
  query,
  readJournal,
  sha256,
  writeJournal,
  type DrizzleRow,
  type Entry,
} from '../helpers/drizzle.js';
import { startTestWorker, useFreshWorker } from '../helpers/test-worker.js';

const BP = '--> statement-breakpoint';
const CUSTOM = '-- Custom SQL migration file, put your code below! --\n';

const base: Entry[] = [
  {
    tag: '0000_init',
    when: 1_700_000_000_000,
    sql:
      `CREATE TABLE "users" (\n\t"id" serial PRIMARY KEY NOT ` +
      `NULL,\n\t"email" text NOT NULL\n);\n${BP}\nCREATE TABLE ` +
      `"posts" (\n\t"id" serial PRIMARY KEY NOT NULL,\n\t"user_id" ` +
      `integer REFERENCES "users"("id")\n);\n`,
  },
  {
    tag: '0001_seed_from_temp',
    when: 1_700_000_100_000,
    // Relies on the file's transaction: the temp table is dropped at COMMIT, after the INSERT.
    sql:
      `CREATE TEMP TABLE "incoming" ON COMMIT DROP AS SELECT ` +
      `'a@example.com'::text AS email;${BP}\nINSERT INTO "users" ` +
      `("email") SELECT email FROM "incoming";`,
  },
  // drizzle-kit's custom-migration stub, twice: two entries with the same hash.
  { tag: '0002_custom', when: 1_700_000_200_000, sql: CUSTOM },
  { tag: '0003_custom_again', when: 1_700_000_300_000, sql: CUSTOM },
];

describe.each(databaseTargets())('Drizzle journals on the $name PostgreSQL', ({ adminUrl }) => {
  const { db, tw } = useFreshWorker(adminUrl);

  it("applies a journal with drizzle-orm's ledger, then drizzle-orm's own migrate() applies nothing", async () => {
    const dir = await drizzleDir(base, { '0099_orphan.sql': 'DROP TABLE "users";\n' });
    await writeFile(path.join(dir, 'meta', '_journal.json.backup'), '{}');

    const pending = await status(tw.worker, { migrationsDir: dir });
    expect(pending.exitCode).toBe(1);
    expect(pending.summary).toBe('Migration state: 0 applied, 4 expected, 4 pending');
    expect(pending.counts).toEqual({ applied: 0, expected: 4, pending: 4 });

    const report = await deploy(tw.worker, { migrationsDir: dir });

    expect(report.problems).toEqual([]);
    expect(report.exitCode).toBe(0);
    expect(report.format).toBe('drizzle');
    expect(report.results.map((r) => [r.name, r.status, r.mode])).toEqual(
      base.map((e) => [e.tag, 'applied', 'transactional']),
    );
    expect(report.verification).toBe('Verified: database has all 4 migrations.');
    expect(renderDeploy(report)).toContain('Verified: database has all 4 migrations.');
    expect(report.warnings.join('\n')).toContain('0099_orphan.sql is not in meta/_journal.json');
    expect(report.warnings.join('\n')).toContain('meta/_journal.json.backup is not read');
    const rows = await drizzleRows(db.url);
    expect(rows.map((r) => [r.hash, Number(r.created_at)])).toEqual(base.map((e) => [sha256(e.sql), e.when]));
    expect(await query(db.url, 'SELECT email FROM users')).toEqual([{ email: 'a@example.com' }]);
    expect(await query(db.url, `SELECT to_regclass('users') IS NOT NULL AS t`)).toEqual([{ t: true }]);

    const ran = await drizzleMigrate(db.url, dir);
    expect(ran.filter((q) => /insert into/i.test(q))).toEqual([]);
    expect(await drizzleRows(db.url)).toEqual(rows);

    const st = await status(tw.worker, { migrationsDir: dir });
    expect(st.exitCode).toBe(0);
    expect(st.counts).toEqual({ applied: 4, expected: 4, pending: 0 });
    expect(renderStatus(st)).toContain('Migration state: 4 applied, 4 expected, 0 pending');
    const again = await deploy(tw.worker, { migrationsDir: dir });
    expect(again.exitCode).toBe(0);
    expect(again.results).toEqual([]);
    expect(again.verification).toBe('Verified: database has all 4 migrations.');
  });

  it('creates the ledger exactly as drizzle-orm does, and a database drizzle-orm migrated is up to date', async () => {
    const dir = await drizzleDir(base);
    const other = await freshDatabase(adminUrl);
    try {
      await drizzleMigrate(other.url, dir);
      expect((await deploy(tw.worker, { migrationsDir: dir })).exitCode).toBe(0);
      expect(await ledgerShape(db.url)).toEqual(await ledgerShape(other.url));
      const strip = (rows: DrizzleRow[]) => rows.map((r) => [r.hash, r.created_at]);
      expect(strip(await drizzleRows(db.url))).toEqual(strip(await drizzleRows(other.url)));

      const tw2 = await startTestWorker(other.url);
      try {
        const st = await status(tw2.worker, { migrationsDir: dir });
        expect(st.plan.problems).toEqual([]);
        expect(st.exitCode).toBe(0);
        expect(st.summary).toBe('Migration state: 4 applied, 4 expected, 0 pending');
        const dep = await deploy(tw2.worker, { migrationsDir: dir });
        expect(dep.exitCode).toBe(0);
        expect(dep.results).toEqual([]);
      } finally {
        await tw2.close();
      }
    } finally {
      await other.drop();
    }
  });

  it(
    'runs CREATE INDEX CONCURRENTLY after the file’s own ' + 'COMMIT; the row exists only if the whole file ran',
    async () => {
      const concurrent: Entry = {
        tag: '0001_concurrent',
        when: 1_700_000_100_000,
        sql:
          `ALTER TABLE "items" ADD COLUMN "sku" text;${BP}\nCOMMIT;` +
          `${BP}\nCREATE INDEX CONCURRENTLY "items_sku_idx" ON ` +
          `"items" ("sku");${BP}\nCREATE INDEX CONCURRENTLY "items_name_idx" ` +
          `ON "items" ("name");\n`,
      };
      const broken: Entry = {
        tag: '0002_broken',
        when: 1_700_000_200_000,
        sql:
          `CREATE TABLE "audit" ("id" integer);${BP}\nCOMMIT;` +
          `${BP}\n\nCREATE INDEX CONCURRENTLY "audit_idx" ON "audit" ` +
          `("missing");\n`,
      };
      const entries: Entry[] = [
        { tag: '0000_items', when: 1_700_000_000_000, sql: `CREATE TABLE "items" ("id" integer, "name" text);` },
        concurrent,
        broken,
      ];
      const dir = await drizzleDir(entries);

      const report = await deploy(tw.worker, { migrationsDir: dir });

      expect(report.exitCode).toBe(2);
      expect(report.results.map((r) => [r.name, r.status, r.mode])).toEqual([
        ['0000_items', 'applied', 'transactional'],
        ['0001_concurrent', 'applied', 'script'],
        ['0002_broken', 'failed', 'script'],
      ]);
      const valid = await query<{ i: string; valid: boolean }>(
        db.url,
        `SELECT indexrelid::regclass::text AS i, indisvalid ` +
          `AS valid FROM pg_index WHERE indrelid = 'items'::regclass ` +
          `ORDER BY 1`,
      );
      expect(valid).toEqual([
        { i: 'items_name_idx', valid: true },
        { i: 'items_sku_idx', valid: true },
      ]);
      const failed = report.results[2]!;
      expect(failed.error?.code).toBe('42703');
      expect(failed.error?.line).toBe(4);
      expect(failed.appliedSteps).toBe(2);
      expect(report.problems.find((p) => p.migration === '0002_broken')?.remedy).toContain('no ledger row was written');
      expect(renderDeploy(report)).toContain('0002_broken.sql line 4');
      // Its first chunk committed with its own COMMIT; its row was never written.
      expect(await query(db.url, `SELECT to_regclass('audit') IS NOT NULL AS t`)).toEqual([{ t: true }]);
      expect((await drizzleRows(db.url)).map((r) => Number(r.created_at))).toEqual([entries[0]!.when, concurrent.when]);

      // Fixed (and made safe to run twice), it is still pending, and applies.
      await writeFile(
        path.join(dir, '0002_broken.sql'),
        broken.sql.replace('CREATE TABLE "audit"', 'CREATE TABLE IF NOT EXISTS "audit"').replace('"missing"', '"id"'),
      );
      const st = await status(tw.worker, { migrationsDir: dir });
      expect([st.exitCode, st.plan.pending]).toEqual([1, ['0002_broken']]);
      const fixed = await deploy(tw.worker, { migrationsDir: dir });
      expect(fixed.exitCode).toBe(0);
      expect((await drizzleRows(db.url)).map((r) => Number(r.created_at))).toEqual(entries.map((e) => e.when));
    },
  );

  it(
    'refuses a CONCURRENTLY chunk still inside the file’s ' +
      'transaction before applying anything; without lint ' +
      'it fails cleanly',
    async () => {
      const dir = await drizzleDir([
        { tag: '0000_items', when: 1_700_000_000_000, sql: `CREATE TABLE "items" ("id" integer);` },
        {
          tag: '0001_index',
          when: 1_700_000_100_000,
          sql:
            `ALTER TABLE "items" ADD COLUMN "sku" text;${BP}\nCREATE ` +
            `INDEX CONCURRENTLY "items_sku_idx" ON "items" ("sku");`,
        },
      ]);

      const refused = await deploy(tw.worker, { migrationsDir: dir });
      expect(refused.exitCode).toBe(2);
      expect(refused.results).toEqual([]);
      expect(refused.problems.map((p) => [p.code, p.migration])).toEqual([['VPCM_LINT_FAILED', '0001_index']]);
      expect(refused.problems[0]?.message).toContain('0001_index.sql:2');

      const unlinted = await deploy(tw.worker, { migrationsDir: dir, lint: false });
      expect(unlinted.exitCode).toBe(2);
      expect(unlinted.warnings.join('\n')).toContain('0001_index.sql:2: PostgreSQL will refuse this statement');
      expect(unlinted.results.map((r) => [r.name, r.status, r.error?.code])).toEqual([
        ['0000_items', 'applied', undefined],
        ['0001_index', 'failed', '25001'],
      ]);
      expect(
        await query(
          db.url,
          `SELECT count(*)::int AS n FROM information_schema.columns ` +
            `WHERE table_name = 'items' AND column_name = 'sku'`,
        ),
      ).toEqual([{ n: 0 }]);
      expect(await drizzleRows(db.url)).toHaveLength(1);
    },
  );

  it('a failing file leaves nothing behind and no row, and is simply pending on the next deploy', async () => {
    const dir = await drizzleDir([
      {
        tag: '0000_a',
        when: 1_700_000_000_000,
        sql:
          `CREATE TABLE "a" ("id" integer);${BP}\nINSERT INTO ` +
          `"a" VALUES (1);${BP}\n\nSELECT * FROM "missing_table";\n`,
      },
      { tag: '0001_b', when: 1_700_000_100_000, sql: `CREATE TABLE "b" ("id" integer);` },
    ]);

    const report = await deploy(tw.worker, { migrationsDir: dir });

    expect(report.exitCode).toBe(2);
    expect(report.results.map((r) => [r.name, r.status])).toEqual([['0000_a', 'failed']]);
    expect(report.results[0]?.error).toMatchObject({ code: '42P01', line: 4 });
    expect(report.results[0]?.appliedSteps).toBeUndefined();
    expect(report.problems[0]?.remedy).toContain('Nothing of it was applied');
    expect(await query(db.url, `SELECT to_regclass('a') AS t`)).toEqual([{ t: null }]);
    expect(await drizzleRows(db.url)).toEqual([]);
    expect((await status(tw.worker, { migrationsDir: dir })).exitCode).toBe(1);
  });

  it(
    'reports an entry older than the newest applied one ' +
      'as out of order (drizzle-orm would skip it), and applies ' +
      'it only when allowed',
    async () => {
      const dir = await drizzleDir(base);
      expect((await deploy(tw.worker, { migrationsDir: dir })).exitCode).toBe(0);
      // A branch merged late: its entry sits in the journal with an older `when`.
      const hotfix: Entry = {
        tag: '0004_hotfix',
        when: 1_700_000_150_000,
        sql: `CREATE TABLE "hotfix" ("id" integer);`,
      };
      await writeFile(path.join(dir, `${hotfix.tag}.sql`), hotfix.sql);
      await writeJournal(dir, [...(await readJournal(dir)), hotfix]);

      const st = await status(tw.worker, { migrationsDir: dir });
      expect(st.exitCode).toBe(2);
      expect(st.plan.pending).toEqual(['0004_hotfix']);
      expect(st.plan.outOfOrder).toEqual(['0004_hotfix']);
      expect(st.plan.problems.map((p) => p.code)).toEqual(['VPCM_OUT_OF_ORDER']);
      expect(st.summary).toBe('Migration state: 4 applied, 5 expected, 1 pending, 1 out of order');
      expect(renderStatus(st)).toContain('0004_hotfix (out of order)');

      // drizzle-orm's own migrator skips it and says nothing: the failure this guards against.
      await drizzleMigrate(db.url, dir);
      expect(await query(db.url, `SELECT to_regclass('hotfix') AS t`)).toEqual([{ t: null }]);

      const refused = await deploy(tw.worker, { migrationsDir: dir });
      expect(refused.exitCode).toBe(2);
      expect(refused.results).toEqual([]);
      const allowed = await deploy(tw.worker, { migrationsDir: dir, allowOutOfOrder: true });
      expect(allowed.exitCode).toBe(0);
      expect(allowed.results.map((r) => [r.name, r.status])).toEqual([['0004_hotfix', 'applied']]);
      expect(allowed.verification).toBe('Verified: database has all 5 migrations.');
      expect((await status(tw.worker, { migrationsDir: dir })).exitCode).toBe(0);
    },
  );

  it('refuses a database ahead of the journal with the seed’s message, and reports a changed file', async () => {
    const dir = await drizzleDir(base);
    expect((await deploy(tw.worker, { migrationsDir: dir })).exitCode).toBe(0);

    const journal = await readJournal(dir);
    await writeJournal(dir, journal.slice(0, 3));
    const ahead = await status(tw.worker, { migrationsDir: dir });
    expect(ahead.exitCode).toBe(2);
    expect(ahead.plan.problems.map((p) => [p.code, p.message])).toEqual([
      ['VPCM_MISSING_LOCALLY', 'Database has 4 migrations but local journal only has 3'],
    ]);
    expect(ahead.counts).toEqual({ applied: 4, expected: 3, pending: 0 });
    const refused = await deploy(tw.worker, { migrationsDir: dir });
    expect(refused.exitCode).toBe(2);
    expect(refused.results).toEqual([]);
    expect(renderDeploy(refused)).toContain('Database has 4 migrations but local journal only has 3');
    await writeJournal(dir, journal);

    const file = path.join(dir, '0000_init.sql');
    const original = await readFile(file, 'utf8');
    await writeFile(file, original.replace(/\n/g, '\r\n'));
    const changed = await status(tw.worker, { migrationsDir: dir });
    expect(changed.exitCode).toBe(2);
    expect(changed.plan.modified.map((m) => m.name)).toEqual(['0000_init']);
    expect(changed.plan.problems.map((p) => p.code)).toEqual(['VPCM_CHECKSUM_MODIFIED']);
    expect(changed.plan.pending).toEqual([]);
    const allowed = await deploy(tw.worker, { migrationsDir: dir, allowModified: true });
    expect(allowed.exitCode).toBe(0);
    expect(allowed.results).toEqual([]);
    await rm(file);
    await expect(status(tw.worker, { migrationsDir: dir })).rejects.toMatchObject({
      code: 'VPCM_MIGRATION_FILE_MISSING',
    });
  });

  it('reconciles objects that already exist and records the file', async () => {
    await query(db.url, `CREATE TABLE "users" ("id" serial PRIMARY KEY NOT NULL, "email" text NOT NULL)`);
    const dir = await drizzleDir(base.slice(0, 1));

    const report = await deploy(tw.worker, { migrationsDir: dir });

    expect(report.exitCode).toBe(0);
    expect(report.baselining).toBe(true);
    expect(report.results[0]?.status).toBe('reconciled');
    expect(report.results[0]?.skipped?.map((s) => [s.code, s.line])).toEqual([['42P07', 1]]);
    expect(await query(db.url, `SELECT to_regclass('posts') IS NOT NULL AS t`)).toEqual([{ t: true }]);
    expect(await drizzleRows(db.url)).toHaveLength(1);

    const strict = await drizzleDir([{ tag: '0000_x', when: 1, sql: `CREATE TABLE "users" ("id" integer);` }]);
    const db2 = await freshDatabase(adminUrl);
    const tw2 = await startTestWorker(db2.url);
    try {
      await query(db2.url, `CREATE TABLE "users" ("id" integer)`);
      const failing = await deploy(tw2.worker, { migrationsDir: strict, apply: { reconcileExisting: false } });
      expect(failing.results[0]?.status).toBe('failed');
      expect(failing.results[0]?.error?.code).toBe('42P07');
      // Reconciling compares definitions: a "users" with other columns is not what the entry creates.
      const other = await drizzleDir([
        { tag: '0000_x', when: 1, sql: `CREATE TABLE "users" ("id" integer, "email" text NOT NULL);` },
      ]);
      const different = await deploy(tw2.worker, { migrationsDir: other });
      expect(different.results[0]?.status).toBe('failed');
      expect(different.results[0]?.error?.detail).toContain(
        'Not reconciled: the object that exists is not what this statement creates.',
      );
      expect(different.results[0]?.error?.detail).toContain('column email text NOT NULL');
    } finally {
      await tw2.close();
      await db2.drop();
    }
  });

  it('two deploys started at once apply each entry exactly once (the advisory lock drizzle-orm lacks)', async () => {
    const dir = await drizzleDir(base);
    const w2 = tw.another();
    const reports = await deployAtOnce([tw.worker, w2], dir);

    expect(reports.map((r) => r.exitCode)).toEqual([0, 0]);
    const rows = await drizzleRows(db.url);
    expect(rows).toHaveLength(4);
    expect(appliedBy(reports)).toEqual(base.map((e) => e.tag));
  });
});
