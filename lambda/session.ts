/**
 * The session and time-budget policy every action that runs migration SQL follows (apply,
 * rehearse, backfill, resolve): a statement must fail on statement_timeout before Lambda kills
 * the function mid-write, the migration lock is never waited for into that margin, and nothing
 * one file sets for its session leaks into the next (docs/design.md §3).
 */
import type { Db } from './db.js';
import type { HeldLock } from './lock.js';
import type { Logger } from './log.js';
import { type PendingReset, TIME_BUDGET_SQLSTATE } from './session-reset.js';
import { LINK_STARTED_SETTING } from './contract/prisma-ledger-sql.js';
import { DEFAULT_LOCK_WAIT_MS, type ApplyOptions, type StatementSpan, type TimeoutDecision } from './contract/index.js';

export interface ApplyContext {
  db: Db;
  log: Logger;
  /** The Lambda's remaining time. */
  remainingMs: () => number;
  /** Opens another session on the same database as `db` (the migration lock's own, lambda/lock.ts). */
  openSession: () => Promise<Db>;
}

/** One migration's run: the batch's context, its options and limits, and the timeout decisions made. */
export interface RunContext extends ApplyContext {
  options: ApplyOptions;
  margin: number;
  /** The statement_timeout the session started the migration with. */
  budget: Budget;
  /** When the migration started (its session set-up included). */
  started: number;
  timeouts: TimeoutDecision[];
  /** The batch's migration lock: a CONCURRENTLY statement runs watched by it (lambda/lock.ts). */
  lock: Pick<HeldLock, 'whileWatched'>;
  /** The migration session's backend pid, looked up once per batch. */
  pid: number;
  /**
   * The session reset this migration still needs, run before anything of the file: alone, or
   * ahead of a transactional file in the same query (lambda/session-reset.ts).
   */
  reset: PendingReset;
}

/**
 * Kept back from the Lambda's remaining time so a statement fails on statement_timeout before
 * Lambda kills the function mid-write; scaled for short test timeouts, capped for 900 s.
 */
export function timeMargin(remainingMs: number): number {
  return Math.min(10_000, Math.max(300, Math.round(remainingMs * 0.1)));
}

/** How long to wait for the migration lock: as asked, but never into the margin. */
export function lockWaitBudget(ctx: ApplyContext, options: ApplyOptions, margin: number): number {
  return Math.min(options.lockWaitMs ?? DEFAULT_LOCK_WAIT_MS, Math.max(0, ctx.remainingMs() - 2 * margin));
}

/** The statement_timeout that still ends before the function does: remaining time minus the margin. */
export function timeBudgetMs(ctx: ApplyContext, margin: number): number {
  return Math.max(100, ctx.remainingMs() - margin);
}

export interface Budget {
  statementTimeoutMs: number;
  limitedByBudget: boolean;
}

/**
 * What the session is reset to before each migration: whatever a previous file changed (role,
 * settings, temporary tables) undone, then our own limits. Statements of their own, so a caller
 * may send them ahead of other text in the same query (lambda/session-reset.ts).
 *
 * `chained`: for migrations sent several in one query (lambda/prisma/chain.ts), which start
 * later than the query is sent. The time limits are then computed by the server from the
 * query's arrival (statement_timestamp(), the same for every statement of one simple-protocol
 * query): statement_timeout is what is left of the budget, and a migration that would start
 * where `before` in apply-batch.ts stops the batch (3 margins left) is refused with
 * TIME_BUDGET_SQLSTATE, in the reset, before anything of it runs.
 */
export function sessionResetStatements(
  ctx: ApplyContext,
  options: ApplyOptions,
  margin: number,
  chained = false,
): SessionReset {
  const remaining = ctx.remainingMs();
  const budget = timeBudgetMs(ctx, margin);
  const configured = options.statementTimeoutMs ?? 0;
  const statementTimeoutMs = configured > 0 ? Math.min(configured, budget) : budget;
  const lockTimeoutMs = options.lockTimeoutMs ?? 0;
  const timeout = chained
    ? chainedLimits(budget, configured, Math.max(0, remaining - 3 * margin))
    : `SET statement_timeout = ${Math.trunc(statementTimeoutMs)}`;
  return {
    statements: [
      'SET SESSION AUTHORIZATION DEFAULT',
      'RESET ALL',
      'DISCARD TEMP',
      timeout,
      `SET lock_timeout = ${Math.trunc(lockTimeoutMs)}`,
    ],
    budget: { statementTimeoutMs, limitedByBudget: configured === 0 || budget < configured },
  };
}

/**
 * One statement: refuses (TIME_BUDGET_SQLSTATE) once `startByMs` have passed since the query
 * arrived, else sets statement_timeout to the budget left (never above `configuredMs` when set)
 * and notes when the migration starts, for its ledger row (LINK_STARTED_SETTING).
 */
function chainedLimits(budgetMs: number, configuredMs: number, startByMs: number): string {
  const elapsed =
    'pg_catalog.floor(EXTRACT(EPOCH FROM pg_catalog.clock_timestamp() - pg_catalog.statement_timestamp()) * 1000)';
  const left = `GREATEST(100, ${Math.trunc(budgetMs)} - ${elapsed})`;
  const timeout = configuredMs > 0 ? `LEAST(${Math.trunc(configuredMs)}, ${left})` : left;
  return (
    `DO $vpcm_budget$ BEGIN IF ${elapsed} > ${Math.trunc(startByMs)} THEN ` +
    `RAISE EXCEPTION USING ERRCODE = '${TIME_BUDGET_SQLSTATE}', ` +
    `MESSAGE = 'vpc-migrate: too little of the time budget is left to start the next migration'; END IF; ` +
    `PERFORM pg_catalog.set_config('statement_timeout', (${timeout})::bigint::text, false); ` +
    `PERFORM pg_catalog.set_config('${LINK_STARTED_SETTING}', ` +
    `EXTRACT(EPOCH FROM pg_catalog.clock_timestamp())::text, false); END $vpcm_budget$`
  );
}

export interface SessionReset {
  statements: string[];
  budget: Budget;
}

/** A duration as SHOW prints it (`0`, `250ms`, `5s`, `2min`, `1h`, `1d`), in ms. */
export function durationMs(shown: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|min|h|d)?\s*$/.exec(shown);
  if (!m) return 0;
  const unit = { ms: 1, s: 1_000, min: 60_000, h: 3_600_000, d: 86_400_000 }[(m[2] ?? 'ms') as 'ms'];
  return Math.round(Number(m[1]) * unit);
}

/**
 * The file's own statement_timeout has just been set (or reset): keep it when it fits in the
 * time that is left, otherwise re-impose the budget. A session-level SET wins over the file's
 * SET LOCAL for the rest of the transaction and stays after it, which is what a budget must do.
 */
export async function holdTimeBudget(ctx: RunContext, span: StatementSpan): Promise<void> {
  // SHOW, not a SELECT: a query would take the transaction's snapshot before the file's first
  // statement does (and SET TRANSACTION ISOLATION LEVEL would then be refused after it).
  const { rows } = await ctx.db.query<{ statement_timeout: string }>('SHOW statement_timeout');
  const requestedMs = durationMs(rows[0]?.statement_timeout ?? '0');
  const budget = timeBudgetMs(ctx, ctx.margin);
  if (requestedMs > 0 && requestedMs <= budget) {
    ctx.timeouts.push({ line: span.line, requestedMs, effectiveMs: requestedMs, winner: 'file' });
    return;
  }
  await ctx.db.query(`SET statement_timeout = ${budget}`);
  ctx.timeouts.push({ line: span.line, requestedMs, effectiveMs: budget, winner: 'time-budget' });
}
