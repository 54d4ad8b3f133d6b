/**
 * The `apply` action, for every format: under the migration lock, ensure the ledger, skip what
 * it records, run the rest in order within the Lambda's time, stop at the first failure. What
 * differs by format (the ledger, running one migration) is a WorkerFormat (lambda/format.ts):
 * lambda/prisma/apply.ts or lambda/drizzle/apply.ts.
 */
// From its own file, not the contract's index: one hop fewer for a reader following a migration.
import { BatchStop, runInOrder } from './contract/batch-order.js';
import {
  ErrorCode,
  MigrateError,
  type ApplyOptions,
  type ApplyResult,
  type DecodedMigration,
  type BlockingSession,
  INVOKE_PAYLOAD_LIMIT_BYTES,
  type LedgerResult,
  LEDGER_AFTER_MAX_BYTES,
  type MigrationResult,
} from './contract/index.js';
import type { Db } from './db.js';
import type { BatchLedger, WorkerFormat } from './format.js';
import { readLedgerState, userTableCount } from './ledger-state.js';
import { acquireMigrationLock, blockedByWaiters, lockWaiters, WAITER_GRACE_MS } from './lock.js';
import { BatchLog } from './batch-log.js';
import { lockWaitBudget, sessionResetStatements, timeMargin, type ApplyContext, type RunContext } from './session.js';
import { PendingReset } from './session-reset.js';

export async function applyBatch(
  ctx: ApplyContext,
  format: WorkerFormat,
  request: { requestId: string; migrations: DecodedMigration[]; options: ApplyOptions },
): Promise<ApplyResult> {
  const { db, log } = ctx;
  const options = request.options;
  const margin = timeMargin(ctx.remainingMs());
  // Prisma's own advisory lock (pg_try_advisory_lock, polled within the wait budget), so
  // this batch and a `prisma migrate deploy` never run at the same time; held on a session of its
  // own, which no migration file can reach.
  const lock = await acquireMigrationLock(ctx.openSession, lockWaitBudget(ctx, options, margin));
  try {
    // Before anything runs: a schema that held tables and no ledger is being baselined.
    const tablesBefore = await userTableCount(db);
    // Prisma's P3005 (schema-not-empty.ts): tables but no ledger may be the wrong database.
    if (options.baseline !== true) await format.refuseNonEmptySchema?.(db, request.migrations);
    const ledgerCreated = await format.ensureLedger(db);
    const ledger = await format.readBatch(db, request.migrations, lock);
    // Once per batch: every migration runs on this session (RunContext.pid).
    const migrationPid = (await db.query<{ pid: number }>('SELECT pg_catalog.pg_backend_pid() AS pid')).rows[0]!.pid;
    const batchLog = new BatchLog(log, format.name, request.migrations.length);
    // One migration's context, alone or in a chain.
    const runContext = (budget: RunContext['budget'], started: number, reset: PendingReset): RunContext => ({
      ...ctx,
      margin,
      budget,
      started,
      options,
      timeouts: [],
      lock,
      pid: migrationPid,
      reset,
    });
    // What follows a migration's run, alone or in a chain.
    const finished = (
      m: DecodedMigration,
      reset: PendingReset,
      result: MigrationResult,
      blockers: BlockingSession[],
    ) => {
      // A format that ran a file without resetting the session first is a bug, whatever came of it.
      if (reset.pending && result.status !== 'failed')
        throw new Error(`the worker ran ${m.name} without resetting its session first`);
      if (
        result.status === 'failed' &&
        result.error?.code === '55P03' &&
        blockers.length > 0 &&
        !/migration lock/.test(result.error.message)
      )
        result.error.blockedBy = blockers;
      if (result.status !== 'failed') ledger.add(m);
      batchLog.finished(result);
      return result;
    };
    // Several in one query (lambda/prisma/chain.ts): each with its own reset, computed by the
    // server from the query's arrival (lambda/session.ts, `chained`).
    const chainSteps = (chain: NonNullable<BatchLedger['chain']>) => ({
      chainable: chain.chainable,
      max: chain.max,
      size: chain.size,
      maxSize: chain.maxSize,
      runAll: async (ms: DecodedMigration[]) => {
        const started = Date.now();
        const { statements, budget } = sessionResetStatements(ctx, options, margin, true);
        const contexts = ms.map(() => runContext(budget, started, new PendingReset(statements)));
        const { value: ran, blockers } = await lock.whileNotingBlockers(migrationPid, () =>
          ledger.chain!.executeAll(contexts, ms),
        );
        for (const [i, result] of ran.results.entries())
          finished(ms[i] as DecodedMigration, (contexts[i] as RunContext).reset, result, blockers);
        return ran;
      },
    });
    // Shared with the run-sql compatibility mode, so both answer an `apply` alike.
    const outcome = await runInOrder(request.migrations, {
      recorded: (m) => ledger.recorded(m),
      before: async (m) => {
        if (ctx.remainingMs() < 3 * margin) return 'time-budget';
        if (m.mode === 'non-transactional') {
          // A session blocked on the lock (prisma migrate deploy) would deadlock with CONCURRENTLY:
          // let it go first, before this file writes anything.
          const waiters = await lockWaiters(db, WAITER_GRACE_MS);
          if (waiters.length > 0) {
            const because = blockedByWaiters(m.name, waiters);
            const error = new MigrateError(
              ErrorCode.LockTimeout,
              because,
              'Deploy again once that deploy has finished (`vpc-migrate status` shows when the lock is free).',
              { details: { waiters } },
            );
            throw new BatchStop(error, because);
          }
        }
        return undefined;
      },
      run: async (m) => {
        const started = Date.now();
        // Sent by the format before anything of the file runs, ahead of it where it can be.
        const { statements, budget } = sessionResetStatements(ctx, options, margin);
        const reset = new PendingReset(statements);
        // Noted by the lock session while the file runs: a lock_timeout then names who held the lock.
        const { value: result, blockers } = await lock.whileNotingBlockers(migrationPid, () =>
          ledger.execute(runContext(budget, started, reset), m),
        );
        return finished(m, reset, result, blockers);
      },
      chain: ledger.chain ? chainSteps(ledger.chain) : undefined,
    });
    batchLog.summary(outcome.results, outcome.stopped);
    const answer: ApplyResult = {
      requestId: request.requestId,
      ...outcome,
      ledgerCreated,
      baselining: ledgerCreated && tablesBefore > 0,
      lockWaitMs: lock.waitedMs,
    };
    const ledgerAfter = await lock.release(readLedgerAfter(ctx, format, margin, jsonBytes(answer)));
    return ledgerAfter ? { ...answer, ledgerAfter } : answer;
  } finally {
    await lock.release();
  }
}

/** Room left in the answer for the handler's envelope and the timings. */
const ANSWER_ENVELOPE_BYTES = 64 * 1024;
/** A ledger someone holds locked is not worth the wait: the CLI reads it itself. */
const LEDGER_AFTER_LOCK_WAIT_MS = 2_000;

const jsonBytes = (value: unknown) => Buffer.byteLength(JSON.stringify(value));

/**
 * The ledger as the batch leaves it, for the deploy's verification without an Invoke of its own:
 * read as the `ledger` action reads it, on the lock's session before the lock is released. Only
 * with time to spare (bounded by what is left), and when it fits: at most LEDGER_AFTER_MAX_BYTES,
 * and the whole answer (`answerBytes` without it) inside Lambda's response limit with room to
 * spare. Otherwise left out, and the CLI reads the ledger itself.
 */
function readLedgerAfter(ctx: ApplyContext, format: WorkerFormat, margin: number, answerBytes: number) {
  return async (session: Db): Promise<LedgerResult | undefined> => {
    const left = Math.trunc(ctx.remainingMs() - 3 * margin);
    if (left <= 0) return undefined;
    const lockWait = Math.min(LEDGER_AFTER_LOCK_WAIT_MS, left);
    await session.query(`SET statement_timeout = ${left}; SET lock_timeout = ${lockWait}`);
    const ledger = await readLedgerState(session, format);
    const bytes = jsonBytes(ledger);
    const fits =
      bytes <= LEDGER_AFTER_MAX_BYTES && answerBytes + bytes + ANSWER_ENVELOPE_BYTES <= INVOKE_PAYLOAD_LIMIT_BYTES;
    return fits ? ledger : undefined;
  };
}
