/**
 * Every printed remedy is a command that works as printed (scripts/invocation.ts): the CLI runs
 * as its own process (`node scripts/run-cli.mjs`, as a user in a checkout runs it, with a plain
 * shell's environment), the command it prints is taken from its output and run through `sh -c`
 * exactly as printed, and it does what it says on the same database. Stray arguments are refused.
 */
import type { ChildProcess } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../lambda/contract/index.js';
import { type ProcessRun, runCli, spawnCollect } from '../helpers/cli.js';
import { embeddedTarget, prismaLedger, query, useFreshDatabase } from '../helpers/db.js';
import { migrationsDir, repoRoot } from '../helpers/migrations.js';

/** `file args…` (or `sh -c` for a printed command) from the repository root, in a plain shell's environment. */
function run(
  file: string,
  args: string[],
  env: Record<string, string | undefined> = {},
  onStderr?: (text: string, child: ChildProcess) => void,
): Promise<ProcessRun> {
  return spawnCollect(
    file,
    args,
    { cwd: repoRoot, env: { VPC_MIGRATE_FUNCTION: undefined, DATABASE_URL: undefined, PGPASSWORD: undefined, ...env } },
    onStderr,
  );
}

const cli = (args: string[], onStderr?: (text: string, child: ChildProcess) => void) =>
  run(process.execPath, ['scripts/run-cli.mjs', ...args], {}, onStderr);

/** The one backticked command in `text` that contains `part`. */
function printed(text: string, part: string): string {
  const found = [...text.matchAll(/`([^`]+)`/g)].map((m) => m[1]!).filter((c) => c.includes(part));
  expect(found.length, text).toBeGreaterThan(0);
  return found[0]!;
}

describe('remedies run as printed', () => {
  const { adminUrl } = embeddedTarget();
  const db = useFreshDatabase(adminUrl);

  it(
    'a failed migration through --database-url --local: ' +
      'the printed resolve command, run through sh -c, rolls ' +
      'the row back',
    async () => {
      const dir = await migrationsDir({
        '001_base': 'CREATE TABLE t (id int PRIMARY KEY);\n',
        '002_broken': 'CREATE TABLE u (id int);\nINSERT INTO no_such_table VALUES (1);\n',
      });
      const url = new URL(db.url);
      expect(url.password, 'the test database URL carries a password').not.toBe('');

      const deploy = await cli(['deploy', '--local', '--database-url', db.url, '--migrations', dir]);

      expect(deploy.code, deploy.stderr).toBe(2);
      const output = deploy.stdout + deploy.stderr;
      expect(output).not.toContain(`:${url.password}@`);
      const command = printed(output, 'resolve --rolled-back 002_broken');
      expect(
        command.startsWith('node scripts/run-cli.mjs resolve --rolled-back 002_broken --local --database-url '),
      ).toBe(true);
      expect(command).toContain(`--migrations ${dir}`);
      expect(output).toContain('set PGPASSWORD to it before running the command');
      expect((await prismaLedger(db.url)).find((r) => r.migration_name === '002_broken')).toMatchObject({
        finished_at: null,
        rolled_back_at: null,
      });

      // As printed, with the password where the note says to put it.
      const resolved = await run('sh', ['-c', command], { PGPASSWORD: decodeURIComponent(url.password) });

      expect(resolved.code, resolved.stdout + resolved.stderr).toBe(0);
      expect(resolved.stdout).toContain('Migration 002_broken marked as rolled back.');
      expect(
        (await prismaLedger(db.url)).find((r) => r.migration_name === '002_broken')?.rolled_back_at,
      ).not.toBeNull();
      // Its own next step is printed the same way, and works too: 002 is pending again (exit 1).
      const status = await run('sh', ['-c', printed(resolved.stdout, ' status ')], {
        PGPASSWORD: decodeURIComponent(url.password),
      });
      expect(status.code, status.stdout + status.stderr).toBe(1);
      expect(status.stdout).toContain('002_broken');
    },
  );

  it.each([
    ['baseline --up-to', 'baseline --up-to 001_base'],
    ['deploy --baseline', 'deploy --baseline'],
  ])(
    'a deploy into tables without a ledger (P3005): the ' +
      'printed %s, run through sh -c, lets the next deploy ' +
      'succeed',
    async (_, part) => {
      const dir = await migrationsDir({
        '001_base': 'CREATE TABLE t (id int PRIMARY KEY);\n',
        '002_more': 'CREATE TABLE u (id int);\n',
      });
      await query(db.url, 'CREATE TABLE t (id int PRIMARY KEY)');
      const password = decodeURIComponent(new URL(db.url).password);

      const refused = await cli(['deploy', '--local', '--database-url', db.url, '--migrations', dir]);

      expect(refused.code, refused.stderr).toBe(2);
      const output = refused.stdout + refused.stderr;
      expect(output).toContain(ErrorCode.SchemaNotEmpty);
      const command = printed(output, part);
      expect(command).toContain(`--migrations ${dir}`);
      expect(await query(db.url, `SELECT to_regclass('_prisma_migrations') AS t`)).toEqual([{ t: null }]);

      const remedy = await run('sh', ['-c', command], { PGPASSWORD: password });
      expect(remedy.code, remedy.stdout + remedy.stderr).toBe(0);
      const next = await cli(['deploy', '--local', '--database-url', db.url, '--migrations', dir]);
      expect(next.code, next.stdout + next.stderr).toBe(0);
      expect((await prismaLedger(db.url)).map((r) => r.migration_name)).toEqual(['001_base', '002_more']);
    },
  );

  it(
    'the Ctrl-C hint names the status command with the target ' +
      "flags; run as printed, it exits with status's code " +
      'for that database',
    async () => {
      const dir = await migrationsDir({
        '001_base': 'CREATE TABLE t (id int PRIMARY KEY);\n',
        '002_slow': 'SELECT pg_sleep(2);\nINSERT INTO t VALUES (1);\n',
      });
      const url = new URL(db.url);
      url.password = '';
      const passwordless = url.toString();
      let sent = false;

      const deploy = await cli(['deploy', '--local', '--database-url', db.url, '--migrations', dir], (text, child) => {
        if (!sent && text.includes('Applying')) {
          sent = true;
          setTimeout(() => child.kill('SIGINT'), 300);
        }
      });

      expect(deploy.code, deploy.stderr).toBe(130);
      const command = printed(deploy.stderr.slice(deploy.stderr.indexOf('Interrupted (SIGINT)')), ' status ');
      expect(command).toBe(
        `node scripts/run-cli.mjs status --local --database-url ${passwordless} --migrations ${dir}`,
      );
      const password = decodeURIComponent(new URL(db.url).password);
      const asPrinted = await run('sh', ['-c', command], { PGPASSWORD: password });
      const direct = await runCli(['status', '--local', '--database-url', db.url, '--migrations', dir, '--json']);

      expect(asPrinted.code, asPrinted.stdout + asPrinted.stderr).toBe(direct.exitCode);
      expect(asPrinted.code).toBe(0);
    },
  );

  it('drift on tables without a ledger: the printed baseline --up-to, run through sh -c, leaves no drift', async () => {
    const dir = await migrationsDir({
      '001_base': 'CREATE TABLE t (id int PRIMARY KEY);\n',
      '002_more': 'CREATE TABLE u (id int);\n',
    });
    // Migrated by other means: both tables, no ledger.
    await query(db.url, 'CREATE TABLE t (id int PRIMARY KEY); CREATE TABLE u (id int)');
    const password = decodeURIComponent(new URL(db.url).password);
    const driftArgs = ['drift', '--local', '--database-url', db.url, '--migrations', dir];

    const before = await cli(driftArgs);

    expect(before.code, before.stderr).toBe(3);
    const command = printed(before.stdout + before.stderr, 'baseline --up-to 002_more');
    expect(command).toContain(`--migrations ${dir}`);
    const baselined = await run('sh', ['-c', command], { PGPASSWORD: password });
    expect(baselined.code, baselined.stdout + baselined.stderr).toBe(0);
    const after = await cli(driftArgs);
    expect(after.code, after.stdout + after.stderr).toBe(0);
  });
});

describe('stray arguments are refused before anything runs', () => {
  it.each([
    [['deploy', '--', '--allow-modified'], 'Unexpected "--" before --allow-modified: deploy takes no arguments.'],
    [['deploy', 'stray'], 'deploy takes no arguments; got "stray".'],
    [['status', '--local', 'extra'], 'status takes no arguments; got "extra".'],
    [
      ['sql', '--', '--write', 'select 1'],
      'Unexpected "--" before --write: sql would read what follows it as arguments, not flags.',
    ],
  ])('%j exits 2 with VPCM_USAGE', async (args, message) => {
    // --json before any `--`: after it, it would be an argument too.
    const result = await runCli([args[0]!, '--json', ...args.slice(1)]);

    expect(result.exitCode).toBe(2);
    const body = JSON.parse(result.stdout) as { error: { code: string; message: string; remedy: string } };
    expect(body.error.code).toBe(ErrorCode.UsageError);
    expect(body.error.message).toBe(message);
  });

  it('deploy -- --allow-modified, as a process: exit 2, and the remedy is the command without "--"', async () => {
    const result = await cli(['deploy', '--local', '--', '--allow-modified']);

    expect(result.code).toBe(2);
    expect(result.stderr).toContain('VPCM_USAGE');
    expect(printed(result.stderr, 'deploy')).toBe('node scripts/run-cli.mjs deploy --allow-modified --local');
  });

  it(
    'through pnpm, which passes "--" on to the script: exit ' +
      '2, and the remedy is the package script with every ' +
      'flag, run as printed',
    async () => {
      const result = await run('pnpm', [
        '--silent',
        'migrate:remote',
        '--format',
        'prisma',
        '--',
        '--allow-modified',
        '--local',
        '--migrations',
        'prisma/migrations',
      ]);

      expect(result.code, result.stderr).toBe(2);
      const command = printed(result.stderr, 'migrate:remote');
      expect(command).toBe(
        'pnpm migrate:remote --allow-modified --local --migrations prisma/migrations --format prisma',
      );
      // As printed, it gets past the arguments (`--help` shows it parses; no database is started here).
      const help = await run('sh', ['-c', `${command} --help`]);
      expect(help.code, help.stderr).toBe(0);
      expect(help.stdout).toContain('vpc-migrate deploy [options]');
    },
  );

  it('commands that take arguments keep them, and `--` before an argument that is not a flag', async () => {
    const sql = await runCli(['sql', '--', '-1']);
    // Past the argument checks: it fails for the missing worker, not for its arguments.
    expect(JSON.stringify(sql)).toContain(ErrorCode.NoTarget);
    const backfill = await runCli(['backfill', 'a', 'b', '--json']);
    expect(JSON.parse(backfill.stdout).error.message).toBe('backfill takes at most 1 argument(s); got "b".');
  });
});
