/**
 * What an `apply` batch writes to the log. One INFO line per migration made an 820-file history
 * write 820 lines to CloudWatch, and formatting them was a visible share of the worker's CPU
 * (docs/benchmarks.md): each migration's line is DEBUG now, a failed one WARN; at INFO there is
 * a progress line at most every {@link PROGRESS_EVERY_MS} and one summary when the batch ends.
 */
import type { MigrationResult } from './contract/index.js';
import type { Logger } from './log.js';

/** The least time between two progress lines at INFO. */
export const PROGRESS_EVERY_MS = 10_000;

type Counts = Partial<Record<MigrationResult['status'], number>>;

export class BatchLog {
  private readonly counts: Counts = {};
  private done = 0;
  private lastProgress: number;
  private readonly started: number;

  constructor(
    private readonly log: Logger,
    private readonly format: string,
    /** Migrations in the batch, those already recorded included. */
    private readonly total: number,
    private readonly now: () => number = Date.now,
  ) {
    this.started = now();
    this.lastProgress = this.started;
  }

  /** A migration of the batch ran (or failed). */
  finished(result: MigrationResult): void {
    this.done++;
    this.counts[result.status] = (this.counts[result.status] ?? 0) + 1;
    const fields = {
      migration: result.name,
      status: result.status,
      durationMs: result.durationMs,
      mode: result.mode,
      format: this.format,
    };
    if (result.status === 'failed') this.log.warn('migration failed', { ...fields, code: result.error?.code });
    // Powertools drops a line below its level before formatting it: at INFO this costs nothing.
    else this.log.debug('migration finished', fields);
    const at = this.now();
    if (at - this.lastProgress >= PROGRESS_EVERY_MS) {
      this.lastProgress = at;
      this.log.info('batch progress', { ran: this.done, total: this.total, ...this.counts, format: this.format });
    }
  }

  /** The batch ended (all of it, or stopped): one line with what became of it. */
  summary(results: readonly MigrationResult[], stopped?: string): void {
    const byStatus: Counts = {};
    for (const r of results) byStatus[r.status] = (byStatus[r.status] ?? 0) + 1;
    this.log.info('batch finished', {
      total: this.total,
      ran: this.done,
      ...byStatus,
      ...(stopped ? { stopped } : {}),
      durationMs: this.now() - this.started,
      format: this.format,
    });
  }
}
