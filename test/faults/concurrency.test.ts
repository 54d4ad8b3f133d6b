/**
 * Matrix: concurrency. 2 and 8 deploys of the example app at once against one database (each
 * through its own SDK client: separate invocations, separate connections), several rounds; and a
 * `prisma migrate deploy`-style session holding Prisma's advisory lock: deploy waits for a bounded
 * time, then refuses naming the holder (pid, application, since), and applies once it is gone.
 */
import { beforeAll, describe, expect } from 'vitest';
import { ErrorCode, type MigrateError, MIGRATION_LOCK_KEY } from '../../lambda/contract/index.js';
import { deploy } from '../../scripts/commands/deploy.js';
import { status } from '../../scripts/commands/status.js';
import { databaseTargets } from '../helpers/db.js';
import { fingerprint, ledgerRows, session, waitFor } from '../helpers/fault-db.js';
import { useFaultServer } from '../helpers/fault-fixture.js';
import { cell } from '../helpers/fault-matrix.js';
import { witness } from '../helpers/fault-secrets.js';
import { addMigration, copyOfExample, exampleMigrations } from '../helpers/migrations.js';
import { prismaAvailable, prismaMigrateDeploy } from '../helpers/prisma-judge.js';

const FILE = 'test/faults/concurrency.test.ts';
const ROUNDS = 3;

describe.each(databaseTargets())('concurrency on the $name PostgreSQL', ({ name: target, adminUrl }) => {
  const { server, worker: workerFor } = useFaultServer(adminUrl, FILE);
  let clean: string;

  beforeAll(async () => {
    const db = await server.database();
    const tw = await workerFor(db.url);
    expect((await deploy(tw.worker, { migrationsDir: exampleMigrations })).exitCode).toBe(0);
    clean = await fingerprint(db.adminUrl);
  });

  for (const n of [2, 8]) {
    cell(
      `Concurrency · ${n} deploys at once`,
      { target, file: FILE, invariant: 'each migration applied exactly once, one ledger row each, schema+data of a single deploy', timeout: 300_000 },
      async ({ ran }) => {
        for (let round = 0; round < ROUNDS; round++) {
          const db = await server.database();
          const tw = await workerFor(db.url);
          const clients = [tw.worker, ...Array.from({ length: n - 1 }, () => tw.another())];
          const outcomes = await Promise.all(
            clients.map((w) => deploy(w, { migrationsDir: exampleMigrations }).then(
              (r) => ({ report: r, error: null }),
              (e: unknown) => ({ report: null, error: e as MigrateError }),
            )),
          );
          ran(n);
          for (const o of outcomes) witness(o.report ?? o.error);
          // Every deploy either finished (exit 0) or refused clearly on the lock; none failed otherwise.
          for (const o of outcomes) {
            if (o.error) expect(o.error.code).toBe(ErrorCode.LockTimeout);
            else expect(o.report?.exitCode, JSON.stringify(o.report?.problems)).toBe(0);
          }
          const applied = outcomes.flatMap((o) => o.report?.results.filter((r) => r.status === 'applied').map((r) => r.name) ?? []);
          const rows = await ledgerRows(db.adminUrl);
          expect(rows).toHaveLength(6);
          expect(new Set(rows.map((r) => r.migration_name)).size).toBe(6);
          expect(rows.every((r) => r.finished_at !== null && r.rolled_back_at === null)).toBe(true);
          expect(applied.sort()).toEqual(rows.map((r) => r.migration_name).sort());
          expect(await fingerprint(db.adminUrl)).toBe(clean);
          await db.drop();
        }
      },
    );
  }

  cell(
    'Concurrency · a prisma-migrate-style session holds pg_advisory_lock(72707369)',
    {
      target,
      file: FILE,
      invariant: 'deploy waits lockWait (default 10 s), refuses naming pid/application/since, applies nothing; re-run after release applies',
      timeout: 120_000,
    },
    async ({ ran }) => {
      const db = await server.database();
      const tw = await workerFor(db.url);
      const holder = await session(db.adminUrl, 'prisma-migrate-deploy');
      try {
        await holder.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
        const pid = (await holder.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;

        // Status does not lock, and shows who holds it.
        const st = await status(tw.worker, { migrationsDir: exampleMigrations });
        expect(st.server.lockHolder?.pid).toBe(pid);
        expect(st.server.lockHolder?.application).toBe('prisma-migrate-deploy');

        // Default wait (Prisma's 10 s) as the plain worker role, which may not see when another
        // role's session started; then 2 s with pg_read_all_stats granted, which shows it.
        for (const lockWaitMs of [undefined, 2_000]) {
          if (lockWaitMs) await holder.query(`GRANT pg_read_all_stats TO ${server.role}`);
          const started = Date.now();
          const error = await deploy(tw.worker, { migrationsDir: exampleMigrations, ...(lockWaitMs ? { apply: { lockWaitMs } } : {}) }).then(
            () => null,
            (e: unknown) => e as MigrateError,
          );
          const waited = Date.now() - started;
          witness(error);
          ran();
          const bound = lockWaitMs ?? 10_000;
          expect(error?.code).toBe(ErrorCode.LockTimeout);
          expect(waited).toBeGreaterThanOrEqual(bound);
          expect(waited).toBeLessThan(bound + 5_000);
          expect(error?.message).toMatch(/^Another migration is running \(pid \d+, application "prisma-migrate-deploy", user \S+, since /);
          expect(error?.message).toContain(`pid ${pid}`);
          if (lockWaitMs) expect(error?.message).toMatch(/since \d{4}-\d\d-\d\dT[\d:.]+Z\)/);
          else expect(error?.message).toMatch(/since an unknown time \(.*GRANT pg_read_all_stats/);
          expect(error?.remedy).toContain(`pg_terminate_backend(${pid})`);
          expect(await ledgerRows(db.adminUrl)).toEqual([]);
        }
      } finally {
        await holder.end();
      }
      const again = await deploy(tw.worker, { migrationsDir: exampleMigrations });
      witness(again);
      expect(again.exitCode).toBe(0);
      expect(await fingerprint(db.adminUrl)).toBe(clean);
      await db.drop();
    },
  );

  cell(
    "Concurrency · our deploy and Prisma 6.19's own `prisma migrate deploy` at once",
    {
      target,
      file: FILE,
      invariant: 'they exclude each other on the advisory lock; a row Prisma is still running is waited for, not called failed; each migration once',
      timeout: 180_000,
    },
    async ({ ran }) => {
      if (!prismaAvailable()) throw new Error('the Prisma 6.19.3 CLI is not installed (devDependency prisma)');
      // The example app plus a migration that takes 3 s, so Prisma's run can be caught mid-way.
      const dir = await copyOfExample();
      await addMigration(dir, '20250116000000_slow_backfill', 'SELECT pg_sleep(3);\n');
      let reference: string | undefined;
      for (const round of ['together', 'while Prisma runs a migration'] as const) {
        const db = await server.database();
        const tw = await workerFor(db.url);
        const prisma = prismaMigrateDeploy(db.url, dir);
        if (round !== 'together') {
          // Prisma holds the lock and its row for the slow migration is written, not finished.
          await waitFor('Prisma to be running the slow migration', async () =>
            (await ledgerRows(db.adminUrl)).some((r) => r.migration_name === '20250116000000_slow_backfill' && r.finished_at === null), 60_000);
        }
        const [first, theirs] = await Promise.all([
          deploy(tw.worker, { migrationsDir: dir, apply: { lockWaitMs: 60_000 } }).then(
            (report) => ({ report, error: null }),
            (error: unknown) => ({ report: null, error: error as MigrateError }),
          ),
          prisma,
        ]);
        witness(first.report ?? first.error);
        witness(theirs);
        ran(2);
        // Prisma waits for the lock blocked in pg_advisory_lock: CREATE INDEX CONCURRENTLY would
        // deadlock with such a session, so our deploy lets it go first (it stops before the
        // CONCURRENTLY file and says so), or Prisma gives up after its own 10 s lock timeout.
        const stopped = first.error?.message ?? first.report?.problems.map((p) => p.message).join(' ') ?? '';
        // Together: our CLI starts faster than Prisma's, takes the lock, and Prisma blocks on it
        // during the 3 s migration, before the CONCURRENTLY file.
        if (round === 'together') expect(first.report?.exitCode ?? 2, 'our deploy should have let the blocked Prisma go first').toBe(2);
        if (first.error || first.report?.exitCode !== 0) {
          expect(round, stopped).toBe('together');
          expect(first.error?.code ?? first.report?.problems[0]?.code).toBe(ErrorCode.LockTimeout);
          expect(stopped).toMatch(/is blocked waiting for the migration lock, and 20250203110000_index_orders_customer runs a statement outside a transaction \(CONCURRENTLY\) that would deadlock/);
        }
        if (theirs.exitCode !== 0) {
          expect(round).toBe('together');
          expect(theirs.stdout + theirs.stderr).toMatch(/advisory lock/i);
        }
        // Whatever happened, a plain re-run finishes the job and applies nothing twice.
        const again = await deploy(tw.worker, { migrationsDir: dir });
        witness(again);
        expect(again.exitCode, JSON.stringify(again.problems)).toBe(0);
        const rows = await ledgerRows(db.adminUrl);
        expect(rows).toHaveLength(7);
        expect(new Set(rows.map((r) => r.migration_name)).size).toBe(7);
        expect(rows.every((r) => r.finished_at !== null && r.rolled_back_at === null)).toBe(true);
        const print = await fingerprint(db.adminUrl);
        reference ??= print;
        expect(print).toBe(reference);
        await db.drop();
      }
    },
  );
});
