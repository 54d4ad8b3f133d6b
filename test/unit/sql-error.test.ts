import { describe, expect, it } from 'vitest';
import {
  describeSqlError,
  isAlreadyExists,
  indexAfterCodePoints,
  ledgerLogFor,
  positionOf,
} from '../../lambda/contract/index.js';

describe('sql-error', () => {
  it('maps a PostgreSQL position (code points) to the line and column in the file', () => {
    const file = '-- 😀 header\nCREATE TABLE a (id int);\nSELECT * FROM nope;\n';
    const offset = file.indexOf('SELECT');
    // PostgreSQL reports "nope" at character 15 of the statement it was sent.
    const info = describeSqlError(
      { code: '42P01', message: 'relation "nope" does not exist', position: '15' },
      file,
      offset,
      19,
      3,
      1,
    );
    expect(info).toMatchObject({
      code: '42P01',
      line: 3,
      column: 15,
      statementIndex: 1,
      statement: 'SELECT * FROM nope;',
    });
  });

  it('counts an emoji as one character, as PostgreSQL does', () => {
    const text = "SELECT '😀', nope";
    // "nope" is the 14th character (1-based) for PostgreSQL but index 14 in UTF-16.
    expect(indexAfterCodePoints(text, 0, 13)).toBe(14);
    const info = describeSqlError({ message: 'column "nope" does not exist', position: '14' }, text, 0, text.length);
    expect(info.column).toBe(15);
  });

  it('falls back to the statement line when PostgreSQL gives no position', () => {
    const info = describeSqlError({ code: '23505', message: 'duplicate key' }, 'a\nb\nc', 4, 1, 3, 2);
    expect(info.line).toBe(3);
    expect(info.column).toBeUndefined();
  });

  it('treats only duplicate-object SQLSTATEs as "already exists"', () => {
    for (const code of ['42P07', '42710', '42701', '42P06', '42723'])
      expect(isAlreadyExists({ code, message: 'x already exists' })).toBe(true);
    expect(isAlreadyExists({ code: '42P16', message: 'multiple primary keys for table "t" are not allowed' })).toBe(
      true,
    );
    expect(isAlreadyExists({ code: '42P16', message: 'invalid table definition' })).toBe(false);
    expect(isAlreadyExists({ code: '23505', message: 'Key (id)=(1) already exists.' })).toBe(false);
    expect(isAlreadyExists({ code: '42P01', message: 'relation does not exist' })).toBe(false);
    expect(isAlreadyExists({ message: 'already exists' })).toBe(false);
  });

  it('positions lines from 1', () => {
    expect(positionOf('ab\ncd', 0)).toEqual({ line: 1, column: 1 });
    expect(positionOf('ab\ncd', 4)).toEqual({ line: 2, column: 2 });
  });

  it('writes failure logs in the shape Prisma stores', () => {
    const log = ledgerLogFor('001_x', {
      code: '42P01',
      message: 'relation "nope" does not exist',
      line: 3,
      column: 15,
    });
    expect(log).toContain('Migration name: 001_x');
    expect(log).toContain('Database error code: 42P01');
    expect(log).toContain('ERROR: relation "nope" does not exist');
    expect(log).toContain('line 3, column 15');
  });

  it('never echoes a password from an error message', () => {
    const info = describeSqlError({ message: 'could not connect to postgresql://app:s3cret@db:5432/x' }, '', 0, 0);
    expect(info.message).not.toContain('s3cret');
  });
});
