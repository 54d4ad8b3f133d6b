/**
 * `run-sql` end to end on real PostgreSQL: the CLI command through the SDK, the local Invoke
 * endpoint and the worker. Read-only is PostgreSQL's doing, so every write attempt must fail
 * with its own error and leave the data as it was.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { renderSql, sqlErrorOf } from '../../scripts/render/sql.js';
import { runSqlCommand } from '../../scripts/commands/sql.js';
import { runCli, targetFlags } from '../helpers/cli.js';
import { databaseTargets, query } from '../helpers/db.js';
import { useFreshWorker } from '../helpers/test-worker.js';

describe.each(databaseTargets())('run-sql on the $name PostgreSQL', ({ adminUrl }) => {
  const { db, tw } = useFreshWorker(adminUrl, {
    per: 'describe',
    prepare: (url) =>
      query(
        url,
        `CREATE TABLE account (id serial PRIMARY KEY, balance ` +
          `int NOT NULL); INSERT INTO account (balance) VALUES ` +
          `(10), (20)`,
      ),
  });
  const accounts = async () =>
    (await query<{ id: number; balance: number }>(db.url, 'SELECT id, balance FROM account ORDER BY id')).map((r) => [
      r.id,
      r.balance,
    ]);

  it('returns rows, columns, the command tag and the duration; renders a table and CSV', async () => {
    const report = await runSqlCommand(tw.worker, {
      sql: `SELECT id, balance, 'a,"b"' AS note, NULL::text AS missing FROM account ORDER BY id`,
    });

    expect(report.exitCode).toBe(0);
    const r = report.result!;
    expect(r.command).toBe('SELECT');
    expect(r.rowCount).toBe(2);
    expect(r.fields.map((f) => f.name)).toEqual(['id', 'balance', 'note', 'missing']);
    expect(r.rows).toEqual([
      { id: 1, balance: 10, note: 'a,"b"', missing: null },
      { id: 2, balance: 20, note: 'a,"b"', missing: null },
    ]);
    expect(r.truncated).toBe(false);
    expect(r.durationMs).toBeGreaterThanOrEqual(0);
    const table = renderSql(report);
    expect(table).toContain(' id | balance | note  | missing');
    expect(table).toContain(' 1  | 10      | a,"b" | NULL');
    expect(table).toMatch(/\(2 rows\) SELECT 2 · \d+ ms/);
    expect(renderSql(report, 'csv')).toBe('id,balance,note,missing\r\n1,10,"a,""b""",\r\n2,20,"a,""b""",');
  });

  it.each([
    [
      'INSERT',
      'INSERT INTO account (balance) VALUES (99)',
      '25006',
      /cannot execute INSERT in a read-only transaction/,
    ],
    ['UPDATE', 'UPDATE account SET balance = 0', '25006', /cannot execute UPDATE in a read-only transaction/],
    [
      'DDL',
      'ALTER TABLE account ADD COLUMN owner text',
      '25006',
      /cannot execute ALTER TABLE in a read-only transaction/,
    ],
    // The reader role may not use the sequence at all: privileges refuse before the transaction mode does.
    ['nextval', `SELECT nextval('account_id_seq')`, '42501', /permission denied for sequence account_id_seq/],
    [
      'COMMIT; DELETE',
      'COMMIT; DELETE FROM account',
      '42601',
      /cannot insert multiple commands into a prepared statement/,
    ],
    [
      'a switch to read-write',
      `SELECT set_config('transaction_read_only', 'off', false)`,
      '25001',
      /read-write mode must be set before any query/,
    ],
  ])("without --write, %s fails with PostgreSQL's own error and changes nothing", async (_what, sql, code, message) => {
    const report = await runSqlCommand(tw.worker, { sql });

    expect(report.exitCode).toBe(2);
    const info = sqlErrorOf(report.error);
    expect(info?.code).toBe(code);
    expect(info?.message).toMatch(message);
    const text = renderSql(report);
    expect(text).toContain(`ERROR ${code}: ${info?.message}`);
    if (code === '25006') expect(text).toContain('read-only run-sql cannot');
    if (code === '42501') expect(text).toContain('runs as the reader login');
    if (code === '42601') expect(text).toContain('exactly one statement');
    expect(await accounts()).toEqual([
      [1, 10],
      [2, 20],
    ]);
    expect(
      await query(
        db.url,
        `SELECT column_name FROM information_schema.columns WHERE table_name = 'account' AND column_name = 'owner'`,
      ),
    ).toEqual([]);
  });

  it('a SELECT of 100,000 rows returns the cap with truncated', async () => {
    const capped = await runSqlCommand(tw.worker, { sql: 'SELECT g AS n FROM generate_series(1, 100000) g' });
    expect(capped.result?.rows).toHaveLength(1000);
    expect(capped.result?.rows[999]).toEqual({ n: 1000 });
    expect(capped.result?.truncated).toBe(true);
    expect(capped.result?.rowCount).toBe(100000);
    expect(renderSql(capped)).toContain('(1000 rows, truncated');

    const all = await runSqlCommand(tw.worker, {
      sql: 'SELECT g AS n FROM generate_series(1, 100000) g',
      maxRows: 100000,
    });
    expect(all.result?.rows).toHaveLength(100000);
    expect(all.result?.truncated).toBe(false);
  });

  it('shows SQLSTATE, detail, hint and a caret under the position', async () => {
    const report = await runSqlCommand(tw.worker, { sql: 'SELECT id,\n       balanse\n  FROM account' });
    const text = renderSql(report);
    expect(text).toContain('ERROR 42703: column "balanse" does not exist');
    expect(text).toContain('LINE 2:        balanse\n               ^');
    expect(text).toMatch(/HINT: Perhaps you meant to reference the column "account.balance"/);

    const dup = await runSqlCommand(tw.worker, { sql: 'INSERT INTO account (id, balance) VALUES (1, 0)', write: true });
    const dupText = renderSql(dup);
    expect(dupText).toContain('ERROR 23505: duplicate key value violates unique constraint "account_pkey"');
    expect(dupText).toContain('DETAIL: Key (id)=(1) already exists.');
  });

  it('passes parameters, collects notices and honours the statement timeout', async () => {
    const sum = await runSqlCommand(tw.worker, { sql: 'SELECT $1::int + $2::int AS sum', params: ['2', '40'] });
    expect(sum.result?.rows).toEqual([{ sum: 42 }]);

    // A DO block is --write's: read-only sql refuses it (read-only-escape.test.ts).
    const notice = await runSqlCommand(tw.worker, {
      sql: `DO $$ BEGIN RAISE NOTICE 'hello %', 'there'; END $$`,
      write: true,
    });
    expect(notice.result?.notices).toEqual(['NOTICE: hello there']);
    expect(renderSql(notice)).toContain('NOTICE: hello there');

    const slow = await runSqlCommand(tw.worker, { sql: 'SELECT pg_sleep(5)', statementTimeoutMs: 200 });
    expect(sqlErrorOf(slow.error)?.code).toBe('57014');
  });

  it('--write changes data, echoes the statement, and asks first when told to', async () => {
    const echoed: string[] = [];
    const declined = await runSqlCommand(tw.worker, {
      sql: 'UPDATE account SET balance = balance + 1 WHERE id = 2',
      write: true,
      progress: (l) => echoed.push(l),
      confirm: async (question) => {
        expect(question).toMatch(/^Run it on database "vpcm_test_[0-9a-f]+" as \w+\? \[y\/N\] $/);
        return false;
      },
    });
    expect(declined.cancelled).toBe(true);
    expect(declined.exitCode).toBe(2);
    expect(echoed.join('\n')).toContain('UPDATE account SET balance = balance + 1 WHERE id = 2');
    expect(await accounts()).toEqual([
      [1, 10],
      [2, 20],
    ]);

    const done = await runSqlCommand(tw.worker, {
      sql: 'UPDATE account SET balance = balance + 1 WHERE id = 2',
      write: true,
      confirm: async () => true,
    });
    expect(done.exitCode).toBe(0);
    expect(done.result?.command).toBe('UPDATE');
    expect(done.result?.rowCount).toBe(1);
    expect(await accounts()).toEqual([
      [1, 10],
      [2, 21],
    ]);
    await runSqlCommand(tw.worker, { sql: 'UPDATE account SET balance = 20 WHERE id = 2', write: true });
  });

  it('the CLI: table and exit 0, --json, --csv, -f, and exit 2 with the caret on a read-only refusal', async () => {
    const flags = targetFlags(tw);
    const ok = await runCli(['sql', ...flags, 'SELECT count(*)::int AS n FROM account']);
    expect(ok.exitCode).toBe(0);
    expect(ok.stdout).toContain(' n\n---\n 2\n(1 row) SELECT 1');

    const json = await runCli(['sql', ...flags, '--json', '--max-rows', '1', 'SELECT id FROM account ORDER BY id']);
    expect(json.exitCode).toBe(0);
    const parsed = JSON.parse(json.stdout) as { result: { rows: unknown[]; truncated: boolean; command: string } };
    expect(parsed.result).toMatchObject({ rows: [{ id: 1 }], truncated: true, command: 'SELECT' });

    const dir = await mkdtemp(path.join(tmpdir(), 'vpcm-sql-'));
    await writeFile(path.join(dir, 'q.sql'), 'SELECT balance FROM account WHERE id = $1::int\n');
    const csv = await runCli(['sql', ...flags, '--csv', '-f', path.join(dir, 'q.sql'), '--param', '2']);
    expect(csv.exitCode).toBe(0);
    expect(csv.stdout).toBe('balance\r\n20\n');
    expect(csv.stderr).toContain('(1 row) SELECT 1');

    const refused = await runCli(['sql', ...flags, 'DELETE FROM account']);
    expect(refused.exitCode).toBe(2);
    expect(refused.stdout).toContain('ERROR 25006: cannot execute DELETE in a read-only transaction');
    const refusedJson = await runCli(['sql', ...flags, '--json', 'DELETE FROM account']);
    expect(refusedJson.exitCode).toBe(2);
    expect(
      (JSON.parse(refusedJson.stdout) as { error: { details: { error: { code: string } } } }).error.details.error.code,
    ).toBe('25006');

    const written = await runCli(['sql', ...flags, '--write', '--yes', 'UPDATE account SET balance = 20 WHERE id = 2']);
    expect(written.exitCode).toBe(0);
    expect(written.stderr).toContain('UPDATE account SET balance = 20 WHERE id = 2');
    expect(written.stdout).toContain('UPDATE 1');

    expect((await runCli(['sql', ...flags])).exitCode).toBe(2);
    expect(await accounts()).toEqual([
      [1, 10],
      [2, 20],
    ]);
  });
});
