/**
 * The session reset before each migration (lambda/session.ts), sent without a round trip of its
 * own where it can be: ahead of a transactional file, in one simple-protocol query
 *
 *   BEGIN; <reset>; COMMIT; BEGIN;
 *   <file>
 *
 * The reset commits on its own before the file's transaction opens, so a file rolled back keeps
 * the session reset (a SET rolled back with the file would be undone too). What PostgreSQL
 * reports of such a query is shifted back past the prefix: statements completed and the error's
 * `position` count from the file's start, as if the file had been sent alone. A failure inside
 * the prefix is the worker's, never the file's: VPCM_SESSION_RESET_FAILED.
 */
import pg from 'pg';
import { asPgError, ErrorCode, MigrateError, redact } from './contract/index.js';
import { type Db, queryCounting } from './db.js';

/** Raised by a chained reset when the migration would start too late (lambda/session.ts; class VM: ours). */
export const TIME_BUDGET_SQLSTATE = 'VM003';

/** What a query sent after the reset reports, shifted to the text after the prefix. */
export interface AfterReset {
  error?: unknown;
  /** Statements of the text after the prefix that completed. */
  completed: number;
  /**
   * Whether our BEGIN ran, so a transaction block is open (aborted, after an error). Read here,
   * not from ReadyForQuery: pg rejects a failed query before that message arrives.
   */
  inTransaction: boolean;
}

/** The reset a migration's session still needs: run once, alone or ahead of the file. */
export class PendingReset {
  private done = false;

  constructor(readonly statements: readonly string[]) {}

  get pending(): boolean {
    return !this.done;
  }

  /** The reset has run, ahead of a migration of a chain (sendChain). */
  markDone(): void {
    this.done = true;
  }

  /** Runs the reset as a query of its own, unless it ran already. */
  async run(db: Db): Promise<void> {
    if (this.done) return;
    try {
      await db.query(this.statements.join('; '));
    } catch (error) {
      throw resetError(error);
    }
    this.done = true;
  }

  /**
   * Runs the reset (when still pending) and then `text`, statements of ours, in one query: the
   * reset in a transaction of its own, committed before `text`'s opens, as ahead of a file
   * ({@link begin}). So `text` runs under the reset settings (a `default_transaction_read_only` an
   * earlier file left on no longer applies to it), and a failure of `text`, returned, leaves the
   * session reset. A failure of the reset is thrown.
   */
  async ahead(db: Db, text: string): Promise<unknown> {
    if (this.done)
      return db.query(text).then(
        () => undefined,
        (error: unknown) => error,
      );
    const reset = committedReset(this.statements);
    const run = await queryCounting(db, `${reset.text} ${text}`);
    if (run.completed < reset.completes) {
      await db.query('ROLLBACK').catch(() => undefined);
      throw resetError(run.error);
    }
    this.done = true;
    return run.error;
  }

  /**
   * Opens a transaction and runs `text` in it, the reset (when still pending) committed first,
   * all in one query; `after`, statements of the caller's own, goes in the same query after
   * `text` (the caller has made sure `text` cannot swallow it: lambda/statement-tail.ts). A failure
   * of the reset is thrown (after a ROLLBACK); one of `text` or `after` is returned, shifted back
   * past the prefix, with the transaction left for the caller to roll back.
   */
  async begin(db: Db, text: string, after = ''): Promise<AfterReset> {
    const reset = committedReset(this.statements);
    const prefix = this.done ? 'BEGIN;\n' : `${reset.text} BEGIN;\n`;
    // Our BEGIN sends one CommandComplete more.
    const prefixStatements = this.done ? 1 : reset.completes + 1;
    const run = await queryCounting(db, prefix + text + after);
    if (run.error === undefined) {
      this.done = true;
      return { completed: run.completed - prefixStatements, inTransaction: true };
    }
    const shifted = shiftPosition(run.error, prefix.length);
    if (run.completed >= prefixStatements) {
      this.done = true;
      return { error: shifted, completed: run.completed - prefixStatements, inTransaction: true };
    }
    if (run.completed === 0 && isParseError(shifted)) {
      // PostgreSQL parses the whole query before running any of it, and our prefix parses: the
      // file does not. Nothing ran, the reset included; it runs alone before anything else does.
      await this.run(db);
      return { error: shifted, completed: 0, inTransaction: false };
    }
    await db.query('ROLLBACK').catch(() => undefined);
    throw resetError(run.error);
  }
}

/**
 * The reset in a transaction of its own, `BEGIN; <reset>; COMMIT;`, and the CommandCompletes it
 * sends (one per statement): what goes ahead of a file, a chain's link or a started row.
 */
function committedReset(statements: readonly string[]): { text: string; completes: number } {
  return { text: `BEGIN; ${statements.join('; ')}; COMMIT;`, completes: statements.length + 2 };
}

/** One migration of a chain: its file, and statements of ours after it ending in COMMIT. */
export interface ChainLink {
  text: string;
  /** Statements in `text` (each sends one CommandComplete). */
  statements: number;
  /** Ours, after the file (lambda/statement-tail.ts has made sure the file cannot swallow them). */
  after: string;
  afterStatements: number;
}

/** What a chain's query reports, by PostgreSQL's count of completed statements. */
export interface ChainRun {
  /** The driver's results, one per statement, when every link committed. */
  results?: pg.QueryResult[];
  /** Links whose every statement, their COMMIT included, completed. */
  committed: number;
  /** The link after those, as `begin` reports a file sent alone (the caller rolls it back). */
  failed?: AfterReset & { error: unknown };
  /** Nothing ran: the query does not parse (a file's syntax error). */
  parsedNone?: true;
  /** The reset of the link after those refused to start it: too little time left (lambda/session.ts). */
  outOfTime?: true;
}

/**
 * Several transactional migrations in one simple-protocol query (lambda/prisma/chain.ts), each
 * `BEGIN; <reset>; COMMIT; BEGIN;\n<file><after>`, every link with its own transaction and its
 * own reset. PostgreSQL runs them in order and stops at the first error, so the count of
 * completed statements says which links committed and where the failing one stopped. A failure
 * in a link's reset is the worker's (thrown), except the time budget's refusal.
 */
export async function sendChain(db: Db, statements: readonly string[], links: readonly ChainLink[]): Promise<ChainRun> {
  const reset = committedReset(statements);
  const prefix = `${reset.text} BEGIN;\n`;
  const prefixStatements = reset.completes + 1;
  const parts: string[] = [];
  const starts: number[] = [];
  let length = 0;
  for (const link of links) {
    const head = parts.length > 0 ? `; ${prefix}` : prefix;
    parts.push(head, link.text, link.after);
    starts.push(length + head.length);
    length += head.length + link.text.length + link.after.length;
  }
  const query = parts.join('');
  const run = await queryCounting(db, query);
  if (run.error === undefined) return { results: run.results ?? [], committed: links.length };
  let left = run.completed;
  let committed = 0;
  for (const link of links) {
    const all = prefixStatements + link.statements + link.afterStatements;
    if (left < all) break;
    left -= all;
    committed++;
  }
  if (run.completed === 0 && isParseError(run.error)) return { committed: 0, parsedNone: true };
  if (committed < links.length && left < prefixStatements) {
    await db.query('ROLLBACK').catch(() => undefined);
    if (asPgError(run.error).code === TIME_BUDGET_SQLSTATE) return { committed, outOfTime: true };
    throw resetError(run.error);
  }
  // Positions count characters (code points) of the whole query.
  const before = query.slice(0, starts[Math.min(committed, links.length - 1)]);
  const shifted = shiftPosition(run.error, codePoints(before));
  return { committed, failed: { error: shifted, completed: left - prefixStatements, inTransaction: true } };
}

function codePoints(text: string): number {
  let n = 0;
  for (const _ of text) n++;
  return n;
}

/**
 * A parse error of the text: PostgreSQL gives its position, past our (ASCII) prefix. A syntax
 * error without one (none known) is counted the file's too: the prefix is ours and parses.
 */
function isParseError(error: unknown): boolean {
  const pg = asPgError(error);
  return pg.position !== undefined ? Number(pg.position) > 0 : pg.code === '42601';
}

/**
 * The error with its `position` (1-based, in characters of the whole query) counted from the
 * text after a prefix of `prefixLength` characters; a position inside the prefix is dropped.
 */
export function shiftPosition(error: unknown, prefixLength: number): unknown {
  const pg = asPgError(error);
  if (pg.position === undefined || prefixLength === 0) return error;
  const position = Number(pg.position) - prefixLength;
  return withPosition(error, position > 0 ? String(position) : undefined);
}

/**
 * A copy of the error with another `position` (undefined: none). The driver's error object is not
 * ours to change. Own fields only, as asPgError reads them.
 */
export function withPosition(error: unknown, position: string | undefined): unknown {
  return Object.assign(Object.create(Object.getPrototypeOf(error) as object) as object, error, {
    message: (error as Error).message,
    position,
  });
}

/**
 * A lost connection is not the reset's fault: it goes on as the driver's error, as it would from
 * any other query of the worker's (the handler and the CLI say the connection was lost).
 */
function resetError(error: unknown): unknown {
  // A server's ErrorResponse, not a socket's (ECONNRESET, "Connection terminated").
  if (!(error instanceof pg.DatabaseError)) return error;
  const code = error.code ?? '';
  if (code.startsWith('08') || code.startsWith('57P')) return error;
  return sessionResetFailed(error);
}

function sessionResetFailed(error: unknown): MigrateError {
  const pg = asPgError(error);
  return new MigrateError(
    ErrorCode.SessionResetFailed,
    `The worker could not reset its database session before the next migration ` +
      `(${pg.code ? `${pg.code}: ` : ''}${redact(pg.message)}). No migration file was run by this step.`,
    'Deploy again: the next run starts on a new session and continues where this one stopped. ' +
      'If it fails the same way, check the migrating login (it must be able to RESET ALL and DISCARD TEMP).',
    { cause: error, details: pg.code ? { code: pg.code } : {} },
  );
}
