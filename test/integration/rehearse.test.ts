/**
 * `rehearse` end to end on real PostgreSQL through the SDK path: every pending migration in one
 * transaction, measured, rolled back — and the schema (pg_dump or a catalog dump), the ledger
 * and the data byte-identical afterwards.
 */
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import type { RehearsalResult, RehearseResult } from '../../lambda/contract/index.js';
import { deploy } from '../../scripts/commands/deploy.js';
import { rehearseMigrations } from '../../scripts/commands/rehearse.js';
import { renderRehearse } from '../../scripts/render/rehearse.js';
import { runCli, targetFlags } from '../helpers/cli.js';
import { databaseTargets, query } from '../helpers/db.js';
import { addMigration, exampleMigrations, migrationsDir } from '../helpers/migrations.js';
import { ledgerDump, schemaDump } from '../helpers/schema-dump.js';
import { useFreshWorker } from '../helpers/test-worker.js';

/** Everything a rehearsal must leave as it was. */
async function snapshot(url: string) {
  const [schema, ledger, data] = await Promise.all([
    schemaDump(url),
    ledgerDump(url),
    query(
      url,
      `SELECT coalesce((SELECT json_agg(i ORDER BY id)::text ` +
        `FROM item i), '') AS items, coalesce((SELECT json_agg(l ` +
        `ORDER BY id)::text FROM log l), '') AS log`,
    ).catch(() => []),
  ]);
  return { schema, ledger, data: JSON.stringify(data) };
}

const BASE = {
  '001_base': `CREATE TYPE "Status" AS ENUM ('NEW', 'DONE');
CREATE TABLE item (id serial PRIMARY KEY, status "Status" NOT NULL DEFAULT 'NEW', qty int NOT NULL DEFAULT 0);
CREATE TABLE log (id serial PRIMARY KEY, msg text);
INSERT INTO item (qty) SELECT g FROM generate_series(1, 50) g;
`,
};

const PENDING: Record<string, string> = {
  '002_alter_and_index': `-- a session setting that must not leak into the next file
SET lock_timeout = '5s';
ALTER TABLE item ADD COLUMN note text;
CREATE INDEX item_qty_idx ON item (qty);
UPDATE item SET qty = qty + 1 WHERE id <= 10;
INSERT INTO log (msg) VALUES ('rehearsed');
`,
  '003_add_value': `ALTER TYPE "Status" ADD VALUE 'ARCHIVED';
DO $$ BEGIN
  IF current_setting('lock_timeout') <> '0' THEN
    RAISE EXCEPTION 'lock_timeout leaked: %', current_setting('lock_timeout');
  END IF;
END $$;
`,
  '004_use_value': `UPDATE item SET status = 'ARCHIVED' WHERE id = 1;\n`,
  '005_concurrently': `CREATE INDEX CONCURRENTLY item_status_idx ON item (status);\n`,
  '006_script': `BEGIN;\nCREATE TABLE audit (id int);\nINSERT INTO audit VALUES (1);\nCOMMIT;\n`,
  '007_same_file_enum': `ALTER TYPE "Status" ADD VALUE 'LOST';\nUPDATE item SET status = 'LOST' WHERE id = 2;\n`,
  '008_broken': `CREATE TABLE wrong (id int);\nSELECT 1/0;\n`,
  '009_after_broken': `ALTER TABLE wrong ADD COLUMN x int;\n`,
  '010_advisory': `SELECT pg_advisory_lock(4242);\nALTER TABLE item ADD COLUMN y int;\n`,
};

describe.each(databaseTargets())('rehearse on the $name PostgreSQL', ({ adminUrl }) => {
  const { db, tw } = useFreshWorker(adminUrl);

  it(
    'measures each pending migration, explains what it cannot ' +
      'rehearse, and leaves schema, ledger and data byte-identical',
    async () => {
      const dir = await migrationsDir(BASE);
      expect((await deploy(tw.worker, { migrationsDir: dir })).exitCode).toBe(0);
      for (const [name, sql] of Object.entries(PENDING)) await addMigration(dir, name, sql);
      const before = await snapshot(db.url);

      const report = await rehearseMigrations(tw.worker, { migrationsDir: dir });

      const after = await snapshot(db.url);
      expect(after.schema.method).toBe(before.schema.method);
      expect(after.schema.text).toBe(before.schema.text);
      expect(after.ledger).toBe(before.ledger);
      expect(after.data).toBe(before.data);
      expect(before.schema.text).toContain('item');
      // 010_advisory took a session-level advisory lock, which a rollback does not release: the worker does.
      expect(
        await query(
          db.url,
          `SELECT count(*)::int AS n FROM pg_locks WHERE locktype ` +
            `= 'advisory' AND objid = 4242 AND database = (SELECT ` +
            `oid FROM pg_database WHERE datname = current_database())`,
        ),
      ).toEqual([{ n: 0 }]);

      expect(report.exitCode).toBe(2);
      expect(report.pending).toEqual(Object.keys(PENDING));
      const byName = new Map((report.result as RehearseResult).results.map((r) => [r.name, r]));
      const get = (name: string) => byName.get(name) as RehearsalResult;
      expect([...byName.values()].map((r) => [r.name, r.status])).toEqual([
        ['002_alter_and_index', 'rehearsed'],
        ['003_add_value', 'rehearsed'],
        ['004_use_value', 'shared-transaction'],
        ['005_concurrently', 'not-rehearsable'],
        ['006_script', 'rehearsed'],
        ['007_same_file_enum', 'failed'],
        ['008_broken', 'failed'],
        ['009_after_broken', 'failed'],
        ['010_advisory', 'rehearsed'],
      ]);

      const alter = get('002_alter_and_index');
      expect(alter.statementsRun).toBe(5);
      expect(alter.locks).toContainEqual({
        locktype: 'relation',
        mode: 'AccessExclusiveLock',
        target: 'public.item',
        kind: 'table',
        newObject: false,
        blocks: 'reads-and-writes',
      });
      expect(alter.locks.find((l) => l.target === 'public.item_qty_idx')?.newObject).toBe(true);
      expect(alter.rows).toEqual([
        { table: 'public.item', inserted: 0, updated: 10, deleted: 0 },
        { table: 'public.log', inserted: 1, updated: 0, deleted: 0 },
      ]);
      expect(alter.durationMs).toBeGreaterThanOrEqual(0);
      expect(get('003_add_value').locks).toContainEqual(
        expect.objectContaining({
          locktype: 'object',
          mode: 'ExclusiveLock',
          target: 'type "Status"',
          newObject: false,
        }),
      );

      const shared = get('004_use_value');
      expect(shared.error?.code).toBe('55P04');
      expect(shared.note).toContain('003_add_value adds the enum value "ARCHIVED"');
      expect(shared.note).toContain('not a defect');

      expect(get('005_concurrently').notRehearsed).toEqual([
        {
          index: 0,
          line: 1,
          statement: 'CREATE INDEX CONCURRENTLY item_status_idx ON item (status)',
          reason: 'non-transactional',
        },
      ]);
      const script = get('006_script');
      expect(script.notRehearsed.map((s) => [s.line, s.reason])).toEqual([
        [1, 'transaction-control'],
        [4, 'transaction-control'],
      ]);
      expect(script.statementsRun).toBe(2);
      expect(script.rows).toEqual([{ table: 'public.audit', inserted: 1, updated: 0, deleted: 0 }]);

      const sameFile = get('007_same_file_enum');
      expect(sameFile.error).toMatchObject({ code: '55P04', line: 2 });
      expect(sameFile.note).toContain('added in this same file');
      expect(get('008_broken').error).toMatchObject({ code: '22012', line: 2, statementIndex: 1 });
      const after008 = get('009_after_broken');
      expect(after008.error?.code).toBe('42P01');
      expect(after008.note).toContain('008_broken (failed)');
      expect(get('010_advisory').locks).toContainEqual(
        expect.objectContaining({ locktype: 'advisory', target: 'advisory key 4242' }),
      );

      expect(report.result?.rolledBack).toBe(true);
      expect(report.result?.sequencesAdvanced).toEqual([{ sequence: 'public.log_id_seq', before: null, after: '1' }]);

      const text = renderRehearse(report);
      expect(text).toContain('AccessExclusiveLock on public.item (table) — blocks reads and writes');
      expect(text).toContain('004_use_value');
      expect(text).toContain('refused only because the rehearsal shares one transaction');
      expect(text).toContain('cannot run in a transaction: not rehearsed');
      expect(text).toContain('Rolled back: the database is as it was.');
      expect(text).toContain('public.log_id_seq: unused → 1');
    },
  );

  it('never creates _prisma_migrations, and a real deploy afterwards applies everything', async () => {
    const before = await snapshot(db.url);
    expect(before.ledger).toBe('(no _prisma_migrations)');

    const run = await runCli(['rehearse', ...targetFlags(tw), '--migrations', exampleMigrations]);

    expect(run.exitCode, run.stdout + run.stderr).toBe(0);
    expect(run.stdout).toContain('Rehearsal of 6 pending migration(s) in one transaction:');
    expect(run.stdout).toContain('20250203110000_index_orders_customer — not rehearsable');
    const after = await snapshot(db.url);
    expect(after.ledger).toBe('(no _prisma_migrations)');
    expect(after.schema.text).toBe(before.schema.text);

    const json = await runCli([
      'rehearse',
      ...targetFlags(tw),
      '--migrations',
      exampleMigrations,
      '--json',
      '--to',
      '20250108120000_add_products',
    ]);
    expect(json.exitCode).toBe(0);
    expect((JSON.parse(json.stdout) as { pending: string[] }).pending).toEqual([
      '20250101090000_init',
      '20250108120000_add_products',
    ]);

    const applied = await deploy(tw.worker, { migrationsDir: exampleMigrations });
    expect(applied.exitCode).toBe(0);
    expect(applied.results.map((r) => r.status)).toEqual(Array(6).fill('applied'));

    const nothing = await runCli(['rehearse', ...targetFlags(tw), '--migrations', exampleMigrations]);
    expect(nothing.exitCode).toBe(0);
    expect(nothing.stdout).toContain('Nothing to rehearse: 0 pending migrations.');
    // A migration recorded meanwhile (a race with a deploy) is skipped, not run again.
    const { discoverMigrations } = await import('../../scripts/formats/prisma/discover.js');
    const init = (await discoverMigrations(exampleMigrations)).migrations[0]!;
    const raced = await tw.worker.rehearse({
      migrations: [{ name: init.name, checksum: init.checksum, sql: init.sql, mode: 'transactional' }],
    });
    expect(raced.results.map((r) => r.status)).toEqual(['already-applied']);
  });

  it('waits for the migration lock, and a lock_timeout stops a statement queued behind another session', async () => {
    const dir = await migrationsDir(BASE);
    expect((await deploy(tw.worker, { migrationsDir: dir })).exitCode).toBe(0);
    await addMigration(dir, '002_alter', 'ALTER TABLE item ADD COLUMN note text;\n');
    const other = new pg.Client({ connectionString: db.url });
    await other.connect();
    try {
      await other.query('SELECT pg_advisory_lock(72707369)');
      const locked = await runCli(['rehearse', ...targetFlags(tw), '--migrations', dir, '--lock-wait', '0', '--json']);
      expect(locked.exitCode).toBe(2);
      expect(JSON.parse(locked.stdout)).toMatchObject({ ok: false, error: { code: 'VPCM_LOCK_TIMEOUT' } });
      await other.query('SELECT pg_advisory_unlock(72707369)');

      await other.query('BEGIN');
      await other.query('SELECT * FROM item LIMIT 1');
      const queued = await rehearseMigrations(tw.worker, { migrationsDir: dir, options: { lockTimeoutMs: 300 } });
      expect(queued.exitCode).toBe(2);
      expect(queued.result?.results[0]).toMatchObject({
        name: '002_alter',
        status: 'failed',
        error: { code: '55P03' },
      });
      await other.query('ROLLBACK');
    } finally {
      await other.end();
    }
  });
});
