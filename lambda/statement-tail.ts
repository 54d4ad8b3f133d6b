/**
 * Whether statements of the worker's own may be appended to a migration file in the same
 * simple-protocol query (lambda/prisma/apply.ts sends the ledger row and COMMIT after the file,
 * one round trip per migration). They may only when the file's text ends where PostgreSQL's lexer
 * is between tokens: a file that ends inside a quote, a dollar quote or a block comment would
 * swallow what follows it, and the guard that must run before the row could become part of a
 * string. Anything this scan is unsure of answers false, and the caller sends the row in a query
 * of its own, as before.
 *
 * The scan is lambda/contract/sql-lexer.ts's. A backslash inside a plain '…' string answers false: with
 * standard_conforming_strings off it escapes the quote after it, and the session's setting is not
 * known here.
 */
import { sqlTokens, type StatementSpan } from './contract/index.js';

/**
 * True when statements may follow the file in its query: its text ends outside any quote, dollar
 * quote or block comment (lambda/contract/sql-lexer.ts) and holds no plain string with a
 * backslash, and its statement spans are a parse's (so PostgreSQL's count of completed statements
 * tells a failure of the file from one of what follows it). A `--` comment at the end counts as
 * closed: the appended text starts with a newline ({@link APPENDED_SEPARATOR}). A file the CLI's
 * parser rejected travels as one span over the whole text (scripts/core/split.ts, `unparsable`):
 * a single span with a `;` inside it may be that, and answers false.
 */
export function acceptsAppendedStatements(m: { sql: string; statements: readonly StatementSpan[] }): boolean {
  // Asked twice of a lone transactional file (chain.ts's chainable, then runTransactional): lexed once.
  let answer = answered.get(m);
  if (answer === undefined) answered.set(m, (answer = scan(m)));
  return answer;
}

const answered = new WeakMap<object, boolean>();

function scan(m: { sql: string; statements: readonly StatementSpan[] }): boolean {
  if (m.statements.length === 0) return false;
  const only = m.statements.length === 1 ? m.statements[0] : undefined;
  for (const token of sqlTokens(m.sql)) {
    if (token.kind === 'word' || token.kind === 'parameter') continue;
    if (token.kind === 'semicolon') {
      if (only && token.start >= only.start && token.start < only.end) return false;
      continue;
    }
    if (token.kind === 'string' && token.backslash) return false;
    if (!token.closed && token.kind !== 'line-comment') return false;
  }
  return true;
}

/** What goes between a file and the statements appended to it: ends a trailing `--` comment and the last statement. */
export const APPENDED_SEPARATOR = '\n;';
