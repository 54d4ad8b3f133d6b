/**
 * The migration lock: Prisma's session-level advisory lock, so this worker and
 * `prisma migrate deploy` exclude each other, held on a session of its own. We poll `pg_try_advisory_lock` rather than
 * block,
 * so the wait is bounded and the refusal can name who holds the lock.
 */
import { randomBytes } from 'node:crypto';
import { close, type Db } from './db.js';
import type { LockProof } from './ledger-guard.js';
import {
  type BlockingSession,
  ErrorCode,
  type LockHolder,
  MigrateError,
  MIGRATION_LOCK_KEY,
  migrationLockRowSql,
} from './contract/index.js';

const POLL_MS = 100;
/** pg_stat_activity hides another role's session times from a role without pg_read_all_stats. */
const SINCE_HIDDEN =
  "an unknown time (the worker's database role may not " +
  "see other roles' sessions; GRANT pg_read_all_stats " +
  'to it to show when)';

/**
 * The migration lock, held by its own session (see {@link acquireMigrationLock}). Ledger writes
 * check it is still held (lambda/ledger-guard.ts) through `sessionKey`.
 */
export interface HeldLock extends LockProof {
  /** The backend holding the lock. */
  readonly pid: number;
  readonly waitedMs: number;
  /**
   * Given `read`, runs it on the lock's session while the lock is still held and answers what it
   * found (undefined if it failed); then unlocks and closes the session. No migration file reaches
   * that session, so its settings are still the connection's. Once: later calls do nothing.
   */
  release<T>(read?: (session: Db) => Promise<T | undefined>): Promise<T | undefined>;
  /**
   * Runs `work` (one statement on the session `migrationPid`) while watching for the deadlock
   * PostgreSQL cannot see (see {@link watchedForWaiters}); returns the waiters it was cancelled for.
   */
  whileWatched<T>(
    migrationPid: number,
    work: () => Promise<T>,
  ): Promise<{ value?: T; error?: unknown; cancelledFor: LockWaiter[] }>;
  /**
   * Runs `work` (a migration on the session `migrationPid`) while noting which sessions it waits
   * for (see {@link noteBlockers}): a lock_timeout can then name them. Errors of `work` pass through.
   */
  whileNotingBlockers<T>(
    migrationPid: number,
    work: () => Promise<T>,
  ): Promise<{ value: T; blockers: BlockingSession[] }>;
}

export interface LockWaiter {
  pid: number;
  application: string | null;
}

/** How often the lock session looks for the hidden deadlock (PostgreSQL's deadlock_timeout is 1 s). */
const WATCH_MS = 500;
/** Failed tries met with no visible holder before a refusal names none (pollForLock). */
const HOLDER_RETRIES = 3;

/**
 * Takes the migration lock on a session of its own, opened by `open`, never on the session that
 * runs migration SQL: a file may `DISCARD ALL` or `SELECT pg_advisory_unlock_all()` (both
 * release every session-level advisory lock of their session), and the lock would then be gone
 * while the batch goes on, letting a second deploy apply the same migration (issue 24).
 */
export async function acquireMigrationLock(open: () => Promise<Db>, waitMs: number): Promise<HeldLock> {
  const session = await open();
  try {
    const { pid, waitedMs } = await pollForLock(session, waitMs);
    const sessionKey = await holdSessionKey(session);
    let released = false;
    return {
      pid,
      sessionKey,
      waitedMs,
      release: async (read) => {
        if (released) return undefined;
        released = true;
        try {
          return read ? await read(session).catch(() => undefined) : undefined;
        } finally {
          await session.query('SELECT pg_catalog.pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]).catch(() => undefined);
          await close(session);
        }
      },
      whileWatched: (migrationPid, work) => watchedForWaiters(session, migrationPid, work),
      whileNotingBlockers: (migrationPid, work) => noteBlockers(session, migrationPid, work),
    };
  } catch (error) {
    await close(session);
    throw error;
  }
}

/**
 * Beside the migration lock, the lock session takes an advisory lock of its own, on a random key:
 * the ledger guard (lambda/ledger-guard.ts) proves the session alive by failing to take that key,
 * one lock-manager probe where a pg_locks query copies every lock table. Nothing else runs on this
 * session and nothing releases its locks before `release`, so while it lives it holds the
 * migration lock. Taken with pg_try_advisory_lock: a key some other session holds (2^-64) is
 * never waited on, another one is drawn.
 */
async function holdSessionKey(db: Db): Promise<string> {
  for (;;) {
    const key = randomBytes(8).readBigInt64BE().toString();
    if (key === String(MIGRATION_LOCK_KEY)) continue;
    const { rows } = await db.query<{ held: boolean }>('SELECT pg_catalog.pg_try_advisory_lock($1::bigint) AS held', [
      key,
    ]);
    if (rows[0]?.held) return key;
  }
}

async function pollForLock(db: Db, waitMs: number): Promise<{ pid: number; waitedMs: number }> {
  const started = Date.now();
  const tryLock = async () =>
    (
      await db.query<{ locked: boolean; pid: number }>(
        'SELECT pg_catalog.pg_try_advisory_lock($1) AS locked, pg_catalog.pg_backend_pid() AS pid',
        [MIGRATION_LOCK_KEY],
      )
    ).rows[0];
  for (;;) {
    const row = await tryLock();
    if (row?.locked) return { pid: row.pid, waitedMs: Date.now() - started };
    if (Date.now() - started >= waitMs) break;
    await new Promise((resolve) => setTimeout(resolve, Math.min(POLL_MS, waitMs)));
  }
  // The refusal names the holder. When none shows between our failed try and the lookup, the
  // lock may be free now: try again (a few times) rather than refuse without naming anyone.
  let holder = await lockHolder(db);
  for (let again = 0; holder === null && again < HOLDER_RETRIES; again++) {
    const row = await tryLock();
    if (row?.locked) return { pid: row.pid, waitedMs: Date.now() - started };
    holder = await lockHolder(db);
  }
  const who = holder
    ? `pid ${holder.pid}, application ${JSON.stringify(holder.application ?? '')}, ` +
      `user ${holder.user ?? '?'}, since ${holder.since ?? SINCE_HIDDEN}`
    : 'a session that has since released it';
  throw new MigrateError(
    ErrorCode.LockTimeout,
    `Another migration is running (${who}); waited ${Math.round((Date.now() - started) / 1000)} ` +
      `s for the migration lock.`,
    `Wait for it to finish and run the command again, or ` +
      `raise --lock-wait. If that session is stuck, end it ` +
      `with SELECT pg_terminate_backend(${holder?.pid ?? 'PID'}).`,
    { details: { holder } },
  );
}

/** How long a session blocked on the migration lock may take to leave before CONCURRENTLY. */
export const WAITER_GRACE_MS = 1_000;

/**
 * Sessions blocked in `pg_advisory_lock(72707369)`, waiting for us: `prisma migrate deploy` waits
 * that way (our own workers poll with pg_try_advisory_lock and never block). CREATE INDEX
 * CONCURRENTLY and the other CONCURRENTLY forms wait for every transaction with an older
 * snapshot, such a blocked session included, while it waits for us: a deadlock, which
 * PostgreSQL ends by cancelling the CONCURRENTLY statement. A client that gave up (Prisma's 10 s)
 * leaves its session blocked until the lock is released, so waiting them out does not work;
 * the executor lets them go first instead. Waits up to `graceMs` for them to leave by themselves
 * (a lock_timeout on their side), then returns those still blocked.
 */
export async function lockWaiters(db: Db, graceMs: number): Promise<LockWaiter[]> {
  const started = Date.now();
  for (;;) {
    const { rows } = await db.query<{ pid: number; application: string | null }>(
      `SELECT l.pid, a.application_name AS application
         FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid
        WHERE NOT l.granted AND ${migrationLockRowSql()}
        ORDER BY l.pid`,
    );
    if (rows.length === 0 || Date.now() - started >= graceMs) return rows;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** The sentence that explains a stop for `lockWaiters`. */
export function blockedByWaiters(name: string, waiters: { pid: number; application: string | null }[]): string {
  const who = waiters
    .map((w) => `pid ${w.pid}${w.application ? ` (${JSON.stringify(w.application)})` : ''}`)
    .join(', ');
  return (
    `Stopped before ${name}: ${who} ${waiters.length === 1 ? 'is' : 'are'} ` +
    `blocked waiting for the migration lock, and ${name} ` +
    `runs a statement ` +
    (`outside a transaction (CONCURRENTLY) that would deadlock ` +
      `with ${waiters.length === 1 ? 'it' : 'them'}. The lock ` +
      `was released so ${waiters.length === 1 ? 'it goes' : 'they go'} ` +
      `first.`)
  );
}

/** The sentence that explains a CONCURRENTLY statement cancelled by {@link watchedForWaiters}. */
export function cancelledForWaiters(name: string, line: number, waiters: LockWaiter[]): string {
  const who = waiters
    .map((w) => `pid ${w.pid}${w.application ? ` (${JSON.stringify(w.application)})` : ''}`)
    .join(', ');
  return (
    `Stopped ${name} at line ${line}: ${who} began waiting ` +
    `for the migration lock while this statement ran outside ` +
    `a transaction (CONCURRENTLY), ` +
    (`and the statement was waiting for ${waiters.length === 1 ? 'it' : 'them'}: ` +
      `a deadlock. The statement was cancelled and the lock ` +
      `released so ${waiters.length === 1 ? 'it goes' : 'they go'} ` +
      `first; `) +
    `${name} is left resumable (an INVALID index it leaves is rebuilt when it resumes).`
  );
}

/**
 * The session holding the migration lock, at most one row: `pid`, `application`, `user`, `since`,
 * `query` (ledger-state.ts reads it in the same query as the server's facts).
 */
export const LOCK_HOLDER_SQL = `SELECT a.pid, a.application_name AS application, a.usename AS "user",
            coalesce(a.xact_start, a.backend_start) AS since, left(a.query, 200) AS query
       FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
      WHERE l.granted AND ${migrationLockRowSql()}
      LIMIT 1`;

export interface LockHolderRow {
  pid: number;
  application: string | null;
  user: string | null;
  since: Date | null;
  query: string | null;
}

export const toLockHolder = (row: LockHolderRow): LockHolder => ({
  ...row,
  since: row.since ? new Date(row.since).toISOString() : null,
});

/** The session holding the lock: a bigint key is stored as classid = high 32 bits, objid = low 32 bits. */
export async function lockHolder(db: Db): Promise<LockHolder | null> {
  const row = (await db.query<LockHolderRow>(LOCK_HOLDER_SQL)).rows[0];
  return row ? toLockHolder(row) : null;
}

/**
 * A CONCURRENTLY statement waits for every older transaction, a session blocked in
 * `pg_advisory_lock(72707369)` included, and that session waits for the lock, which is held by
 * our lock session, not by the statement's: PostgreSQL sees no cycle (the lock session waits
 * for nothing), so no deadlock is detected and the statement would wait until its
 * statement_timeout, after building the whole index. `lockWaiters` stops a file before such a
 * statement when a waiter is already there; a `prisma migrate deploy` that starts while the
 * index builds is caught here: the lock session polls for a waiter among the statement's
 * blockers and cancels the statement, as the deadlock detector would have with the lock on the
 * statement's own session. The file stays resumable; the INVALID index is rebuilt on resume.
 */
async function watchedForWaiters<T>(
  session: Db,
  migrationPid: number,
  work: () => Promise<T>,
): Promise<{ value?: T; error?: unknown; cancelledFor: LockWaiter[] }> {
  let cancelledFor: LockWaiter[] = [];
  // One statement finds the waiter among the blockers and cancels: between two, the migration
  // statement could finish and the cancel would hit the worker's next query instead.
  const poll = async () => {
    const { rows } = await session.query<LockWaiter>(
      `SELECT w.pid, w.application, pg_catalog.pg_cancel_backend($1) AS cancelled
         FROM (SELECT l.pid, a.application_name AS application
                 FROM pg_catalog.pg_locks l LEFT JOIN pg_catalog.pg_stat_activity a ON a.pid = l.pid
                WHERE NOT l.granted AND ${migrationLockRowSql()}
                  AND l.pid = ANY (pg_catalog.pg_blocking_pids($1))) w
        ORDER BY w.pid`,
      [migrationPid],
    );
    if (rows.length > 0) cancelledFor = rows.map(({ pid, application }) => ({ pid, application }));
    return cancelledFor.length === 0;
  };
  try {
    return { value: await pollingWhile(WATCH_MS, poll, work), cancelledFor: [] };
  } catch (error) {
    return { error, cancelledFor };
  }
}

/** How often the lock session looks at what a running migration waits for. */
const BLOCKERS_POLL_MS = 100;

/**
 * A statement stopped by lock_timeout (55P03) no longer waits when the error arrives, so who it
 * waited for cannot be asked then: the lock session (idle while migrations run) looks every
 * {@link BLOCKERS_POLL_MS} while `work` runs and keeps the last sessions it saw blocking the
 * migration's session (`pg_blocking_pids`). A statement that never waits is never seen waiting,
 * and costs one cheap query per poll.
 */
async function noteBlockers<T>(
  session: Db,
  migrationPid: number,
  work: () => Promise<T>,
): Promise<{ value: T; blockers: BlockingSession[] }> {
  let blockers: BlockingSession[] = [];
  const poll = async () => {
    const { rows } = await session.query<Omit<BlockingSession, 'queryStart'> & { query_start: Date | null }>(
      `SELECT a.pid, a.application_name AS application, a.usename AS "user", a.state, a.query_start,
              left(split_part(pg_catalog.btrim(a.query, E' \\t\\r\\n'), E'\\n', 1), 200) AS query
         FROM pg_catalog.pg_stat_activity a
        WHERE a.pid = ANY (pg_catalog.pg_blocking_pids($1))
        ORDER BY a.pid`,
      [migrationPid],
    );
    if (rows.length > 0)
      blockers = rows.map(({ query_start, ...r }) => ({
        ...r,
        queryStart: query_start ? new Date(query_start).toISOString() : null,
      }));
    return true;
  };
  const value = await pollingWhile(BLOCKERS_POLL_MS, poll, work);
  return { value, blockers };
}

/**
 * Runs `work` while `poll` runs on the lock session every `intervalMs`, one poll at a time (a
 * failed poll is skipped) until it answers false. Whatever `work` does, the poll in flight is
 * awaited before returning, so what it found is in and the session is free for the next query.
 */
async function pollingWhile<T>(intervalMs: number, poll: () => Promise<boolean>, work: () => Promise<T>): Promise<T> {
  let done = false;
  let timer: NodeJS.Timeout | undefined;
  let polling: Promise<void> = Promise.resolve();
  const schedule = () => {
    timer = setTimeout(() => {
      polling = poll()
        .catch(() => true)
        .then((again) => {
          if (!done && again) schedule();
        });
    }, intervalMs);
  };
  schedule();
  try {
    return await work();
  } finally {
    done = true;
    clearTimeout(timer);
    await polling;
  }
}
