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
  for (const m of migrations) {
    if (stopped) {
      results.push(notStarted(m));
      continue;
    }
    if (steps.recorded(m)) {
      results.push({ name: m.name, status: 'already-applied', mode: m.mode, durationMs: 0 });
      continue;
    }
    let result: MigrationResult;
    try {
      if ((await steps.before?.(m, results)) === 'time-budget') {
        stopped = 'time-budget';
        results.push(notStarted(m));
        continue;
      }
      result = await steps.run(m);
    } catch (error) {
      if (!(error instanceof BatchStop)) throw error;
      if (!results.some((r) => r.status === 'applied' || r.status === 'reconciled')) throw error.error;
      stopped = 'blocked';
      if (error.because) stoppedBecause = error.because;
      results.push(notStarted(m));
      continue;
    }
    results.push(result);
    if (result.status === 'failed')
      stopped = result.error?.code === '57014' && result.timeBudgetExhausted ? 'time-budget' : 'failed';
  }
  const outcome: BatchOutcome = { results };
  if (stopped) outcome.stopped = stopped;
  if (stoppedBecause) outcome.stoppedBecause = stoppedBecause;
  return outcome;
}
