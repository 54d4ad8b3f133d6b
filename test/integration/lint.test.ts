/**
 * Lint end to end: deploy lints the pending migrations first and refuses on errors unless told
 * not to (`lint: false` / `--no-lint`), lint of the pending scope reads the ledger through the
 * SDK path (local Invoke endpoint → worker → real PostgreSQL), and `--fix` rewrites only the
 * pending file. The CLI runs as a separate process. The trigger.dev history
 * (../shared/corpora) is used as test data when present.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { deploy } from '../../scripts/commands/deploy.js';
import { runLint } from '../../scripts/commands/lint.js';
import { status } from '../../scripts/commands/status.js';
import { databaseTargets, embeddedTarget, query } from '../helpers/db.js';
import { addMigration, corporaDir, migrationsDir, repoRoot } from '../helpers/migrations.js';
import { useFreshWorker } from '../helpers/test-worker.js';

const exists = async (url: string, relation: string) =>
  (await query<{ t: string | null }>(url, `SELECT to_regclass('${relation}')::text AS t`))[0]?.t !== null;

const MIXED = {
  '001_base': 'CREATE TABLE "Job" ("id" int PRIMARY KEY, "owner" text);\n',
  '002_index': 'CREATE TABLE "Log" ("id" int);\nCREATE INDEX CONCURRENTLY "Job_owner_idx" ON "Job" ("owner");\n',
};

const JOIN_HISTORY = `CREATE TABLE "Role" ("id" TEXT PRIMARY KEY);
CREATE TABLE "User" ("id" TEXT PRIMARY KEY, "env" TEXT, "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP);
CREATE TABLE "_RoleToUser" ("A" TEXT NOT NULL, "B" TEXT NOT NULL);
CREATE UNIQUE INDEX "_RoleToUser_AB_unique" ON "_RoleToUser"("A", "B");
CREATE INDEX "_RoleToUser_B_index" ON "_RoleToUser"("B");
`;
const HAND_INDEX =
  'CREATE INDEX CONCURRENTLY IF NOT EXISTS "User_env_createdAt_idx" ' +
  'ON "User"("env", "createdAt" DESC) INCLUDE ("id");\n';
const GENERATED = `-- AlterTable
ALTER TABLE "User" ADD COLUMN     "nickname" TEXT;

-- AlterTable
ALTER TABLE "public"."_RoleToUser" ADD CONSTRAINT "_RoleToUser_AB_pkey" PRIMARY KEY ("A", "B");

-- DropIndex
DROP INDEX "public"."_RoleToUser_AB_unique";

-- CreateIndex
CREATE INDEX "User_env_createdAt_idx" ON "public"."User"("env", "createdAt" DESC);
`;
const KEPT = `-- AlterTable
ALTER TABLE "User" ADD COLUMN     "nickname" TEXT;
`;

describe.each(databaseTargets())('lint on the $name PostgreSQL', ({ adminUrl }) => {
  const { db, tw } = useFreshWorker(adminUrl);

  it('deploy refuses on a lint error (VPCM_LINT_FAILED, nothing applied) and proceeds with lint off', async () => {
    const dir = await migrationsDir(MIXED);

    const refused = await deploy(tw.worker, { migrationsDir: dir });

    expect(refused.exitCode).toBe(2);
    expect(refused.results).toEqual([]);
    expect(refused.problems).toHaveLength(1);
    expect(refused.problems[0]).toMatchObject({ code: 'VPCM_LINT_FAILED', migration: '002_index' });
    expect(refused.problems[0]?.message).toContain('002_index/migration.sql:2 [concurrently-mixed]');
    expect(refused.problems[0]?.remedy).toContain('--no-lint');
    expect(await exists(db.url, '"Job"')).toBe(false);

    const proceeded = await deploy(tw.worker, { migrationsDir: dir, lint: false });

    expect(proceeded.exitCode).toBe(0);
    expect(proceeded.results.map((r) => [r.name, r.status, r.mode])).toEqual([
      ['001_base', 'applied', 'transactional'],
      ['002_index', 'applied', 'non-transactional'],
    ]);
    expect(await exists(db.url, '"Job_owner_idx"')).toBe(true);
  });

  it('the error is real: with lint off, a new enum value used in its own file fails with 55P04', async () => {
    const dir = await migrationsDir({
      '001_status':
        `CREATE TYPE "Status" AS ENUM ('OPEN');\nCREATE TABLE ` +
        `"Job" ("id" int, "status" "Status" NOT NULL DEFAULT ` +
        `'OPEN');\n`,
      '002_done':
        `ALTER TYPE "Status" ADD VALUE 'DONE';\nALTER TABLE ` + `"Job" ALTER COLUMN "status" SET DEFAULT 'DONE';\n`,
    });

    const refused = await deploy(tw.worker, { migrationsDir: dir });
    const forced = await deploy(tw.worker, { migrationsDir: dir, lint: false });

    expect(refused.exitCode).toBe(2);
    expect(refused.problems.map((p) => [p.code, p.migration])).toEqual([['VPCM_LINT_FAILED', '002_done']]);
    expect(refused.problems[0]?.message).toContain('[enum-value-same-transaction]');
    expect(forced.exitCode).toBe(2);
    expect(forced.results.map((r) => [r.name, r.status])).toEqual([
      ['001_status', 'applied'],
      ['002_done', 'failed'],
    ]);
    expect(forced.results[1]?.error?.code).toBe('55P04');
    expect(forced.results[1]?.error?.line).toBe(2);
  });

  it('warnings do not stop deploy: they are listed in the report', async () => {
    const dir = await migrationsDir({ '001_base': MIXED['001_base'] });
    expect((await deploy(tw.worker, { migrationsDir: dir })).exitCode).toBe(0);
    await addMigration(dir, '002_owner_index', 'CREATE INDEX "Job_owner_idx" ON "Job" ("owner");\n');

    const report = await deploy(tw.worker, { migrationsDir: dir });

    expect(report.exitCode).toBe(0);
    expect(report.results.map((r) => r.status)).toEqual(['applied']);
    expect(report.warnings).toEqual([
      expect.stringContaining('002_owner_index/migration.sql:1 [create-index-not-concurrently]'),
    ]);
  });

  it('lints the pending migrations against the applied ones, and --fix rewrites only the pending file', async () => {
    const dir = await migrationsDir({ '001_init': JOIN_HISTORY, '002_hand_index': HAND_INDEX });
    expect((await deploy(tw.worker, { migrationsDir: dir })).exitCode).toBe(0);
    await addMigration(dir, '003_generated', GENERATED);
    const applied = await Promise.all(
      ['001_init', '002_hand_index'].map((n) => readFile(path.join(dir, n, 'migration.sql'))),
    );

    const linted = await runLint(tw.worker, { migrationsDir: dir });

    expect(linted.scope).toBe('pending');
    expect(linted.linted).toEqual(['003_generated']);
    expect(linted.findings.map((f) => [f.line, f.rule, f.fixable])).toEqual([
      [5, 'prisma-m2m-churn', true],
      [8, 'prisma-m2m-churn', true],
      [11, 'index-recreation', true],
    ]);
    expect(linted.findings[2]?.message).toContain('002_hand_index/migration.sql line 1');
    expect(linted.exitCode).toBe(0);

    const fixed = await runLint(tw.worker, { migrationsDir: dir, fix: true });

    expect(fixed.fixed.map((f) => [f.migration, f.removed.map((r) => r.line)])).toEqual([
      ['003_generated', [5, 8, 11]],
    ]);
    expect(fixed.findings).toEqual([]);
    expect(await readFile(path.join(dir, '003_generated', 'migration.sql'), 'utf8')).toBe(KEPT);
    expect(
      await Promise.all(['001_init', '002_hand_index'].map((n) => readFile(path.join(dir, n, 'migration.sql')))),
    ).toEqual(applied);
    const report = await deploy(tw.worker, { migrationsDir: dir });
    expect(report.exitCode).toBe(0);
    expect(report.warnings).toEqual([]);
    expect((await status(tw.worker, { migrationsDir: dir })).exitCode).toBe(0);
  });

  it('lints nothing when nothing is pending', async () => {
    const dir = await migrationsDir({ '001_base': MIXED['001_base'] });
    await deploy(tw.worker, { migrationsDir: dir });

    const report = await runLint(tw.worker, { migrationsDir: dir });

    expect(report.linted).toEqual([]);
    expect(report.exitCode).toBe(0);
  });
});

const tsx = path.join(repoRoot, 'node_modules/.bin/tsx');

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      tsx,
      [path.join(repoRoot, 'scripts/cli.ts'), ...args],
      {
        cwd: repoRoot,
        env: { ...process.env, VPC_MIGRATE_FUNCTION: '', DATABASE_URL: '' },
        timeout: 120_000,
        maxBuffer: 64 * 1024 * 1024,
      },
      (error, stdout, stderr) =>
        resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

describe('vpc-migrate lint / deploy --no-lint (CLI process)', () => {
  const { adminUrl } = embeddedTarget();
  const { tw } = useFreshWorker(adminUrl);

  it(
    'deploy exits 2 on a lint error and 0 with --no-lint; ' + 'lint --all needs no worker, lint of pending does',
    async () => {
      const dir = await migrationsDir(MIXED);
      const target = ['--endpoint', tw.endpoint, '--function', tw.functionName, '--migrations', dir];

      const offline = await cli(['lint', '--all', '--migrations', dir, '--json']);
      const noWorker = await cli(['lint', '--migrations', dir]);
      const pending = await cli(['lint', ...target]);
      const refused = await cli(['deploy', ...target, '--json']);
      const forced = await cli(['deploy', ...target, '--no-lint']);

      expect(offline.code).toBe(2);
      expect(JSON.parse(offline.stdout)).toMatchObject({ scope: 'all', linted: ['001_base', '002_index'], errors: 1 });
      expect(noWorker.code).toBe(2);
      expect(noWorker.stderr).toContain('VPCM_NO_TARGET');
      expect(pending.code).toBe(2);
      expect(pending.stdout).toContain('002_index/migration.sql:2 error   concurrently-mixed');
      expect(pending.stdout).toContain('why');
      expect(refused.code).toBe(2);
      expect(JSON.parse(refused.stdout).problems[0].code).toBe('VPCM_LINT_FAILED');
      expect(forced.code).toBe(0);
    },
  );

  it.skipIf(!existsSync(corporaDir))(
    'lint --all --json over the trigger.dev history (test data): no errors, the whole report on stdout',
    async () => {
      const run = await cli([
        'lint',
        '--all',
        '--json',
        '--migrations',
        path.join(corporaDir, 'triggerdotdev__trigger.dev', 'migrations'),
      ]);

      expect(run.code).toBe(0);
      const report = JSON.parse(run.stdout);
      expect(report.linted).toHaveLength(820);
      expect(report.errors).toBe(0);
      expect(report.warnings).toBeGreaterThan(100);
    },
  );
});
