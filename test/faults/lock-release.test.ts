/**
 * Matrix: a migration that releases the migration lock (issue 24, point 1). Folder 002 runs
 * `DISCARD ALL` or `SELECT pg_advisory_unlock_all()`, both of which drop every session-level
 * advisory lock of the session that runs them; 003 increments a counter. Deploy A is stopped in
 * 003 by a gate the test holds (its transaction open, 001 and 002 committed), then deploy B
 * starts: with the lock on the migration's session, B found the lock free and applied 003 a
 * second time (n = 2, two finished 003 rows). The worker now holds the lock on a session of its
 * own (lambda/lock.ts), so B refuses (`--lock-wait 0`) or waits and then finds 003 recorded.
 *
 * Ordered by observed state only: A is at the gate (pg_locks), then B has ended, is polling for
 * the migration lock (only when it may wait), or (the old failure) is at the gate too; only then
 * does the gate open.
 */
import { describe, expect } from 'vitest';
import { ErrorCode, type MigrateError } from '../../lambda/contract/index.js';
import { deploy, type DeployReport } from '../../scripts/commands/deploy.js';
import { databaseTargets } from '../helpers/db.js';
import { ledgerRows, migrationLockHolder, migrationLockPollers, query, sqlGate, waitFor } from '../helpers/fault-db.js';
import { useFaultServer } from '../helpers/fault-fixture.js';
import { cell } from '../helpers/fault-matrix.js';
import { witness } from '../helpers/fault-secrets.js';
import { migrationsDir } from '../helpers/migrations.js';

const FILE = 'test/faults/lock-release.test.ts';
const ROUNDS = 10;
const GATE = 24;

const VARIANTS = {
  'DISCARD ALL': 'DISCARD ALL;\n',
  'pg_advisory_unlock_all()': 'SELECT pg_advisory_unlock_all();\n',
} as const;

interface Outcome {
  report: DeployReport | null;
  error: MigrateError | null;
}

/** A deploy running in the background: `settled` turns true once it has answered. */
function started(run: Promise<DeployReport>): { settled: boolean; outcome: Promise<Outcome> } {
  const s = {
    settled: false,
    outcome: run.then(
      (report): Outcome => ({ report, error: null }),
      (error: unknown): Outcome => ({ report: null, error: error as MigrateError }),
    ),
  };
  void s.outcome.then(() => void (s.settled = true));
  return s;
}

describe.each(databaseTargets())('a migration that releases the lock, on the $name PostgreSQL', ({
  name: target,
  adminUrl,
}) => {
  const { server, worker: workerFor } = useFaultServer(adminUrl, FILE);

  for (const [variant, release] of Object.entries(VARIANTS)) {
    cell(
      `Lock release · 002 runs ${variant} while a second deploy starts`,
      {
        target,
        file: FILE,
        invariant:
          `${ROUNDS} rounds: A keeps the lock through 003 and ` +
          `exits 0; B (--lock-wait 0, or waiting) refuses with ` +
          `VPCM_LOCK_TIMEOUT or then finds nothing to do; one ` +
          `finished 003 row, n = 1`,
        timeout: 300_000,
      },
      async ({ ran }) => {
        for (let round = 0; round < ROUNDS; round++) {
          const db = await server.database();
          const tw = await workerFor(db.url);
          const gate = await sqlGate(db.adminUrl, GATE);
          try {
            const dir = await migrationsDir({
              '001': 'create table counter(n int);\ninsert into counter values (0);\n',
              '002': release,
              '003': `${gate.sql};\nupdate counter set n = n + 1;\n`,
            });
            // Lint is off: the session-reset rule reports 002, which is the point here.
            const a = started(deploy(tw.worker, { migrationsDir: dir, lint: false }));
            await waitFor(
              'deploy A to stop at the gate in 003',
              async () => (await gate.waiters()).length > 0 || a.settled,
              60_000,
            );
            expect(a.settled, 'deploy A ended before reaching the gate').toBe(false);
            // Who holds the migration lock while A is in 003 (after 002 released its session's locks).
            const holderDuring003 = await migrationLockHolder(db.adminUrl);

            // Even rounds: B refuses at once; odd rounds: B waits for the lock.
            const lockWaitMs = round % 2 === 0 ? 0 : 120_000;
            const b = started(deploy(tw.another(), { migrationsDir: dir, lint: false, apply: { lockWaitMs } }));
            // With --lock-wait 0, B must have answered before the gate opens: once B has tried the
            // lock it shows as a poller, and opening the gate then lets A release the lock between
            // B's failed try and its refusal, which B (rightly) takes instead of refusing.
            await waitFor(
              lockWaitMs === 0
                ? 'deploy B to refuse, or to reach the gate as well'
                : 'deploy B to refuse, to poll for the migration lock, or to reach the gate as well',
              async () =>
                b.settled ||
                (lockWaitMs > 0 && (await migrationLockPollers(db.adminUrl)).length > 0) ||
                (await gate.waiters()).length > 1,
              60_000,
            );
            await gate.open();
            const [ra, rb] = await Promise.all([a.outcome, b.outcome]);
            witness(ra.report ?? ra.error);
            witness(rb.report ?? rb.error);
            ran();

            const rows = (await ledgerRows(db.adminUrl)).filter((r) => r.migration_name === '003');
            const counter = await query<{ n: number }>(db.adminUrl, 'SELECT n FROM counter');
            const outcomes = {
              a: ra.error?.message ?? ra.report?.problems,
              b: rb.error?.message ?? rb.report?.problems,
            };
            const context = `round ${round}, B --lock-wait ${lockWaitMs}: ${JSON.stringify(outcomes)}`;
            expect(
              rows.filter((r) => r.finished_at !== null),
              context,
            ).toHaveLength(1);
            expect(counter, context).toEqual([{ n: 1 }]);
            expect(holderDuring003?.application, `${context}: the migration lock was not held while A ran 003`).toMatch(
              /^vpc-migrate apply lock/,
            );
            expect(ra.error, context).toBeNull();
            expect(ra.report?.exitCode, context).toBe(0);
            expect(
              ra.report?.results.map((r) => [r.name, r.status]),
              context,
            ).toEqual([
              ['001', 'applied'],
              ['002', 'applied'],
              ['003', 'applied'],
            ]);
            if (lockWaitMs === 0) {
              expect(rb.error?.code, context).toBe(ErrorCode.LockTimeout);
              expect(rb.error?.message, context).toContain(`pid ${holderDuring003?.pid}`);
            } else {
              expect(rb.error, context).toBeNull();
              expect(rb.report?.exitCode, context).toBe(0);
              expect(
                rb.report?.results.filter((r) => r.status === 'applied' || r.status === 'reconciled'),
                context,
              ).toEqual([]);
            }
          } finally {
            await gate.open();
          }
          await db.drop();
        }
      },
    );
  }
});
