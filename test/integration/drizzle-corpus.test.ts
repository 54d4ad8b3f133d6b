/**
 * Issue 7, acceptance 1 and 2, on a real Drizzle history used as TEST DATA
 * (../shared/corpora/Dokploy__dokploy: 186 journal entries, an orphan .sql, a stray
 * `_journal.json.backup`). Skipped when that folder is absent; it is present in CI.
 * 1. `pnpm migrate:remote --local --migrations DIR` (DATABASE_URL at an empty database) applies
 *    every entry; drizzle-orm 0.45.4's own `migrate()` then applies nothing.
 * 2. A database drizzle-orm's migrator built is up to date for `status`.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { deploy } from '../../scripts/commands/deploy.js';
import { status } from '../../scripts/commands/status.js';
import { embeddedTarget, useFreshDatabase } from '../helpers/db.js';
import { drizzleMigrate, drizzleRows } from '../helpers/drizzle.js';
import { corporaDir, repoRoot } from '../helpers/migrations.js';
import { startTestWorker } from '../helpers/test-worker.js';

const dir = path.join(corporaDir, 'Dokploy__dokploy', 'migrations');
const COUNT = 186;
const embedded = embeddedTarget();

function pnpm(args: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      'pnpm',
      ['-s', ...args],
      {
        cwd: repoRoot,
        env: { ...process.env, VPC_MIGRATE_FUNCTION: '', ...env },
        timeout: 300_000,
        maxBuffer: 64 * 1024 * 1024,
      },
      (error, stdout, stderr) => {
        resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
      },
    );
  });
}

describe.skipIf(!existsSync(dir))('Dokploy history (Drizzle corpus as test data)', () => {
  const dbs = [
    useFreshDatabase(embedded.adminUrl, { per: 'describe' }),
    useFreshDatabase(embedded.adminUrl, { per: 'describe' }),
  ];

  it(`pnpm migrate:remote --local applies all ${COUNT} entries ` +
    `with 0 failures; drizzle-orm's migrate() then applies ` +
    `nothing`, async () => {
    const url = dbs[0]!.url;
    const run = await pnpm(['migrate:remote', '--local', '--migrations', dir, '--json'], { DATABASE_URL: url });

    expect(run.stderr).not.toContain('VPCM_');
    expect(run.code).toBe(0);
    const report = JSON.parse(run.stdout) as Awaited<ReturnType<typeof deploy>>;
    expect(report.format).toBe('drizzle');
    expect(report.summaryBefore).toBe(`Migration state: 0 applied, ${COUNT} expected, ${COUNT} pending`);
    expect(report.results).toHaveLength(COUNT);
    expect(report.results.filter((r) => r.status !== 'applied')).toEqual([]);
    expect(report.verification).toBe(`Verified: database has all ${COUNT} migrations.`);
    expect(report.warnings.join('\n')).toContain('0130_abandoned_dagger.sql is not in meta/_journal.json');
    const rows = await drizzleRows(url);
    expect(rows).toHaveLength(COUNT);

    const ran = await drizzleMigrate(url, dir);
    expect(ran.filter((q) => /insert into/i.test(q))).toEqual([]);
    expect(await drizzleRows(url)).toEqual(rows);

    const st = await pnpm(['migrate:status', '--local', '--migrations', dir, '--json'], { DATABASE_URL: url });
    expect(st.code).toBe(0);
    expect(JSON.parse(st.stdout).counts).toEqual({ applied: COUNT, expected: COUNT, pending: 0 });
  }, 300_000);

  it("a database drizzle-orm's migrator built is up to date for status (and deploy has nothing to do)", async () => {
    const url = dbs[1]!.url;
    await drizzleMigrate(url, dir);
    const tw = await startTestWorker(url);
    try {
      const st = await status(tw.worker, { migrationsDir: dir });
      expect(st.plan.problems).toEqual([]);
      expect(st.exitCode).toBe(0);
      expect(st.summary).toBe(`Migration state: ${COUNT} applied, ${COUNT} expected, 0 pending`);
      const dep = await deploy(tw.worker, { migrationsDir: dir });
      expect(dep.exitCode).toBe(0);
      expect(dep.results).toEqual([]);
      expect(dep.verification).toBe(`Verified: database has all ${COUNT} migrations.`);
    } finally {
      await tw.close();
    }
  }, 300_000);
});
