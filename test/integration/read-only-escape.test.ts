/**
 * Read-only run-sql as an attacker with read access would try it (issue 23), on real
 * PostgreSQL (embedded and the machine's server): every statement that left the reader role,
 * read a file, signalled a session or had side effects under the old `SET ROLE` design is sent
 * through the migrating worker's read-only path AND through the reader function. Each is
 * refused with a stable code or runs with the reader's rights only; afterwards nothing is
 * written, no session is gone, no file was read, no notification arrived, no lock is held.
 */
import { existsSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_READER_ROLE, ErrorCode, type MigrateError } from '../../lambda/contract/index.js';
import { deploy } from '../../scripts/commands/deploy.js';
import { runSqlCommand } from '../../scripts/commands/sql.js';
import { status } from '../../scripts/commands/status.js';
import { localReaderUrl } from '../../scripts/local/reader-login.js';
import { runCli, targetFlags } from '../helpers/cli.js';
import { databaseTargets, freshDatabase, query } from '../helpers/db.js';
import { exampleMigrations } from '../helpers/migrations.js';
import { startTestWorker, useFreshWorker, type TestWorker } from '../helpers/test-worker.js';

const MIGRATION_LOCK = 72707369;
const marker = `/tmp/vpcm-escape-${randomBytes(6).toString('hex')}`;

/** [statement, what must happen]: a SQLSTATE PostgreSQL refuses with, our refusal code, or 'runs'. */
const ATTEMPTS: [string, string][] = [
  // Point 1: leaving the reader role, then using the login's rights in the same statement.
  [`select set_config('role', 'none', true) as r, current_user as cu, session_user as su`, 'runs'],
  [`select set_config('role', 'none', true), pg_terminate_backend($BYSTANDER)`, '42501'],
  [
    `select set_config('role', 'none', true), query_to_xml('select pg_read_file(''/etc/hostname'')', true, false, '')`,
    ErrorCode.ReadOnlyRefused,
  ],
  [
    `select set_config('role', 'none', true), query_to_xml('select ` +
      `rolname, rolpassword from pg_authid', true, false, ` +
      `'')`,
    ErrorCode.ReadOnlyRefused,
  ],
  [`select rolname, rolpassword from pg_authid`, ErrorCode.ReadOnlyRefused],
  // The same catalog by its OID, which no name check sees.
  [`select table_to_xml(1260::regclass, true, false, '')`, ErrorCode.ReadOnlyRefused],
  [`select * from pg_catalog."pg_shadow"`, ErrorCode.ReadOnlyRefused],
  [`select pg_read_file('/etc/hostname')`, '42501'],
  [`select set_config('role', 'none', true), pg_reload_conf()`, '42501'],
  [`select set_config('session_authorization', 'postgres', true)`, '42501'],
  [`set role postgres`, '42501'],
  [`select dblink_exec('dbname=postgres', 'create table pwned (x int)')`, ErrorCode.ReadOnlyRefused],
  [`copy (select 1) to program 'touch ${marker}'`, '42501'],
  // Point 2: side effects that a READ ONLY transaction lets through.
  [`notify vpcm_escape, 'notify'`, 'runs'],
  [`select pg_notify('vpcm_escape', 'pg_notify')`, 'runs'],
  [`select pg_logical_emit_message(false, 'vpcm', 'x')`, ErrorCode.ReadOnlyRefused],
  [`select pg_catalog.U&"pg\\005flogical\\005femit\\005fmessage"(false, 'vpcm', 'x')`, ErrorCode.ReadOnlyRefused],
  [
    `select ts_stat('select pg_logical_emit_message(false, ''vpcm'', ''x'')::text::tsvector')`,
    ErrorCode.ReadOnlyRefused,
  ],
  [`select pg_advisory_xact_lock(${MIGRATION_LOCK})`, ErrorCode.ReadOnlyRefused],
  [`select pg_try_advisory_lock(${MIGRATION_LOCK})`, ErrorCode.ReadOnlyRefused],
  // A `--` comment ends at a carriage return too: what follows it is code, and is looked at.
  // (xact locks: a session-level one would also be caught afterwards, by the session check)
  [`select 1 -- a comment\r, pg_try_advisory_xact_lock(${MIGRATION_LOCK})`, ErrorCode.ReadOnlyRefused],
  // A dollar quote's tag has no length limit: the scan must pair it as PostgreSQL does.
  [
    `select $${'a'.repeat(300)}$ ' $${'a'.repeat(300)}$ , pg_try_advisory_xact_lock(${MIGRATION_LOCK}) --'`,
    ErrorCode.ReadOnlyRefused,
  ],
  // E'…' continued after a newline is one string, escapes and all.
  [`select E'x'\n'\\'' , pg_try_advisory_xact_lock(${MIGRATION_LOCK}) --'`, ErrorCode.ReadOnlyRefused],
  // A DO block's body is a string to the scan: refused whole.
  [`do $$ begin perform pg_advisory_xact_lock(${MIGRATION_LOCK}); end $$`, ErrorCode.ReadOnlyRefused],
  // Writes, which the transaction and the login both refuse.
  ['insert into account values (2, 20)', '25006'],
  ['create table pwned (x int)', '25006'],
  ['set transaction read write', '25001'],
];

describe.each(databaseTargets())('read-only run-sql cannot be escaped on the $name PostgreSQL', ({ adminUrl }) => {
  const { db, tw } = useFreshWorker(adminUrl, {
    per: 'describe',
    prepare: (url) =>
      query(url, 'CREATE TABLE account (id int PRIMARY KEY, balance int NOT NULL); INSERT INTO account VALUES (1, 10)'),
  });
  let reader: TestWorker;
  /** A superuser session the attempts try to terminate, which also listens for notifications. */
  let bystander: pg.Client;
  let bystanderPid = 0;
  const heard: string[] = [];

  beforeAll(async () => {
    reader = await startTestWorker(db.url, { mode: 'reader', functionName: 'vpc-migrate-test-reader' });
    bystander = new pg.Client({ connectionString: db.url });
    await bystander.connect();
    bystander.on('notification', (n) => heard.push(n.payload ?? ''));
    await bystander.query('LISTEN vpcm_escape');
    bystanderPid = (await bystander.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
  });
  afterAll(async () => {
    await bystander?.end().catch(() => undefined);
    await reader?.close();
  });

  it("reads strings as the refused-name scan does, whatever the database's standard_conforming_strings", async () => {
    // With it off, '\' would not end the string for the server: `as x, 1 as y` would be code.
    const name = decodeURIComponent(new URL(db.url).pathname.slice(1));
    await query(db.url, `ALTER DATABASE "${name}" SET standard_conforming_strings = off`);
    const fresh = await startTestWorker(db.url, { mode: 'reader', functionName: 'vpc-migrate-test-reader-scs' });
    try {
      const report = await runSqlCommand(fresh.worker, { sql: "select '\\', ' as x, 1 as y --'" });
      expect(report.exitCode, JSON.stringify(report.error)).toBe(0);
      expect(report.result?.rows).toHaveLength(1);
      expect(Object.keys(report.result?.rows[0] ?? {})).not.toContain('y');
    } finally {
      await fresh.close();
      await query(db.url, `ALTER DATABASE "${name}" RESET standard_conforming_strings`);
    }
  });

  const cases = ATTEMPTS.flatMap(([sql, outcome]) => [
    ['the migrating worker', sql, outcome],
    ['the reader function', sql, outcome],
  ]);
  it.each(cases)('through %s: %s → %s', async (via, sql, outcome) => {
    const worker = via === 'the reader function' ? reader.worker : tw.worker;
    const report = await runSqlCommand(worker, { sql: sql.replace('$BYSTANDER', String(bystanderPid)) });

    if (outcome === 'runs') {
      expect(report.error).toBeUndefined();
      expect(report.exitCode).toBe(0);
    } else {
      expect(report.exitCode).toBe(2);
      if (outcome.startsWith('VPCM_')) expect(report.error?.code).toBe(outcome);
      else expect([report.error?.code, report.error?.message.slice(0, 5)]).toEqual([ErrorCode.SqlFailed, outcome]);
      // The reader's limits are not a flag away: a permission error never suggests --write.
      if (outcome === '42501') expect(report.error?.remedy).not.toContain('--write');
    }
    if (sql.includes(' as cu'))
      expect(report.result?.rows).toEqual([{ r: 'none', cu: DEFAULT_READER_ROLE, su: DEFAULT_READER_ROLE }]);

    // Nothing written, nobody terminated, no file, no notification (a round trip on the
    // listener delivers any that arrived), no lock left, and the next query is the reader's.
    const round = await bystander.query<{ n: number; pwned: string | null }>(
      `SELECT (SELECT count(*)::int FROM account) AS n, to_regclass('pwned')::text AS pwned`,
    );
    expect(round.rows).toEqual([{ n: 1, pwned: null }]);
    expect(heard).toEqual([]);
    expect(existsSync(marker)).toBe(false);
    const locks = await query(
      db.url,
      `SELECT pid FROM pg_locks WHERE locktype = 'advisory' ` +
        `AND objid = ${MIGRATION_LOCK} AND database = (SELECT ` +
        `oid FROM pg_database WHERE datname = current_database())`,
    );
    expect(locks).toEqual([]);
    const who = await runSqlCommand(worker, { sql: 'select current_user as cu, session_user as su' });
    expect(who.result?.rows).toEqual([{ cu: DEFAULT_READER_ROLE, su: DEFAULT_READER_ROLE }]);
  });

  it('the reader function refuses everything but read-only queries and status, with VPCM_READER_ONLY', async () => {
    const write = await runSqlCommand(reader.worker, { sql: 'insert into account values (3, 30)', write: true }).then(
      () => null,
      (e: unknown) => e as MigrateError,
    );
    expect(write?.code).toBe(ErrorCode.ReaderOnly);
    const migrate = await deploy(reader.worker, { migrationsDir: exampleMigrations }).then(
      (r) => JSON.stringify(r),
      (e: unknown) => (e as MigrateError).code,
    );
    expect(migrate).toContain(ErrorCode.ReaderOnly);
    expect(
      await query(db.url, `SELECT to_regclass('public."Order"')::text AS t, (SELECT count(*)::int FROM account) AS n`),
    ).toEqual([{ t: null, n: 1 }]);

    // status reads the ledger as the reader: the example's migrations are all pending.
    const pending = await status(reader.worker, { migrationsDir: exampleMigrations });
    expect([pending.exitCode, pending.plan.pending.length > 0, pending.server.user]).toEqual([
      1,
      true,
      DEFAULT_READER_ROLE,
    ]);
  });

  it('--write runs on the migrating worker as its own login', async () => {
    const written = await runSqlCommand(tw.worker, {
      sql: 'insert into account values (4, 40) returning current_user as cu',
      write: true,
    });
    expect(written.exitCode).toBe(0);
    expect(written.result?.rows).toEqual([{ cu: new URL(adminUrl).username || 'postgres' }]);
    await query(db.url, 'DELETE FROM account WHERE id = 4');
  });

  it(
    'a reader login with more than read rights (the administrator) ' + 'is refused with VPCM_READER_PRIVILEGED',
    async () => {
      const wrong = await startTestWorker(db.url, { readerDatabaseUrl: db.url });
      try {
        const error = await runSqlCommand(wrong.worker, { sql: 'select 1' }).then(
          () => null,
          (e: unknown) => e as MigrateError,
        );
        expect(error?.code).toBe(ErrorCode.ReaderPrivileged);
        expect(error?.message).toContain('SUPERUSER');
      } finally {
        await wrong.close();
      }
    },
  );

  it(
    'a reader login that does not exist is VPCM_READER_ROLE_MISSING ' +
      'with the set-up to run, never the migrating login',
    async () => {
      const url = new URL(db.url);
      url.username = 'vpcm_no_such_reader';
      url.password = 'x';
      const missing = await startTestWorker(db.url, { readerDatabaseUrl: url.toString() });
      try {
        const error = await runSqlCommand(missing.worker, { sql: 'select current_user as who' }).then(
          () => null,
          (e: unknown) => e as MigrateError,
        );
        expect(error?.code).toBe(ErrorCode.ReaderRoleMissing);
        expect(error?.remedy).toContain('GRANT pg_read_all_data TO "vpcm_no_such_reader"');
        const run = await runCli(['sql', ...targetFlags(missing), 'select 1']);
        expect(run.exitCode).toBe(2);
        expect(run.stdout + run.stderr).toContain(ErrorCode.ReaderRoleMissing);
      } finally {
        await missing.close();
      }
    },
  );

  it(
    "the CDK stack's set-up event creates the reader login " +
      "from the reader's credentials; Update keeps it working; " +
      'Delete keeps it',
    async () => {
      const role = `vpcm_reader_${randomBytes(4).toString('hex')}`;
      const readerUrl = localReaderUrl(db.url, role);
      const own = await startTestWorker(db.url, { readerDatabaseUrl: readerUrl });
      const lambda = new LambdaClient({
        endpoint: own.endpoint,
        region: 'us-east-1',
        credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
      });
      const send = async (RequestType: string) => {
        const event = {
          RequestType,
          ResourceType: 'Custom::VpcMigrateReaderRole',
          ResourceProperties: { action: 'setup' },
          PhysicalResourceId: 'vpc-migrate-reader-role',
          RequestId: 'r',
          StackId: 's',
          LogicalResourceId: 'l',
          ResponseURL: 'https://example.invalid',
        };
        const out = await lambda.send(
          new InvokeCommand({ FunctionName: own.functionName, Payload: Buffer.from(JSON.stringify(event)) }),
        );
        return {
          error: out.FunctionError,
          body: JSON.parse(Buffer.from(out.Payload ?? []).toString('utf8')) as Record<string, any>,
        };
      };
      try {
        const created = await send('Create');
        expect(created.error).toBeUndefined();
        expect(created.body).toMatchObject({
          PhysicalResourceId: 'vpc-migrate-reader-role',
          Data: { ReaderRole: role, Created: 'true' },
        });
        expect((await send('Update')).body.Data).toMatchObject({ Created: 'false' });
        // A login that reads everything and nothing more, read-only even outside the worker.
        const facts = await query(
          adminUrl,
          `SELECT rolcanlogin, rolsuper, pg_has_role(rolname, ` +
            `'pg_read_all_data', 'MEMBER') AS reads, rolconfig FROM ` +
            `pg_roles WHERE rolname = $1`,
          [role],
        );
        expect(facts).toEqual([
          { rolcanlogin: true, rolsuper: false, reads: true, rolconfig: ['default_transaction_read_only=on'] },
        ]);

        const who = await runSqlCommand(own.worker, { sql: 'select current_user as who' });
        expect(who.result?.rows).toEqual([{ who: role }]);

        expect((await send('Delete')).body).toEqual({ PhysicalResourceId: 'vpc-migrate-reader-role' });
        expect(await query(adminUrl, `SELECT rolname FROM pg_roles WHERE rolname = $1`, [role])).toEqual([
          { rolname: role },
        ]);
      } finally {
        lambda.destroy();
        await own.close();
        await query(adminUrl, `DROP ROLE IF EXISTS ${role}`);
      }
    },
  );

  it('a set-up by a login that may not create roles says what to run by hand (VPCM_READER_SETUP_DENIED)', async () => {
    const low = `vpcm_low_${randomBytes(4).toString('hex')}`;
    await query(adminUrl, `CREATE ROLE ${low} LOGIN PASSWORD 'low'`);
    const lowUrl = new URL(db.url);
    lowUrl.username = low;
    lowUrl.password = 'low';
    const role = `vpcm_reader_${randomBytes(4).toString('hex')}`;
    const own = await startTestWorker(lowUrl.toString(), { readerDatabaseUrl: localReaderUrl(db.url, role) });
    try {
      const error = await own.worker.send({ action: 'setup' }).then(
        () => null,
        (e: unknown) => e as MigrateError,
      );
      expect(error?.code).toBe(ErrorCode.ReaderSetupDenied);
      expect(error?.remedy).toContain(`CREATE ROLE "${role}" LOGIN PASSWORD '<the reader secret's password>'`);
      expect(await query(adminUrl, `SELECT rolname FROM pg_roles WHERE rolname = $1`, [role])).toEqual([]);
    } finally {
      await own.close();
      await query(adminUrl, `DROP ROLE IF EXISTS ${low}`);
    }
  });

  it(
    'a set-up that cannot reach the database fails the deployment ' + '(a function error, not a quiet answer)',
    async () => {
      const broken = new URL(db.url);
      broken.port = '1';
      const own = await startTestWorker(broken.toString(), { readerDatabaseUrl: localReaderUrl(db.url) });
      const lambda = new LambdaClient({
        endpoint: own.endpoint,
        region: 'us-east-1',
        credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
      });
      try {
        const out = await lambda.send(
          new InvokeCommand({
            FunctionName: own.functionName,
            Payload: Buffer.from(
              JSON.stringify({ RequestType: 'Create', ResourceType: 'Custom::VpcMigrateReaderRole' }),
            ),
          }),
        );
        expect(out.FunctionError).toBe('Unhandled');
        expect(Buffer.from(out.Payload ?? []).toString('utf8')).toContain('Could not connect to PostgreSQL');
      } finally {
        lambda.destroy();
        await own.close();
      }
    },
  );

  it('a deploy after a pg_advisory_lock attempt is not held back', async () => {
    const fresh = await freshDatabase(adminUrl);
    const other = await startTestWorker(fresh.url);
    try {
      const refused = await runSqlCommand(other.worker, { sql: `select pg_advisory_lock(${MIGRATION_LOCK})` });
      expect(refused.error?.code).toBe(ErrorCode.ReadOnlyRefused);
      const report = await deploy(other.worker, { migrationsDir: exampleMigrations, apply: { lockWaitMs: 2_000 } });
      expect(report.exitCode).toBe(0);
    } finally {
      await other.close();
      await fresh.drop();
    }
  });
});
