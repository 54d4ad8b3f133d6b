/**
 * How a batch of migrations runs in order, whoever executes it — the worker over its own
 * connection, or the compatibility mode through another worker's run-sql — so that both answer
 * an `apply` with the same `ApplyResult`: a recorded migration is never run again, the batch
 * stops at the first failure, everything after a stop is `not-started`, and a stop before
 * anything was applied is an error, not a partial result. The executor supplies the steps.
 */
import type { MigrateError } from './errors.js';
import type { ApplyResult, ExecutionMode, MigrationResult } from './wire.js';

/** Thrown by a step to end the batch before this migration ran (e.g. the lock went to another deploy). */
export class BatchStop extends Error {
  constructor(
    readonly error: MigrateError,
    /** The reason in a sentence, for `stoppedBecause`. */
    readonly because?: string,
  ) {
    super(error.message);
    this.name = 'BatchStop';
  }
}

export interface BatchSteps<M extends { name: string; mode: ExecutionMode }> {
  /** The ledger records it already (a retried or concurrent batch). */
  recorded(m: M): boolean;
  /** Before running `m`: 'time-budget' to stop here, a `BatchStop` thrown to stop as blocked. */
  before?(m: M, results: readonly MigrationResult[]): Promise<'time-budget' | undefined>;
  /** Runs one migration and records it; `BatchStop` ends the batch before it. */
  run(m: M): Promise<MigrationResult>;
  /**
   * Several pending migrations in a row, each `chainable`, may run as one step (`runAll`, one
   * round trip for all: lambda/prisma/chain.ts). Each still passes `before` first, in order.
   */
  chain?:
    | {
        chainable(m: M): boolean;
        /** At most this many in one step, */
        max: number;
        /** and at most this much of `size` (the first one always goes). */
        size(m: M): number;
        maxSize: number;
        /**
         * Runs `ms` in order: the results of those that ran, in order, ending at the first failure.
         * Fewer results and no `stop`: the rest never ran and run on their own. `stop`: the batch
         * ends after the results, as a `BatchStop` from `run` would end it before the next one.
         */
        runAll(ms: M[]): Promise<ChainOutcome>;
      }
    | undefined;
}

export interface ChainOutcome {
  results: MigrationResult[];
  stop?: BatchStop;
}

export type BatchOutcome = Pick<ApplyResult, 'results' | 'stopped' | 'stoppedBecause'>;

export async function runInOrder<M extends { name: string; mode: ExecutionMode }>(
  migrations: readonly M[],
  steps: BatchSteps<M>,
): Promise<BatchOutcome> {
  const results: MigrationResult[] = [];
  let stopped: ApplyResult['stopped'];
  let stoppedBecause: string | undefined;
  const notStarted = (m: M): MigrationResult => ({ name: m.name, status: 'not-started', mode: m.mode, durationMs: 0 });
  // A BatchStop before `m` ran: an error when nothing was applied yet, else the batch's end.
  const stopBefore = (error: BatchStop, m: M) => {
    if (!results.some((r) => r.status === 'applied' || r.status === 'reconciled')) throw error.error;
    stopped = 'blocked';
    if (error.because) stoppedBecause = error.because;
    results.push(notStarted(m));
  };
  const settle = (result: MigrationResult) => {
    results.push(result);
    if (result.status === 'failed')
      stopped = result.error?.code === '57014' && result.timeBudgetExhausted ? 'time-budget' : 'failed';
  };
  // Where a chain that ran none of its migrations ended: those run on their own.
  let unchainedUntil = 0;
  for (let i = 0; i < migrations.length; i++) {
    const m = migrations[i] as M;
    if (stopped) {
      results.push(notStarted(m));
      continue;
    }
    if (steps.recorded(m)) {
      results.push({ name: m.name, status: 'already-applied', mode: m.mode, durationMs: 0 });
      continue;
    }
    try {
      if ((await steps.before?.(m, results)) === 'time-budget') {
        stopped = 'time-budget';
        results.push(notStarted(m));
        continue;
      }
      const chain = i >= unchainedUntil ? await chainFrom(migrations, i, steps, results) : [m];
      if (chain.length > 1 && steps.chain) {
        const ran = await steps.chain.runAll(chain);
        for (const result of ran.results) settle(result);
        if (ran.results.length === 0 && !ran.stop) {
          unchainedUntil = i + chain.length;
          i--;
          continue;
        }
        i += ran.results.length - 1;
        if (ran.stop && !stopped) {
          i++;
          stopBefore(ran.stop, chain[ran.results.length] as M);
        }
        continue;
      }
      settle(await steps.run(m));
    } catch (error) {
      if (!(error instanceof BatchStop)) throw error;
      stopBefore(error, m);
    }
  }
  const outcome: BatchOutcome = { results };
  if (stopped) outcome.stopped = stopped;
  if (stoppedBecause) outcome.stoppedBecause = stoppedBecause;
  return outcome;
}

/**
 * The pending migrations from `migrations[i]` that may run as one step with it: chainable, in a
 * row, unrecorded, each passing `before` (whose answer for the first the caller has).
 */
async function chainFrom<M extends { name: string; mode: ExecutionMode }>(
  migrations: readonly M[],
  i: number,
  steps: BatchSteps<M>,
  results: readonly MigrationResult[],
): Promise<M[]> {
  const first = migrations[i] as M;
  const chain = steps.chain;
  if (!chain?.chainable(first)) return [first];
  const ms = [first];
  let size = chain.size(first);
  for (let j = i + 1; j < migrations.length && ms.length < chain.max; j++) {
    const next = migrations[j] as M;
    if (steps.recorded(next) || !chain.chainable(next)) break;
    size += chain.size(next);
    if (size > chain.maxSize) break;
    // Any objection, even a stop, is heard again when the loop reaches it on its own.
    const objection = await Promise.resolve(steps.before?.(next, results)).catch(() => 'stop');
    if (objection !== undefined) break;
    ms.push(next);
  }
  return ms;
}
