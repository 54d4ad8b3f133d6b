/**
 * Tracked backfills end to end on real PostgreSQL through the SDK path: one transaction,
 * recorded in `_vpc_migrate_backfills`, run once unless `--again`, with the file's sanity query
 * run before and after.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { MigrateError } from '../../lambda/contract/index.js';
import { backfill } from '../../scripts/commands/backfill.js';
import { renderBackfill } from '../../scripts/render/backfill.js';
import { deploy } from '../../scripts/commands/deploy.js';
import { runCli, targetFlags } from '../helpers/cli.js';
import { databaseTargets, query } from '../helpers/db.js';
import { migrationsDir } from '../helpers/migrations.js';
import { useFreshWorker } from '../helpers/test-worker.js';

async function backfillsDir(files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'vpcm-backfills-'));
  for (const [name, sql] of Object.entries(files)) await writeFile(path.join(dir, `${name}.sql`), sql);
  return dir;
}

const BUMP = `-- Counts every run: a second accidental run would show as 2.
-- check: SELECT sum(runs)::int AS runs,
--          count(*) FILTER (WHERE total = 0)::int AS zero_totals
--        FROM orders
UPDATE orders SET total = qty * 10, runs = runs + 1;
`;

describe.each(databaseTargets())('backfill on the $name PostgreSQL', ({ adminUrl }) => {
  const { db, tw } = useFreshWorker(adminUrl, {
    prepare: (url) =>
      query(
        url,
        `CREATE TABLE orders (id int PRIMARY KEY, qty int NOT NULL, total int NOT NULL DEFAULT 0, runs int NOT NULL
          DEFAULT 0);
                  INSERT INTO orders (id, qty) SELECT g, g FROM generate_series(1, 3) g`,
      ),
  });

  const runs = async () =>
    (await query<{ runs: number }>(db.url, 'SELECT sum(runs)::int AS runs FROM orders'))[0]?.runs;

  it('a backfill run twice runs once, says so, and exits non-zero without --again', async () => {
    const dir = await backfillsDir({ fill_totals: BUMP });
    const flags = [...targetFlags(tw), '--backfills', dir];

    const first = await runCli(['backfill', ...flags, 'fill_totals']);
    expect(first.exitCode, first.stdout + first.stderr).toBe(0);
    expect(first.stdout).toContain('Backfill fill_totals ran in one transaction: 3 row(s) affected');
    expect(first.stdout).toContain(
      'Check: SELECT sum(runs)::int AS runs, count(*) FILTER (WHERE total = 0)::int AS zero_totals FROM orders',
    );
    const table = String.raw`\n\s+runs \| zero_totals\n\s+-+\+-+\n\s+`;
    expect(first.stdout).toMatch(new RegExp(String.raw`before:${table}0\s+\| 3\n\s+after:${table}3\s+\| 0`));
    expect(await runs()).toBe(3);

    const second = await runCli(['backfill', ...flags, 'fill_totals']);
    expect(second.exitCode).toBe(1);
    expect(second.stdout).toContain('Backfill fill_totals has already run; nothing was run this time.');
    expect(second.stdout).toContain('Pass --again to run it once more on purpose.');
    expect(await runs()).toBe(3);

    const json = await runCli(['backfill', ...flags, 'fill_totals.sql', '--json']);
    expect(json.exitCode).toBe(1);
    const refused = JSON.parse(json.stdout) as {
      status: string;
      previousRuns: { rowsAffected: number; runBy: string }[];
    };
    expect(refused.status).toBe('already-run');
    expect(refused.previousRuns).toHaveLength(1);
    expect(refused.previousRuns[0]?.rowsAffected).toBe(3);

    const again = await runCli(['backfill', ...flags, 'fill_totals', '--again']);
    expect(again.exitCode).toBe(0);
    expect(again.stdout).toContain('Ran again (--again): 1 earlier run(s) recorded.');
    expect(await runs()).toBe(6);

    const recorded = await query<{
      name: string;
      checksum: string;
      rows_affected: string;
      run_by: string;
      again: boolean;
      started_at: Date;
      finished_at: Date;
    }>(db.url, 'SELECT * FROM _vpc_migrate_backfills ORDER BY started_at');
    expect(recorded.map((r) => [r.name, Number(r.rows_affected), r.again])).toEqual([
      ['fill_totals', 3, false],
      ['fill_totals', 3, true],
    ]);
    for (const r of recorded) {
      expect(r.checksum).toMatch(/^[0-9a-f]{64}$/);
      expect(r.run_by).toMatch(/.+@.+/);
      expect(r.finished_at.getTime()).toBeGreaterThanOrEqual(r.started_at.getTime());
    }
  });

  it('two runs started at once: one runs, the other waits for it and then refuses', async () => {
    const dir = await backfillsDir({
      slow:
        '-- takes a moment, so the second run arrives while ' +
        'it holds the lock\nSELECT pg_sleep(0.5);\nUPDATE orders ' +
        'SET runs = runs + 1;\n',
    });
    const [a, b] = await Promise.all([
      backfill(tw.worker, { name: 'slow', dir, runBy: 'a' }),
      backfill(tw.another(), { name: 'slow', dir, runBy: 'b' }),
    ]);
    expect([a.status, b.status].sort()).toEqual(['already-run', 'ran']);
    expect(await runs()).toBe(3);
  });

  it('a failing backfill changes nothing and records nothing; the error points into the file', async () => {
    const dir = await backfillsDir({
      broken:
        '-- check: SELECT count(*)::int AS n FROM orders WHERE ' +
        'total > 0\nUPDATE orders SET total = 1;\nUPDATE orders ' +
        'SET total = total / (qty - 2);\n',
    });

    const report = await backfill(tw.worker, { name: 'broken', dir, runBy: 'tester' });

    expect(report.exitCode).toBe(2);
    expect(report.status).toBe('failed');
    expect(await query(db.url, 'SELECT sum(total)::int AS t FROM orders')).toEqual([{ t: 0 }]);
    expect(await query(db.url, `SELECT to_regclass('_vpc_migrate_backfills') AS t`)).toEqual([{ t: null }]);
    const text = renderBackfill(
      report,
      '-- check: SELECT count(*)::int AS n FROM orders WHERE ' +
        'total > 0\nUPDATE orders SET total = 1;\nUPDATE orders ' +
        'SET total = total / (qty - 2);\n',
    );
    expect(text).toContain('Backfill broken failed: nothing was changed and nothing was recorded.');
    expect(text).toContain('SQLSTATE 22012: division by zero');

    const cli = await runCli(['backfill', ...targetFlags(tw), '--backfills', dir, 'broken']);
    expect(cli.exitCode).toBe(2);
    expect(cli.stdout).toContain('SQLSTATE 22012');
  });

  it('counts rows of a DO block from pg_stat, reports per table, and runs the check read-only', async () => {
    const dir = await backfillsDir({
      in_do:
        '-- check: SELECT count(*)::int AS n FROM orders WHERE ' +
        'total > 0\nDO $$ BEGIN UPDATE orders SET total = 7 ' +
        "WHERE id < 3; RAISE NOTICE 'done'; END $$;\n",
      sneaky_check: '-- check: UPDATE orders SET total = -1 RETURNING id\nUPDATE orders SET qty = qty;\n',
    });

    const report = await backfill(tw.worker, { name: 'in_do', dir, runBy: 'tester' });

    expect(report.exitCode).toBe(0);
    const res = report.result!;
    expect(res.commands).toEqual([{ command: 'DO', rowCount: null }]);
    expect(res.rowsAffected).toBe(2);
    expect(res.rows).toEqual([{ table: 'public.orders', inserted: 0, updated: 2, deleted: 0 }]);
    expect(res.notices).toEqual(['NOTICE: done']);
    expect(res.check?.before.rows).toEqual([{ n: 0 }]);
    expect(res.check?.after.rows).toEqual([{ n: 2 }]);
    expect(res.run.runBy).toBe('tester');
    expect(res.tableCreated).toBe(true);

    const sneaky = await backfill(tw.worker, { name: 'sneaky_check', dir, runBy: 'tester' });
    expect(sneaky.exitCode).toBe(0);
    expect(sneaky.result?.check?.after.error?.code).toBe('25006');
    expect(await query(db.url, 'SELECT count(*)::int AS n FROM orders WHERE total = -1')).toEqual([{ n: 0 }]);
  });

  it(
    'refuses files with their own transaction control or ' + 'non-transactional statements, and unknown names',
    async () => {
      const dir = await backfillsDir({
        own_tx: 'BEGIN;\nUPDATE orders SET total = 1;\nCOMMIT;\n',
        concurrently: 'CREATE INDEX CONCURRENTLY orders_total ON orders (total);\n',
      });
      for (const [name, text] of [
        ['own_tx', 'must not manage its own transaction'],
        ['concurrently', 'cannot run inside a transaction'],
      ] as const) {
        const error = await backfill(tw.worker, { name, dir }).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(error).toBeInstanceOf(MigrateError);
        expect((error as MigrateError).code).toBe('VPCM_BACKFILL_INVALID');
        expect((error as MigrateError).message).toContain(text);
      }
      const missing = await runCli(['backfill', ...targetFlags(tw), '--backfills', dir, 'nope']);
      expect(missing.exitCode).toBe(2);
      expect(missing.stderr).toContain('No backfill nope');
      expect(missing.stderr).toContain('Available: concurrently, own_tx.');
      expect(await query(db.url, 'SELECT sum(total)::int AS t FROM orders')).toEqual([{ t: 0 }]);
    },
  );

  it('deploy never runs backfills, even next to the migrations', async () => {
    const root = await mkdtemp(path.join(tmpdir(), 'vpcm-project-'));
    const { mkdir, cp } = await import('node:fs/promises');
    const migrations = await migrationsDir({ '001_noop': 'SELECT 1;\n' });
    await mkdir(path.join(root, 'prisma', 'backfills'), { recursive: true });
    await cp(migrations, path.join(root, 'prisma', 'migrations'), { recursive: true });
    await writeFile(path.join(root, 'prisma', 'backfills', 'fill_totals.sql'), BUMP);

    // The orders table was made by other means (no ledger): a baselining deploy (lambda/schema-not-empty.ts).
    const report = await deploy(tw.worker, {
      migrationsDir: path.join(root, 'prisma', 'migrations'),
      apply: { baseline: true },
    });

    expect(report.exitCode).toBe(0);
    expect(report.results.map((r) => r.name)).toEqual(['001_noop']);
    expect(await runs()).toBe(0);
    expect(await query(db.url, `SELECT to_regclass('_vpc_migrate_backfills') AS t`)).toEqual([{ t: null }]);
  });
});
