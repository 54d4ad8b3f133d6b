/**
 * Transactional migrations in a row sent in one query (issue 26): each link is what a lone
 * transactional migration sends (lambda/prisma/apply.ts runTransactional) — its own session
 * reset, BEGIN, the file, the guarded ledger row, COMMIT — so each still commits with its row or
 * not at all, and PostgreSQL stops at the first error as it would between two queries. What
 * goes is the round trip between them (~0.3 ms each on a local server, more on a network).
 *
 * After an error the ledger says which links committed (their rows, by the ids this run wrote),
 * and PostgreSQL's count where the failing one stopped; that one is settled as a lone file's
 * failure would be. When the two disagree, the ledger wins and the failure is the file's,
 * placed only by PostgreSQL's position. A chain whose query does not parse ran nothing: its
 * migrations run one by one, each error then the file's own.
 */
import { BatchStop, type ChainOutcome } from '../contract/batch-order.js';
import { type DecodedMigration, type MigrationResult, statementSpans } from '../contract/index.js';
import { type AfterReset, type ChainLink, sendChain, withPosition } from '../session-reset.js';
import { durationMs, type RunContext } from '../session.js';
import { acceptsAppendedStatements, APPENDED_SEPARATOR } from '../statement-tail.js';
import type { PrismaLedger, RowTimes } from './prisma-ledger.js';

/** At most this many migrations in one query: the time between two `before` checks stays short. */
export const MAX_CHAIN = 32;
/**
 * And at most this much SQL (characters): the query's arrival, which every link's time budget
 * counts from, comes after all of it has been sent.
 */
export const MAX_CHAIN_CHARS = 256 * 1024;

/**
 * A transactional file whose end cannot swallow what follows it and whose statements are counted
 * (lambda/statement-tail.ts), without a statement_timeout of its own (held to the budget one
 * statement at a time).
 */
export function chainable(m: DecodedMigration): boolean {
  if (m.mode !== 'transactional') return false;
  const spans = statementSpans(m);
  return spans.length > 0 && !spans.some((s) => s.kind === 'timeout-setting') && acceptsAppendedStatements(m);
}

/** What a lone migration's run shares with a chain's (lambda/prisma/apply.ts), its outcome `O`. */
export interface LoneRun<O> {
  /** A link that failed, settled as a lone file's failure (transactionalFailure). */
  failure(
    ctx: RunContext,
    ledger: PrismaLedger,
    m: DecodedMigration,
    run: AfterReset & { error: unknown },
    how: { appended: boolean; startedAt: Date | 'link-start'; reconcile: boolean; located?: boolean },
  ): Promise<O>;
  result(ctx: RunContext, m: DecodedMigration, outcome: O, durationMs: number): MigrationResult;
  /** The outcome of a link that committed. */
  applied: O;
}

/**
 * Runs `ms` (each `chainable`) in one query; `contexts[i]` is `ms[i]`'s, all with the same
 * chained reset (lambda/session.ts). The results end at the first failure; fewer than `ms` and
 * no stop: the rest did not run.
 */
export async function runChain<O>(
  contexts: readonly RunContext[],
  ledger: PrismaLedger,
  ms: readonly DecodedMigration[],
  lone: LoneRun<O>,
): Promise<ChainOutcome> {
  const first = contexts[0] as RunContext;
  const { db } = first;
  const sentAt = new Date();
  const rows = ms.map((m) => {
    const spans = statementSpans(m);
    const row = ledger.finishedRowSql(
      { name: m.name, checksum: m.checksum, startedAt: 'link-start', logs: null },
      { commit: true, returning: true },
    );
    const link: ChainLink = {
      text: m.sql,
      statements: spans.length,
      after: `${APPENDED_SEPARATOR}${row.sql}`,
      afterStatements: row.statements,
    };
    return { id: row.id, link };
  });
  const run = await sendChain(
    db,
    first.reset.statements,
    rows.map((r) => r.link),
  );
  if (run.parsedNone) return { results: [] };
  const applied = (i: number, durationMs: number) =>
    lone.result(contexts[i] as RunContext, ms[i] as DecodedMigration, lone.applied, durationMs);
  const results: MigrationResult[] = [];
  let spent = 0;
  // The first `n` links committed: applied, each timed from its start to its row.
  const committedBefore = (n: number, times?: ReadonlyMap<string, RowTimes>) => {
    for (let i = 0; i < n; i++) {
      (contexts[i] as RunContext).reset.markDone();
      const t = times?.get((rows[i] as { id: string }).id);
      const ms = t?.finished_at ? t.finished_at.getTime() - t.started_at.getTime() : 0;
      spent += ms;
      results.push(applied(i, ms));
    }
  };
  if (run.results) {
    // Each INSERT returned its row.
    const times = new Map<string, RowTimes>();
    for (const result of run.results) {
      for (const row of result.rows as { id?: unknown; started_at?: unknown; finished_at?: unknown }[]) {
        if (typeof row.id === 'string' && row.started_at instanceof Date && row.finished_at instanceof Date)
          times.set(row.id, { started_at: row.started_at, finished_at: row.finished_at });
      }
    }
    committedBefore(rows.length, times);
    return { results };
  }
  await db.query('ROLLBACK').catch(() => undefined);
  if (run.outOfTime) {
    // Refused in a link's reset: PostgreSQL had answered every link before it, in order.
    committedBefore(run.committed);
    return { results };
  }
  // Which links committed is the ledger's word (their rows, by the ids written). PostgreSQL's
  // count of completed statements may lag it after a lost connection (the server sends them in
  // batches); unable to ask, the batch cannot say which migration failed, and says so.
  const times = await ledger.rowTimes(rows.map((r) => r.id)).catch(() => undefined);
  if (!times) throw run.failed?.error ?? new Error('a chain failed and its ledger could not be read');
  let committed = 0;
  while (committed < rows.length && times.has((rows[committed] as { id: string }).id)) committed++;
  committedBefore(committed, times);
  if (!run.failed || committed >= ms.length) return { results };
  const ctx = contexts[committed] as RunContext;
  const m = ms[committed] as DecodedMigration;
  ctx.reset.markDone();
  const located = committed === run.committed;
  const failed = located
    ? run.failed
    : { ...run.failed, error: withPosition(run.failed.error, undefined), completed: 0 };
  if ((run.failed.error as { code?: unknown }).code === '57014') ctx.budget = await linkBudget(ctx);
  try {
    const outcome = await lone.failure(ctx, ledger, m, failed, {
      appended: true,
      startedAt: 'link-start',
      reconcile: ctx.options.reconcileExisting !== false,
      located,
    });
    results.push(lone.result(ctx, m, outcome, Math.max(0, Date.now() - sentAt.getTime() - spent)));
    return { results };
  } catch (error) {
    if (error instanceof BatchStop) return { results, stop: error };
    throw error;
  }
}

/**
 * The statement_timeout a link's reset chose (it stays after the link's rollback: the reset
 * committed on its own), so a timeout is told as the budget's or the configured one's as for a
 * lone file; the chain's budget was computed before its first link.
 */
async function linkBudget(ctx: RunContext): Promise<RunContext['budget']> {
  const shown = await ctx.db
    .query<{ statement_timeout: string }>('SHOW statement_timeout')
    .then((r) => durationMs(r.rows[0]?.statement_timeout ?? ''))
    .catch(() => 0);
  if (shown <= 0) return ctx.budget;
  const configured = ctx.options.statementTimeoutMs ?? 0;
  return { statementTimeoutMs: shown, limitedByBudget: configured === 0 || shown < configured };
}
