/**
 * The pure parts of the operator commands: event validation for resolve/rehearse/backfill
 * (strict, every problem listed), the backfill check comment, row formatting and the caret,
 * and the lock/row arithmetic of rehearsals.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { MigrateError, parseBackfillCheck, parseEvent, WORKER_ACTIONS } from '../../lambda/contract/index.js';
import { lockImpact, newLockKeys, rowsDelta, sortLocks } from '../../lambda/measure.js';
import { caretLines, renderCsv, renderTable } from '../../scripts/render/rows.js';

const sha = (s: string) => createHash('sha256').update(s, 'utf8').digest('hex');

function problems(event: unknown): string[] {
  try {
    parseEvent(event);
  } catch (error) {
    expect(error).toBeInstanceOf(MigrateError);
    const e = error as MigrateError;
    if (e.code !== 'VPCM_INVALID_EVENT') return [e.code];
    return (e.details?.problems as string[]) ?? [];
  }
  return [];
}

describe('worker events for the operator actions', () => {
  it('are known actions', () => {
    expect(WORKER_ACTIONS).toEqual(expect.arrayContaining(['resolve', 'rehearse', 'backfill']));
  });

  it('resolve: accepts both targets, needs a checksum for applied, lists every problem', () => {
    expect(parseEvent({ action: 'resolve', name: '001_x', to: 'rolled-back' })).toEqual({
      action: 'resolve',
      name: '001_x',
      to: 'rolled-back',
    });
    expect(
      parseEvent({
        action: 'resolve',
        name: '001_x',
        to: 'applied',
        checksum: sha('x'),
        lockWaitMs: 500,
        requestId: 'r',
      }),
    ).toEqual({
      action: 'resolve',
      name: '001_x',
      to: 'applied',
      checksum: sha('x'),
      lockWaitMs: 500,
      requestId: 'r',
    });
    expect(
      problems({ action: 'resolve', name: 'a/b', to: 'sideways', checksum: 'XYZ', lockWaitMs: -1, extra: 1 }),
    ).toEqual([
      'extra: unknown field',
      'name: a folder name of 1-255 characters without / \\ or NUL',
      'to: "applied" or "rolled-back"',
      'checksum: 64 lowercase hex characters',
      'lockWaitMs: an integer from 0 to 3600000',
    ]);
    expect(problems({ action: 'resolve', name: 'x', to: 'applied' })).toEqual([
      'checksum: required when to is "applied" (the new row records it)',
    ]);
  });

  it('rehearse: decodes migrations like apply and verifies their checksums', () => {
    const sql = 'CREATE TABLE t (id int);';
    const parsed = parseEvent({
      action: 'rehearse',
      migrations: [{ name: '001', checksum: sha(sql), sql, mode: 'transactional' }],
      options: { lockTimeoutMs: 100 },
    });
    expect(parsed).toMatchObject({
      action: 'rehearse',
      options: { lockTimeoutMs: 100 },
      migrations: [{ name: '001', sql, statements: [] }],
    });
    expect(problems({ action: 'rehearse', migrations: [] })).toEqual(['migrations: must be a non-empty array']);
    expect(
      problems({
        action: 'rehearse',
        migrations: [{ name: '001', checksum: sha('other'), sql, mode: 'transactional' }],
      }),
    ).toEqual(['VPCM_CHECKSUM_IN_TRANSIT']);
    expect(
      problems({ action: 'rehearse', migrations: [{ name: '', mode: 'x' }], options: { lockWaitMs: 'soon' } }),
    ).toEqual([
      'options.lockWaitMs: an integer from 0 to 3600000',
      'migrations[0].name: a folder name of 1-255 characters without / \\ or NUL',
      'migrations[0].checksum: 64 lowercase hex characters',
      'migrations[0].mode: one of transactional, non-transactional, script',
      'migrations[0]: exactly one of sql (string) or sqlGzipBase64 (string)',
    ]);
  });

  it('backfill: strict fields, checksum verified', () => {
    const sql = 'UPDATE t SET a = 1;';
    expect(
      parseEvent({ action: 'backfill', name: 'fill', checksum: sha(sql), sql, again: true, runBy: 'me@host' }),
    ).toEqual({
      action: 'backfill',
      name: 'fill',
      checksum: sha(sql),
      sql,
      again: true,
      runBy: 'me@host',
    });
    expect(
      problems({
        action: 'backfill',
        name: '../x',
        checksum: 'no',
        sql: ' ',
        again: 'yes',
        runBy: '',
        statementTimeoutMs: 1.5,
        nope: true,
      }),
    ).toEqual([
      'nope: unknown field',
      'name: a backfill name of 1-200 characters without / \\ or NUL',
      'checksum: 64 lowercase hex characters',
      'sql: a non-empty string',
      'again: a boolean',
      'runBy: a string of 1-200 characters',
      'statementTimeoutMs: an integer from 0 to 3600000',
    ]);
    expect(problems({ action: 'backfill', name: 'fill', checksum: sha('x'), sql })).toEqual([
      'VPCM_CHECKSUM_IN_TRANSIT',
    ]);
  });
});

describe('parseBackfillCheck', () => {
  it('reads one line, or continues on indented comment lines, from the leading comments only', () => {
    expect(parseBackfillCheck('-- check: SELECT 1;\nUPDATE t SET a = 1;')).toBe('SELECT 1');
    expect(
      parseBackfillCheck(
        '-- Fill totals.\n-- check: SELECT count(*)\n--     ' +
          '   FROM t\n--   WHERE a = 0\n-- unrelated note\nUPDATE ' +
          't SET a = 1;',
      ),
    ).toBe('SELECT count(*) FROM t WHERE a = 0');
    expect(parseBackfillCheck('\uFEFF\n-- CHECK:   SELECT 2\r\nUPDATE t SET a = 1;')).toBe('SELECT 2');
    expect(parseBackfillCheck('UPDATE t SET a = 1;\n-- check: SELECT 1')).toBeUndefined();
    expect(parseBackfillCheck('-- check:\nUPDATE t SET a = 1;')).toBeUndefined();
    expect(parseBackfillCheck('-- no check here\nUPDATE t SET a = 1;')).toBeUndefined();
  });
});

describe('row formatting', () => {
  it('aligns a table, spells out NULL and shows JSON and line breaks on one line', () => {
    expect(
      renderTable(
        ['id', 'doc'],
        [
          { id: 1, doc: { a: [1] } },
          { id: 22, doc: null },
          { id: 3, doc: 'two\nlines' },
        ],
      ),
    ).toBe([' id | doc', '----+-----------', ' 1  | {"a":[1]}', ' 22 | NULL', ' 3  | two↵lines'].join('\n'));
  });

  it('writes RFC 4180 CSV', () => {
    expect(
      renderCsv(
        ['a', 'b'],
        [
          { a: 'x,y', b: 'say "hi"' },
          { a: null, b: ' padded' },
          { a: 'multi\nline', b: 2 },
        ],
      ),
    ).toBe('a,b\r\n"x,y","say ""hi"""\r\n," padded"\r\n"multi\nline",2');
    // Booleans and json as the table shows them (csv-stringify's defaults would write 1 and empty).
    const typed = renderCsv(['t', 'f', 'j'], [{ t: true, f: false, j: { k: [1] } }]);
    expect(typed).toBe('t,f,j\r\ntrue,false,"{""k"":[1]}"');
  });

  it('puts a caret under the error position, windowing long lines', () => {
    expect(caretLines('SELECT *\nFROM nope', { line: 2, column: 6 })).toEqual(['LINE 2: FROM nope', '             ^']);
    const long = `SELECT ${'x, '.repeat(60)}oops FROM t`;
    const [text, caret] = caretLines(long, { line: 1, column: long.indexOf('oops') + 1 });
    expect(text?.startsWith('LINE 1: ...')).toBe(true);
    expect(text?.slice(caret!.indexOf('^'), caret!.indexOf('^') + 4)).toBe('oops');
    expect(caretLines('SELECT 1', {})).toEqual([]);
  });
});

describe('rehearsal arithmetic', () => {
  it("maps lock modes to what other sessions wait for (PostgreSQL's conflict table)", () => {
    expect(lockImpact('AccessExclusiveLock')).toBe('reads-and-writes');
    expect(['ExclusiveLock', 'ShareRowExclusiveLock', 'ShareLock'].map(lockImpact)).toEqual([
      'writes',
      'writes',
      'writes',
    ]);
    expect(lockImpact('ShareUpdateExclusiveLock')).toBe('schema-changes');
    expect(['RowExclusiveLock', 'RowShareLock', 'AccessShareLock'].map(lockImpact)).toEqual(['ddl', 'ddl', 'ddl']);
  });

  it('finds the locks new since the last snapshot and sorts them strongest first', () => {
    const before = new Set(['relation|100|RowExclusiveLock']);
    const after = new Set([...before, 'relation|200|ShareLock', 'relation|100|AccessExclusiveLock']);
    expect(newLockKeys(before, after)).toEqual(['relation|200|ShareLock', 'relation|100|AccessExclusiveLock']);
    const lock = (target: string, mode: string) => ({ locktype: 'relation', mode, target });
    expect(
      sortLocks([lock('u', 'ShareLock'), lock('t', 'RowExclusiveLock'), lock('t', 'AccessExclusiveLock')]).map((l) => [
        l.target,
        l.mode,
      ]),
    ).toEqual([
      ['t', 'AccessExclusiveLock'],
      ['u', 'ShareLock'],
      ['t', 'RowExclusiveLock'],
    ]);
  });

  it('reports rows touched per table between snapshots, biggest first', () => {
    const before = new Map([['1', { table: 'a', inserted: 5, updated: 0, deleted: 0 }]]);
    const after = new Map([
      ['1', { table: 'a', inserted: 6, updated: 0, deleted: 0 }],
      ['2', { table: 'b', inserted: 0, updated: 7, deleted: 1 }],
    ]);
    expect(rowsDelta(before, after)).toEqual([
      { table: 'b', inserted: 0, updated: 7, deleted: 1 },
      { table: 'a', inserted: 1, updated: 0, deleted: 0 },
    ]);
    expect(rowsDelta(after, after)).toEqual([]);
  });
});
