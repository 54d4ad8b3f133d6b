/**
 * The apply path's round trips (issue 26): a transactional migration costs the worker's session
 * one query — the session reset committed ahead of the file, the file, then the guarded ledger
 * row with COMMIT (lambda/session-reset.ts, lambda/statement-tail.ts); none of its own when it
 * follows another in that query (lambda/prisma/chain.ts) — or two when the file's end leaves the
 * scan unsure (a backslash in a plain string). What PostgreSQL reports is still placed
 * in the user's own file: positions shifted back past the prefix, a file PostgreSQL cannot parse
 * (a leading BOM, a last statement cut short) reported as the file's failure in its own words, and
 * a failing reset reported as the worker's (VPCM_SESSION_RESET_FAILED), never as the file's.
 */
import { describe, expect, it } from 'vitest';
import { ErrorCode, MigrateError } from '../../lambda/contract/index.js';
import { PendingReset } from '../../lambda/session-reset.js';
import { deploy } from '../../scripts/commands/deploy.js';
import { databaseTargets, freshDatabase, prismaLedger, query, withClient } from '../helpers/db.js';
import { useApplyQueryCounter } from '../helpers/apply-queries.js';
import { migrationsDir } from '../helpers/migrations.js';
import { startTestWorker, useFreshWorker } from '../helpers/test-worker.js';

const RESET = ['SET SESSION AUTHORIZATION DEFAULT', 'RESET ALL', 'DISCARD TEMP', 'SET lock_timeout = 0'];

describe.each(databaseTargets())('the apply path on the $name PostgreSQL', ({ adminUrl }) => {
  const env = useFreshWorker(adminUrl);
  const counting = useApplyQueryCounter();

  it.each([
    // Chained with the one before it (lambda/prisma/chain.ts): in that one's query.
    [
      'no round trip of its own',
      'CREATE TABLE b (id integer);\nCREATE INDEX b_id ON b (id); -- no newline at the end',
      0,
    ],
    [
      'two round trips when its end is unsure',
      "CREATE TABLE b (id integer);\nCOMMENT ON TABLE b IS 'a\\b';\nCREATE INDEX b_id ON b (id);\n",
      2,
    ],
  ])('a transactional migration after another costs %s on the migration session', async (_, sql, trips) => {
    const one = await migrationsDir({ '001_a': 'CREATE TABLE a (id integer);\n' });
    const two = await migrationsDir({ '001_a': 'CREATE TABLE a (id integer);\n', '002_b': sql });
    const other = await freshDatabase(adminUrl);
    const tw2 = await startTestWorker(other.url);
    try {
      const counter = counting.start();
      const first = await deploy(env.tw.worker, { migrationsDir: one });
      const withOne = counter.count();
      const second = await deploy(tw2.worker, { migrationsDir: two });
      const withTwo = counter.count() - withOne;
      expect(first.exitCode).toBe(0);
      expect(second.results.map((r) => r.status)).toEqual(['applied', 'applied']);
      // Same batch overhead on both fresh databases: the difference is 002_b alone.
      expect(withTwo - withOne).toBe(trips);
      expect((await prismaLedger(other.url)).map((r) => [r.migration_name, r.finished_at !== null])).toEqual([
        ['001_a', true],
        ['002_b', true],
      ]);
      expect(await query(other.url, `SELECT to_regclass('b_id') IS NOT NULL AS made`)).toEqual([{ made: true }]);
    } finally {
      await tw2.close();
      await other.drop();
    }
  });

  it('a CONCURRENTLY migration costs 4 queries: waiters, reset with started row, statement, finished row', async () => {
    const one = await migrationsDir({ '001_a': 'CREATE TABLE a (id integer);\n' });
    const two = await migrationsDir({
      '001_a': 'CREATE TABLE a (id integer);\n',
      '002_index': 'CREATE INDEX CONCURRENTLY a_id ON a (id);\n',
    });
    const other = await freshDatabase(adminUrl);
    const tw2 = await startTestWorker(other.url);
    try {
      const counter = counting.start();
      expect((await deploy(env.tw.worker, { migrationsDir: one })).exitCode).toBe(0);
      const withOne = counter.count();
      const second = await deploy(tw2.worker, { migrationsDir: two });
      expect(second.results.map((r) => [r.name, r.status, r.mode])).toEqual([
        ['001_a', 'applied', 'transactional'],
        ['002_index', 'applied', 'non-transactional'],
      ]);
      // The session reset travels with the started row (startRow): one query, not two.
      expect(counter.count() - withOne - withOne).toBe(4);
      const rows = await prismaLedger(other.url);
      expect(rows.map((r) => [r.migration_name, r.finished_at !== null, r.applied_steps_count])).toEqual([
        ['001_a', true, 1],
        ['002_index', true, 1],
      ]);
    } finally {
      await tw2.close();
      await other.drop();
    }
  });

  it.each([
    ['default_transaction_read_only left on', 'SET default_transaction_read_only = on;\n', 'public'],
    ['a search_path left on another schema', 'CREATE SCHEMA audit;\nSET search_path TO audit;\n', 'public'],
  ])('a CONCURRENTLY migration after a file with %s runs under the reset', async (_, first, schema) => {
    const dir = await migrationsDir({
      '000_table': 'CREATE TABLE t (id integer);\n',
      '001_setting': first,
      '002_index': 'CREATE INDEX CONCURRENTLY t_id ON t (id);\n',
    });
    const report = await deploy(env.tw.worker, { migrationsDir: dir });
    expect(report.results.map((r) => [r.name, r.status])).toEqual([
      ['000_table', 'applied'],
      ['001_setting', 'applied'],
      ['002_index', 'applied'],
    ]);
    expect(report.exitCode).toBe(0);
    const [index] = await query<{ schema: string }>(
      env.db.url,
      `SELECT n.nspname AS schema FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relname = 't_id'`,
    );
    expect(index?.schema).toBe(schema);
  });

  it("a last statement cut short is the file's syntax error, in PostgreSQL's words for the file alone", async () => {
    const dir = await migrationsDir({
      '001_ok': 'CREATE TABLE t (id integer);\n',
      '002_cut': 'CREATE TABLE u (id integer);\nCREATE TABLE v (id integer',
    });
    // The linter refuses it first; sent anyway (as if split by a parser that took it), the row
    // appended after it must not change what PostgreSQL says.
    const report = await deploy(env.tw.worker, { migrationsDir: dir, lint: false });
    const failed = report.results[1];
    expect(failed?.status, JSON.stringify(report.problems)).toBe('failed');
    expect(failed?.error?.code).toBe('42601');
    expect(failed?.error?.message).toContain('at end of input');
    expect(failed?.failureRecorded).toBe(true);
    expect(await query(env.db.url, `SELECT to_regclass('u') IS NULL AS gone`)).toEqual([{ gone: true }]);
    const rows = await prismaLedger(env.db.url);
    expect(rows.map((r) => [r.migration_name, r.finished_at !== null])).toEqual([
      ['001_ok', true],
      ['002_cut', false],
    ]);
  });

  it.each([
    // Its own VM001: not a lost lock.
    ['its own message', 'VM001', "'mine'", { message: 'mine' }, ErrorCode.LockLost],
    // The guard's token read with current_query(): still not a refusal of the guard's.
    ["the guard's token", 'VM002', 'current_query()', {}, ErrorCode.AlreadyRecorded],
  ])("a file raising the guard's SQLSTATE (%s) is its own failure", async (_, code, message, expected, notProblem) => {
    const dir = await migrationsDir({
      '001_raises':
        'CREATE TABLE r (id integer);\n' +
        `DO $$ BEGIN RAISE EXCEPTION USING ERRCODE = '${code}', MESSAGE = ${message}; END $$;\n`,
    });
    const report = await deploy(env.tw.worker, { migrationsDir: dir });
    expect(report.results[0]?.status, JSON.stringify(report.problems)).toBe('failed');
    expect(report.results[0]?.error).toMatchObject({ code, statementIndex: 1, ...expected });
    expect(report.problems.map((p) => p.code)).not.toContain(notProblem);
    expect((await prismaLedger(env.db.url)).map((r) => [r.migration_name, r.finished_at])).toEqual([
      ['001_raises', null],
    ]);
  });

  it("a runtime error's line and column are the file's own, past the reset sent ahead of it", async () => {
    const dir = await migrationsDir({
      '001_ok': 'CREATE TABLE t (id integer);\n',
      '002_bad': '-- first line\nCREATE TABLE u (id integer);\nSELECT  nope FROM u;\n',
    });
    const report = await deploy(env.tw.worker, { migrationsDir: dir });
    const failed = report.results[1];
    expect(failed?.status).toBe('failed');
    expect(failed?.error).toMatchObject({ code: '42703', line: 3, column: 9, statementIndex: 1 });
    // Rolled back: the file's first statement left nothing, the reset before it stayed committed.
    expect(await query(env.db.url, `SELECT to_regclass('u') IS NULL AS gone`)).toEqual([{ gone: true }]);
    const rows = await prismaLedger(env.db.url);
    expect(rows.find((r) => r.migration_name === '002_bad')?.logs).toContain('line 3, column 9 of migration.sql');
  });

  it("a file PostgreSQL cannot parse (a leading BOM) is the file's failure, at line 1", async () => {
    const dir = await migrationsDir({ '001_bom': '\uFEFFCREATE TABLE bom (id integer);\n' });
    // The linter refuses it first (its parser fails alike); sent anyway, the worker must place it.
    const report = await deploy(env.tw.worker, { migrationsDir: dir, lint: false });
    const failed = report.results[0];
    expect(failed?.status, JSON.stringify(report.problems)).toBe('failed');
    expect(failed?.error?.code).toBe('42601');
    expect(failed?.error?.line).toBe(1);
    expect(failed?.error?.column).toBe(1);
    expect(failed?.failureRecorded).toBe(true);
    const rows = await prismaLedger(env.db.url);
    expect(rows.map((r) => [r.migration_name, r.finished_at])).toEqual([['001_bom', null]]);
  });

  it('the prefix: positions shifted back; a failing reset is VPCM_SESSION_RESET_FAILED, rolled back', async () => {
    await withClient(env.db.url, async (db) => {
      const text = 'SELECT 1;\nSELECT  nope;';
      const run = await new PendingReset(RESET).begin(db, text);
      expect(run.completed).toBe(1);
      expect(run.inTransaction).toBe(true);
      // 1-based, in characters of the text after the prefix: `nope` starts at index 18.
      expect((run.error as { position?: string }).position).toBe(String(text.indexOf('nope') + 1));
      await db.query('ROLLBACK');

      const bad = new PendingReset(['RESET ALL', 'SET statement_timeout = nonsense']);
      const error = await bad.begin(db, 'CREATE TABLE never (id integer)').catch((e: unknown) => e);
      expect(error).toBeInstanceOf(MigrateError);
      expect((error as MigrateError).code).toBe(ErrorCode.SessionResetFailed);
      expect(bad.pending).toBe(true);
      // Not left in an aborted transaction, and the file never ran.
      expect((await db.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
      expect((await db.query(`SELECT to_regclass('never') IS NULL AS absent`)).rows).toEqual([{ absent: true }]);

      // A parse error of the file: nothing ran, so the reset runs alone, and the error is the file's.
      const parse = new PendingReset(RESET);
      const unparsable = await parse.begin(db, 'CREATE TABLE x (id integer,,)');
      expect(unparsable.inTransaction).toBe(false);
      expect(parse.pending).toBe(false);
      expect((unparsable.error as { code?: string }).code).toBe('42601');
      expect(Number((unparsable.error as { position?: string }).position)).toBe(
        'CREATE TABLE x (id integer,,)'.indexOf(',,') + 2,
      );
    });
  });
});
