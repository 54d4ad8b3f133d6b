/**
 * The command line as a user runs it: a separate process, exit codes, `--json`, and the refusal
 * to run without a worker. The worker is the real handler behind the local Invoke endpoint.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { embeddedTarget, freshDatabase } from '../helpers/db.js';
import { addMigration, copyOfExample, repoRoot } from '../helpers/migrations.js';
import { useFreshWorker } from '../helpers/test-worker.js';

const tsx = path.join(repoRoot, 'node_modules/.bin/tsx');

function cli(
  args: string[],
  env: Record<string, string | undefined> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      tsx,
      [path.join(repoRoot, 'scripts/cli.ts'), ...args],
      { cwd: repoRoot, env: { ...process.env, VPC_MIGRATE_FUNCTION: '', DATABASE_URL: '', ...env }, timeout: 120_000 },
      (error, stdout, stderr) => {
        resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
      },
    );
  });
}

describe('vpc-migrate CLI', () => {
  const { adminUrl } = embeddedTarget();
  const { tw } = useFreshWorker(adminUrl, { per: 'describe' });
  let dir: string;
  beforeAll(async () => {
    dir = await copyOfExample();
  });

  it('refuses to deploy without a worker, naming every way to name one', async () => {
    const run = await cli(['deploy', '--migrations', dir]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('VPCM_NO_TARGET');
    for (const flag of ['--function', '--stack', '--endpoint', '--local']) expect(run.stderr).toContain(flag);
  });

  it('status exits 1 with pending migrations, deploy exits 0, status then exits 0 (--json)', async () => {
    const target = ['--endpoint', tw.endpoint, '--function', tw.functionName, '--migrations', dir];
    const pending = await cli(['status', ...target, '--json']);
    expect(pending.code).toBe(1);
    expect(JSON.parse(pending.stdout).plan.pending).toHaveLength(6);

    const applied = await cli(['deploy', ...target, '--json']);
    expect(applied.code).toBe(0);
    const report = JSON.parse(applied.stdout);
    expect(report.verified).toBe(true);
    expect(report.results).toHaveLength(6);

    const upToDate = await cli(['status', ...target]);
    expect(upToDate.code).toBe(0);
    expect(upToDate.stdout).toContain('up to date');
    expect(upToDate.stdout).toContain('0 pending');
  });

  it('exits 2 on a failing migration, with the SQLSTATE and the line', async () => {
    await addMigration(
      dir,
      '20991231000000_broken',
      'CREATE TABLE ok_table (id int);\n\nALTER TABLE no_such_table ADD COLUMN x int;\n',
    );
    const run = await cli(['deploy', '--endpoint', tw.endpoint, '--function', tw.functionName, '--migrations', dir]);
    expect(run.code).toBe(2);
    expect(run.stdout).toContain('20991231000000_broken');
    expect(run.stdout).toContain('42P01');
    expect(run.stdout).toContain('line 3');
    const again = await cli([
      'status',
      '--endpoint',
      tw.endpoint,
      '--function',
      tw.functionName,
      '--migrations',
      dir,
      '--json',
    ]);
    expect(again.code).toBe(2);
    expect(JSON.parse(again.stdout).plan.problems[0].code).toBe('VPCM_FAILED_MIGRATION');
  });

  it('rejects unknown flags with a usage error', async () => {
    const run = await cli(['deploy', '--frobnicate']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('VPCM_USAGE');
  });

  it('--local with DATABASE_URL runs the local worker against that database', async () => {
    const other = await freshDatabase(adminUrl);
    try {
      const run = await cli(['deploy', '--local', '--json'], { DATABASE_URL: other.url });
      expect(run.code).toBe(0);
      expect(JSON.parse(run.stdout).results).toHaveLength(6);
    } finally {
      await other.drop();
    }
  });
});
