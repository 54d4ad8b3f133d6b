/**
 * lambda/statement-tail.ts: when the worker may send its ledger row in the same query as a
 * migration file. The cases are PostgreSQL's lexer rules; the property below checks the one that
 * matters against PostgreSQL's own parser (libpg-query): whenever the scan says yes, what is
 * appended is a statement of its own, never part of the file's last string or comment.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import type { StatementSpan } from '../../lambda/contract/index.js';
import { acceptsAppendedStatements, APPENDED_SEPARATOR } from '../../lambda/statement-tail.js';
import { type SqlParser, sqlParser } from '../../scripts/core/sql-parser.js';
import { splitMigration } from '../../scripts/core/split.js';

const span = (start: number, end: number): StatementSpan => ({ start, end, line: 1, kind: 'transactional' });
/** The lexer's side alone: two spans, so the one-span rule has nothing to say. */
const textEnd = (sql: string) => acceptsAppendedStatements({ sql, statements: [span(0, 0), span(0, 0)] });

const corporaDir = resolve(dirname(fileURLToPath(import.meta.url)), '../../../shared/corpora');

describe('acceptsAppendedStatements', () => {
  it.each([
    ['CREATE TABLE a (id int);\n', true],
    ['CREATE TABLE a (id int)', true],
    ['CREATE TABLE a (id int); -- a comment at the very end', true],
    ['/* closed */ SELECT 1;', true],
    ['/* outer /* nested */ still a comment */ SELECT 1;', true],
    ['/* outer /* nested */ still open', false],
    ['SELECT 1; /* open', false],
    ["SELECT 'it''s';", true],
    ["SELECT 'it''", false],
    ["SELECT 'open", false],
    ["SELECT 'a\\'", false],
    ["SELECT 'a\\b';", false],
    ["SELECT E'it\\'s';", true],
    ["SELECT e'\\\\';", true],
    ["SELECT E'open\\'", false],
    ["SELECT name'x' FROM t;", true],
    ['SELECT "a""b" FROM t;', true],
    ['SELECT "open', false],
    ['CREATE FUNCTION f() RETURNS int AS $$ SELECT 1; $$ LANGUAGE sql;', true],
    ["CREATE FUNCTION f() RETURNS text AS $fn$ SELECT 'x'; $fn$ LANGUAGE sql;", true],
    ['CREATE FUNCTION f() RETURNS int AS $fn$ SELECT 1;', false],
    ['DO $a$ BEGIN PERFORM $b$ text $b$; END $a$;', true],
    ['SELECT a$b$c FROM t;', true],
    ['PREPARE p AS SELECT $1;', true],
    ['SELECT $1 + $22;', true],
    // A number ends before `$`: what follows opens a dollar quote, as PostgreSQL reads it.
    ['SELECT 1$$', false],
    ['SELECT 1.5$a$', false],
  ])('%j → %s', (sql, expected) => {
    expect(textEnd(sql)).toBe(expected);
  });

  it("takes a file's spans as counted only if they are a parse's", () => {
    const one = 'CREATE TABLE a (id int);\n';
    // A parse's span ends at the statement's last token; the CLI's span for a file its parser
    // rejected runs over the whole text, its semicolons included (scripts/core/split.ts).
    expect(acceptsAppendedStatements({ sql: one, statements: [span(0, one.indexOf(';'))] })).toBe(true);
    expect(acceptsAppendedStatements({ sql: one, statements: [span(0, one.length - 1)] })).toBe(false);
    const two = 'CREATE TABLE a (id int); CREATE TABLE b (id int);';
    expect(acceptsAppendedStatements({ sql: two, statements: [span(0, two.length)] })).toBe(false);
    expect(acceptsAppendedStatements({ sql: two, statements: [span(0, 23), span(25, 48)] })).toBe(true);
    expect(acceptsAppendedStatements({ sql: one, statements: [] })).toBe(false);
  });
});

describe.skipIf(!existsSync(corporaDir))('acceptsAppendedStatements against PostgreSQL’s parser', () => {
  let parser: SqlParser;
  beforeAll(async () => {
    parser = await sqlParser();
  });
  const files = (): { name: string; sql: string }[] =>
    ['triggerdotdev__trigger.dev', 'documenso__documenso'].flatMap((corpus) => {
      const dir = join(corporaDir, corpus, 'migrations');
      return readdirSync(dir)
        .filter((name) => existsSync(join(dir, name, 'migration.sql')))
        .map((name) => ({ name, sql: readFileSync(join(dir, name, 'migration.sql'), 'utf8') }));
    });

  it('accepts every whole file of the corpora, split by the CLI (each parses)', () => {
    const refused = files().filter((f) => !acceptsAppendedStatements({ sql: f.sql, ...splitMigration(parser, f.sql) }));
    expect(refused.map((f) => f.name)).toEqual([]);
  });

  it('a file cut anywhere: accepted only if the appended statement stays a statement of its own', () => {
    // Shaped like the worker's own (lambda/ledger-guard.ts, the ledger's INSERT): quotes and a
    // dollar quote, which a string or comment left open by the file could pair with.
    const probe =
      `${APPENDED_SEPARATOR}DO $vpcm_guard$ BEGIN IF false THEN RAISE EXCEPTION 'x'; END IF; END $vpcm_guard$; ` +
      `INSERT INTO "public"."_prisma_migrations" (id) SELECT '424242'::varchar; COMMIT`;
    let accepted = 0;
    let checked = 0;
    for (const { name, sql } of files()) {
      // Cut just before and after every character that opens or closes text, and at a few others.
      // Every file, up to 40 of its quote and comment characters (spread over it), and a few others.
      const marks: number[] = [];
      for (let i = 0; i < sql.length; i++) if (`'"$-/*\\`.includes(sql[i] as string)) marks.push(i);
      const stride = Math.max(1, Math.ceil(marks.length / 40));
      const cuts = new Set<number>();
      for (let k = 0; k < marks.length; k += stride) cuts.add(marks[k] as number).add((marks[k] as number) + 1);
      for (let i = 7; i < sql.length; i += 997) cuts.add(i);
      for (const cut of cuts) {
        const text = sql.slice(0, cut);
        if (!textEnd(text)) continue;
        accepted++;
        let stmts: { stmt: unknown; stmt_location?: number }[];
        try {
          stmts = parser.parse(text + probe).stmts as typeof stmts;
        } catch {
          continue; // PostgreSQL would run none of it
        }
        checked++;
        const ours = stmts.slice(-3);
        const where = `${name} cut at ${cut}`;
        expect(
          ours.map((s) => Object.keys(s.stmt as object)[0]),
          where,
        ).toEqual(['DoStmt', 'InsertStmt', 'TransactionStmt']);
        expect(JSON.stringify(ours[1]?.stmt), where).toContain('424242');
        expect(ours[0]?.stmt_location ?? 0, where).toBeGreaterThanOrEqual(Buffer.byteLength(text));
      }
    }
    // The property was exercised, not skipped over.
    expect(accepted).toBeGreaterThan(1000);
    expect(checked).toBeGreaterThan(100);
  });
});
