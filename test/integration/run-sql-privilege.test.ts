/**
 * Read-only run-sql by privilege, not only by transaction mode (issue 13), on one warm local
 * endpoint (one worker, several invocations in a row, as a warm Lambda has them): each attempt
 * to do more than read is refused with a SQLSTATE and a remedy, or leaves nothing that the next
 * invocation could see. With `--write`, the worker's own role, and still nothing carried over.
 */
import { existsSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode, type MigrateError } from '../../lambda/contract/index.js';
import { deploy } from '../../scripts/commands/deploy.js';
import { runSqlCommand } from '../../scripts/commands/sql.js';
import { runCli, targetFlags } from '../helpers/cli.js';
import { databaseTargets, freshDatabase, query } from '../helpers/db.js';
import { exampleMigrations } from '../helpers/migrations.js';
import { startTestWorker, useFreshWorker } from '../helpers/worker.js';

const MIGRATION_LOCK = 72707369;

describe.each(databaseTargets())('read-only run-sql on the $name PostgreSQL', ({ adminUrl }) => {
  const { db, tw } = useFreshWorker(adminUrl, {
    per: 'describe',
    prepare: (url) => query(url, 'CREATE TABLE account (id int PRIMARY KEY, balance int NOT NULL); INSERT INTO account VALUES (1, 10)'),
  });
  /** A superuser session another query might try to terminate. */
  let bystander: pg.Client;
  let bystanderPid: number;

  beforeAll(async () => {
    bystander = new pg.Client({ connectionString: db.url });
    await bystander.connect();
    bystanderPid = (await bystander.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
  });
  afterAll(async () => {
    await bystander?.end().catch(() => undefined);
  });

  const marker = `/tmp/vpcm-run-sql-${randomBytes(6).toString('hex')}`;
  it.each([
    [`copy (select 1) to program 'touch ${marker}'`, '42501'],
    [`select pg_read_file('/etc/hostname')`, '42501'],
    [`select set_config('default_transaction_read_only', 'off', false)`, '25006'],
    [`select set_config('search_path', 'nowhere', false)`, '25006'],
    [`set statement_timeout = 1`, '25006'],
    [`select pg_advisory_lock(${MIGRATION_LOCK})`, '25006'],
    ['listen vpcm_channel', '25006'],
    ['prepare vpcm_prepared as select 1', '25006'],
    ['create temp table vpcm_temp (x int)', '25006'],
    ['insert into account values (2, 20)', '25006'],
  ])('refuses %s (%s) with a remedy, and the next invocation sees nothing of it', async (sql, code) => {
    const report = await runSqlCommand(tw.worker, { sql });

    expect(report.exitCode).toBe(2);
    expect(report.error?.code).toBe(ErrorCode.SqlFailed);
    expect(report.error?.message).toMatch(new RegExp(`^${code}`));
    expect(report.error?.remedy).toContain('--write');
    // The next invocation of the same warm worker: no setting, lock, channel, statement or table left.
    const next = await runSqlCommand(tw.worker, {
      sql: `select current_setting('search_path') as path, current_setting('default_transaction_read_only') as ro,
                   (select count(*)::int from pg_listening_channels()) as channels,
                   (select count(*)::int from pg_prepared_statements) as prepared,
                   to_regclass('vpcm_temp') is null as no_temp, session_user = current_user as same_role`,
    });
    expect(next.result?.rows).toEqual([{ path: '"$user", public', ro: 'off', channels: 0, prepared: 0, no_temp: true, same_role: false }]);
    // This database only: other test files deploy (and take the lock) on the same server.
    const locks = await query(db.url, `SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND objid = ${MIGRATION_LOCK} AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`);
    expect(locks).toEqual([]);
    expect(existsSync(marker)).toBe(false);
    expect(await query(db.url, 'SELECT count(*)::int AS n FROM account')).toEqual([{ n: 1 }]);
  });

  it('refuses to terminate another session (42501) and the session lives on', async () => {
    const report = await runSqlCommand(tw.worker, { sql: `select pg_terminate_backend(${bystanderPid})` });

    expect(report.exitCode).toBe(2);
    expect(report.error?.message).toMatch(/^42501/);
    expect((await bystander.query<{ one: number }>('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
  });

  it('the CLI prints the refusal with its SQLSTATE and exit 2', async () => {
    const run = await runCli(['sql', ...targetFlags(tw), `select pg_advisory_lock(${MIGRATION_LOCK})`]);

    expect(run.exitCode).toBe(2);
    expect(run.stdout + run.stderr).toContain('session-level advisory lock');
  });

  it('--write runs as the worker role; a session setting it makes does not reach the next deploy, whose objects land in public', async () => {
    const set = await runSqlCommand(tw.worker, { sql: `select set_config('search_path', 'nowhere', false) as path`, write: true });
    expect(set.result?.rows).toEqual([{ path: 'nowhere' }]);

    const report = await deploy(tw.worker, { migrationsDir: exampleMigrations });

    expect(report.exitCode).toBe(0);
    expect(await query(db.url, `SELECT to_regclass('public."Order"')::text AS t`)).toEqual([{ t: '"Order"' }]);
  });

  it('--write pg_advisory_lock(72707369) does not block a deploy from another worker instance', async () => {
    const fresh = await freshDatabase(adminUrl);
    const other = await startTestWorker(fresh.url);
    const first = await startTestWorker(fresh.url);
    try {
      const locked = await runSqlCommand(first.worker, { sql: `select pg_advisory_lock(${MIGRATION_LOCK})`, write: true });
      expect(locked.exitCode).toBe(0);

      const report = await deploy(other.worker, { migrationsDir: exampleMigrations, apply: { lockWaitMs: 2_000 } });

      expect(report.exitCode).toBe(0);
      expect(report.results.every((r) => r.status === 'applied')).toBe(true);
    } finally {
      await first.close();
      await other.close();
      await fresh.drop();
    }
  });

  it('a worker whose database lacks the reader role refuses read-only run-sql with the one-line fix, never running it as itself', async () => {
    const missing = await startTestWorker(db.url, { readerRole: 'vpcm_no_such_reader' });
    try {
      const error = await runSqlCommand(missing.worker, { sql: 'select current_user as who' }).then(
        () => null,
        (e: unknown) => e as MigrateError,
      );

      expect(error?.code).toBe(ErrorCode.ReaderRoleMissing);
      expect(error?.message).toContain('"vpcm_no_such_reader"');
      // One shell word in single quotes: the SQL's `$$` and double quotes reach run-sql as written.
      expect(error?.remedy).toContain("`vpc-migrate sql --write 'DO $$ BEGIN IF NOT EXISTS");
      expect(error?.remedy).toContain('CREATE ROLE "vpcm_no_such_reader" NOLOGIN');
      expect(error?.remedy).toContain('pg_read_all_data');
      const run = await runCli(['sql', ...targetFlags(missing), 'select 1']);
      expect(run.exitCode).toBe(2);
      expect(run.stdout + run.stderr).toContain(ErrorCode.ReaderRoleMissing);
    } finally {
      await missing.close();
    }
  });

  it("the CDK stack's set-up event (Custom::VpcMigrateReaderRole) creates the role; read-only run-sql then runs as it; Delete keeps it", async () => {
    const role = `vpcm_reader_${randomBytes(4).toString('hex')}`;
    const own = await startTestWorker(db.url, { readerRole: role });
    const lambda = new LambdaClient({ endpoint: own.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
    const send = async (RequestType: string) => {
      const event = { RequestType, ResourceType: 'Custom::VpcMigrateReaderRole', ResourceProperties: { action: 'setup' }, PhysicalResourceId: 'vpc-migrate-reader-role', RequestId: 'r', StackId: 's', LogicalResourceId: 'l', ResponseURL: 'https://example.invalid' };
      const out = await lambda.send(new InvokeCommand({ FunctionName: own.functionName, Payload: Buffer.from(JSON.stringify(event)) }));
      return { error: out.FunctionError, body: JSON.parse(Buffer.from(out.Payload ?? []).toString('utf8')) as Record<string, any> };
    };
    try {
      const created = await send('Create');
      expect(created.error).toBeUndefined();
      expect(created.body).toMatchObject({ PhysicalResourceId: 'vpc-migrate-reader-role', Data: { ReaderRole: role, Created: 'true' } });
      expect((await send('Update')).body.Data).toMatchObject({ Created: 'false' });

      const who = await runSqlCommand(own.worker, { sql: 'select current_user as who' });
      expect(who.result?.rows).toEqual([{ who: role }]);

      expect((await send('Delete')).body).toEqual({ PhysicalResourceId: 'vpc-migrate-reader-role' });
      expect(await query(adminUrl, `SELECT rolname FROM pg_roles WHERE rolname = $1`, [role])).toEqual([{ rolname: role }]);
    } finally {
      lambda.destroy();
      await own.close();
      await query(adminUrl, `DROP ROLE IF EXISTS ${role}`);
    }
  });

  it('a set-up that cannot reach the database fails the deployment (a function error, not a quiet answer)', async () => {
    const broken = new URL(db.url);
    broken.port = '1';
    const own = await startTestWorker(broken.toString());
    const lambda = new LambdaClient({ endpoint: own.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
    try {
      const out = await lambda.send(new InvokeCommand({ FunctionName: own.functionName, Payload: Buffer.from(JSON.stringify({ RequestType: 'Create', ResourceType: 'Custom::VpcMigrateReaderRole' })) }));
      expect(out.FunctionError).toBe('Unhandled');
      expect(Buffer.from(out.Payload ?? []).toString('utf8')).toContain('Could not connect to PostgreSQL');
    } finally {
      lambda.destroy();
      await own.close();
    }
  });
});
