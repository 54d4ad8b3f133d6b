/**
 * Matrix: concurrency. 2 and 8 deploys of the example app at once against one database (each
 * through its own SDK client: separate invocations, separate connections), several rounds; and a
 * `prisma migrate deploy`-style session holding Prisma's advisory lock: deploy waits for a bounded
 * time, then refuses naming the holder (pid, application, since), and applies once it is gone.
 */
import { beforeAll, describe, expect } from 'vitest';
import { ErrorCode, type MigrateError, MIGRATION_LOCK_KEY } from '../../lambda/contract/index.js';
import { deploy, type DeployReport } from '../../scripts/commands/deploy.js';
import type { Worker } from '../../scripts/core/worker-client.js';
import { status } from '../../scripts/commands/status.js';
import { databaseTargets } from '../helpers/db.js';
import {
  fingerprint,
  gateStatement,
  ledgerRows,
  migrationLockHolder,
  migrationLockWaiters,
  session,
  sqlGate,
  waitFor,
} from '../helpers/fault-db.js';
import { useFaultServer } from '../helpers/fault-fixture.js';
import { cell } from '../helpers/fault-matrix.js';
import { witness } from '../helpers/fault-secrets.js';
import { addMigration, copyOfExample, exampleMigrations } from '../helpers/migrations.js';
import { prismaAvailable, prismaMigrateDeploy, type PrismaRun } from '../helpers/prisma-judge.js';

const FILE = 'test/faults/concurrency.test.ts';
const ROUNDS = 3;
/** The gate (fault-db.ts sqlGate) the Prisma cell's added migration passes. */
const GATE = 16;

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
      {
        target,
        file: FILE,
        invariant: 'each migration applied exactly once, one ledger row each, schema+data of a single deploy',
        timeout: 300_000,
      },
      async ({ ran }) => {
        for (let round = 0; round < ROUNDS; round++) {
          const db = await server.database();
          const tw = await workerFor(db.url);
          const clients = [tw.worker, ...Array.from({ length: n - 1 }, () => tw.another())];
          const outcomes = await Promise.all(
            clients.map((w) =>
              deploy(w, { migrationsDir: exampleMigrations }).then(
                (r) => ({ report: r, error: null }),
                (e: unknown) => ({ report: null, error: e as MigrateError }),
              ),
            ),
          );
          ran(n);
          for (const o of outcomes) witness(o.report ?? o.error);
          // Every deploy either finished (exit 0) or refused clearly on the lock; none failed otherwise.
          for (const o of outcomes) {
            if (o.error) expect(o.error.code).toBe(ErrorCode.LockTimeout);
            else expect(o.report?.exitCode, JSON.stringify(o.report?.problems)).toBe(0);
          }
          const applied = outcomes.flatMap(
            (o) => o.report?.results.filter((r) => r.status === 'applied').map((r) => r.name) ?? [],
          );
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
      invariant:
        'deploy waits lockWait (default 10 s), refuses naming ' +
        'pid/application/since, applies nothing; re-run after ' +
        'release applies',
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
          const error = await deploy(tw.worker, {
            migrationsDir: exampleMigrations,
            ...(lockWaitMs ? { apply: { lockWaitMs } } : {}),
          }).then(
            () => null,
            (e: unknown) => e as MigrateError,
          );
          witness(error);
          ran();
          const bound = lockWaitMs ?? 10_000;
          expect(error?.code).toBe(ErrorCode.LockTimeout);
          // The wait as the worker measured it (no clock of the test's: a loaded machine only
          // makes it longer): the whole budget, not a refusal at the first try.
          const waitedS = Number(/waited (\d+) s for the migration lock/.exec(error?.message ?? '')?.[1]);
          expect(waitedS, error?.message).toBeGreaterThanOrEqual(bound / 1000);
          expect(error?.message).toMatch(
            /^Another migration is running \(pid \d+, application "prisma-migrate-deploy", user \S+, since /,
          );
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
      invariant:
        'they exclude each other on the advisory lock, in either ' +
        'order (started by observed state); a row Prisma is ' +
        'still running is waited for, not called failed; each ' +
        'migration once',
      timeout: 180_000,
    },
    async ({ ran }) => {
      if (!prismaAvailable()) throw new Error('the Prisma 6.19.3 CLI is not installed (devDependency prisma)');
      // The example app plus a migration that stops at a gate the test holds, so whichever side
      // starts first can be caught inside it: the other starts only once that is observed.
      const dir = await copyOfExample();
      await addMigration(dir, '20250116000000_slow_backfill', `${gateStatement(GATE)};\n`);
      let reference: string | undefined;
      for (const round of ['ours first', 'Prisma first'] as const) {
        const db = await server.database();
        const tw = await workerFor(db.url);
        const gate = await sqlGate(db.adminUrl, GATE);
        // Our deploy's ledger reads, counted: in 'Prisma first' the gate opens once ours has read
        // the ledger while Prisma's row for the gated migration is written and unfinished.
        let reads = 0;
        const ours = Object.create(tw.worker, {
          ledger: {
            value: async (...args: Parameters<Worker['ledger']>) =>
              tw.worker.ledger(...args).finally(() => void reads++),
          },
        }) as Worker;
        let first: { report: DeployReport | null; error: MigrateError | null };
        let theirs: PrismaRun;
        try {
          const runOurs = () => {
            const run = {
              settled: false,
              outcome: deploy(ours, { migrationsDir: dir, apply: { lockWaitMs: 60_000 } }).then(
                (report) => ({ report, error: null }),
                (error: unknown) => ({ report: null, error: error as MigrateError }),
              ),
            };
            void run.outcome.then(() => void (run.settled = true));
            return run;
          };
          const runTheirs = () => {
            const run = { settled: false, outcome: prismaMigrateDeploy(db.url, dir) };
            void run.outcome.then(
              () => void (run.settled = true),
              () => void (run.settled = true),
            );
            return run;
          };
          const atGate = async (whose: RegExp) =>
            (await gate.waiters()).length > 0 &&
            whose.test((await migrationLockHolder(db.adminUrl))?.application ?? '');
          if (round === 'ours first') {
            const o = runOurs();
            await waitFor(
              'our deploy to hold the lock and stop at the gate',
              async () => o.settled || (await atGate(/^vpc-migrate apply lock/)),
              60_000,
            );
            expect(o.settled, 'our deploy ended before the gate').toBe(false);
            const t = runTheirs();
            // Prisma waits for the lock blocked in pg_advisory_lock(72707369).
            await waitFor(
              'Prisma to block on the migration lock',
              async () => t.settled || (await migrationLockWaiters(db.adminUrl)).length > 0,
              60_000,
            );
            await gate.open();
            [first, theirs] = await Promise.all([o.outcome, t.outcome]);
          } else {
            const t = runTheirs();
            await waitFor(
              'Prisma to hold the lock, with its row for the gated migration written, and stop at the gate',
              async () =>
                t.settled ||
                ((await atGate(/^(?!vpc-migrate)/)) &&
                  (await ledgerRows(db.adminUrl)).some(
                    (r) => r.migration_name === '20250116000000_slow_backfill' && r.finished_at === null,
                  )),
              60_000,
            );
            expect(t.settled, 'Prisma ended before the gate').toBe(false);
            const o = runOurs();
            await waitFor(
              "our deploy to read the ledger with Prisma's row unfinished",
              async () => o.settled || reads > 0,
              60_000,
            );
            await gate.open();
            [first, theirs] = await Promise.all([o.outcome, t.outcome]);
          }
        } finally {
          await gate.open();
        }
        witness(first.report ?? first.error);
        witness(theirs);
        ran(2);
        const stopped = first.error?.message ?? first.report?.problems.map((p) => p.message).join(' ') ?? '';
        if (round === 'ours first') {
          // Prisma is blocked on our lock when ours reaches the CONCURRENTLY file, which would
          // deadlock with such a session: ours stops before it and lets Prisma go first.
          expect(first.report?.exitCode, `our deploy should have let the blocked Prisma go first: ${stopped}`).toBe(2);
          expect(first.report?.problems[0]?.code).toBe(ErrorCode.LockTimeout);
          expect(stopped).toMatch(
            /is blocked waiting for the migration lock, and 20250203110000_index_orders_customer/,
          );
          expect(stopped).toMatch(/runs a statement outside a transaction \(CONCURRENTLY\) that would deadlock/);
          // Prisma then applies the rest, or (its own 10 s lock timeout passed first) gives up on the lock.
          if (theirs.exitCode !== 0) expect(theirs.stdout + theirs.stderr).toMatch(/advisory lock/i);
        } else {
          // Ours waited for Prisma's unfinished row instead of calling it failed (P3009).
          expect(first.error, stopped).toBeNull();
          expect(first.report?.exitCode, stopped).toBe(0);
          expect(theirs.exitCode, theirs.stdout + theirs.stderr).toBe(0);
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
