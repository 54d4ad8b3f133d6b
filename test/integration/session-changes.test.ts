/**
 * What a migration does to its own session cannot reach the tool's statements (issue 24):
 * a file that changes search_path (pg_dump's preamble, `SET search_path TO audit`) deploys as
 * psql applies it, the ledger row lands in the connection's own schema, and Prisma agrees; a
 * failing file runs once, so a sequence it advances moves once and the line is still found.
 */
import { describe, expect, it } from 'vitest';
import { deploy } from '../../scripts/commands/deploy.js';
import { fingerprint } from '../helpers/fault-db.js';
import { databaseTargets, prismaLedger, query, useFreshDatabase } from '../helpers/db.js';
import { migrationsDir } from '../helpers/migrations.js';
import { expectPrismaUpToDate } from '../helpers/prisma-agrees.js';
import { applyLikePsql } from '../helpers/psql.js';
import { useFreshWorker } from '../helpers/test-worker.js';

/** Every table with its schema (fingerprint() looks at public only; these files write elsewhere too). */
const tablesBySchema = async (url: string) =>
  (
    await query<{ t: string }>(
      url,
      `SELECT n.nspname || '.' || c.relname AS t FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1`,
    )
  ).map((r) => r.t);

const SEARCH_PATH_FILES: Record<string, Record<string, string>> = {
  "pg_dump's preamble empties search_path": {
    '001_dumped': [
      "SELECT pg_catalog.set_config('search_path', '', false);",
      'CREATE TABLE public.dumped (id integer PRIMARY KEY);',
      '',
    ].join('\n'),
    // Its own session in psql; here the worker resets the session between files.
    '002_after': 'CREATE TABLE after_dump (id integer);\n',
  },
  'SET search_path TO audit': {
    '001_audit': [
      'CREATE SCHEMA audit;',
      'SET search_path TO audit;',
      'CREATE TABLE entries (id integer PRIMARY KEY, at timestamptz);',
      '',
    ].join('\n'),
    '002_after': 'CREATE TABLE after_audit (id integer);\n',
  },
};

describe.each(databaseTargets())('a file that changes its own session, on the $name PostgreSQL', ({ adminUrl }) => {
  const env = useFreshWorker(adminUrl);
  const reference = useFreshDatabase(adminUrl);

  it.each(
    Object.entries(SEARCH_PATH_FILES),
  )('%s: deploys, the schema equals psql’s, the rows are in public, Prisma agrees', async (_, files) => {
    const dir = await migrationsDir(files);

    const report = await deploy(env.tw.worker, { migrationsDir: dir });

    expect(report.exitCode, JSON.stringify(report.problems)).toBe(0);
    expect(report.results.map((r) => r.status)).toEqual(['applied', 'applied']);
    await applyLikePsql(reference.url, dir);
    expect(await fingerprint(env.db.url)).toBe(await fingerprint(reference.url));
    expect(await tablesBySchema(env.db.url)).toEqual(
      [...(await tablesBySchema(reference.url)), 'public._prisma_migrations'].sort(),
    );
    const ledgers = await query<{ schema: string }>(
      env.db.url,
      `SELECT n.nspname AS schema FROM pg_class c JOIN pg_namespace ` +
        `n ON n.oid = c.relnamespace WHERE c.relname = '_prisma_migrations'`,
    );
    expect(ledgers).toEqual([{ schema: 'public' }]);
    expect((await prismaLedger(env.db.url)).map((r) => [r.migration_name, r.finished_at !== null])).toEqual(
      Object.keys(files).map((n) => [n, true]),
    );
    await expectPrismaUpToDate(env.db.url, dir);
  });

  it.each([
    ['division by zero', 'SELECT 1 / 0;'],
    ['a foreign key violation', 'INSERT INTO child VALUES (1, 42);'],
  ])(
    'a file failing with %s (no position) runs once: the ' + 'sequence advanced once, the line is found',
    async (_, failing) => {
      const dir = await migrationsDir({
        '001_setup':
          'CREATE SEQUENCE ticks;\nCREATE TABLE parent (id int ' +
          'PRIMARY KEY);\nCREATE TABLE child (id int PRIMARY KEY, ' +
          'parent_id int REFERENCES parent);\n',
        '002_fails': ["SELECT nextval('ticks');", 'SELECT pg_sleep(0.2);', '', failing, ''].join('\n'),
      });

      const report = await deploy(env.tw.worker, { migrationsDir: dir });

      expect(report.exitCode).toBe(2);
      const failed = report.results.find((r) => r.name === '002_fails');
      expect(failed).toMatchObject({ status: 'failed', error: { line: 4, statementIndex: 2 } });
      // nextval is not rolled back: a second run of the file would leave 2 here.
      expect(await query(env.db.url, 'SELECT last_value::int AS n, is_called FROM ticks')).toEqual([
        { n: 1, is_called: true },
      ]);
    },
  );
});
