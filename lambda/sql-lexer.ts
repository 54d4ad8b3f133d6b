/**
 * What of a SQL text is code and what is quoted or commented, by PostgreSQL's lexer rules
 * (scan.l): `--` comments (ended by a newline or a carriage return), nested block comments,
 * '…' strings ('' inside; E'…' also takes backslash escapes), "…" identifiers ("" inside; U&"…"
 * with Unicode escapes), $tag$ quotes (not inside a word: `a$b$` is an identifier), words. The
 * one home of this scan: read-only run-sql looks for refused names in the words
 * (lambda/read-only-guard.ts), apply asks whether a file ends in code (lambda/statement-tail.ts).
 */

export type SqlToken =
  /** An unquoted identifier or keyword, as written. */
  | { kind: 'word'; text: string }
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
  | { kind: 'block-comment'; closed: boolean };

const WORD_START = /[A-Za-z_\u0080-\uffff]/;
const WORD_PART = /[A-Za-z0-9_$\u0080-\uffff]/;
const DIGIT = /[0-9]/;
const DOLLAR_TAG = /^\$(?:[A-Za-z_\u0080-\uffff][A-Za-z0-9_\u0080-\uffff]*)?\$/;

/** The words, quoted identifiers, strings and comments of `sql`, in order; what is between them is left out. */
export function* sqlTokens(sql: string): Generator<SqlToken> {
  const n = sql.length;
  let i = 0;
  while (i < n) {
    const c = sql[i] as string;
    const next = sql[i + 1];
    if (c === '-' && next === '-') {
      const end = sql.slice(i).search(/[\n\r]/);
      i = end < 0 ? n : i + end + 1;
      yield { kind: 'line-comment', closed: end >= 0 };
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
      yield { kind: 'block-comment', closed: depth === 0 };
    } else if (c === "'") {
      const string = scanString(sql, i + 1, false);
      i = string.end;
      yield string.token;
    } else if (c === '"') {
      const unicode = sql[i - 1] === '&' && (sql[i - 2] === 'u' || sql[i - 2] === 'U');
      let name = '';
      let j = i + 1;
      let closed = false;
      while (j < n) {
        if (sql[j] === '"') {
          if (sql[j + 1] !== '"') {
            closed = true;
            break;
          }
          name += '"';
          j += 2;
        } else name += sql[j++];
      }
      i = j + 1;
      yield { kind: 'quoted-identifier', name, unicode, closed };
    } else if (c === '$') {
      const tag = DOLLAR_TAG.exec(sql.slice(i, i + 256))?.[0];
      if (tag) {
        const end = sql.indexOf(tag, i + tag.length);
        i = end < 0 ? n : end + tag.length;
        yield { kind: 'dollar-string', closed: end >= 0 };
      } else {
        // $1, a parameter; a `$` alone, a character PostgreSQL's grammar rejects.
        i++;
        while (i < n && DIGIT.test(sql[i] as string)) i++;
      }
    } else if (WORD_START.test(c)) {
      const start = i;
      while (i < n && WORD_PART.test(sql[i] as string)) i++;
      // E'…': a one-letter word E right before the quote makes the string one with escapes.
      if (sql[i] === "'" && i - start === 1 && (c === 'E' || c === 'e')) {
        const string = scanString(sql, i + 1, true);
        i = string.end;
        yield string.token;
      } else yield { kind: 'word', text: sql.slice(start, i) };
    } else i++;
  }
}

/** A '…' string whose text starts at `from`: the token, and the index after its closing quote. */
function scanString(sql: string, from: number, escapes: boolean): { token: SqlToken; end: number } {
  let backslash = false;
  for (let i = from; i < sql.length; i++) {
    const c = sql[i];
    if (c === '\\') {
      backslash = true;
      if (escapes) i++;
    } else if (c === "'") {
      if (sql[i + 1] !== "'")
        return { token: { kind: 'string', escapes, backslash: backslash && !escapes, closed: true }, end: i + 1 };
      i++;
    }
  }
  return { token: { kind: 'string', escapes, backslash: backslash && !escapes, closed: false }, end: sql.length };
}
