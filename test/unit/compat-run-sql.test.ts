/** The pure parts of `--protocol run-sql`: payloads, answers, error reading, statement preparation. */
import { beforeAll, describe, expect, it } from 'vitest';
import { scriptSegments } from '../../scripts/compat/apply.js';
import { prepareStatement } from '../../scripts/compat/inspect.js';
import { literal } from '../../lambda/contract/index.js';
import { decodeAnswer, decodeGuard, dollarTag } from '../../scripts/compat/sql.js';
import {
  failureFrom,
  isDuplicateFailure,
  parsePayloadTemplate,
  readPath,
  renderPayload,
} from '../../scripts/compat/transport.js';
import { type SqlParser, sqlParser } from '../../scripts/core/sql-parser.js';
import { splitMigration } from '../../scripts/core/split.js';

describe('payload template', () => {
  it('puts the SQL into the seed shape without any escaping by hand', () => {
    const sql = `INSERT INTO t VALUES ('a "quoted" \\ value', $$x$$);\n`;
    expect(renderPayload(parsePayloadTemplate(), sql)).toEqual({ action: 'run-sql', sql });
  });

  it('fills nested and partial placeholders', () => {
    const template = parsePayloadTemplate('{"body":{"query":"/* vpcm */ {{sql}}","n":[1,"{{sql}}"]},"write":true}');
    expect(renderPayload(template, 'SELECT 1')).toEqual({
      body: { query: '/* vpcm */ SELECT 1', n: [1, 'SELECT 1'] },
      write: true,
    });
  });

  it('refuses a template that is not JSON or has no placeholder', () => {
    expect(() => parsePayloadTemplate('{action: run-sql}')).toThrow(/not JSON/);
    expect(() => parsePayloadTemplate('{"action":"run-sql","sql":"{{query}}"}')).toThrow(/no "\{\{sql\}\}"/);
  });
});

describe('reading answers', () => {
  it('follows dot paths and enters JSON held in strings', () => {
    const body = { statusCode: 500, body: JSON.stringify({ error: { message: 'boom', code: '42P01' } }) };
    expect(readPath(body, 'body.error.code')).toBe('42P01');
    expect(readPath({ result: { rowCount: 3 } }, 'result.rowCount')).toBe(3);
    expect(readPath({ a: [{ b: 1 }] }, 'a.0.b')).toBe(1);
    expect(readPath({ a: 1 }, 'a.b')).toBeUndefined();
  });

  it("unwraps Prisma's raw query error and takes its SQLSTATE", () => {
    const text =
      '\nInvalid `prisma.$executeRawUnsafe()` invocation:\n\n\nRaw ' +
      'query failed. Code: `42P07`. Message: `relation "x" ' +
      'already exists`';
    expect(failureFrom(text, text)).toMatchObject({ code: '42P07', message: 'relation "x" already exists' });
    const native =
      'Raw query failed. Code: `42701`. Message: `db error: ERROR: column "a" of relation "t" already exists`';
    expect(failureFrom(native, native)).toMatchObject({
      code: '42701',
      message: 'column "a" of relation "t" already exists',
    });
  });

  it(
    'takes a code the worker passes, and a leading SQLSTATE, ' + 'but never mistakes ERROR or a Prisma code for one',
    () => {
      expect(failureFrom({ message: 'relation "x" already exists', code: '42P07' }, '')).toMatchObject({
        code: '42P07',
      });
      expect(failureFrom({ message: 'x', code: 'P2010', meta: { code: '23505' } }, '').code).toBe('23505');
      expect(failureFrom('42P07: relation "x" already exists', '')).toMatchObject({
        code: '42P07',
        message: 'relation "x" already exists',
      });
      expect(failureFrom('ERROR: relation "x" already exists', '').code).toBeUndefined();
    },
  );

  it('knows "already exists" by SQLSTATE, else by the message, and not a unique violation', () => {
    expect(isDuplicateFailure({ code: '42P07', message: 'relation "x" already exists', text: '' })).toBe(true);
    expect(isDuplicateFailure({ code: '42P01', message: 'relation "x" does not exist', text: '' })).toBe(false);
    expect(
      isDuplicateFailure({ code: '42P16', message: 'multiple primary keys for table "t" are not allowed', text: '' }),
    ).toBe(true);
    expect(isDuplicateFailure({ code: '42P16', message: 'some other table definition problem', text: '' })).toBe(false);
    expect(isDuplicateFailure({ message: 'type "Status" already exists', text: '' })).toBe(true);
    expect(isDuplicateFailure({ message: 'duplicate key value violates unique constraint "u_pkey"', text: '' })).toBe(
      false,
    );
  });
});

describe('SQL text', () => {
  it('quotes literals whatever they hold', () => {
    expect(literal("it's")).toBe("'it''s'");
    expect(literal('a\\b')).toBe("E'a\\\\b'");
  });

  it('picks a dollar tag that the text does not contain', () => {
    const tag = dollarTag(['$vpcm_00000000$ body']);
    expect(tag).toMatch(/^\$vpcm_[0-9a-f]{8}\$$/);
    expect('$vpcm_00000000$ body').not.toContain(tag);
  });

  it('decodes an answer wrapped in anything, and notices one cut short', () => {
    const b64 = Buffer.from(JSON.stringify({ rows: ['é', 1] })).toString('base64');
    const wrapped =
      `{"errorMessage":"Raw query failed. Code: \`P0001\`. ` +
      `Message: \`vpcm-answer:abc123:${b64.length}:${b64}:end\`"}`;
    expect(decodeAnswer(wrapped, 'abc123')).toEqual({ kind: 'answer', value: { rows: ['é', 1] } });
    expect(decodeAnswer(wrapped, 'ffffff')).toEqual({ kind: 'none' });
    expect(decodeAnswer(wrapped.slice(0, 80), 'abc123').kind).toBe('damaged');
  });

  it('reads guard markers', () => {
    expect(decodeGuard('Message: `vpcm-guard:busy`')).toEqual({ kind: 'busy' });
    expect(decodeGuard(`vpcm-guard:failed:${Buffer.from('002_broken').toString('hex')}`)).toEqual({
      kind: 'failed',
      name: '002_broken',
    });
    expect(decodeGuard('relation "x" already exists')).toBeUndefined();
  });
});

describe('statements in run-sql mode', () => {
  let parser: SqlParser;
  beforeAll(async () => {
    parser = await sqlParser();
  });

  it('makes a session SET local to its DO block, and leaves everything else as written', () => {
    expect(prepareStatement(parser, "SET lock_timeout = '5s'", 'transactional')).toEqual({
      text: "SET LOCAL lock_timeout = '5s'",
      executable: true,
    });
    expect(prepareStatement(parser, 'SET SESSION search_path TO a, b', 'transactional').text).toBe(
      'SET LOCAL search_path TO a, b',
    );
    expect(prepareStatement(parser, 'SET SESSION AUTHORIZATION DEFAULT', 'transactional').text).toBe(
      'SET LOCAL SESSION AUTHORIZATION DEFAULT',
    );
    expect(prepareStatement(parser, "SET TIME ZONE 'UTC'", 'transactional').text).toBe("SET LOCAL TIME ZONE 'UTC'");
    expect(prepareStatement(parser, 'SET LOCAL x.y = 1', 'transactional').text).toBe('SET LOCAL x.y = 1');
    expect(prepareStatement(parser, 'set transaction isolation level serializable', 'transactional').text).toBe(
      'set transaction isolation level serializable',
    );
    expect(prepareStatement(parser, 'UPDATE t SET a = 1', 'transactional').text).toBe('UPDATE t SET a = 1');
  });

  it('keeps out of DO blocks what PL/pgSQL EXECUTE cannot run', () => {
    expect(prepareStatement(parser, 'CREATE INDEX CONCURRENTLY i ON t (a)', 'non-transactional').executable).toBe(
      false,
    );
    expect(prepareStatement(parser, 'SELECT * INTO t2 FROM t', 'transactional').executable).toBe(false);
    expect(prepareStatement(parser, 'COPY t FROM STDIN', 'transactional').executable).toBe(false);
    expect(prepareStatement(parser, 'SAVEPOINT a', 'transactional').executable).toBe(false);
    expect(prepareStatement(parser, 'CREATE TABLE t AS SELECT 1 AS a', 'transactional').executable).toBe(true);
    expect(prepareStatement(parser, 'DO $$ BEGIN PERFORM 1; END $$', 'transactional').executable).toBe(true);
  });

  it('splits a script into its BEGIN…COMMIT blocks and the statements between them', () => {
    const sql =
      'UPDATE a SET x = 1;\nBEGIN;\nCREATE TYPE t2 AS ENUM ' +
      "('A');\nDROP TYPE t1;\nCOMMIT;\nALTER TABLE a DROP " +
      'COLUMN y;\nBEGIN;\nDELETE FROM a;\nROLLBACK;\nBEGIN;\nSELECT ' +
      '1;\n';
    const split = splitMigration(parser, sql);
    expect(split.mode).toBe('script');
    expect(scriptSegments({ spans: split.statements, m: { sql } })).toEqual([
      { block: false, indices: [0] },
      { block: true, indices: [2, 3] },
      { block: false, indices: [5] },
      { block: true, indices: [7], discarded: true },
      { block: true, indices: [10] },
    ]);
  });
});
