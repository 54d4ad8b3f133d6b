/**
 * Deploy's verification reads the ledger from the last apply answer (`ledgerAfter`, read by the
 * worker once the batch released the lock) instead of an Invoke of its own, and falls back to
 * that Invoke when the answer leaves the ledger out (larger than LEDGER_AFTER_MAX_BYTES).
 */
import { describe, expect, it } from 'vitest';
import { LEDGER_AFTER_MAX_BYTES } from '../../lambda/contract/index.js';
import { deploy } from '../../scripts/commands/deploy.js';
import { databaseTargets, prismaLedger, query } from '../helpers/db.js';
import { addMigration, migrationsDir } from '../helpers/migrations.js';
import { useFreshWorker } from '../helpers/test-worker.js';

describe.each(databaseTargets())('verification after deploy on the $name PostgreSQL', ({ adminUrl }) => {
  const { db, tw } = useFreshWorker(adminUrl);

  it('verifies from the apply answer: one ledger read before, none after', async () => {
    const dir = await migrationsDir({
      '001_base': 'CREATE TABLE a (id int primary key);\n',
      '002_more': 'CREATE TABLE b (id int primary key);\n',
    });
    const report = await deploy(tw.worker, { migrationsDir: dir });
    expect(report.exitCode).toBe(0);
    expect(report.verified).toBe(true);
    expect(report.summaryAfter).toContain('2 applied');
    expect(report.invocations).toBe(2);
  });

  it('the answer holds the ledger as the batch left it: a file deleting a row fails verification', async () => {
    // A file that removes another migration's ledger row: only a ledger read after the batch sees it.
    const dir = await migrationsDir({
      '001_base': 'CREATE TABLE a (id int primary key);\n',
      '002_forget': `DELETE FROM "_prisma_migrations" WHERE migration_name = '001_base';\n`,
    });
    const report = await deploy(tw.worker, { migrationsDir: dir });
    expect(report.invocations).toBe(2);
    expect(report.results.map((r) => r.status)).toEqual(['applied', 'applied']);
    expect(report.verified).toBe(false);
    expect(report.exitCode).toBe(2);
    expect(report.problems.map((p) => [p.code, p.migration])).toEqual([['VPCM_VERIFY_FAILED', '001_base']]);
    // Read after the batch, not before it: 002's row is there, only 001's is missing.
    expect(report.summaryAfter).toMatch(/^2 local, 1 applied, 1 pending/);
    expect((await prismaLedger(db.url)).map((r) => r.migration_name)).toEqual(['002_forget']);
  });

  it('a ledger too large for the answer is read with an Invoke of its own', async () => {
    const dir = await migrationsDir({ '001_base': 'CREATE TABLE a (id int primary key);\n' });
    expect((await deploy(tw.worker, { migrationsDir: dir })).exitCode).toBe(0);
    // Rolled-back attempts of 002 with long logs (Prisma ignores them): the ledger's JSON outgrows
    // the cap.
    const logs = 'x'.repeat(4000);
    const rows = Math.ceil((LEDGER_AFTER_MAX_BYTES * 1.2) / logs.length);
    await query(
      db.url,
      `INSERT INTO "_prisma_migrations"
              (id, checksum, migration_name, logs, rolled_back_at, started_at, applied_steps_count)
       SELECT gen_random_uuid()::text, repeat('0', 64), '002_next', $1, now(), now(), 0 FROM generate_series(1, $2)`,
      [logs, rows],
    );
    await addMigration(dir, '002_next', 'CREATE TABLE b (id int primary key);\n');
    const before = tw.worker.invocations;
    const report = await deploy(tw.worker, { migrationsDir: dir });
    expect(report.exitCode).toBe(0);
    expect(report.results.map((r) => [r.name, r.status])).toEqual([['002_next', 'applied']]);
    expect(report.verified).toBe(true);
    expect(report.invocations - before).toBe(3);
  });
});
