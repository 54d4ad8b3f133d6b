/**
 * Paths as a user's project has them, through the built CLI (`node scripts/run-cli.mjs`, a
 * separate process): the migrations folder named by the project's prisma.config.ts, and relative
 * `--migrations` / `--backfills` read from the directory the command was run in, also when a
 * package script runs in vpc-migrate's own folder (`pnpm --dir …`, INIT_CWD).
 */
import { execFile } from 'node:child_process';
import { cp, mkdir, mkdtemp, realpath, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { embeddedTarget, freshDatabase, type FreshDatabase, prismaLedger } from '../helpers/db.js';
import { addMigration, exampleMigrations, repoRoot } from '../helpers/migrations.js';

const runCli = path.join(repoRoot, 'scripts/run-cli.mjs');

/** The CLI in `cwd`, with no npm script around it unless `env` says so. */
function cli(
  args: string[],
  cwd: string,
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const base: NodeJS.ProcessEnv = { ...process.env, VPC_MIGRATE_FUNCTION: '', NO_COLOR: '1' };
  delete base.INIT_CWD;
  delete base.npm_lifecycle_script;
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [runCli, ...args],
      { cwd, env: { ...base, ...env }, timeout: 120_000 },
      (error, stdout, stderr) => {
        resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
      },
    );
  });
}

/** A project folder: the example migrations plus one of its own at `db/history`, named by prisma.config.ts. */
async function projectWithConfig(): Promise<string> {
  const root = await realpath(await mkdtemp(path.join(tmpdir(), 'vpcm-app-')));
  await writeFile(path.join(root, 'package.json'), JSON.stringify({ name: 'app', private: true }));
  await writeFile(
    path.join(root, 'prisma.config.ts'),
    "export default { schema: 'db/schema.prisma', migrations: { path: 'db/history' } };\n",
  );
  await cp(exampleMigrations, path.join(root, 'db/history'), { recursive: true });
  await addMigration(
    path.join(root, 'db/history'),
    '20990101000000_only_in_db_history',
    'CREATE TABLE only_in_db_history (id int);\n',
  );
  await mkdir(path.join(root, 'src/jobs'), { recursive: true });
  return root;
}

const { adminUrl } = embeddedTarget();

describe('the migrations folder of a user project', () => {
  let root: string;
  let db: FreshDatabase;
  beforeAll(async () => {
    root = await projectWithConfig();
    db = await freshDatabase(adminUrl);
  });
  afterAll(async () => {
    await db?.drop();
    if (root) await rm(root, { recursive: true, force: true });
  });

  it('deploy --local from the project applies prisma.config.ts migrations.path, and the header says so', async () => {
    const deploy = await cli(['deploy', '--local'], root, { DATABASE_URL: db.url });
    expect(deploy.stderr).not.toContain('VPCM_');
    expect(deploy.code).toBe(0);
    expect(deploy.stdout).toContain(
      `Migrations: ${path.join(root, 'db/history')} (from prisma.config.ts migrations.path) — `,
    );
    const names = (await prismaLedger(db.url)).map((r) => r.migration_name);
    expect(names).toHaveLength(7);
    expect(names.at(-1)).toBe('20990101000000_only_in_db_history');

    const status = await cli(['status', '--local', '--json'], root, { DATABASE_URL: db.url });
    expect(status.code).toBe(0);
    const report = JSON.parse(status.stdout);
    expect(report.migrations).toMatchObject({
      dir: path.join(root, 'db/history'),
      kind: 'prisma-config',
      source: 'prisma.config.ts migrations.path',
    });
    expect(report.migrationsDir).toBe(path.join(root, 'db/history'));
  });

  it('relative --migrations, --backfills and sql -f are read from the subdirectory the command runs in', async () => {
    await writeFile(path.join(root, 'db/fill_here.sql'), 'CREATE TABLE filled_from_db (id int);\n');
    const status = await cli(
      ['status', '--local', '--json', '--migrations', '../../db/history'],
      path.join(root, 'src/jobs'),
      { DATABASE_URL: db.url },
    );
    expect(status.code).toBe(0);
    expect(JSON.parse(status.stdout).migrations).toEqual({
      dir: path.join(root, 'db/history'),
      kind: 'flag',
      source: '--migrations',
    });

    const backfill = await cli(
      ['backfill', 'fill_here', '--local', '--json', '--backfills', '../../db'],
      path.join(root, 'src/jobs'),
      { DATABASE_URL: db.url },
    );
    expect(backfill.stderr).not.toContain('VPCM_');
    expect(backfill.code).toBe(0);
    expect(JSON.parse(backfill.stdout)).toMatchObject({ status: 'ran', file: path.join(root, 'db/fill_here.sql') });

    await writeFile(path.join(root, 'db/count.sql'), 'SELECT count(*)::int AS filled FROM filled_from_db\n');
    const sql = await cli(['sql', '-f', '../../db/count.sql', '--local', '--json'], path.join(root, 'src/jobs'), {
      DATABASE_URL: db.url,
    });
    expect(sql.stderr).not.toContain('VPCM_');
    expect(sql.code).toBe(0);
    expect(sql.stdout).toContain('"filled"');
  });

  it(
    "under a package script run in vpc-migrate's folder " +
      '(pnpm --dir), relative paths (--migrations, the config ' +
      'lookup, --backfills, sql -f) still come from INIT_CWD',
    async () => {
      // What `pnpm --dir ../vpc-migrate migrate:status --migrations db/history` does: the script runs
      // in the tool's folder, whose own prisma/migrations must not be picked up.
      const script = { INIT_CWD: root, npm_lifecycle_script: 'node scripts/run-cli.mjs status', DATABASE_URL: db.url };
      const flagged = await cli(['status', '--local', '--json', '--migrations', 'db/history'], repoRoot, script);
      expect(flagged.code).toBe(0);
      expect(JSON.parse(flagged.stdout).migrations.dir).toBe(path.join(root, 'db/history'));

      const found = await cli(['status', '--local'], repoRoot, script);
      expect(found.code).toBe(0);
      expect(found.stdout).toContain(
        `Migrations: ${path.join(root, 'db/history')} (from prisma.config.ts migrations.path)`,
      );

      await writeFile(path.join(root, 'db/fill_again.sql'), 'CREATE TABLE filled_via_init_cwd (id int);\n');
      const backfill = await cli(
        ['backfill', 'fill_again', '--local', '--json', '--backfills', 'db'],
        repoRoot,
        script,
      );
      expect(backfill.code).toBe(0);
      expect(JSON.parse(backfill.stdout).file).toBe(path.join(root, 'db/fill_again.sql'));
      const sql = await cli(['sql', '-f', 'db/count.sql', '--local', '--json'], repoRoot, script);
      expect(sql.code).toBe(0);
    },
  );

  it('a folder that does not exist is refused with its absolute path and source', async () => {
    const run = await cli(['status', '--local', '--migrations', 'nope'], path.join(root, 'src'), {
      DATABASE_URL: db.url,
    });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('VPCM_MIGRATIONS_DIR_MISSING');
    expect(run.stderr).toContain(`${path.join(root, 'src/nope')} (--migrations) does not exist`);
  });
});
