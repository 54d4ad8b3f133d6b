/**
 * What of a SQL text is code and what is quoted or commented, by PostgreSQL's lexer rules
 * (scan.l): `--` comments (ended by a newline or a carriage return), nested block comments,
 * '…' strings ('' inside; E'…' also takes backslash escapes), "…" identifiers ("" inside; U&"…"
 * with Unicode escapes), $tag$ quotes (not inside a word: `a$b$` is an identifier), $1
 * parameters, words. The one home of this scan: read-only run-sql looks for refused names in the
 * words (lambda/read-only-guard.ts), apply asks whether a file ends in code
 * (lambda/statement-tail.ts), and `inline` (sql-text.ts) writes values where the parameters are.
 */

/** Where a token is in the text: `start` at its first character, `end` past its last. */
interface Span {
  start: number;
  end: number;
}

export type SqlToken = Span &
  (
    | /** An unquoted identifier or keyword, as written. */
    { kind: 'word'; text: string }
    /** `$1`, … (1-based). */
    | { kind: 'parameter'; index: number }
    /** A `;` outside strings and comments. */
    | { kind: 'semicolon' }
    /** A "…" identifier, its name with "" undone; `unicode` for U&"…", whose escapes are not decoded here. */
    | { kind: 'quoted-identifier'; name: string; unicode: boolean; closed: boolean }
    /**
     * A '…' string. `escapes`: an E'…' string, where a backslash escapes the next character.
     * `backslash`: a plain string holding a backslash, which escapes the quote after it when
     * standard_conforming_strings is off (a session's setting, unknown to the scan, which reads
     * it as on).
     */
    | { kind: 'string'; escapes: boolean; backslash: boolean; closed: boolean }
    | { kind: 'dollar-string'; closed: boolean }
    | { kind: 'line-comment'; closed: boolean }
    | { kind: 'block-comment'; closed: boolean }
  );

const WORD_START = /[A-Za-z_\u0080-\uffff]/;
const WORD_PART = /[A-Za-z0-9_$\u0080-\uffff]/;
const DIGIT = /[0-9]/;
/** Sticky: tried at an index (`lastIndex`), on the whole text, since a tag has no length limit. */
const DOLLAR_TAG = /\$(?:[A-Za-z_\u0080-\uffff][A-Za-z0-9_\u0080-\uffff]*)?\$/y;
/**
 * After a closing quote, what makes the next '…' the same string (scan.l `quotecontinue`):
 * whitespace or `--` comments holding at least one newline, then a quote.
 */
const QUOTE_CONTINUES = /(?:[ \t\f]|--[^\n\r]*)*[\n\r](?:[ \t\n\r\f\v]+|--[^\n\r]*[\n\r])*'/y;

/** The tokens of `sql` but whitespace, operators and punctuation other than `;`, in order; spans index `sql`. */
export function* sqlTokens(sql: string): Generator<SqlToken> {
  const n = sql.length;
  let i = 0;
  while (i < n) {
    const start = i;
    const c = sql[i] as string;
    const next = sql[i + 1];
    if (c === '-' && next === '-') {
      const end = sql.slice(i).search(/[\n\r]/);
      i = end < 0 ? n : i + end + 1;
      yield { kind: 'line-comment', closed: end >= 0, start, end: i };
    } else if (c === '/' && next === '*') {
      let depth = 1;
      i += 2;
      while (i < n && depth > 0) {
        if (sql[i] === '/' && sql[i + 1] === '*') {
          depth++;
          i += 2;
        } else if (sql[i] === '*' && sql[i + 1] === '/') {
          depth--;
          i += 2;
        } else i++;
      }
      yield { kind: 'block-comment', closed: depth === 0, start, end: i };
    } else if (c === "'") {
      const string = scanString(sql, start, i + 1, false);
      i = string.end;
      yield string;
    } else if (c === '"') {
      const unicode = sql[i - 1] === '&' && (sql[i - 2] === 'u' || sql[i - 2] === 'U');
      let name = '';
      let closed = false;
      i++;
      while (i < n && !closed) {
        if (sql[i] !== '"') name += sql[i++];
        else if (sql[i + 1] === '"') {
          name += '"';
          i += 2;
        } else {
          closed = true;
          i++;
        }
      }
      yield { kind: 'quoted-identifier', name, unicode, closed, start, end: i };
    } else if (c === '$') {
      DOLLAR_TAG.lastIndex = i;
      const tag = DOLLAR_TAG.exec(sql)?.[0];
      if (tag) {
        const close = sql.indexOf(tag, i + tag.length);
        i = close < 0 ? n : close + tag.length;
        yield { kind: 'dollar-string', closed: close >= 0, start, end: i };
      } else {
        i++;
        while (i < n && DIGIT.test(sql[i] as string)) i++;
        // A `$` alone is a character PostgreSQL's grammar rejects.
        if (i > start + 1) yield { kind: 'parameter', index: Number(sql.slice(start + 1, i)), start, end: i };
      }
    } else if (WORD_START.test(c)) {
      while (i < n && WORD_PART.test(sql[i] as string)) i++;
      // E'…': a one-letter word E right before the quote makes the string one with escapes.
      if (sql[i] === "'" && i - start === 1 && (c === 'E' || c === 'e')) {
        const string = scanString(sql, start, i + 1, true);
        i = string.end;
        yield string;
      } else yield { kind: 'word', text: sql.slice(start, i), start, end: i };
    } else {
      i++;
      if (c === ';') yield { kind: 'semicolon', start, end: i };
    }
  }
}

/** A '…' string that starts at `start` (its prefix, if any), its text at `from`. */
function scanString(sql: string, start: number, from: number, escapes: boolean): SqlToken & { kind: 'string' } {
  let backslash = false;
  let i = from;
  for (; i < sql.length; i++) {
    const c = sql[i];
    if (c === '\\') {
      backslash = !escapes;
      if (escapes) i++;
    } else if (c === "'") {
      if (sql[i + 1] === "'") i++;
      else {
        // E'a'<newline>'\'…': the next part is the same string, escapes and all.
        QUOTE_CONTINUES.lastIndex = i + 1;
        if (!QUOTE_CONTINUES.test(sql)) return { kind: 'string', escapes, backslash, closed: true, start, end: i + 1 };
        i = QUOTE_CONTINUES.lastIndex - 1;
      }
    }
  }
  return { kind: 'string', escapes, backslash, closed: false, start, end: sql.length };
}
