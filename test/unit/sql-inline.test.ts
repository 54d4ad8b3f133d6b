/**
 * inline() writes a statement's values in as literals (lambda/contract/sql-text.ts): only where
 * PostgreSQL reads a placeholder. A `$n` inside quoted text, a dollar-quoted body, a comment or an
 * identifier is left as written — a schema named `a$1` must not become `a'value'`.
 */
import { describe, expect, it } from 'vitest';
import { inline } from '../../lambda/contract/sql-text.js';

describe('inline', () => {
  it('replaces placeholders with literals of their values', () => {
    expect(
      inline({ text: 'SELECT $1::text, $2, $3, $10', values: ["it's", 2, null, 'a', 'b', 'c', 'd', 'e', 'f', 'x\\y'] }),
    ).toBe("SELECT 'it''s'::text, 2, NULL, E'x\\\\y'");
  });

  it.each([
    ['a quoted identifier', 'INSERT INTO "a$1"."t$2" VALUES ($1)', `INSERT INTO "a$1"."t$2" VALUES ('v')`],
    ['a doubled quote inside an identifier', 'SELECT "x""$1" , $1', `SELECT "x""$1" , 'v'`],
    ['a string', "SELECT '$1', $1", "SELECT '$1', 'v'"],
    ['a doubled quote inside a string', "SELECT 'it''s $1', $1", "SELECT 'it''s $1', 'v'"],
    ['an escape string', "SELECT E'\\' $1', $1", "SELECT E'\\' $1', 'v'"],
    ['a dollar-quoted body', 'DO $$ BEGIN PERFORM $1; END $$; SELECT $1', `DO $$ BEGIN PERFORM $1; END $$; SELECT 'v'`],
    ['a tagged dollar-quoted body', 'DO $g$ $1 $$ $1 $g$; SELECT $1', `DO $g$ $1 $$ $1 $g$; SELECT 'v'`],
    ['a line comment', 'SELECT 1 -- $1\n, $1', `SELECT 1 -- $1\n, 'v'`],
    ['a nested block comment', 'SELECT /* $1 /* $1 */ $1 */ $1', `SELECT /* $1 /* $1 */ $1 */ 'v'`],
    ['an unquoted identifier', 'SELECT a$1 FROM t WHERE x = $1', `SELECT a$1 FROM t WHERE x = 'v'`],
  ])('leaves $n inside %s as written', (_, text, expected) => {
    expect(inline({ text, values: ['v'] })).toBe(expected);
  });

  it('refuses a placeholder without a value', () => {
    expect(() => inline({ text: 'SELECT $2', values: ['v'] })).toThrow(/no value for \$2/);
  });
});
