/**
 * Nothing recorded that did not happen, nothing failed that is not recorded (issue 15): each way
 * a transactional migration can fail — in a statement, at COMMIT (a deferred constraint), in the
 * ledger write (a role the file switched to), with the connection lost — leaves a failed row or
 * says truthfully that none could be written, and the remedy printed is one that works.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../lambda/contract/index.js';
import { deploy } from '../../scripts/commands/deploy.js';
import { runCli, targetFlags } from '../helpers/cli.js';
import { databaseTargets, prismaLedger, query } from '../helpers/db.js';
import { waitFor } from '../helpers/fault-db.js';
import { migrationsDir } from '../helpers/migrations.js';
import { useFreshWorker, startTestWorker } from '../helpers/test-worker.js';

/** The `vpc-migrate resolve …` command a remedy prints, as CLI arguments. */
function resolveArgs(remedy: string): string[] {
  const m = /vpc-migrate resolve (--rolled-back|--applied) (\S+?)`/.exec(remedy);
  expect(m, remedy).not.toBeNull();
  return ['resolve', m![1]!, m![2]!];
}

describe.each(databaseTargets())('failures are recorded on the $name PostgreSQL', ({ adminUrl }) => {
  const env = useFreshWorker(adminUrl);

  it(
    'a deferred foreign key failing at COMMIT leaves a failed ' + 'row, and the printed resolve command works',
    async () => {
      const dir = await migrationsDir({
        '001_parent': 'CREATE TABLE parent (id int PRIMARY KEY);\n',
        '002_orphan': [
          'CREATE TABLE child (id int PRIMARY KEY, parent_id int REFERENCES parent DEFERRABLE INITIALLY DEFERRED);',
          'INSERT INTO child VALUES (1, 42);',
          '',
        ].join('\n'),
      });

      const report = await deploy(env.tw.worker, { migrationsDir: dir });

      expect(report.exitCode).toBe(2);
      const failed = report.results.find((r) => r.name === '002_orphan');
      expect(failed).toMatchObject({ status: 'failed', failureRecorded: true, error: { code: '23503' } });
      // At COMMIT, after every statement of the file: the worker's statement, not a line of the file.
      expect(failed?.error?.hint).toContain('It failed at COMMIT');
      expect(failed?.error?.line).toBeUndefined();
      const rows = (await prismaLedger(env.db.url)).filter((r) => r.migration_name === '002_orphan');
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject({ finished_at: null, rolled_back_at: null });
      expect(rows[0]!.logs).toContain('23503');
      expect(await query(env.db.url, `SELECT to_regclass('child') AS t`)).toEqual([{ t: null }]);
      const problem = report.problems.find((p) => p.migration === '002_orphan')!;

      const resolved = await runCli([...resolveArgs(problem.remedy), ...targetFlags(env.tw), '--migrations', dir]);

      expect(resolved.exitCode, resolved.stdout + resolved.stderr).toBe(0);
      expect(
        (await prismaLedger(env.db.url)).find((r) => r.migration_name === '002_orphan')?.rolled_back_at,
      ).not.toBeNull();
    },
  );

  it('a ledger write refused after the file ran SET ROLE is recorded as the worker itself', async () => {
    const role = `vpcm_limited_${randomBytes(4).toString('hex')}`;
    await query(adminUrl, `CREATE ROLE ${role} NOLOGIN`);
    try {
      const dir = await migrationsDir({
        '001_switches_role': `CREATE TABLE kept_out (id int);\nSET ROLE ${role};\nSELECT 1;\n`,
      });

      const report = await deploy(env.tw.worker, { migrationsDir: dir });

      expect(report.exitCode).toBe(2);
      expect(report.results[0]).toMatchObject({ status: 'failed', failureRecorded: true, error: { code: '42501' } });
      const rows = await prismaLedger(env.db.url);
      expect(rows.map((r) => [r.migration_name, r.finished_at])).toEqual([['001_switches_role', null]]);
      expect(await query(env.db.url, `SELECT to_regclass('kept_out') AS t`)).toEqual([{ t: null }]);
      expect(report.problems[0]?.remedy).toContain('vpc-migrate resolve --rolled-back 001_switches_role');
    } finally {
      await query(adminUrl, `DROP OWNED BY ${role}; DROP ROLE ${role}`).catch(() => undefined);
    }
  });

  it(
    'a lost connection: nothing applied, nothing recorded, ' + 'and the remedy says there is nothing to resolve',
    async () => {
      const dir = await migrationsDir({ '001_slow': 'CREATE TABLE slow (id int);\nSELECT pg_sleep(2);\n' });

      const running = deploy(env.tw.worker, { migrationsDir: dir });
      const pid = await waitFor('the worker running pg_sleep', async () => {
        const rows = await query<{ pid: number }>(
          env.db.url,
          `SELECT pid FROM pg_stat_activity WHERE datname = current_database() ` +
            `AND query LIKE '%pg_sleep(2)%' AND pid <> pg_backend_pid() ` +
            `AND application_name LIKE 'vpc-migrate apply%'`,
        );
        return rows[0]?.pid;
      });
      await query(adminUrl, `SELECT pg_terminate_backend(${pid})`);
      const report = await running;

      expect(report.exitCode).toBe(2);
      expect(report.results[0]).toMatchObject({ status: 'failed', failureRecorded: false });
      expect(report.results[0]?.error?.hint).toContain('could not be recorded');
      expect(await prismaLedger(env.db.url)).toEqual([]);
      expect(report.problems.map((p) => p.code)).toContain(ErrorCode.SqlFailed);
      expect(report.problems.find((p) => p.migration === '001_slow')?.remedy).toMatch(/deploy again/i);

      const again = await deploy(env.tw.worker, { migrationsDir: dir });
      expect(again.exitCode).toBe(0);
    },
  );

  it.each([
    ['SET statement_timeout = 0', 'SET statement_timeout = 0;'],
    ['set_config(statement_timeout, 0)', "SELECT set_config('statement_timeout', '0', false);"],
  ])(
    'a file that lifts the time budget (%s) is held to it: ' +
      'stopped in time, recorded as failed, and nothing commits ' +
      'later',
    async (_what, lift) => {
      const short = await startTestWorker(env.db.url, { timeoutMs: 4_000 });
      try {
        const dir = await migrationsDir({ '001_lifts': `${lift}\nCREATE TABLE late (id int);\nSELECT pg_sleep(6);\n` });

        const report = await deploy(short.worker, { migrationsDir: dir, apply: { lockWaitMs: 500 } });

        expect(report.exitCode).toBe(2);
        const r = report.results[0]!;
        expect(r).toMatchObject({
          status: 'failed',
          timeBudgetExhausted: true,
          failureRecorded: true,
          error: { code: '57014' },
        });
        expect(r.timeouts?.[0]).toMatchObject({ line: 1, requestedMs: 0, winner: 'time-budget' });
        expect(r.timeouts?.[0]?.effectiveMs).toBeLessThan(4_000);
        // Long after the function's time: the report and the database still agree.
        await new Promise((resolve) => setTimeout(resolve, 3_000));
        expect(await query(env.db.url, `SELECT to_regclass('late') AS t`)).toEqual([{ t: null }]);
        expect((await prismaLedger(env.db.url)).map((row) => [row.migration_name, row.finished_at])).toEqual([
          ['001_lifts', null],
        ]);
      } finally {
        await short.close();
      }
    },
  );
});
