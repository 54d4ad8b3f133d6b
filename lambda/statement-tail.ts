/**
 * Whether statements of the worker's own may be appended to a migration file in the same
 * simple-protocol query (lambda/prisma/apply.ts sends the ledger row and COMMIT after the file,
 * one round trip per migration). They may only when the file's text ends where PostgreSQL's lexer
 * is between tokens: a file that ends inside a quote, a dollar quote or a block comment would
 * swallow what follows it, and the guard that must run before the row could become part of a
 * string. Anything this scan is unsure of answers false, and the caller sends the row in a query
 * of its own, as before.
 *
 * The scan follows PostgreSQL's scan.l for what opens and closes text: `--` comments, nested
 * block comments, '…' ('' inside), E'…' (backslash escapes too), "…" identifiers, $tag$ quotes
 * (not inside a word: `a$b$` is an identifier), $1 parameters. A backslash inside a plain '…'
 * string answers false: with standard_conforming_strings off it escapes the quote after it, and
 * the session's setting is not known here.
 */

const WORD_START = /[A-Za-z_\u0080-\uffff]/;
const WORD_PART = /[A-Za-z0-9_$\u0080-\uffff]/;
const DIGIT = /[0-9]/;
const DOLLAR_TAG = /^\$(?:[A-Za-z_\u0080-\uffff][A-Za-z0-9_\u0080-\uffff]*)?\$/;

/**
 * True when `sql` ends outside any quote, dollar quote or block comment. A `--` comment at the
 * end counts as closed: the appended text starts with a newline (see {@link APPENDED_SEPARATOR}).
 */
export function acceptsAppendedStatements(sql: string): boolean {
  let i = 0;
  const n = sql.length;
  while (i < n) {
    const c = sql[i] as string;
    const next = sql[i + 1];
    if (c === '-' && next === '-') {
      const end = sql.slice(i).search(/[\n\r]/);
      if (end < 0) return true;
      i += end + 1;
    } else if (c === '/' && next === '*') {
      let depth = 1;
      i += 2;
      while (depth > 0) {
        if (i >= n) return false;
        if (sql[i] === '/' && sql[i + 1] === '*') {
          depth++;
          i += 2;
        } else if (sql[i] === '*' && sql[i + 1] === '/') {
          depth--;
          i += 2;
        } else i++;
      }
    } else if (c === "'") {
      const end = closingQuote(sql, i + 1, false);
      if (end < 0) return false;
      i = end + 1;
    } else if (c === '"') {
      const end = sql.indexOf('"', i + 1);
      // "" inside an identifier is two quotes in a row: closing and reopening, which this loop sees alike.
      if (end < 0) return false;
      i = end + 1;
    } else if (c === '$') {
      const tag = DOLLAR_TAG.exec(sql.slice(i, i + 256))?.[0];
      if (tag) {
        const end = sql.indexOf(tag, i + tag.length);
        if (end < 0) return false;
        i = end + tag.length;
      } else if (next !== undefined && DIGIT.test(next)) {
        i += 2;
        while (i < n && DIGIT.test(sql[i] as string)) i++;
      } else return false;
    } else if (WORD_START.test(c) || DIGIT.test(c)) {
      const start = i;
      while (i < n && WORD_PART.test(sql[i] as string)) i++;
      // E'…': a one-letter word E (or e) right before the quote makes it an escape string.
      if (sql[i] === "'" && i - start === 1 && (c === 'E' || c === 'e')) {
        const end = closingQuote(sql, i + 1, true);
        if (end < 0) return false;
        i = end + 1;
      }
    } else i++;
  }
  return true;
}

/**
 * The index of the quote that closes a '…' string whose text starts at `from`, or -1 when it
 * does not close or (plain strings) holds a backslash, whose meaning depends on the session.
 */
function closingQuote(sql: string, from: number, escapes: boolean): number {
  for (let i = from; i < sql.length; i++) {
    const c = sql[i];
    if (c === '\\') {
      if (!escapes) return -1;
      i++;
    } else if (c === "'") {
      if (sql[i + 1] !== "'") return i;
      i++;
    }
  }
  return -1;
}

/** What goes between a file and the statements appended to it: ends a trailing `--` comment, and the file's last statement. */
export const APPENDED_SEPARATOR = '\n;';
