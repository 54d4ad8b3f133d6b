/**
 * The check every ledger write that records a migration as run makes first, in the same round
 * trip: the batch's lock session still holds the migration lock (lambda/lock.ts; it can only
 * lose it by ending, so its being alive is the lock being held), and the ledger does not
 * already record the migration. Either failing means another run may be applying the same
 * migration: the write is refused with an error of our own SQLSTATE class, the caller rolls back
 * what it can and stops the batch (BatchStop), recording nothing.
 */
import { randomUUID } from 'node:crypto';
import { ErrorCode, MigrateError, remedyCommand } from './contract/index.js';
import type { Db } from './db.js';

/** SQLSTATEs the guard raises (class VM: ours, never PostgreSQL's). */
const LOCK_LOST_SQLSTATE = 'VM001';
const ALREADY_RECORDED_SQLSTATE = 'VM002';
/**
 * In every refusal's message, and looked for by {@link guardRefusal}: the guard may run in the
 * same query as a migration file (lambda/prisma/apply.ts), and a file raising VM001 of its own
 * is that file's failure, not a lost lock. Random per worker process; a file in the same query
 * could still read it (current_query()), so apply.ts also asks that every statement of the file
 * completed before it takes an error for the guard's.
 */
const GUARD_TOKEN = `vpcm-guard-${randomUUID().slice(0, 8)}`;

/**
 * What a guard needs to know of the lock session (lambda/lock.ts HeldLock): its pid, for the
 * message, and the key of the advisory lock it holds beside the migration lock, for the check.
 */
export interface LockProof {
  readonly pid: number;
  /** A bigint, in decimal: random per lock session, held exclusively by it while it lives. */
  readonly sessionKey: string;
}

export interface GuardSpec {
  /** The session holding the migration lock; unset when the caller holds none. */
  lock?: LockProof | undefined;
  /** A SQL condition, true when the ledger already records the migration as applied. */
  alreadyRecorded: string;
}

/**
 * A DO block (it takes no parameters: values are literals escaped by the driver, inside a
 * dollar quote they cannot close) that raises when the guard fails.
 */
export function ledgerGuardSql(_db: Db, spec: GuardSpec): string {
  const checks: string[] = [];
  if (spec.lock !== undefined) {
    const pid = Math.trunc(spec.lock.pid);
    // The lock session's own key can be taken (shared) only once that session has ended, and with
    // it the migration lock. This asks the lock manager about one key; a pg_locks filter snapshots
    // every lock of every backend first, ~0.15 ms per ledger write (docs/benchmarks.md, issue 26).
    // Taken, it is the transaction's, and the RAISE that follows rolls it back.
    checks.push(
      `IF pg_catalog.pg_try_advisory_xact_lock_shared(${sessionKeyLiteral(spec.lock.sessionKey)}) THEN
        RAISE EXCEPTION USING ERRCODE = '${LOCK_LOST_SQLSTATE}', MESSAGE =
          'vpc-migrate: the migration lock is no longer held (its session, pid ${pid}, ended) [${GUARD_TOKEN}]';
      END IF;`,
    );
  }
  checks.push(
    `IF ${spec.alreadyRecorded} THEN
        RAISE EXCEPTION USING ERRCODE = '${ALREADY_RECORDED_SQLSTATE}',
          MESSAGE = 'vpc-migrate: the migration is already recorded as applied [${GUARD_TOKEN}]';
      END IF;`,
  );
  const body = checks.join('\n      ');
  let tag = '$vpcm_guard$';
  while (body.includes(tag)) tag = `$vpcm_guard_${randomUUID().slice(0, 8)}$`;
  return `DO ${tag} BEGIN ${body} END ${tag}`;
}

/** The key as a SQL bigint; anything but a decimal integer is a bug upstream, not a value to quote. */
function sessionKeyLiteral(key: string): string {
  if (!/^-?\d{1,19}$/.test(key)) throw new Error(`ledger guard: bad lock session key ${JSON.stringify(key)}`);
  return `${key}::bigint`;
}

/** The guard's refusal as the error that stops the batch, or undefined for any other error. */
export function guardRefusal(error: unknown, name: string): MigrateError | undefined {
  const { code, message } = (error ?? {}) as { code?: string; message?: unknown };
  if (typeof message !== 'string' || !message.includes(GUARD_TOKEN)) return undefined;
  if (code === LOCK_LOST_SQLSTATE) {
    return new MigrateError(
      ErrorCode.LockLost,
      `The migration lock was lost before ${name} could be ` +
        `recorded: the worker's lock session (a database connection ` +
        `of its own) ended or was terminated. ${name} was not ` +
        `recorded, and what could be rolled back was.`,
      `Run ${remedyCommand('status')} to see what is applied, ` +
        `then ${remedyCommand('deploy')} again: the next deploy ` +
        `takes the lock afresh and continues where this one ` +
        `stopped.`,
      { details: { migration: name } },
    );
  }
  if (code === ALREADY_RECORDED_SQLSTATE) {
    return new MigrateError(
      ErrorCode.AlreadyRecorded,
      `${name} is already recorded as applied by another run; ` +
        `this run's attempt was rolled back, so it is not applied ` +
        `twice.`,
      `Another deploy ran at the same time without the migration ` +
        `lock. Run ${remedyCommand('status')}, and make sure ` +
        `every deployer of this database takes the lock (vpc-migrate ` +
        `and prisma migrate deploy do).`,
      { details: { migration: name } },
    );
  }
  return undefined;
}
