/**
 * The deadlock PostgreSQL cannot see (lambda/lock.ts, watchedForWaiters): the migration lock is
 * held on a session of its own, so a `prisma migrate deploy`-style session that starts waiting
 * for it while CREATE INDEX CONCURRENTLY runs, and that the statement then waits for, forms no
 * cycle PostgreSQL detects. The lock session finds it and cancels the statement; the file stays
 * resumable and the next deploy builds a valid index. Ordered by observed state throughout.
 */
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { MIGRATION_LOCK_KEY } from '../../lambda/contract/index.js';
import { deploy } from '../../scripts/commands/deploy.js';
import { databaseTargets, prismaLedger, query } from '../helpers/db.js';
import { waitFor } from '../helpers/fault-db.js';
import { addMigration, migrationsDir } from '../helpers/migrations.js';
import { useFreshWorker } from '../helpers/test-worker.js';

async function session(url: string, applicationName: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url, application_name: applicationName });
  await client.connect();
  return client;
}

describe.each(
  databaseTargets(),
)('CONCURRENTLY and a deploy that starts waiting for the lock meanwhile, on the $name PostgreSQL', ({ adminUrl }) => {
  // A short function timeout: without the watch, the statement would wait out its whole budget.
  const env = useFreshWorker(adminUrl, { timeoutMs: 20_000 });

  it(
    'the statement is cancelled for the waiter, not left ' + 'to its statement_timeout; the re-run builds the index',
    async () => {
      const dir = await migrationsDir({
        '001_table': 'CREATE TABLE t (id int);\nINSERT INTO t SELECT generate_series(1, 1000);\n',
      });
      expect((await deploy(env.tw.worker, { migrationsDir: dir })).exitCode).toBe(0);
      await addMigration(dir, '002_index', 'CREATE INDEX CONCURRENTLY t_id ON t (id);\n');
      const writer = await session(env.db.url, 'test writer');
      const waiter = await session(env.db.url, 'test prisma-style waiter');
      try {
        // A writer makes CONCURRENTLY wait; the waiter arrives while it waits, then the writer goes.
        await writer.query('BEGIN; INSERT INTO t VALUES (0)');
        const running = deploy(env.tw.worker, { migrationsDir: dir });
        await waitFor(
          'CREATE INDEX CONCURRENTLY waiting for the writer',
          async () =>
            (
              await query(
                env.db.url,
                `SELECT 1 FROM pg_stat_activity WHERE datname = current_database() ` +
                  `AND query LIKE 'CREATE INDEX CONCURRENTLY%' AND wait_event ` +
                  `= 'virtualxid'`,
              )
            ).length > 0,
        );
        const waiterPid = (await waiter.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
        const waited = waiter.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
        await waitFor(
          'the waiter blocked on the migration lock',
          async () =>
            (
              await query(
                env.db.url,
                `SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND pid = $1`,
                [waiterPid],
              )
            ).length > 0,
        );
        await writer.query('COMMIT');

        const report = await running;

        expect(report.exitCode).toBe(2);
        const failed = report.results.find((r) => r.name === '002_index');
        expect(failed).toMatchObject({ status: 'failed', error: { code: '55P03', line: 1 } });
        expect(failed?.error?.message).toContain(
          `pid ${waiterPid} ("test prisma-style waiter") began waiting for the migration lock`,
        );
        expect(report.problems.find((p) => p.migration === '002_index')?.remedy).toMatch(/resumes there/);
        await waited; // the lock was released, so the waiter got it
        await waiter.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]);
      } finally {
        await writer.end().catch(() => undefined);
        await waiter.end().catch(() => undefined);
      }

      const again = await deploy(env.tw.worker, { migrationsDir: dir });

      expect(again.exitCode, JSON.stringify(again.problems)).toBe(0);
      expect(await query(env.db.url, `SELECT indisvalid FROM pg_index WHERE indexrelid = 't_id'::regclass`)).toEqual([
        { indisvalid: true },
      ]);
      const rows = (await prismaLedger(env.db.url)).filter((r) => r.migration_name === '002_index');
      expect(rows.map((r) => [r.finished_at !== null, r.applied_steps_count])).toEqual([[true, 1]]);
    },
  );
});
