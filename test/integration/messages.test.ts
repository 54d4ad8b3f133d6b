/**
 * Issue 24, points 5 and 6: each message tells what happened, each numeric flag is read by the
 * one parser (scripts/commands/flags.ts). One test per message and per flag.
 */
import pg from 'pg';
import { httpStub, type HttpStub } from '../helpers/http-stub.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode } from '../../lambda/contract/index.js';
import { runCli, spawnCollect, targetFlags } from '../helpers/cli.js';
import { embeddedTarget, query } from '../helpers/db.js';
import { useFreshWorker } from '../helpers/test-worker.js';
import { addMigration, migrationsDir, repoRoot } from '../helpers/migrations.js';

describe('numeric flags: digits only, within bounds, for every command', () => {
  let stub: HttpStub;

  // Counts what reaches it: a refused flag must send nothing.
  beforeAll(async () => {
    stub = await httpStub((_req, res) => res.writeHead(500).end());
  });
  afterAll(() => stub.close());

  it.each([
    ['deploy', ['--statement-timeout', '1.5'], 'statement-timeout', '0 to 3600000 ms'],
    ['deploy', ['--statement-timeout', '0x10'], 'statement-timeout', '0 to 3600000 ms'],
    ['deploy', ['--statement-timeout', '1e2'], 'statement-timeout', '0 to 3600000 ms'],
    ['deploy', ['--lock-timeout', '2.5'], 'lock-timeout', '0 to 3600000 ms'],
    ['deploy', ['--lock-wait', '0.5'], 'lock-wait', '0 to 3600 s'],
    ['rehearse', ['--lock-wait', '0.3'], 'lock-wait', '0 to 3600 s'],
    ['rehearse', ['--statement-timeout', '0x10'], 'statement-timeout', '0 to 3600000 ms'],
    ['rehearse', ['--lock-timeout=-1'], 'lock-timeout', '0 to 3600000 ms'],
    ['resolve', ['--applied', '001_base', '--lock-wait', '1e1'], 'lock-wait', '0 to 3600 s'],
    ['baseline', ['--up-to', '001_base', '--lock-wait', '1.5'], 'lock-wait', '0 to 3600 s'],
    ['backfill', ['fill', '--statement-timeout', '1.5'], 'statement-timeout', '0 to 3600000 ms'],
    ['backfill', ['fill', '--lock-timeout', '0x10'], 'lock-timeout', '0 to 3600000 ms'],
    ['sql', ['--statement-timeout', '1.5', 'select 1'], 'statement-timeout', '1 to 3600000 ms'],
    ['sql', ['--max-rows', '1e2', 'select 1'], 'max-rows', '1 to 100000'],
    ['status', ['--function-timeout', '0x10'], 'function-timeout', '1 to 900 s'],
  ] as const)('%s %j: VPCM_USAGE naming the flag and its bounds, nothing sent', async (command, args, flag, bounds) => {
    const dir = await migrationsDir({ '001_base': 'CREATE TABLE t (id int);\n' });
    const before = stub.requests();
    const target = (args as readonly string[]).includes('--function-timeout')
      ? ['--endpoint', stub.url, '--function', 'f']
      : ['--endpoint', stub.url, '--function', 'f', '--function-timeout', '5'];

    const run = await runCli([command, ...target, '--migrations', dir, '--json', ...args]);

    expect(run.exitCode, run.stdout + run.stderr).toBe(2);
    const body = JSON.parse(run.stdout) as { error: { code: string; message: string; remedy: string } };
    expect(body.error.code).toBe(ErrorCode.UsageError);
    expect(body.error.message).toContain(`--${flag} must be a whole number from ${bounds}`);
    expect(stub.requests()).toBe(before);
  });
});

describe('messages against a real worker', () => {
  const { adminUrl } = embeddedTarget();
  const { db, tw } = useFreshWorker(adminUrl, { per: 'describe' });

  it.each([['deploy', '--no-lint'], ['status']])(
    'a NUL byte in a migration.sql: %s says VPCM_NUL_BYTE ' + 'with file, line and column, not a lost connection',
    async (command, ...extra) => {
      const dir = await migrationsDir({
        '001_base': 'CREATE TABLE t (id int);\n',
        '002_nul': "INSERT INTO t VALUES (1);\nSELECT 'a\0b';\n",
      });

      const run = await runCli([command, ...targetFlags(tw), '--migrations', dir, '--json', ...extra]);

      expect(run.exitCode, run.stdout + run.stderr).toBe(2);
      const body = JSON.parse(run.stdout) as { error: { code: string; message: string } };
      expect(body.error.code).toBe(ErrorCode.NulByte);
      expect(body.error.message).toContain(`${dir}/002_nul/migration.sql holds a NUL byte`);
      expect(body.error.message).toContain('line 2, column 10');
    },
  );

  it('status names the error of a failed migration, not the first line of its log ("Migration name: …")', async () => {
    const dir = await migrationsDir({
      '001_base': 'CREATE TABLE t (id int);\n',
      '002_bad': 'INSERT INTO t VALUES (1);\nSELECT * FROM missing_table;\n',
    });
    expect((await runCli(['deploy', ...targetFlags(tw), '--migrations', dir])).exitCode).toBe(2);

    const run = await runCli(['status', ...targetFlags(tw), '--migrations', dir]);

    expect(run.exitCode).not.toBe(0);
    expect(run.stdout).toContain('failed with: 42P01: relation "missing_table" does not exist (at line 2, column 15)');
    expect(run.stdout).not.toContain('Migration name:');
    await query(db.url, `DROP TABLE t; DROP TABLE _prisma_migrations`);
  });

  it(
    'control characters in a folder name and in the ledger ' +
      'text are escaped in deploy and status; the printed ' +
      'resolve command works in bash as printed',
    async () => {
      const name = '002_\u001b[31mred\u0007';
      const dir = await migrationsDir({
        '001_base': 'CREATE TABLE t (id int);\n',
        [name]: 'SELECT * FROM "gone\u001b]0;owned\u0007";\n',
      });
      const cli = (args: string[]) =>
        spawnCollect(process.execPath, ['scripts/run-cli.mjs', ...args, ...targetFlags(tw), '--migrations', dir], {
          cwd: repoRoot,
        });

      const deployed = await cli(['deploy']);
      const status = await cli(['status']);

      expect(deployed.code, deployed.stderr).toBe(2);
      for (const out of [deployed.stdout + deployed.stderr, status.stdout + status.stderr]) {
        expect(out).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/);
        expect(out).toContain('002_\\x1b[31mred\\x07');
      }
      expect(status.stdout).toContain('relation "gone\\x1b]0;owned\\x07" does not exist');
      const command = [...status.stdout.matchAll(/`([^`]+)`/g)]
        .map((m) => m[1]!)
        .find((c) => c.includes('resolve --rolled-back'))!;
      expect(command).toContain("resolve --rolled-back $'002_\\x1b[31mred\\x07'");

      const resolved = await spawnCollect('bash', ['-c', command], { cwd: repoRoot });

      expect(resolved.code, resolved.stdout + resolved.stderr).toBe(0);
      expect(resolved.stdout).toContain('Migration 002_\\x1b[31mred\\x07 marked as rolled back.');
      expect(
        (
          await query<{ rolled_back_at: Date | null }>(
            db.url,
            'SELECT rolled_back_at FROM _prisma_migrations WHERE migration_name = $1',
            [name],
          )
        )[0]?.rolled_back_at,
      ).not.toBeNull();
      await query(db.url, `DROP TABLE t; DROP TABLE _prisma_migrations`);
    },
  );

  it(
    'run-sql: a tiny --statement-timeout bounds the user’s ' +
      'statement only, and says so when it ends it; an error ' +
      'at COMMIT is the statement’s, not "see the worker logs"',
    async () => {
      // A deferred trigger fails at COMMIT, which the worker sends after the user's statement.
      await query(
        db.url,
        `CREATE TABLE late_check (id int);
      CREATE FUNCTION late_check() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION
        'late_check refuses %', NEW.id; END $$;
      CREATE CONSTRAINT TRIGGER late_check AFTER INSERT ON late_check DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
        EXECUTE FUNCTION late_check();`,
      );
      try {
        const read = await runCli(['sql', ...targetFlags(tw), '--statement-timeout', '1', 'SELECT 1 AS one']);
        const write = await runCli([
          'sql',
          ...targetFlags(tw),
          '--write',
          '--yes',
          '--statement-timeout',
          '1',
          'SELECT 1 AS one',
        ]);
        const slow = await runCli([
          'sql',
          ...targetFlags(tw),
          '--statement-timeout',
          '1',
          '--json',
          'SELECT pg_sleep(0.2)',
        ]);
        const late = await runCli([
          'sql',
          ...targetFlags(tw),
          '--write',
          '--yes',
          '--json',
          'INSERT INTO late_check VALUES (7)',
        ]);

        expect(read.exitCode, read.stdout + read.stderr).toBe(0);
        expect(write.exitCode, write.stdout + write.stderr).toBe(0);
        // The user's own statement over the timeout: said so, with the flag to raise.
        expect(slow.exitCode).toBe(2);
        const timedOut = (JSON.parse(slow.stdout) as { error: { code: string; message: string; remedy: string } })
          .error;
        expect(timedOut.message).toMatch(/^57014: canceling statement due to statement timeout/);
        expect(timedOut.remedy).toContain('--statement-timeout');
        expect(late.exitCode).toBe(2);
        const atCommit = (JSON.parse(late.stdout) as { error: { code: string; message: string; remedy: string } })
          .error;
        expect(atCommit.code).toBe(ErrorCode.SqlFailed);
        expect(atCommit.message).toBe('P0001: late_check refuses 7 (at COMMIT)');
        expect(atCommit.remedy).not.toMatch(/worker logs|CloudWatch log lines/);
        expect(await query(db.url, 'SELECT id FROM late_check')).toEqual([]);
      } finally {
        await query(db.url, 'DROP TABLE late_check; DROP FUNCTION late_check()');
      }
    },
  );

  it(
    'a lock_timeout (55P03) names the line in the file and ' +
      'the blocking session, and says to wait for or stop ' +
      'it — not "Fix the SQL"',
    async () => {
      const dir = await migrationsDir({ '001_base': 'CREATE TABLE held (id int);\n' });
      expect((await runCli(['deploy', ...targetFlags(tw), '--migrations', dir])).exitCode).toBe(0);
      await addMigration(
        dir,
        '002_alter',
        '-- needs an ACCESS EXCLUSIVE lock\nALTER TABLE held ADD COLUMN note text;\n',
      );
      const blocker = new pg.Client({ connectionString: db.url, application_name: 'blocking-app' });
      await blocker.connect();
      try {
        const pid = (await blocker.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
        await blocker.query('BEGIN');
        await blocker.query('SELECT * FROM held');
        await blocker.query("SELECT 'still reading'");

        const run = await runCli([
          'deploy',
          ...targetFlags(tw),
          '--migrations',
          dir,
          '--lock-timeout',
          '3000',
          '--json',
        ]);

        expect(run.exitCode).toBe(2);
        const report = JSON.parse(run.stdout) as { problems: { code: string; message: string; remedy: string }[] };
        const problem = report.problems.find((p) => p.message.includes('002_alter'))!;
        expect(problem.message).toContain('waited longer than lock_timeout for a lock at migration.sql line 2 (55P03)');
        expect(problem.message).toContain(`pid ${pid} (application "blocking-app", user `);
        expect(problem.message).toContain('idle in transaction');
        expect(problem.message).toContain("query: SELECT 'still reading'");
        expect(problem.remedy).toContain(`SELECT pg_terminate_backend(${pid})`);
        expect(problem.remedy).toMatch(/resolve --rolled-back 002_alter/);
        expect(problem.remedy).not.toMatch(/Fix the SQL/);
      } finally {
        await blocker.end();
        await query(db.url, `DROP TABLE held; DROP TABLE _prisma_migrations`);
      }
    },
  );

  it(
    'a failed CREATE INDEX CONCURRENTLY: the INVALID index ' +
      'it left is named, and the printed command that drops ' +
      'it works as printed',
    async () => {
      const dir = await migrationsDir({
        '001_base': 'CREATE TABLE dup (v int);\nINSERT INTO dup VALUES (1), (1);\n',
        '002_unique': '-- fails: v has duplicates\nCREATE UNIQUE INDEX CONCURRENTLY "dup_v_key" ON "dup" ("v");\n',
      });
      const cli = (args: string[]) =>
        spawnCollect(process.execPath, ['scripts/run-cli.mjs', ...args, ...targetFlags(tw), '--migrations', dir], {
          cwd: repoRoot,
        });
      const invalid = () =>
        query<{ indisvalid: boolean }>(
          db.url,
          `SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = 'dup_v_key'`,
        );

      const deployed = await cli(['deploy']);

      expect(deployed.code, deployed.stderr).toBe(2);
      expect(await invalid()).toEqual([{ indisvalid: false }]);
      expect(deployed.stdout).toContain('It left the index "public"."dup_v_key" INVALID');
      const command = [...deployed.stdout.matchAll(/`([^`]+)`/g)]
        .map((m) => m[1]!)
        .find((c) => c.includes('DROP INDEX CONCURRENTLY'))!;
      expect(command).toContain(`sql --write --yes 'DROP INDEX CONCURRENTLY IF EXISTS "public"."dup_v_key"'`);

      const dropped = await spawnCollect('sh', ['-c', command], { cwd: repoRoot });

      expect(dropped.code, dropped.stdout + dropped.stderr).toBe(0);
      expect(await invalid()).toEqual([]);
      await query(db.url, `DROP TABLE dup; DROP TABLE _prisma_migrations`);
    },
  );
});
