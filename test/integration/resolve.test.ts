/**
 * `resolve` end to end on real PostgreSQL through the SDK path, with Prisma 6.19.3's own CLI
 * (test/helpers/prisma-judge.ts) judging the rows we write: `migrate status` and
 * `migrate deploy` must accept them, and `--applied` must write what Prisma's own
 * `resolve --applied` writes. (`resolve --rolled-back` cannot run with Prisma here, docs/design.md §6;
 * Prisma's status and deploy judge its rows instead.)
 */
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { deploy } from '../../scripts/commands/deploy.js';
import { renderResolve } from '../../scripts/render/resolve.js';
import { resolve } from '../../scripts/commands/resolve.js';
import { status } from '../../scripts/commands/status.js';
import { runCli, targetFlags } from '../helpers/cli.js';
import { databaseTargets, freshDatabase, withClient, type PrismaLedgerRow, prismaLedger } from '../helpers/db.js';
import { migrationsDir } from '../helpers/migrations.js';
import { expectPrismaAgrees, expectPrismaUpToDate, shown } from '../helpers/prisma-agrees.js';
import {
  prismaAvailable,
  prismaMigrateDeploy,
  prismaMigrateStatus,
  prismaResolveApplied,
} from '../helpers/prisma-judge.js';
import { startTestWorker, useFreshWorker } from '../helpers/test-worker.js';
import { migrateErrorOf } from '../helpers/errors.js';

const rowsOf = async (url: string, name: string) => (await prismaLedger(url)).filter((r) => r.migration_name === name);

/** A row's shape without ids and instants: what Prisma's own resolve must also produce. */
function shape(r: PrismaLedgerRow) {
  return {
    checksum: r.checksum,
    migration_name: r.migration_name,
    logs: r.logs === null ? null : r.logs === '' ? '' : 'error log',
    finished: r.finished_at !== null,
    rolledBack: r.rolled_back_at !== null,
    startedEqualsFinished: r.finished_at !== null && r.finished_at.getTime() === r.started_at.getTime(),
    applied_steps_count: r.applied_steps_count,
  };
}

const BROKEN = { '001_ok': 'CREATE TABLE a (id int);\n', '002_broken': 'CREATE TABLE b (id int);\nSELECT 1/0;\n' };

describe.each(databaseTargets())('resolve on the $name PostgreSQL', ({ adminUrl }) => {
  const { db, tw } = useFreshWorker(adminUrl);

  it.skipIf(!prismaAvailable())(
    "--applied writes Prisma's rows, which Prisma's status and deploy accept; refuses P3008 and P3017",
    async () => {
      const dir = await migrationsDir(BROKEN);
      expect((await deploy(tw.worker, { migrationsDir: dir })).results.map((r) => r.status)).toEqual([
        'applied',
        'failed',
      ]);
      const failed = await rowsOf(db.url, '002_broken');
      // The twin: the same state, resolved by Prisma's own CLI.
      const twin = await freshDatabase(adminUrl);
      const twinWorker = await startTestWorker(twin.url);
      try {
        await deploy(twinWorker.worker, { migrationsDir: dir });
        const prisma = await prismaResolveApplied(twin.url, dir, '002_broken');
        expect(prisma.exitCode, shown(prisma)).toBe(0);

        const report = await resolve(tw.worker, { migrationsDir: dir, name: '002_broken', to: 'applied' });

        const ours = await rowsOf(db.url, '002_broken');
        const theirs = await rowsOf(twin.url, '002_broken');
        expect(ours.map(shape)).toEqual(theirs.map(shape));
        const sha = createHash('sha256')
          .update(await readFile(path.join(dir, '002_broken', 'migration.sql')))
          .digest('hex');
        expect(ours.map(shape)).toEqual([
          {
            checksum: sha,
            migration_name: '002_broken',
            logs: 'error log',
            finished: false,
            rolledBack: true,
            startedEqualsFinished: false,
            applied_steps_count: 0,
          },
          {
            checksum: sha,
            migration_name: '002_broken',
            logs: '',
            finished: true,
            rolledBack: false,
            startedEqualsFinished: true,
            applied_steps_count: 0,
          },
        ]);
        expect(ours[0]?.id).toBe(failed[0]?.id);
        expect(report.result.rolledBackIds).toEqual([failed[0]?.id]);
        expect(report.result.inserted?.id).toBe(ours[1]?.id);
        expect(renderResolve(report)).toContain('Migration 002_broken marked as applied.');
      } finally {
        await twinWorker.close();
        await twin.drop();
      }

      await expectPrismaAgrees(db.url, dir);
      expect((await status(tw.worker, { migrationsDir: dir })).exitCode).toBe(0);

      const again = await migrateErrorOf(resolve(tw.worker, { migrationsDir: dir, name: '002_broken', to: 'applied' }));
      expect(again.code).toBe('VPCM_RESOLVE_ALREADY_APPLIED');
      expect(again.message).toContain('P3008');
      expect(again.details?.prismaCode).toBe('P3008');
      const missing = await migrateErrorOf(
        resolve(tw.worker, { migrationsDir: dir, name: '003_nowhere', to: 'applied' }),
      );
      expect(missing.code).toBe('VPCM_RESOLVE_FOLDER_MISSING');
      expect(missing.message).toContain('P3017');
      const cli = await runCli(['resolve', ...targetFlags(tw), '--migrations', dir, '--applied', '002_broken']);
      expect(cli.exitCode).toBe(2);
      expect(cli.stderr).toContain('P3008: The migration `002_broken` is already recorded as applied in the database');
      expect(cli.stderr).toContain('VPCM_RESOLVE_ALREADY_APPLIED');
      expect((await rowsOf(db.url, '002_broken')).length).toBe(2);
    },
  );

  it.skipIf(!prismaAvailable())(
    "--rolled-back marks the failed row; Prisma's deploy " +
      'retries the fixed file and its status accepts the result; ' +
      'refuses P3011 and P3012',
    async () => {
      const dir = await migrationsDir(BROKEN);
      await deploy(tw.worker, { migrationsDir: dir });
      const before = await prismaMigrateStatus(db.url, dir);
      expect(before.exitCode, shown(before)).toBe(1);
      expect(before.stderr).toContain('Following migration have failed:\n002_broken\n');

      const cli = await runCli(['resolve', ...targetFlags(tw), '--migrations', dir, '--rolled-back', '002_broken']);

      expect(cli.exitCode, cli.stdout + cli.stderr).toBe(0);
      expect(cli.stdout).toContain('Migration 002_broken marked as rolled back.');
      const rows = await rowsOf(db.url, '002_broken');
      expect(rows.map(shape)).toEqual([
        {
          checksum: rows[0]?.checksum,
          migration_name: '002_broken',
          logs: 'error log',
          finished: false,
          rolledBack: true,
          startedEqualsFinished: false,
          applied_steps_count: 0,
        },
      ]);

      await writeFile(path.join(dir, '002_broken', 'migration.sql'), 'CREATE TABLE b (id int);\n');
      // Our status says it is pending again. (Prisma 6.19's `migrate status` counts a rolled-back
      // row as history and already says "up to date" here; its deploy is the judge that matters.)
      const ours = await status(tw.worker, { migrationsDir: dir });
      expect(ours.exitCode).toBe(1);
      expect(ours.plan.pending).toEqual(['002_broken']);
      const retried = await prismaMigrateDeploy(db.url, dir);
      expect(retried.exitCode, shown(retried)).toBe(0);
      expect(retried.stdout).toContain('└─ 002_broken/');
      await expectPrismaUpToDate(db.url, dir);
      expect((await status(tw.worker, { migrationsDir: dir })).exitCode).toBe(0);

      // Prisma's rule: only "every row finished" refuses; a name whose failed rows are already
      // rolled back is a no-op.
      const noop = await resolve(tw.worker, { migrationsDir: dir, name: '002_broken', to: 'rolled-back' });
      expect(noop.result.rolledBackIds).toEqual([]);
      const applied = await migrateErrorOf(
        resolve(tw.worker, { migrationsDir: dir, name: '001_ok', to: 'rolled-back' }),
      );
      expect(applied.code).toBe('VPCM_RESOLVE_NOT_FAILED');
      expect(applied.message).toContain(
        'P3012: Migration `001_ok` cannot be rolled back because it is not in a failed state.',
      );
      const never = await migrateErrorOf(
        resolve(tw.worker, { migrationsDir: dir, name: '003_never', to: 'rolled-back' }),
      );
      expect(never.code).toBe('VPCM_RESOLVE_NEVER_APPLIED');
      expect(never.message).toContain('P3011');
      const json = await runCli([
        'resolve',
        ...targetFlags(tw),
        '--migrations',
        dir,
        '--rolled-back',
        '003_never',
        '--json',
      ]);
      expect(json.exitCode).toBe(2);
      expect(JSON.parse(json.stdout)).toMatchObject({
        ok: false,
        error: { code: 'VPCM_RESOLVE_NEVER_APPLIED', details: { prismaCode: 'P3011' } },
      });
    },
  );

  it(
    'works under the migration lock, creates the ledger ' +
      'for --applied as Prisma does, and refuses --rolled-back ' +
      'without one',
    async () => {
      const dir = await migrationsDir({ '001_ok': 'CREATE TABLE a (id int);\n' });
      const noLedger = await migrateErrorOf(
        resolve(tw.worker, { migrationsDir: dir, name: '001_ok', to: 'rolled-back' }),
      );
      expect(noLedger.code).toBe('VPCM_RESOLVE_NEVER_APPLIED');
      expect(noLedger.message).toContain('there is no _prisma_migrations table');

      const other = new pg.Client({ connectionString: db.url });
      await other.connect();
      try {
        await other.query('SELECT pg_advisory_lock(72707369)');
        const locked = await migrateErrorOf(
          resolve(tw.worker, { migrationsDir: dir, name: '001_ok', to: 'applied', lockWaitMs: 300 }),
        );
        expect(locked.code).toBe('VPCM_LOCK_TIMEOUT');
        expect(
          await withClient(
            db.url,
            async (c) => (await c.query(`SELECT to_regclass('"_prisma_migrations"') AS t`)).rows,
          ),
        ).toEqual([{ t: null }]);
        await other.query('SELECT pg_advisory_unlock(72707369)');
      } finally {
        await other.end();
      }

      const report = await resolve(tw.worker, { migrationsDir: dir, name: '001_ok', to: 'applied' });
      expect(report.result.ledgerCreated).toBe(true);
      expect(renderResolve(report)).toContain('it was created (as Prisma does)');
      const st = await status(tw.worker, { migrationsDir: dir });
      expect(st.exitCode).toBe(0);
      if (prismaAvailable()) {
        const judged = await prismaMigrateStatus(db.url, dir);
        expect(judged.exitCode, shown(judged)).toBe(0);
      }
      const usage = await runCli([
        'resolve',
        ...targetFlags(tw),
        '--migrations',
        dir,
        '--applied',
        'x',
        '--rolled-back',
        'y',
      ]);
      expect(usage.exitCode).toBe(2);
      expect(usage.stderr).toContain('Pass exactly one of --applied NAME or --rolled-back NAME.');
    },
  );
});
