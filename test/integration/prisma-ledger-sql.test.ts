/**
 * The ledger's statements (lambda/contract/prisma-ledger-sql.ts) sent both ways they are sent:
 * parameterised (the worker) and with their values inlined (compatibility mode, whose run-sql
 * worker takes no parameters). Both must write the same rows, whatever the values hold.
 */
import { describe, expect, inject, it } from 'vitest';
import {
  createLedgerSql,
  inline,
  insertLedgerRowSql,
  type NewLedgerRow,
  readLedgerSql,
  type SqlStatement,
  updateLedgerRowsSql,
} from '../../lambda/contract/index.js';
import { useFreshDatabase, withClient } from '../helpers/db.js';

const PARAMS = '"ledger_params"';
const INLINED = '"ledger_inlined"';

/** Values a literal must survive: quotes, backslashes (either standard_conforming_strings), newlines, non-ASCII. */
const AWKWARD = `it's a \\ back\\slash, "quoted", \\n not a newline\nbut this is; ünïcødé 😀 $1 $$`;

const row = (id: string, name: string, rest: Omit<NewLedgerRow, 'id' | 'checksum' | 'name'>): NewLedgerRow => ({
  id,
  checksum: `sum-${id}`,
  name,
  ...rest,
});

const ROWS: NewLedgerRow[] = [
  row('started', '20240101_started', { logs: null, startedAt: 'now', appliedSteps: 0 }),
  row('finished', "20240102_o'neil", { logs: AWKWARD, startedAt: 'now', finishedAt: 'clock', appliedSteps: 1 }),
  row('failed', '20240103_failed', { logs: AWKWARD, startedAt: new Date('2024-01-03T04:05:06.789Z'), appliedSteps: 0 }),
  row('resolved', '20240104_resolved', { logs: '', startedAt: 'clock', finishedAt: 'started', appliedSteps: 0 }),
];

const UPDATES: [string | string[], Parameters<typeof updateLedgerRowsSql>[2]][] = [
  ['started', { appliedSteps: 3 }],
  ['started', { logs: AWKWARD, appliedSteps: 2 }],
  ['started', { finished: true, logs: null }],
  [['failed', "it's not there"], { rolledBack: true }],
];

describe('the Prisma ledger statements, parameterised and inlined', () => {
  const db = useFreshDatabase(inject('embeddedUrl'));

  it.each(['on', 'off'])('write the same rows (standard_conforming_strings = %s)', async (conforming) => {
    // Prepare
    const rowsOf = async (table: string) =>
      withClient(db.url, async (c) => {
        const { rows } = await c.query(readLedgerSql(table));
        return rows.map((r) => ({
          ...r,
          finished: r.finished_at !== null,
          finishedWhenStarted: r.id === 'resolved' ? r.finished_at?.getTime() === r.started_at.getTime() : undefined,
          finished_at: undefined,
          started_at: r.id === 'failed' ? r.started_at.toISOString() : undefined,
          rolled_back: r.rolled_back_at !== null,
          rolled_back_at: undefined,
        }));
      });
    const statements: ((table: string) => SqlStatement)[] = [
      ...ROWS.map((r) => (table: string) => insertLedgerRowSql(table, { ...r, returning: r.id === 'resolved' })),
      ...UPDATES.map(
        ([ids, set]) =>
          (table: string) =>
            updateLedgerRowsSql(table, ids, set),
      ),
    ];

    // Act
    await withClient(db.url, async (c) => {
      await c.query(`SET standard_conforming_strings = ${conforming}`);
      for (const table of [PARAMS, INLINED]) await c.query(`DROP TABLE IF EXISTS ${table}; ${createLedgerSql(table)}`);
      for (const statement of statements) {
        const params = statement(PARAMS);
        await c.query(params.text, params.values as unknown[]);
        await c.query(inline(statement(INLINED)));
      }
    });

    // Assess
    const inlined = await rowsOf(INLINED);
    expect(inlined).toEqual(await rowsOf(PARAMS));
    const written = (id: string) => inlined.find((r) => r.id === id);
    expect(written('finished')).toMatchObject({ migration_name: "20240102_o'neil", logs: AWKWARD, finished: true });
    expect(written('started')).toMatchObject({ logs: null, applied_steps_count: 1, finished: true });
    expect(written('failed')).toMatchObject({ started_at: '2024-01-03T04:05:06.789Z', rolled_back: true });
    expect(written('resolved')).toMatchObject({ logs: '', finishedWhenStarted: true, applied_steps_count: 0 });
  });

  it('refuses a statement with a placeholder it has no value for', () => {
    expect(() => inline({ text: 'SELECT $1, $2', values: ['a'] })).toThrow(/no value for \$2/);
  });
});
