/**
 * Matrix: security.
 * - `run-sql` without `write` cannot write: every way we know to change data, schema, sequences,
 *   large objects or session characteristics is refused or does nothing, checked against the
 *   database's state; the same statement with `write` does change it (the check can see writes).
 * - No secret in any log line or error: the worker's URL carries a password, and the failures
 *   that tend to echo one (wrong password, unknown database, refused port, SSL refusal, malformed
 *   URL, SQL that quotes a connection string, a migration with a role password) are all scanned.
 *   Every other test file of the matrix scans its own logs and errors the same way.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect } from 'vitest';
import { ErrorCode, type MigrateError } from '../../lambda/contract/index.js';
import { deploy } from '../../scripts/commands/deploy.js';
import { connectWorker } from '../../scripts/transport/invoke.js';
import { databaseTargets } from '../helpers/db.js';
import { fingerprint, ledgerRows, query, type SecretDatabase } from '../helpers/fault-db.js';
import { useFaultServer } from '../helpers/fault-fixture.js';
import { cell } from '../helpers/fault-matrix.js';
import { scanForSecrets, witness } from '../helpers/fault-secrets.js';
import { migrationsDir } from '../helpers/migrations.js';

const FILE = 'test/faults/security.test.ts';

/** Writes a read-only run-sql must not be able to make. */
const WRITES: { sql: string; params?: unknown[] }[] = [
  { sql: `INSERT INTO t VALUES (100, 'x')` },
  { sql: `INSERT INTO t VALUES ($1, $2)`, params: [101, 'param'] },
  { sql: `UPDATE t SET v = 'changed'` },
  { sql: `DELETE FROM t` },
  { sql: `TRUNCATE t` },
  { sql: `MERGE INTO t USING (SELECT 1 AS id) s ON t.id = s.id WHEN MATCHED THEN DELETE` },
  { sql: `WITH d AS (DELETE FROM t RETURNING *) SELECT count(*) FROM d` },
  { sql: `SELECT * FROM t FOR UPDATE` },
  { sql: `CREATE TABLE x (id int)` },
  { sql: `CREATE TEMP TABLE tt (id int)` },
  { sql: `DROP TABLE t` },
  { sql: `ALTER TABLE t ADD COLUMN w int` },
  { sql: `CREATE INDEX ON t (v)` },
  { sql: `COMMENT ON TABLE t IS 'changed'` },
  { sql: `GRANT SELECT ON t TO PUBLIC` },
  { sql: `SELECT nextval('s')` },
  { sql: `SELECT setval('s', 1000)` },
  { sql: `SELECT lo_create(0)` },
  { sql: `SELECT lo_from_bytea(0, '\\x00')` },
  { sql: `SELECT txid_current()` },
  { sql: `SELECT f()` },
  { sql: `CALL p()` },
  { sql: `DO $$ BEGIN INSERT INTO t VALUES (102, 'do'); END $$` },
  { sql: `DO $$ BEGIN COMMIT; INSERT INTO t VALUES (103, 'escaped'); END $$` },
  { sql: `COMMIT; INSERT INTO t VALUES (104, 'after commit')` },
  { sql: `ROLLBACK; DELETE FROM t` },
  { sql: `END; DELETE FROM t` },
  { sql: `SET TRANSACTION READ WRITE` },
  { sql: `SELECT set_config('transaction_read_only', 'off', true)` },
  { sql: `SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE` },
  { sql: `REFRESH MATERIALIZED VIEW mv` },
  { sql: `ANALYZE t` },
  { sql: `VACUUM t` },
  { sql: `PREPARE TRANSACTION 'x'` },
  { sql: `COPY t FROM STDIN` },
  { sql: `LOCK TABLE t IN ACCESS EXCLUSIVE MODE` },
  { sql: `NOTIFY vpcm_fault` },
];

/** `url` with one thing changed (its password, port, path) to make a connection fail. */
function changedUrl(url: string, change: (x: URL) => void): string {
  const x = new URL(url);
  change(x);
  return x.toString();
}

describe.each(databaseTargets())('security on the $name PostgreSQL', ({ name: target, adminUrl }) => {
  const { server, worker, workers, secrets: extraSecrets } = useFaultServer(adminUrl, FILE);

  /** Everything a write could change, as seen by a superuser. */
  const state = async (db: SecretDatabase) =>
    JSON.stringify({
      schema: await fingerprint(db.adminUrl),
      sequence: (await query(db.adminUrl, 'SELECT last_value, is_called FROM s'))[0],
      largeObjects: (await query(db.adminUrl, 'SELECT count(*)::int AS n FROM pg_largeobject_metadata'))[0],
      comments: (await query(db.adminUrl, `SELECT obj_description('t'::regclass) AS c`))[0],
      grants: (await query(db.adminUrl, `SELECT relacl::text AS acl FROM pg_class WHERE relname = 't'`))[0],
      relations: (
        await query(db.adminUrl, `SELECT count(*)::int AS n FROM pg_class WHERE relnamespace = 'public'::regnamespace`)
      )[0],
      matview: (await query(db.adminUrl, `SELECT ispopulated FROM pg_matviews WHERE matviewname = 'mv'`))[0],
    });

  cell(
    'Security · run-sql without --write cannot write',
    {
      target,
      file: FILE,
      invariant: `${WRITES.length} write attempts: each refused or a no-op, database unchanged; with write it changes`,
      timeout: 120_000,
    },
    async ({ ran }) => {
      const db = await server.database();
      await query(
        db.url,
        `CREATE TABLE t (id int PRIMARY KEY, v text);
        INSERT INTO t VALUES (1, 'one'), (2, 'two');
        CREATE SEQUENCE s;
        CREATE FUNCTION f() RETURNS int LANGUAGE sql VOLATILE AS $$ INSERT INTO t VALUES (200, 'f') RETURNING id $$;
        CREATE PROCEDURE p() LANGUAGE sql AS $$ INSERT INTO t VALUES (201, 'p') $$;
        CREATE MATERIALIZED VIEW mv AS SELECT * FROM t WITH NO DATA;`,
      );
      const tw = await worker(db.url);
      const before = await state(db);
      for (const w of WRITES) {
        const outcome = await tw.worker.runSql({ sql: w.sql, ...(w.params ? { params: w.params } : {}) }).then(
          (result) => ({ result, error: null }),
          (error: unknown) => ({ result: null, error: error as MigrateError }),
        );
        witness(outcome.result ?? outcome.error);
        ran();
        // PostgreSQL's refusal, or read-only mode's own (a write it let through on this server version).
        if (outcome.error)
          expect([ErrorCode.SqlFailed, ErrorCode.ReadOnlyRefused], w.sql).toContain(outcome.error.code);
        expect(await state(db), `${w.sql} changed the database (${outcome.error ? 'refused' : 'accepted'})`).toBe(
          before,
        );
      }
      // The refusals name the cause and the way out.
      const refused = await tw.worker.runSql({ sql: `DELETE FROM t` }).catch((e: unknown) => e as MigrateError);
      expect((refused as MigrateError).message).toMatch(/25006/);
      expect((refused as MigrateError).remedy).toMatch(/--write/);
      // Control: the same kind of statement with write does change the database.
      await tw.worker.runSql({ sql: `INSERT INTO t VALUES (100, 'x')`, write: true });
      expect(await state(db)).not.toBe(before);
      await db.drop();
    },
  );

  cell(
    'Security · no secret in logs or errors when connecting or SQL fails',
    {
      target,
      file: FILE,
      invariant:
        "password, password-bearing URL and a migration's role password absent from every log line, answer and error",
      timeout: 120_000,
    },
    async ({ ran }) => {
      const db = await server.database();
      const u = new URL(db.url);
      const variant = (change: (x: URL) => void) => changedUrl(db.url, change);
      const wrongPassword = `${server.password}-wrong`;
      extraSecrets.push(wrongPassword);
      const failures: Record<string, string> = {
        'wrong password': variant((x) => void (x.password = wrongPassword)),
        'unknown database': variant((x) => void (x.pathname = '/vpcm_no_such_database')),
        'refused port': variant((x) => void (x.port = '1')),
        'SSL required by the client': `${db.url}?sslmode=require`,
        'malformed URL': `postgresql://${server.role}:${server.password}@[127.0.0.1:${u.port}/x`,
      };
      for (const [what, url] of Object.entries(failures)) {
        const tw = await worker(url);
        const error = await tw.worker.ledger().then(
          () => null,
          (e: unknown) => e as MigrateError,
        );
        witness(error);
        ran();
        // The system server may trust local connections whatever the password: then it connects.
        if (what === 'wrong password' && error === null) continue;
        if (what === 'SSL required by the client' && error === null) continue;
        expect(error?.code, what).toMatch(/^VPCM_(CONNECTION_FAILED|CONFIG_MISSING)$/);
      }

      const tw = await worker(db.url);
      // SQL whose error quotes a connection string carrying the password.
      const quoted = await tw.worker
        .runSql({ sql: `SELECT 'postgresql://${server.role}:${server.password}@db.internal:5432/app'::int` })
        .catch((e: unknown) => e as MigrateError);
      witness(quoted);
      ran();
      expect((quoted as MigrateError).code).toBe(ErrorCode.SqlFailed);

      // A migration that sets a role's password and fails on that very statement: the statement
      // is quoted in the result, the report and the ledger's logs.
      const rolePassword = `Role-S3cret_${randomBytes(6).toString('hex')}`;
      extraSecrets.push(rolePassword);
      const dir = await migrationsDir({
        '001_app_role':
          `CREATE TABLE a (id int);\nCREATE ROLE vpcm_app_${randomBytes(3).toString('hex')} ` +
          `LOGIN PASSWORD '${rolePassword}' IN ROLE vpcm_no_such_group;\n`,
      });
      const report = await deploy(tw.worker, { migrationsDir: dir, lint: false });
      witness(report);
      ran();
      expect(report.results[0]?.status).toBe('failed');
      expect(report.results[0]?.error?.statement).toMatch(/PASSWORD/);
      const logs = (await ledgerRows(db.adminUrl)).map((r) => r.logs ?? '');
      witness(logs);
      const leaks = scanForSecrets(
        [server.password, encodeURIComponent(server.password), wrongPassword, rolePassword],
        [...workers.flatMap((w) => w.logs), JSON.stringify(report), ...logs],
      );
      expect(leaks.leaks).toEqual([]);
      await db.drop();
    },
  );

  cell(
    "Security · a named database's URL (--database) in no log line or error",
    {
      target,
      file: FILE,
      invariant:
        'named databases whose URL fails (wrong password, refused port, malformed) or whose value is a mistyped ' +
        'URL: every error typed, no password in any log line, answer or error; a good one works',
      timeout: 120_000,
    },
    async ({ ran }) => {
      const own = await server.database();
      const named = await server.database();
      const variant = (change: (x: URL) => void) => changedUrl(named.url, change);
      const wrongPassword = `${server.password}-named`;
      extraSecrets.push(wrongPassword);
      const databases: Record<string, string> = {
        good: named.url,
        'wrong-password': variant((x) => void (x.password = wrongPassword)),
        'refused-port': variant((x) => void (x.port = '1')),
        malformed: `postgresql://${server.role}:${server.password}@[127.0.0.1:${new URL(named.url).port}/x`,
      };
      const tw = await worker(own.url, { databases });
      const on = (database: string) => connectWorker({ ...tw.worker.target, database });
      for (const name of Object.keys(databases).filter((n) => n !== 'good')) {
        const w = on(name);
        const error = await w.ledger().then(
          () => null,
          (e: unknown) => e as MigrateError,
        );
        w.close();
        witness(error);
        ran();
        // The system server may trust local connections whatever the password: then it connects.
        if (name === 'wrong-password' && error === null) continue;
        expect(error?.code, name).toMatch(/^VPCM_(CONNECTION_FAILED|CONFIG_MISSING)$/);
      }
      const good = on('good');
      const report = await deploy(good, {
        migrationsDir: await migrationsDir({ '001_a': 'CREATE TABLE a (id int);' }),
      });
      good.close();
      witness(report);
      ran();
      expect(report.exitCode).toBe(0);
      expect(await ledgerRows(named.adminUrl)).toHaveLength(1);
      expect(await ledgerRows(own.adminUrl).catch(() => [])).toHaveLength(0);

      // A mistyped scheme in the list: refused as configuration, the value never quoted.
      const typo = await worker(own.url, {
        databases: { typo: named.url.replace(/^postgres(ql)?:/, 'postgress:') },
      });
      const w = connectWorker({ ...typo.worker.target, database: 'typo' });
      const refused = await w.ledger().catch((e: unknown) => e as MigrateError);
      w.close();
      witness(refused);
      ran();
      expect((refused as MigrateError).code).toBe(ErrorCode.ConfigMissing);

      const leaks = scanForSecrets(
        [server.password, encodeURIComponent(server.password), wrongPassword],
        [...tw.logs, ...typo.logs, JSON.stringify(report), JSON.stringify(refused)],
      );
      expect(leaks.leaks).toEqual([]);
      await own.drop();
      await named.drop();
    },
  );
});
