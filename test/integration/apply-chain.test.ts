/**
 * Transactional migrations in a row go in one query (lambda/prisma/chain.ts, issue 26), each with
 * its own reset, transaction and guarded ledger row. What a chain must keep from one query per
 * migration: each migration commits with its row or not at all; a failure is the failing
 * migration's, placed in its own file; those before it stay applied and recorded, those after it
 * are not started (or run on their own when the chain never ran); and a migration that would
 * start too late for the time budget is not started at all (lambda/session.ts, `chained`).
 */
import { describe, expect, it } from 'vitest';
import { sendChain } from '../../lambda/session-reset.js';
import { sessionResetStatements } from '../../lambda/session.js';
import { deploy } from '../../scripts/commands/deploy.js';
import { databaseTargets, freshDatabase, prismaLedger, query, withClient } from '../helpers/db.js';
import { useApplyQueryCounter } from '../helpers/apply-queries.js';
import { migrationsDir } from '../helpers/migrations.js';
import { startTestWorker, useFreshWorker } from '../helpers/test-worker.js';

/** Five small migrations; `third` replaces the third's text. Multibyte text before it shifts positions. */
function five(third: string): Record<string, string> {
  return {
    '001_a': "CREATE TABLE a (id integer);\nCOMMENT ON TABLE a IS 'größe 😀';\n",
    '002_b': 'CREATE TABLE b (id integer);\n',
    '003_c': third,
    '004_d': 'CREATE TABLE d (id integer);\n',
    '005_e': 'CREATE TABLE e (id integer);\n',
  };
}

const exists = async (url: string, name: string) =>
  ((await query(url, `SELECT to_regclass($1) IS NOT NULL AS made`, [name])) as { made: boolean }[])[0]?.made;

describe.each(databaseTargets())('chained migrations on the $name PostgreSQL', ({ adminUrl }) => {
  const env = useFreshWorker(adminUrl);
  const counting = useApplyQueryCounter();

  it('go in one query, each recorded with its own start and finish, in order', async () => {
    const counter = counting.start();
    const report = await deploy(env.tw.worker, {
      migrationsDir: await migrationsDir(five('CREATE TABLE c (id integer);\n')),
    });
    const withFive = counter.count();
    expect(report.exitCode).toBe(0);
    expect(report.results.map((r) => r.status)).toEqual(Array(5).fill('applied'));
    // The batch's own reads and writes are the same for one migration: the five files cost what one does.
    const other = await freshDatabase(adminUrl);
    const tw2 = await startTestWorker(other.url);
    try {
      const one = await deploy(tw2.worker, {
        migrationsDir: await migrationsDir({ '001_only': 'CREATE TABLE only_one (id integer);\n' }),
      });
      expect(one.exitCode).toBe(0);
      expect(withFive).toBe(counter.count() - withFive);
    } finally {
      await tw2.close();
      await other.drop();
    }
    const rows = await prismaLedger(env.db.url);
    expect(rows.map((r) => r.migration_name)).toEqual(['001_a', '002_b', '003_c', '004_d', '005_e']);
    for (const [i, r] of rows.entries()) {
      expect(r.finished_at, r.migration_name).not.toBeNull();
      expect((r.finished_at as Date).getTime()).toBeGreaterThanOrEqual(r.started_at.getTime());
      // Each started in its own transaction, after the one before it had committed.
      if (i > 0) expect(r.started_at.getTime()).toBeGreaterThanOrEqual((rows[i - 1]!.finished_at as Date).getTime());
    }
  });

  it("a failing link is its own file's failure, placed in its file; those before it stay applied", async () => {
    const report = await deploy(env.tw.worker, {
      migrationsDir: await migrationsDir(five('-- c\nCREATE TABLE c (id integer);\nSELECT  nope FROM c;\n')),
    });
    // The rest are not started (the report lists what ran).
    expect(report.results.map((r) => r.status)).toEqual(['applied', 'applied', 'failed']);
    expect(report.results[2]?.error).toMatchObject({ code: '42703', line: 3, column: 9, statementIndex: 1 });
    expect(report.results[2]?.failureRecorded).toBe(true);
    expect(await exists(env.db.url, 'b')).toBe(true);
    expect(await exists(env.db.url, 'c')).toBe(false);
    expect(await exists(env.db.url, 'd')).toBe(false);
    expect(await exists(env.db.url, 'e')).toBe(false);
    const rows = await prismaLedger(env.db.url);
    expect(rows.map((r) => [r.migration_name, r.finished_at !== null])).toEqual([
      ['001_a', true],
      ['002_b', true],
      ['003_c', false],
    ]);
    expect(rows[2]?.logs).toContain('line 3, column 9 of migration.sql');
  });

  it('a link that does not parse: the chain ran nothing, each then runs alone and the error is its own', async () => {
    const report = await deploy(env.tw.worker, {
      migrationsDir: await migrationsDir(five('CREATE TABLE c (id integer);\nCREATE TABLE cc (id integer,,);\n')),
      lint: false,
    });
    expect(report.results.map((r) => r.status)).toEqual(['applied', 'applied', 'failed']);
    expect(report.results[2]?.error).toMatchObject({ code: '42601', line: 2, column: 29 });
    expect(await exists(env.db.url, 'c')).toBe(false);
    expect((await prismaLedger(env.db.url)).map((r) => [r.migration_name, r.finished_at !== null])).toEqual([
      ['001_a', true],
      ['002_b', true],
      ['003_c', false],
    ]);
  });

  it('an "already exists" in a link is reconciled as for a lone file, and the rest go on', async () => {
    const all = five('CREATE TABLE c (id integer);\nCREATE TABLE c2 (id integer);\n');
    const firstTwo = { '001_a': all['001_a'] as string, '002_b': all['002_b'] as string };
    expect((await deploy(env.tw.worker, { migrationsDir: await migrationsDir(firstTwo) })).exitCode).toBe(0);
    // Made by hand since, exactly as 003_c makes it.
    await query(env.db.url, 'CREATE TABLE c (id integer)');
    const report = await deploy(env.tw.worker, { migrationsDir: await migrationsDir(all) });
    expect(
      report.results.map((r) => [r.name, r.status]),
      JSON.stringify(report.problems),
    ).toEqual([
      ['003_c', 'reconciled'],
      ['004_d', 'applied'],
      ['005_e', 'applied'],
    ]);
    expect(await exists(env.db.url, 'c2')).toBe(true);
    expect(await exists(env.db.url, 'e')).toBe(true);
    const rows = await prismaLedger(env.db.url);
    expect(rows.map((r) => [r.migration_name, r.finished_at !== null])).toEqual(
      ['001_a', '002_b', '003_c', '004_d', '005_e'].map((n) => [n, true]),
    );
  });

  it("a link raising the guard's SQLSTATE with its token is its own failure, not a refusal", async () => {
    const report = await deploy(env.tw.worker, {
      migrationsDir: await migrationsDir(
        five(
          'CREATE TABLE c (id integer);\n' +
            "DO $$ BEGIN RAISE EXCEPTION USING ERRCODE = 'VM002', MESSAGE = current_query(); END $$;\n",
        ),
      ),
    });
    expect(report.results.map((r) => r.status)).toEqual(['applied', 'applied', 'failed']);
    expect(report.results[2]?.error).toMatchObject({ code: 'VM002', statementIndex: 1 });
    expect(report.problems.map((p) => p.code)).not.toContain('VPCM_ALREADY_RECORDED');
    expect((await prismaLedger(env.db.url)).map((r) => [r.migration_name, r.finished_at !== null])).toEqual([
      ['001_a', true],
      ['002_b', true],
      ['003_c', false],
    ]);
  });

  it.each([
    // The configured limit, below the budget: the user's own timeout, not the budget's.
    ['a configured statement_timeout', 20_000, { statementTimeoutMs: 300 }, 2, false],
    // No limit configured: the budget's, the link's own share of it.
    ['the time budget', 4_000, {}, 6, true],
  ])('a link stopped by %s is told as a lone file would be', async (_, timeoutMs, apply, sleep, budget) => {
    const tw = await startTestWorker(env.db.url, { timeoutMs });
    try {
      const report = await deploy(tw.worker, {
        migrationsDir: await migrationsDir(five(`CREATE TABLE c (id integer);\nSELECT pg_sleep(${sleep});\n`)),
        apply: { lockWaitMs: 500, ...apply },
      });
      const r = report.results[2];
      expect(r, JSON.stringify(report.problems)).toMatchObject({
        name: '003_c',
        status: 'failed',
        error: { code: '57014' },
      });
      expect(r?.timeBudgetExhausted === true).toBe(budget);
      if (budget) expect(r?.statementTimeoutMs).toBeLessThan(timeoutMs);
      expect(await exists(env.db.url, 'c')).toBe(false);
      expect((await prismaLedger(env.db.url)).map((row) => [row.migration_name, row.finished_at !== null])).toEqual([
        ['001_a', true],
        ['002_b', true],
        ['003_c', false],
      ]);
    } finally {
      await tw.close();
    }
  });

  it("a link that would start after the time budget's last start is refused in its reset, before it runs", async () => {
    // 10 s left and a 3.3 s margin: a migration may start within the first 100 ms of the query.
    const ctx = { remainingMs: () => 10_000 } as Parameters<typeof sessionResetStatements>[0];
    const { statements } = sessionResetStatements(ctx, {}, 3_300, true);
    await withClient(env.db.url, async (db) => {
      const run = await sendChain(db, statements, [
        {
          text: 'CREATE TABLE first_one (id integer);\nSELECT pg_sleep(0.3);',
          statements: 2,
          after: ';COMMIT',
          afterStatements: 1,
        },
        { text: 'CREATE TABLE too_late (id integer);', statements: 1, after: ';COMMIT', afterStatements: 1 },
      ]);
      expect(run).toMatchObject({ committed: 1, outOfTime: true });
      expect((await db.query(`SELECT to_regclass('first_one') IS NOT NULL AS made`)).rows).toEqual([{ made: true }]);
      expect((await db.query(`SELECT to_regclass('too_late') IS NULL AS never`)).rows).toEqual([{ never: true }]);
      // The first link's statement_timeout was the budget left: at most 10 s less the margin.
      const ok = await sendChain(db, statements, [
        { text: "SELECT current_setting('statement_timeout')", statements: 1, after: ';COMMIT', afterStatements: 1 },
        { text: 'SELECT 1', statements: 1, after: ';COMMIT', afterStatements: 1 },
      ]);
      const shown = String((ok.results?.[8]?.rows[0] as { current_setting: string }).current_setting);
      expect(shown).toMatch(/^\d+(ms|s)$/);
      expect(Number.parseFloat(shown) * (shown.endsWith('ms') ? 1 : 1000)).toBeLessThanOrEqual(6_700);
    });
  });
});
