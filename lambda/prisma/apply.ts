/**
 * Prisma's format in the worker: `_prisma_migrations` (lambda/prisma/prisma-ledger.ts) and how one
 * migration.sql runs, with the policy of docs/design.md §3. By mode (chosen by the CLI's parse):
 * - transactional: the session reset, BEGIN, the file, the guard, the row and COMMIT in one
 *   round trip (lambda/session-reset.ts, lambda/statement-tail.ts; the row in a second query when
 *   the file's end leaves the scan unsure or its spans are not a parse's), so the migration and
 *   its record commit together
 *   (runTransactional);
 * - non-transactional (CREATE INDEX CONCURRENTLY …): the started row first (with the session
 *   reset, in one query: startRow), one statement at a
 *   time with recordProgress, markFinished at the end; resumable after a kill (runStepwise);
 * - script (its own BEGIN/COMMIT): the started row, the file as written, markFinished (runScript).
 * "Already exists" failures are reconciled statement by statement (lambda/reconcile.ts).
 */
import {
  asPgError,
  BatchStop,
  type DecodedMigration,
  describeSqlError,
  failedMigrationsError,
  isAlreadyExists,
  isGuardable,
  isResumableLog,
  migrationResult,
  noteUnrecorded,
  ledgerLogFor,
  type LedgerRow,
  type MigrationResult,
  reconcileLog,
  RESUMABLE_LOG_PREFIX,
  runsOutsideTransaction,
  type SkippedStatement,
  skippedEntry,
  type SqlErrorInfo,
  type StatementSpan,
  statementSpans,
} from '../contract/index.js';
import type { Db } from '../db.js';
import type { BatchLedger, WorkerFormat } from '../format.js';
import { blockedByWaiters, cancelledForWaiters, lockWaiters, WAITER_GRACE_MS } from '../lock.js';
import { CreatedInFile, reconcileStatement } from '../reconcile.js';
import { holdTimeBudget, type RunContext } from '../session.js';
import { guardRefusal, type LockProof } from '../ledger-guard.js';
import { refuseNonEmptySchema } from '../schema-not-empty.js';
import { acceptsAppendedStatements, APPENDED_SEPARATOR } from '../statement-tail.js';
import { chainable, MAX_CHAIN, MAX_CHAIN_CHARS, runChain } from './chain.js';
import { failedRows, PrismaLedger, successfulNames } from './prisma-ledger.js';
import type { AfterReset } from '../session-reset.js';

export const prisma: WorkerFormat = {
  name: 'prisma',
  async readLedger(db) {
    const ledger = await PrismaLedger.open(db);
    const tableExists = await ledger.exists();
    return { tableExists, rows: tableExists ? await ledger.read() : [] };
  },
  refuseNonEmptySchema,
  ensureLedger: async (db) => (await PrismaLedger.open(db)).ensure(),
  readBatch,
};

/**
 * A successful row means applied. An unfinished row of a stepwise run of ours, carrying no
 * error, was interrupted (worker killed, timed out, connection lost): this batch resumes it if it
 * holds the same file. Any other unfinished row is Prisma's P3009: nothing runs until resolved.
 */
async function readBatch(db: Db, migrations: DecodedMigration[], lock: LockProof): Promise<BatchLedger> {
  const ledger = await PrismaLedger.open(db, lock);
  const rows = await ledger.read();
  const done = successfulNames(rows);
  const unfinished = failedRows(rows);
  const resumable = new Map<string, LedgerRow>();
  for (const row of unfinished) {
    const m = migrations.find((x) => x.name === row.migration_name);
    const sameName = unfinished.filter((r) => r.migration_name === row.migration_name).length;
    if (
      m &&
      m.mode === 'non-transactional' &&
      m.checksum === row.checksum &&
      isResumableLog(row.logs) &&
      sameName === 1 &&
      !done.has(m.name)
    ) {
      resumable.set(m.name, row);
    }
  }
  const failed = unfinished.filter((r) => !resumable.has(r.migration_name));
  if (failed.length > 0) throw failedMigrationsError([...new Set(failed.map((r) => r.migration_name))]);
  return {
    recorded: (m) => done.has(m.name),
    add: (m) => done.add(m.name),
    execute: (ctx, m) => runMigration(ctx, ledger, m, resumable.get(m.name)),
    chain: {
      chainable,
      max: MAX_CHAIN,
      size: (m) => m.sql.length,
      maxSize: MAX_CHAIN_CHARS,
      executeAll: (contexts, ms) =>
        runChain(contexts, ledger, ms, {
          failure: transactionalFailure,
          result: resultOf,
          applied: ok([]),
        }),
    },
  };
}

async function runMigration(
  ctx: RunContext,
  ledger: PrismaLedger,
  m: DecodedMigration,
  resume?: LedgerRow,
): Promise<MigrationResult> {
  const reconcile = ctx.options.reconcileExisting !== false;
  // A transactional file sends the reset ahead of itself (lambda/session-reset.ts); the others
  // send it ahead of their started row (startRow), or on its own when resumed (the row exists).
  if (resume) await ctx.reset.run(ctx.db);
  let outcome: Outcome;
  switch (m.mode) {
    case 'transactional':
      outcome = await runTransactional(ctx, ledger, m, reconcile);
      break;
    case 'non-transactional':
      outcome = await runStepwise(ctx, ledger, m, reconcile, resume);
      break;
    default:
      outcome = await runScript(ctx, ledger, m, reconcile);
  }
  return resultOf(ctx, m, outcome, Date.now() - ctx.started, resume);
}

/** The answer for one migration's outcome; shared with chains (lambda/prisma/chain.ts). */
export function resultOf(
  ctx: RunContext,
  m: DecodedMigration,
  outcome: Outcome,
  durationMs: number,
  resume?: LedgerRow,
): MigrationResult {
  const result = migrationResult(m, outcome, durationMs);
  if (outcome.status === 'failed') result.failureRecorded = outcome.recorded !== false;
  if (outcome.error?.code === '57014' && ctx.budget.limitedByBudget) {
    result.timeBudgetExhausted = true;
    result.statementTimeoutMs = ctx.budget.statementTimeoutMs;
  }
  if (resume) result.resumedFrom = Math.min(resume.applied_steps_count, statementSpans(m).length);
  if (ctx.timeouts.length > 0) result.timeouts = ctx.timeouts;
  return result;
}

/** Runs one statement as written; a statement_timeout it sets is then held to the budget. */
async function execute(ctx: RunContext, span: StatementSpan, text: string): Promise<void> {
  await ctx.db.query(text);
  if (span.kind === 'timeout-setting') await holdTimeBudget(ctx, span);
}

export interface Outcome {
  status: 'applied' | 'reconciled' | 'failed';
  skipped: SkippedStatement[];
  error?: SqlErrorInfo;
  appliedSteps?: number;
  /** For a failure: whether the ledger holds it (false when it could not be written). */
  recorded?: boolean;
}

const ok = (skipped: SkippedStatement[]): Outcome => ({
  status: skipped.length > 0 ? 'reconciled' : 'applied',
  skipped,
});

async function rollbackQuietly(db: Db): Promise<void> {
  await db.query('ROLLBACK').catch(() => undefined);
}

/**
 * A ledger write refused by its guard (lambda/ledger-guard.ts): the lock is gone or another run
 * recorded the migration. After rolling back what can be, the batch stops; no failure is
 * recorded, since the row is another run's business now.
 */
async function stopIfRefused(db: Db, error: unknown, m: DecodedMigration): Promise<void> {
  const refusal = guardRefusal(error, m.name);
  if (!refusal) return;
  await rollbackQuietly(db);
  throw new BatchStop(refusal, refusal.message);
}

/**
 * Records a failure in its own autocommit statement. A dead connection (or a ledger the worker
 * may not write) cannot take it: the error then says so, and the result says nothing was
 * recorded, so the remedy the CLI prints is one that works.
 */
async function recordFailure(write: () => Promise<unknown>, error: SqlErrorInfo): Promise<boolean> {
  try {
    await write();
    return true;
  } catch (cause) {
    noteUnrecorded(error, asPgError(cause).message);
    return false;
  }
}

/**
 * A failure of the worker's own statement after the file's (COMMIT, the ledger row): PostgreSQL's
 * position is in our statement, not in migration.sql, so none is given.
 */
function afterFileError(error: unknown): SqlErrorInfo {
  const pg = asPgError(error);
  const info = describeSqlError({ ...pg, message: pg.message, code: pg.code, position: undefined }, '', 0, 0);
  info.hint = [
    info.hint,
    'It failed at COMMIT or when writing its ledger row, ' +
      'after every statement of the file had run: nothing ' +
      'of it was committed.',
  ]
    .filter(Boolean)
    .join(' ');
  return info;
}

/**
 * The failing statement of a file sent whole: the one after the `completed` statements that
 * finished (PostgreSQL sends a CommandComplete for each).
 */
function describeFileError(
  error: unknown,
  m: DecodedMigration,
  spans: StatementSpan[],
  completed: number,
): SqlErrorInfo {
  const whole = describeSqlError(error, m.sql, 0, m.sql.length, spans.length === 1 ? spans[0]?.line : undefined);
  const span = spans[completed];
  if (!span) return whole;
  const info = describeSqlError(error, m.sql, span.start, span.end - span.start, span.line, completed);
  // A position PostgreSQL gave is an offset into the whole text sent: `whole` mapped it.
  if (whole.column !== undefined) {
    info.line = whole.line as number;
    info.column = whole.column;
  }
  return info;
}

/**
 * One transaction: the session reset, the whole file, then the guarded ledger row and COMMIT,
 * in one round trip when the file's text allows it (lambda/statement-tail.ts), else the row and
 * COMMIT in a second. A failure is located from what PostgreSQL reports (the statements that
 * completed: fewer than the file's, the file's; all of them, ours), so the file never runs twice —
 * except for an "already exists", which is rolled back and run again statement by statement to
 * reconcile it (docs/applying.md).
 */
async function runTransactional(
  ctx: RunContext,
  ledger: PrismaLedger,
  m: DecodedMigration,
  reconcile: boolean,
): Promise<Outcome> {
  const { db } = ctx;
  const startedAt = new Date();
  const spans = statementSpans(m);
  // Sent whole, the file's own statement_timeout would apply unchecked to what follows it.
  if (spans.some((s) => s.kind === 'timeout-setting'))
    return runTransactionalStepwise(ctx, ledger, m, spans, reconcile, startedAt);
  const row = { name: m.name, checksum: m.checksum, startedAt, logs: null };
  // The guarded row and COMMIT go in the file's own query when nothing of the file can swallow
  // them (an open quote or comment at its end) and its statements are counted: one round trip.
  let appended = acceptsAppendedStatements(m);
  const after = appended ? `${APPENDED_SEPARATOR}${ledger.finishedRowSql(row, { commit: true }).sql}` : '';
  // Positions and completed statements come back counted from the file's start.
  let run = await ctx.reset.begin(db, spans.length > 0 ? m.sql : '', after);
  if (appended && run.error !== undefined && !run.inTransaction) {
    // PostgreSQL parsed none of it (the reset has now run alone): the file alone, so the error
    // it reports is the file's own, worded and placed as without our statements after it.
    appended = false;
    run = await ctx.reset.begin(db, m.sql);
  }
  if (run.error !== undefined)
    return transactionalFailure(ctx, ledger, m, { ...run, error: run.error }, { appended, startedAt, reconcile });
  if (appended) return ok([]);
  try {
    await ledger.insertFinished(row, { commit: true });
  } catch (error) {
    await stopIfRefused(db, error, m);
    await rollbackQuietly(db);
    return failed(ledger, m, startedAt, afterFileError(error));
  }
  return ok([]);
}

/** When a transactional migration started, as its rows record it: a client time, or a chain link's own. */
type RowStart = Date | 'link-start';

/** Records a transactional file's failure (nothing of it committed); the outcome says whether it could. */
async function failed(
  ledger: PrismaLedger,
  m: DecodedMigration,
  startedAt: RowStart,
  info: SqlErrorInfo,
): Promise<Outcome> {
  const recorded = await recordFailure(
    () => ledger.insertFailed({ name: m.name, checksum: m.checksum, startedAt, logs: ledgerLogFor(m.name, info) }),
    info,
  );
  return { status: 'failed', skipped: [], error: info, recorded };
}

/**
 * A transactional file sent whole (alone, or in a chain: lambda/prisma/chain.ts) failed, its
 * transaction aborted. Every statement of the file completed: the error is the guard's, the
 * row's or COMMIT's. Only then can it be the guard's refusal (stop, nothing recorded): a file can
 * read the guard's token with current_query() and raise it in one of its own statements. (A
 * trigger it put on the ledger could raise it in our INSERT: the batch then stops as refused,
 * rolled back, unrecorded — misnamed, never half-applied.) `located`: false when PostgreSQL's
 * count cannot be trusted to say which statement failed (a chain whose count disagreed with the
 * ledger): then it is the file's failure, placed only where PostgreSQL's position says.
 */
export async function transactionalFailure(
  ctx: RunContext,
  ledger: PrismaLedger,
  m: DecodedMigration,
  run: AfterReset & { error: unknown },
  how: { appended: boolean; startedAt: RowStart; reconcile: boolean; located?: boolean },
): Promise<Outcome> {
  const { db } = ctx;
  const spans = statementSpans(m);
  const located = how.located !== false;
  const ours = how.appended && located && run.completed >= spans.length;
  // Unplaced, a refusal is believed: recording a failure for a migration another run applied
  // would block the next deploy (P3009); stopping unrecorded never does.
  if (ours || (how.appended && !located)) await stopIfRefused(db, run.error, m);
  await rollbackQuietly(db);
  if (ours) return failed(ledger, m, how.startedAt, afterFileError(run.error));
  if (how.reconcile && isAlreadyExists(asPgError(run.error)))
    return runTransactionalStepwise(ctx, ledger, m, spans, how.reconcile, how.startedAt);
  const info = located
    ? describeFileError(run.error, m, spans, run.completed)
    : describeSqlError(run.error, m.sql, 0, m.sql.length);
  return failed(ledger, m, how.startedAt, info);
}

/**
 * The same transaction statement by statement, each in a savepoint: skips only "already exists",
 * and only when reconcileStatement (lambda/reconcile.ts) finds the existing object identical to
 * what the statement builds (it builds it in a savepoint, compares the catalog, rolls back).
 */
async function runTransactionalStepwise(
  ctx: RunContext,
  ledger: PrismaLedger,
  m: DecodedMigration,
  spans: StatementSpan[],
  reconcile: boolean,
  startedAt: RowStart,
): Promise<Outcome> {
  const { db } = ctx;
  const skipped: SkippedStatement[] = [];
  const failed = async (_error: unknown, info: SqlErrorInfo): Promise<Outcome> => {
    await rollbackQuietly(db);
    const recorded = await recordFailure(
      () => ledger.insertFailed({ name: m.name, checksum: m.checksum, startedAt, logs: ledgerLogFor(m.name, info) }),
      info,
    );
    return { status: 'failed', skipped, error: info, recorded };
  };
  const begun = await ctx.reset.begin(db, '');
  if (begun.error !== undefined) return failed(begun.error, afterFileError(begun.error));
  const made = new CreatedInFile();
  for (let i = 0; i < spans.length; i++) {
    const span = spans[i] as StatementSpan;
    const guarded = isGuardable(span.kind);
    try {
      if (guarded) await db.query('SAVEPOINT vpcm_statement');
      await execute(ctx, span, m.sql.slice(span.start, span.end));
      if (guarded) await db.query('RELEASE SAVEPOINT vpcm_statement');
      made.add(span);
    } catch (error) {
      if (guarded && reconcile && isAlreadyExists(asPgError(error))) {
        let verdict: Awaited<ReturnType<typeof reconcileStatement>> | undefined;
        try {
          await db.query('ROLLBACK TO SAVEPOINT vpcm_statement');
          verdict = await reconcileStatement(db, m, span, i, error, made, true);
        } catch {
          // fall through: the connection is gone, report the original error
        }
        if (verdict && 'skip' in verdict) {
          skipped.push(verdict.skip);
          continue;
        }
        if (verdict) return failed(error, verdict.info);
      }
      return failed(error, describeSqlError(error, m.sql, span.start, span.end - span.start, span.line, i));
    }
  }
  try {
    await ledger.insertFinished(
      { name: m.name, checksum: m.checksum, startedAt, logs: reconcileLog(skipped) },
      { commit: true },
    );
  } catch (error) {
    // At COMMIT (a deferred constraint) or in the ledger write (a role the file switched to):
    // rolled back as a whole, and recorded like any other failure.
    await stopIfRefused(db, error, m);
    return failed(error, afterFileError(error));
  }
  return ok(skipped);
}

/**
 * Non-transactional statements (CONCURRENTLY, VACUUM, ...): Prisma-style, row first (marked
 * resumable, see lambda/contract/wire.ts), then statement by statement with progress in
 * applied_steps_count, then finished_at. Each transactional statement commits in one transaction
 * with its progress (the last one with finished_at), so the count never lies about it; a
 * non-transactional statement cannot, so it is the one statement a resumed run is unsure of.
 *
 * `resume`: the row of an interrupted run of this file. Statements before its count are done;
 * the statement at the count runs again, and if it is non-transactional and finds its work done
 * ("already exists" for a CREATE, "does not exist" for a DROP), that is recorded, not failed.
 */
async function runStepwise(
  ctx: RunContext,
  ledger: PrismaLedger,
  m: DecodedMigration,
  reconcile: boolean,
  resume?: LedgerRow,
): Promise<Outcome> {
  const { db } = ctx;
  const spans = statementSpans(m);
  const from = Math.min(resume?.applied_steps_count ?? 0, spans.length);
  const runningLog =
    `${RESUMABLE_LOG_PREFIX} (${spans.length} statement(s)); ` +
    `applied_steps_count = statements done. If this row ` +
    `stays unfinished, the run was interrupted: deploy again ` +
    `to resume it.`;
  const id = resume?.id ?? (await startRow(ctx, ledger, m, runningLog));
  const skipped: SkippedStatement[] = [];
  const notes: string[] = [];
  if (resume)
    notes.push(`Resumed by vpc-migrate at statement ${from + 1} of ${spans.length} after an interrupted run.`);
  const finalLogs = () => [...notes, reconcileLog(skipped)].filter(Boolean).join('\n') || null;
  const advance = (i: number) =>
    i === spans.length - 1 ? ledger.markFinished(id, m.name, finalLogs()) : ledger.recordProgress(id, i + 1);
  const fail = async (error: unknown, span: StatementSpan, i: number): Promise<Outcome> => {
    await stopIfRefused(db, error, m);
    const info = describeSqlError(error, m.sql, span.start, span.end - span.start, span.line, i);
    const recorded = await recordFailure(() => ledger.recordRunState(id, ledgerLogFor(m.name, info), i), info);
    return { status: 'failed', skipped, error: info, appliedSteps: i, recorded };
  };
  const made = new CreatedInFile();
  // Reconciles an "already exists"; the failure the caller returns otherwise.
  const reconciled = async (error: unknown, span: StatementSpan, i: number): Promise<Outcome | undefined> => {
    const verdict = await reconcileStatement(db, m, span, i, error, made, false);
    if ('skip' in verdict) {
      skipped.push(verdict.skip);
      return undefined;
    }
    const recorded = await recordFailure(
      () => ledger.recordRunState(id, ledgerLogFor(m.name, verdict.info), i),
      verdict.info,
    );
    return { status: 'failed', skipped, error: verdict.info, appliedSteps: i, recorded };
  };
  for (let i = from; i < spans.length; i++) {
    const span = spans[i] as StatementSpan;
    const text = m.sql.slice(span.start, span.end);
    if (!runsOutsideTransaction(span.kind)) {
      try {
        await db.query('BEGIN');
        await execute(ctx, span, text);
        await advance(i);
        await db.query('COMMIT');
        made.add(span);
        continue;
      } catch (error) {
        await rollbackQuietly(db);
        if (!(reconcile && isGuardable(span.kind) && isAlreadyExists(asPgError(error)))) return fail(error, span, i);
        const failure = await reconciled(error, span, i).catch(() => fail(error, span, i));
        if (failure) return failure;
      }
      try {
        await advance(i);
      } catch (error) {
        return fail(error, span, i);
      }
      continue;
    }
    if (span.kind === 'self-committing') {
      // It commits as it goes: run once, in autocommit, as psql would, and never reconciled (a
      // skipped part could not be told from a committed one). While it runs, the row says so
      // instead of "resumable": interrupted in here, part of its work may be committed, and
      // only a person can tell which part.
      try {
        await ledger.recordRunState(id, selfCommittingLog(m, span, i), i);
        await db.query(text);
        if (i < spans.length - 1) await ledger.recordRunState(id, runningLog, i + 1);
        else await ledger.markFinished(id, m.name, finalLogs());
      } catch (error) {
        return fail(error, span, i);
      }
      continue;
    }
    const uncertain = resume !== undefined && i === from;
    // Not while a session is blocked on the migration lock: CONCURRENTLY would deadlock with it.
    // Stop instead, unrecorded (the row stays resumable): the next deploy continues here. The
    // first statement of this run was looked at by the batch just before the file (apply-batch.ts,
    // `before`): one pg_locks snapshot per file is enough there, and the watch below still cancels
    // for a waiter that came since.
    const waiters = i === from ? [] : await lockWaiters(db, WAITER_GRACE_MS);
    if (waiters.length > 0) {
      return {
        status: 'failed',
        skipped,
        appliedSteps: i,
        error: { code: '55P03', message: blockedByWaiters(m.name, waiters), line: span.line, statementIndex: i },
      };
    }
    // Watched by the lock session: a deploy that starts waiting for the lock while this runs
    // would otherwise leave it waiting out its whole statement_timeout (lock.ts, watchedForWaiters).
    const watched = await ctx.lock.whileWatched(ctx.pid, () => db.query(text));
    if (watched.cancelledFor.length > 0) {
      return {
        status: 'failed',
        skipped,
        appliedSteps: i,
        error: {
          code: '55P03',
          message: cancelledForWaiters(m.name, span.line, watched.cancelledFor),
          line: span.line,
          statementIndex: i,
        },
      };
    }
    if ('error' in watched) {
      const error = watched.error;
      const pg = asPgError(error);
      const rebuilt = pg.code === '42P07' && (reconcile || uncertain) ? await dropInvalidIndex(db, pg.message) : null;
      if (rebuilt) {
        notes.push(`Rebuilt index ${rebuilt}: an interrupted CREATE INDEX CONCURRENTLY had left it INVALID.`);
        try {
          await db.query(text);
        } catch (again) {
          return fail(again, span, i);
        }
      } else if (uncertain && isAlreadyExists(pg)) {
        // The interrupted run of this very file built it: its own work, done.
        skipped.push(skippedEntry(m, span, i, error));
      } else if (reconcile && isAlreadyExists(pg)) {
        const failure = await reconciled(error, span, i).catch(() => fail(error, span, i));
        if (failure) return failure;
      } else if (uncertain && pg.code === '42704') {
        // DROP INDEX CONCURRENTLY of an index the interrupted run already dropped.
        skipped.push(skippedEntry(m, span, i, error));
      } else {
        const outcome = await fail(error, span, i);
        const left = await invalidIndexLeft(db, text).catch(() => null);
        if (left && outcome.error) outcome.error.invalidIndex = left;
        return outcome;
      }
    }
    made.add(span);
    try {
      await advance(i);
    } catch (error) {
      return fail(error, span, i);
    }
  }
  if (from >= spans.length) {
    try {
      await ledger.markFinished(id, m.name, finalLogs());
    } catch (error) {
      await stopIfRefused(db, error, m);
      throw error;
    }
  }
  return ok(skipped);
}

/** The row's `logs` while a statement that commits on its own runs: not resumable if it stays. */
function selfCommittingLog(m: DecodedMigration, span: StatementSpan, index: number): string {
  return (
    `vpc-migrate: interrupted in statement ${index + 1} ` +
    `(line ${span.line}), which commits on its own (DO … ` +
    `COMMIT or CALL); ` +
    `part of its work may be committed. Check what it did, finish or undo it, then resolve ${m.name}.`
  );
}

/**
 * "Already exists" from CREATE INDEX CONCURRENTLY can mean an INVALID index left by an
 * interrupted build (worker killed, connection cut): skipping it would record the migration as
 * applied without a usable index. PostgreSQL's documented remedy is to drop it and build again:
 * drops the invalid index named in the message, and returns its name (null if there is none).
 */
/** An identifier as written: quoted (doubled quotes inside) or plain. */
const IDENT = String.raw`("(?:[^"]|"")+"|[A-Za-z_\u0080-\uffff][\w$\u0080-\uffff]*)`;
const CREATE_CONCURRENTLY = new RegExp(
  String.raw`^\s*CREATE\s+(?:UNIQUE\s+)?INDEX\s+CONCURRENTLY\s+(?:IF\s+NOT\s+EXISTS\s+)?(?!ON\s)${IDENT}` +
    String.raw`\s+ON\s+(?:ONLY\s+)?(?:${IDENT}\s*\.\s*)?${IDENT}`,
  'i',
);
/** An identifier's name: quoted as written (doubled quotes undone), plain folded to lower case. */
const unquote = (id: string) => (id.startsWith('"') ? id.slice(1, -1).replaceAll('""', '"') : id.toLowerCase());

/**
 * The INVALID index a failed `CREATE INDEX CONCURRENTLY` left behind (PostgreSQL keeps the
 * half-built index, marked invalid, until someone drops it), found by the name the statement
 * gives, on the table it names. Null when the statement names no index or none is invalid.
 */
async function invalidIndexLeft(db: Db, statement: string): Promise<{ schema: string; name: string } | null> {
  const m = CREATE_CONCURRENTLY.exec(statement.replace(/^(\s*--[^\n]*\n)+/, ''));
  if (!m) return null;
  const [, index, schema, table] = m as unknown as [string, string, string | undefined, string];
  const relation =
    schema === undefined
      ? `"${unquote(table).replaceAll('"', '""')}"`
      : `"${unquote(schema).replaceAll('"', '""')}"."${unquote(table).replaceAll('"', '""')}"`;
  const { rows } = await db.query<{ schema: string; name: string }>(
    `SELECT n.nspname AS schema, c.relname AS name
       FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid
       JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
      WHERE NOT i.indisvalid AND c.relname = $1 AND i.indrelid = pg_catalog.to_regclass($2)`,
    [unquote(index), relation],
  );
  return rows[0] ?? null;
}

async function dropInvalidIndex(db: Db, message: string): Promise<string | null> {
  const { rows } = await db.query<{ name: string }>(
    `SELECT format('%I.%I', n.nspname, c.relname) AS name
       FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE NOT i.indisvalid AND strpos($1, format('"%s"', c.relname)) > 0
        AND n.nspname = ANY (current_schemas(false))`,
    [message],
  );
  if (rows.length !== 1) return null;
  const name = (rows[0] as { name: string }).name;
  await db.query(`DROP INDEX CONCURRENTLY IF EXISTS ${name}`);
  return name;
}

/**
 * A file with its own BEGIN/COMMIT runs as written, statement by statement, with the ledger row
 * written before and completed after, as Prisma does. It is never re-run from the top: blocks
 * that committed before a failure stay committed, so re-running them could repeat their writes.
 * Inside the file's own blocks each statement gets a savepoint, so an "already exists" can be
 * skipped without aborting the block.
 */
async function runScript(
  ctx: RunContext,
  ledger: PrismaLedger,
  m: DecodedMigration,
  reconcile: boolean,
): Promise<Outcome> {
  const { db } = ctx;
  const id = await startRow(ctx, ledger, m);
  const spans = statementSpans(m);
  const skipped: SkippedStatement[] = [];
  const made = new CreatedInFile();
  let inBlock = false;
  for (let i = 0; i < spans.length; i++) {
    const span = spans[i] as StatementSpan;
    const text = m.sql.slice(span.start, span.end);
    const guarded = inBlock && reconcile && isGuardable(span.kind);
    try {
      if (guarded) await db.query('SAVEPOINT vpcm_statement');
      await execute(ctx, span, text);
      if (guarded) await db.query('RELEASE SAVEPOINT vpcm_statement');
      if (span.kind === 'begin') inBlock = true;
      if (span.kind === 'commit') inBlock = false;
      made.add(span);
    } catch (error) {
      // Inside the file's block only a guarded statement can be skipped: any other failure has
      // aborted the block. Outside it, each statement is its own transaction.
      const skippable = guarded || (!inBlock && reconcile && isGuardable(span.kind));
      let info: SqlErrorInfo | undefined;
      if (skippable && isAlreadyExists(asPgError(error))) {
        const verdict = await (async () => {
          if (guarded) await db.query('ROLLBACK TO SAVEPOINT vpcm_statement');
          return reconcileStatement(db, m, span, i, error, made, guarded);
        })().catch(() => undefined);
        if (verdict && 'skip' in verdict) {
          skipped.push(verdict.skip);
          continue;
        }
        info = verdict?.info;
      }
      if (inBlock) await rollbackQuietly(db);
      info ??= describeSqlError(error, m.sql, span.start, span.end - span.start, span.line, i);
      const recorded = await recordFailure(() => ledger.recordRunState(id, ledgerLogFor(m.name, info), i), info);
      return { status: 'failed', skipped, error: info, appliedSteps: i, recorded };
    }
  }
  // A file that opens a block and never closes it: PostgreSQL would roll it back at disconnect.
  if (inBlock) await db.query('COMMIT');
  try {
    await ledger.markFinished(id, m.name, reconcileLog(skipped));
  } catch (error) {
    await stopIfRefused(db, error, m);
    throw error;
  }
  return ok(skipped);
}

/** Prisma's "started" row of a file run outside one transaction of ours; refused by the guard, the batch stops. */
async function startRow(ctx: RunContext, ledger: PrismaLedger, m: DecodedMigration, logs?: string): Promise<string> {
  const { id, sql } = ledger.startedRowSql({
    name: m.name,
    checksum: m.checksum,
    startedAt: new Date(),
    ...(logs === undefined ? {} : { logs }),
  });
  // The session reset goes in the same query, ahead of the row (one round trip fewer per file).
  const error = await ctx.reset.ahead(ctx.db, sql);
  if (error === undefined) return id;
  await stopIfRefused(ctx.db, error, m);
  throw error;
}
