/**
 * Turns a PostgreSQL error into a report that points at migration.sql: SQLSTATE, message,
 * detail, hint, and the line/column computed from the error's `position` and where the
 * failing text sits in the file.
 */
import type { BlockingSession, SkippedStatement, SqlErrorInfo } from './wire.js';
import { redact } from './redact.js';
import { indexAfterCodePoints, positionOf } from './position.js';
import { asPgError } from './sqlstate.js';

const STATEMENT_PREVIEW = 300;

export function shorten(text: string, max = STATEMENT_PREVIEW): string {
  const flat = text.trim();
  return flat.length <= max ? flat : flat.slice(0, max - 1) + '…';
}

/**
 * @param fileText the whole migration.sql
 * @param offset where the text that was sent starts in the file
 * @param sentLength length of the text that was sent (to show the statement)
 */
export function describeSqlError(
  error: unknown,
  fileText: string,
  offset: number,
  sentLength: number,
  fallbackLine?: number,
  statementIndex?: number,
): SqlErrorInfo {
  const pg = asPgError(error);
  const info: SqlErrorInfo = { message: redact(pg.message) };
  if (pg.code) info.code = pg.code;
  if (pg.detail) info.detail = redact(pg.detail);
  if (pg.hint) info.hint = redact(pg.hint);
  if (pg.where) info.where = redact(pg.where);
  const position = pg.position ? Number(pg.position) : NaN;
  if (Number.isFinite(position) && position > 0) {
    const at = positionOf(fileText, indexAfterCodePoints(fileText, offset, position - 1));
    info.line = at.line;
    info.column = at.column;
  } else if (fallbackLine !== undefined) {
    info.line = fallbackLine;
  }
  if (statementIndex !== undefined) {
    info.statementIndex = statementIndex;
    // Redacted whole, then shortened: a password literal cut in half would escape the pattern.
    info.statement = shorten(redact(fileText.slice(offset, offset + sentLength)));
  }
  return info;
}

/** The `logs` text Prisma stores for a failed migration (P3018 shape), so `migrate status` reads it. */
export function ledgerLogFor(name: string, info: SqlErrorInfo): string {
  const lines = [`Migration name: ${name}`, ''];
  if (info.code) lines.push(`Database error code: ${info.code}`, '');
  lines.push('Database error:', `ERROR: ${info.message}`);
  if (info.detail) lines.push(`DETAIL: ${info.detail}`);
  if (info.hint) lines.push(`HINT: ${info.hint}`);
  if (info.line !== undefined)
    lines.push('', `Position: line ${info.line}${info.column ? `, column ${info.column}` : ''} of migration.sql`);
  if (info.statement) lines.push('', `Statement: ${info.statement}`);
  return lines.join('\n');
}

/** The `logs` of a migration recorded with statements skipped because their object already exists. */
export function reconcileLog(skipped: SkippedStatement[]): string | null {
  if (skipped.length === 0) return null;
  return [
    `Applied by vpc-migrate with ${skipped.length} statement(s) skipped because the object already exists:`,
    ...skipped.map((s) => `- line ${s.line}: ${s.code} ${s.message}`),
  ].join('\n');
}

const SUMMARY_CHARS = 300;

/**
 * The error a failed row's `logs` holds, on one line: `ERROR: …` with its SQLSTATE and the
 * position, whether our worker wrote it ({@link ledgerLogFor}) or Prisma did (its P3018 text:
 * `Migration name:`, `Database error code:`, `Database error:` then the server's message, or a
 * Rust `DbError { … message: "…" }` dump). Text in no known shape: its first line that is not the
 * migration's name. Empty when there is nothing to say.
 *
 * @example ledgerLogSummary('Migration name: 001_x\n\nDatabase error code: 42601\n\nDatabase error:\nERROR: syntax
 * error at or near "x"') // '42601: syntax error at or near "x"'
 */
export function ledgerLogSummary(logs: string | null | undefined): string {
  const lines = (logs ?? '').split(/\r?\n/).map((l) => l.trim());
  const code = lines.map((l) => /^Database error code:\s*(\S+)/.exec(l)?.[1]).find(Boolean);
  let message = lines.find((l) => /^ERROR:\s/.test(l))?.replace(/^ERROR:\s*/, '');
  if (message === undefined) {
    const heading = lines.findIndex((l) => /^Database error:$/.test(l));
    if (heading >= 0) message = lines.slice(heading + 1).find((l) => l !== '');
  }
  const dumped = /\bmessage: "((?:[^"\\]|\\.)*)"/.exec(logs ?? '')?.[1];
  if (message !== undefined && dumped !== undefined && message.startsWith('DbError {'))
    message = dumped.replace(/\\(.)/g, '$1');
  if (message === undefined) message = lines.find((l) => l !== '' && !/^Migration name:/.test(l)) ?? '';
  const position = lines.map((l) => /^Position: (line \d+(?:, column \d+)?)/.exec(l)?.[1]).find(Boolean);
  const detail = lines.find((l) => /^DETAIL:\s/.test(l));
  const text = [code && message ? `${code}: ${message}` : message, position ? `(at ${position})` : '', detail ?? '']
    .filter(Boolean)
    .join(' ');
  return text.length > SUMMARY_CHARS ? `${text.slice(0, SUMMARY_CHARS - 1)}…` : text;
}

/** The sessions a statement waited for, for a message: pid, application, user, state, since, query. */
export function describeBlockers(blockers: BlockingSession[]): string {
  return blockers
    .map(
      (b) =>
        `pid ${b.pid} (application ${JSON.stringify(b.application ?? '')}, ` +
        `user ${b.user ?? '?'}, ${b.state ?? 'state unknown'}` +
        `${b.queryStart ? ` since ${b.queryStart}` : ''}${b.query ? `, query: ${b.query}` : ''})`,
    )
    .join('; ');
}
