/**
 * The reader function (issue 23), on the wire: one local Invoke endpoint serves the migrating
 * worker and the reader function (the real handler in each mode, on a fresh database), each
 * wrapped to record what it was sent, and the CLI (and api.ts) reach them through the SDK. What
 * only reads goes to the reader; everything else to the migrator. Then, as a user runs it from
 * a shell: `sql --write` without a terminal needs `--yes`, and `--local` serves its own reader.
 */
import { describe, expect, it } from 'vitest';
import { ErrorCode, type LambdaContext, type WorkerHandler } from '../../lambda/contract/index.js';
import { createHandler, createLogger } from '../../lambda/handler.js';
import { deploy as deployApi, status as statusApi } from '../../scripts/api.js';
import { startInvokeEndpoint } from '../../scripts/local/endpoint.js';
import { ensureLocalReader, localReaderUrl } from '../../scripts/local/reader-login.js';
import { runCli, spawnCollect, type ProcessRun } from '../helpers/cli.js';
import {
  embeddedTarget,
  fixture,
  freshDatabase,
  orDrop,
  prismaLedger,
  query,
  useFreshDatabase,
} from '../helpers/db.js';
import { migrationsDir, repoRoot } from '../helpers/migrations.js';

const MIGRATOR = 'app-migrator';
const READER = 'app-reader';
const MIGRATIONS = {
  '001_base': 'CREATE TABLE account (id int PRIMARY KEY, name text);\n',
  '002_seed': "INSERT INTO account VALUES (1, 'a');\n",
};

interface Call {
  fn: string;
  action: unknown;
  write: boolean;
}

/** The two functions behind one endpoint, each recording the events it receives. */
async function startTwoFunctions(databaseUrl: string) {
  const calls: Call[] = [];
  const logger = createLogger({ service: 'reader-test' }, () => undefined);
  const readerDatabaseUrl = localReaderUrl(databaseUrl);
  const migrator = createHandler({ databaseUrl, readerDatabaseUrl, logger });
  const setupError = await ensureLocalReader(databaseUrl, migrator);
  if (setupError) throw setupError;
  const reader = createHandler({ mode: 'reader', readerDatabaseUrl, logger });
  const recording =
    (fn: string, handler: WorkerHandler): WorkerHandler =>
    (event: unknown, context: LambdaContext) => {
      const e = event as { action?: unknown; write?: unknown };
      calls.push({ fn, action: e.action, write: e.write === true });
      return handler(event, context);
    };
  const endpoint = await startInvokeEndpoint({
    functions: {
      [MIGRATOR]: { handler: recording(MIGRATOR, migrator), timeoutMs: 120_000 },
      [READER]: { handler: recording(READER, reader), timeoutMs: 120_000 },
    },
  });
  return { url: endpoint.url, calls, close: () => endpoint.close() };
}

describe('which function each command invokes', () => {
  const { adminUrl } = embeddedTarget();
  const env = fixture(
    'describe',
    async () => {
      const db = await freshDatabase(adminUrl);
      return orDrop(db, async () => ({
        db,
        fns: await startTwoFunctions(db.url),
        dir: await migrationsDir(MIGRATIONS),
      }));
    },
    async ({ db, fns }) => {
      await fns.close();
      await db.drop();
    },
  );
  const flags = () => [
    '--endpoint',
    env.fns.url,
    '--function',
    MIGRATOR,
    '--reader-function',
    READER,
    '--function-timeout',
    '120',
    '--migrations',
    env.dir,
  ];
  /** Runs the CLI and returns what it printed and the functions it invoked. */
  async function cli(args: string[]) {
    const before = env.fns.calls.length;
    const run = await runCli([...args, ...flags()]);
    return { ...run, calls: env.fns.calls.slice(before) };
  }
  const functionsOf = (calls: Call[]) => [...new Set(calls.map((c) => c.fn))];

  it('deploy goes to the migrator only, its ledger read included', async () => {
    const run = await cli(['deploy', '--json']);

    expect(run.exitCode, run.stdout + run.stderr).toBe(0);
    expect(run.calls.map((c) => c.action)).toEqual(expect.arrayContaining(['ledger', 'apply']));
    expect(functionsOf(run.calls)).toEqual([MIGRATOR]);
    expect((await prismaLedger(env.db.url)).map((r) => r.migration_name)).toEqual(['001_base', '002_seed']);
  });

  it('status and lint go to the reader function, and the status report says so', async () => {
    const status = await cli(['status', '--json']);
    const lint = await cli(['lint', '--json']);
    const text = await cli(['status']);

    expect(status.exitCode, status.stdout + status.stderr).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({
      command: 'status',
      exitCode: 0,
      function: { name: READER, role: 'reader' },
    });
    expect(status.calls).toEqual([{ fn: READER, action: 'ledger', write: false }]);
    expect(lint.exitCode, lint.stdout + lint.stderr).toBe(0);
    expect(functionsOf(lint.calls)).toEqual([READER]);
    expect(text.stdout).toContain(`Answered by the reader function ${READER}`);
  });

  it('sql without --write runs on the reader function, as the reader login; with --write on the migrator', async () => {
    const read = await cli(['sql', 'SELECT current_user AS who, count(*)::int AS n FROM account', '--json']);
    const write = await cli(['sql', '--write', '--yes', "INSERT INTO account VALUES (2, 'b')", '--json']);

    expect(read.exitCode, read.stdout + read.stderr).toBe(0);
    const readReport = JSON.parse(read.stdout);
    expect(readReport.function).toEqual({ name: READER, role: 'reader' });
    expect(readReport.result.rows).toEqual([{ who: 'vpc_migrate_reader', n: 1 }]);
    expect(read.calls).toEqual([{ fn: READER, action: 'run-sql', write: false }]);
    expect(write.exitCode, write.stdout + write.stderr).toBe(0);
    expect(JSON.parse(write.stdout).function).toEqual({ name: MIGRATOR, role: 'migrator' });
    expect(write.calls).toEqual([{ fn: MIGRATOR, action: 'run-sql', write: true }]);
    expect(await query(env.db.url, 'SELECT id FROM account ORDER BY id')).toEqual([{ id: 1 }, { id: 2 }]);
  });

  it('resolve goes to the migrator', async () => {
    const run = await cli(['resolve', '--rolled-back', '002_seed', '--json']);

    expect(run.calls.length, run.stdout + run.stderr).toBeGreaterThan(0);
    expect(functionsOf(run.calls)).toEqual([MIGRATOR]);
  });

  it('a read-only permission error does not suggest --write', async () => {
    const run = await cli(['sql', 'SET ROLE postgres', '--json']);

    expect(run.exitCode).toBe(2);
    const body = JSON.parse(run.stdout) as {
      error: { code: string; remedy: string; details?: { error?: { code?: string } } };
    };
    expect(run.calls).toEqual([{ fn: READER, action: 'run-sql', write: false }]);
    expect(body.error.details?.error?.code, run.stdout).toBe('42501');
    expect(body.error.remedy).not.toContain('--write');
  });

  it(
    'the reader function itself answers nothing else: a ' + 'deploy sent to it by name is refused, nothing applied',
    async () => {
      const dir = await migrationsDir({ ...MIGRATIONS, '003_more': 'CREATE TABLE more (id int);\n' });
      const run = await runCli([
        'deploy',
        '--json',
        '--endpoint',
        env.fns.url,
        '--function',
        READER,
        '--function-timeout',
        '120',
        '--migrations',
        dir,
      ]);

      expect(run.exitCode, run.stdout).toBe(2);
      expect(JSON.stringify(JSON.parse(run.stdout))).toContain('VPCM_READER_ONLY');
      expect((await prismaLedger(env.db.url)).map((r) => r.migration_name)).not.toContain('003_more');
    },
  );

  it('api.ts: status asks the reader, deploy the migrator', async () => {
    const target = { endpoint: env.fns.url, function: MIGRATOR, readerFunction: READER, functionTimeoutMs: 120_000 };
    const before = env.fns.calls.length;
    const status = await statusApi({ target, migrationsDir: env.dir });
    const afterStatus = env.fns.calls.length;
    await deployApi({ target, migrationsDir: env.dir });

    expect(status.function).toEqual({ name: READER, role: 'reader' });
    expect(functionsOf(env.fns.calls.slice(before, afterStatus))).toEqual([READER]);
    expect(functionsOf(env.fns.calls.slice(afterStatus))).toEqual([MIGRATOR]);
  });

  it('VPC_MIGRATE_READER_FUNCTION names the reader when no flag does', async () => {
    const run = await spawnCollect(
      process.execPath,
      [
        'scripts/run-cli.mjs',
        'sql',
        'SELECT 1 AS one',
        '--json',
        '--endpoint',
        env.fns.url,
        '--function-timeout',
        '120',
      ],
      {
        cwd: repoRoot,
        env: { VPC_MIGRATE_FUNCTION: MIGRATOR, VPC_MIGRATE_READER_FUNCTION: READER },
      },
    );

    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout).function).toEqual({ name: READER, role: 'reader' });
  });
});

describe('sql --write from a shell (no terminal), against --local', () => {
  const { adminUrl } = embeddedTarget();
  const db = useFreshDatabase(adminUrl);
  const shell = (file: string, args: string[], env: Record<string, string | undefined> = {}): Promise<ProcessRun> =>
    spawnCollect(file, args, {
      cwd: repoRoot,
      env: { VPC_MIGRATE_FUNCTION: undefined, VPC_MIGRATE_READER_FUNCTION: undefined, DATABASE_URL: undefined, ...env },
    });
  const cli = (args: string[]) => shell(process.execPath, ['scripts/run-cli.mjs', ...args]);
  const tables = async () =>
    (await query<{ tablename: string }>(db.url, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")).map(
      (r) => r.tablename,
    );

  it('without --yes: usage error, exit 2, nothing written; the printed command, run as printed, writes', async () => {
    const url = new URL(db.url);
    const refused = await cli(['sql', '--write', 'CREATE TABLE written (id int)', '--local', '--database-url', db.url]);

    expect(refused.code, refused.stdout + refused.stderr).toBe(2);
    expect(refused.stderr).toContain(ErrorCode.UsageError);
    expect(refused.stderr).toContain('needs --yes');
    expect(await tables()).toEqual([]);
    const printed = [...refused.stderr.matchAll(/`([^`]+)`/g)].map((m) => m[1]!).find((c) => c.includes(' --yes'));
    expect(printed).toMatch(
      /^node scripts\/run-cli\.mjs sql 'CREATE TABLE written \(id int\)' --write --yes --local --database-url /,
    );

    const again = await shell('sh', ['-c', printed!], { PGPASSWORD: decodeURIComponent(url.password) });

    expect(again.code, again.stdout + again.stderr).toBe(0);
    expect(await tables()).toEqual(['written']);
  });

  it('with --yes: written, by the migrator; a read then goes to the local reader function', async () => {
    const write = await cli([
      'sql',
      '--write',
      '--yes',
      'CREATE TABLE written (id int)',
      '--local',
      '--database-url',
      db.url,
      '--json',
    ]);
    const read = await cli(['sql', 'SELECT current_user AS who', '--local', '--database-url', db.url, '--json']);

    expect(write.code, write.stdout + write.stderr).toBe(0);
    expect(JSON.parse(write.stdout).function).toEqual({ name: 'vpc-migrate-local', role: 'migrator' });
    expect(await tables()).toEqual(['written']);
    expect(read.code, read.stdout + read.stderr).toBe(0);
    const report = JSON.parse(read.stdout);
    expect(report.function).toEqual({ name: 'vpc-migrate-local-reader', role: 'reader' });
    expect(report.result.rows).toEqual([{ who: 'vpc_migrate_reader' }]);
  });

  it('--reader-function with --local is a usage error', async () => {
    const run = await cli(['status', '--local', '--database-url', db.url, '--reader-function', 'x']);

    expect(run.code).toBe(2);
    expect(run.stderr).toContain(ErrorCode.UsageError);
  });
});
