/**
 * The ledger guard's first half (lambda/ledger-guard.ts): a migration whose lock session ended
 * while the file ran is not recorded, and what the file did is rolled back. The file is held at
 * a gate (its transaction open), the lock session is terminated, then the gate opens: the
 * guarded write must refuse. Ordered by observed state (the gate's waiters, pg_stat_activity).
 */
import { describe, expect, it } from 'vitest';
import { ErrorCode, type MigrateError } from '../../lambda/contract/index.js';
import { deploy } from '../../scripts/commands/deploy.js';
import { databaseTargets, prismaLedger, query } from '../helpers/db.js';
import { migrationLockHolder, sqlGate, waitFor } from '../helpers/fault-db.js';
import { addMigration, migrationsDir } from '../helpers/migrations.js';
import { useFreshWorker } from '../helpers/test-worker.js';

describe.each(databaseTargets())('the lock session ends while a file runs, on the $name PostgreSQL', ({ adminUrl }) => {
  const env = useFreshWorker(adminUrl);

  it('the file is rolled back and not recorded; the deploy stops with VPCM_LOCK_LOST', async () => {
    const dir = await migrationsDir({ '001_table': 'CREATE TABLE t (id int);\n' });
    expect((await deploy(env.tw.worker, { migrationsDir: dir })).exitCode).toBe(0);
    const gate = await sqlGate(env.db.url, 26);
    try {
      await addMigration(dir, '002_held', `CREATE TABLE u (id int);\n${gate.sql};\nINSERT INTO t VALUES (1);\n`);
      await addMigration(dir, '003_after', 'INSERT INTO t VALUES (3);\n');
      // Settled into a value at once: the deploy may fail while the test is still opening the gate,
      // and a rejection nobody is waiting for yet is an unhandled one.
      const running = deploy(env.tw.worker, { migrationsDir: dir }).then(
        () => null,
        (e: unknown) => e as MigrateError,
      );
      await waitFor('002 to stop at the gate', async () => (await gate.waiters()).length > 0);
      const holder = await migrationLockHolder(env.db.url);
      expect(holder?.application).toMatch(/^vpc-migrate apply lock/);
      await query(env.db.url, 'SELECT pg_terminate_backend($1)', [holder!.pid]);
      await waitFor(
        'the lock session to end',
        async () =>
          (await query(env.db.url, 'SELECT 1 FROM pg_stat_activity WHERE pid = $1', [holder!.pid])).length === 0,
      );
      await gate.open();
      const error = await running;
      expect(error?.code).toBe(ErrorCode.LockLost);
      expect(error?.message).toMatch(/migration lock was lost before 002_held/);
      const rows = await prismaLedger(env.db.url);
      expect(rows.filter((r) => r.migration_name !== '001_table')).toEqual([]);
      expect(await query(env.db.url, `SELECT to_regclass('u') AS u, (SELECT count(*)::int FROM t) AS n`)).toEqual([
        { u: null, n: 0 },
      ]);
    } finally {
      await gate.open();
    }
  });
});
