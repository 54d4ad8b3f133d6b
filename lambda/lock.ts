/**
 * The migration lock: Prisma's session-level advisory lock, so this worker and
 * `prisma migrate deploy` exclude each other. We poll `pg_try_advisory_lock` rather than block,
 * so the wait is bounded and the refusal can name who holds the lock.
 */
import type { Db } from './db.js';
import { ErrorCode, MigrateError } from './errors.js';
import { MIGRATION_LOCK_KEY, type LockHolder } from './protocol.js';

const POLL_MS = 100;
/** pg_stat_activity hides another role's session times from a role without pg_read_all_stats. */
const SINCE_HIDDEN = 'an unknown time (the worker\'s database role may not see other roles\' sessions; GRANT pg_read_all_stats to it to show when)';

export async function acquireMigrationLock(db: Db, waitMs: number): Promise<number> {
  const started = Date.now();
  for (;;) {
    const { rows } = await db.query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1) AS locked', [MIGRATION_LOCK_KEY]);
    if (rows[0]?.locked) return Date.now() - started;
    if (Date.now() - started >= waitMs) break;
    await new Promise((resolve) => setTimeout(resolve, Math.min(POLL_MS, waitMs)));
  }
  const holder = await lockHolder(db);
  const who = holder
    ? `pid ${holder.pid}, application ${JSON.stringify(holder.application ?? '')}, user ${holder.user ?? '?'}, since ${holder.since ?? SINCE_HIDDEN}`
    : 'a session that has since released it';
  throw new MigrateError(
    ErrorCode.LockTimeout,
    `Another migration is running (${who}); waited ${Math.round((Date.now() - started) / 1000)} s for the migration lock.`,
    `Wait for it to finish and run the command again, or raise --lock-wait. If that session is stuck, end it with SELECT pg_terminate_backend(${holder?.pid ?? 'PID'}).`,
    { details: { holder } },
  );
}

export async function releaseMigrationLock(db: Db): Promise<void> {
  await db.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]);
}

/** The session holding the lock: a bigint key is stored as classid = high 32 bits, objid = low 32 bits. */
export async function lockHolder(db: Db): Promise<LockHolder | null> {
  const { rows } = await db.query<{
    pid: number;
    application: string | null;
    user: string | null;
    since: Date | null;
    query: string | null;
  }>(
    `SELECT a.pid, a.application_name AS application, a.usename AS "user",
            coalesce(a.xact_start, a.backend_start) AS since, left(a.query, 200) AS query
       FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
      WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
        AND l.classid = ($1::bigint >> 32)::oid AND l.objid = ($1::bigint & 4294967295)::oid
        AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
      LIMIT 1`,
    [MIGRATION_LOCK_KEY],
  );
  const row = rows[0];
  if (!row) return null;
  return { ...row, since: row.since ? new Date(row.since).toISOString() : null };
}
