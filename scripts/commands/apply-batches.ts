/**
 * Deploy's sending: the payloads in as few Invoke requests as fit (core/batch.ts), one request
 * at a time, stopping at the first failure, a lock held by another deploy, an exhausted time
 * budget or a signal. What the worker reports is added to the deploy report as it arrives.
 */
import { randomUUID } from 'node:crypto';
import { type ApplyOptions, type ApplyResult, ErrorCode, type MigrationFormat, type MigrationPayload, type MigrationResult } from '../../lambda/contract/index.js';
import { batchBySize } from '../core/batch.js';
import type { Problem } from '../core/plan.js';
import type { Worker } from '../core/worker.js';

/** The parts of the deploy report the sending fills in. */
export interface BatchedRun {
  results: MigrationResult[];
  problems: Problem[];
  baselining: boolean;
  /** Sent with each request (absent: Prisma). */
  format?: MigrationFormat;
}

export interface BatchOptions {
  apply?: ApplyOptions;
  progress?: (line: string) => void;
  /** Asked before each invocation: a signal's message stops the deploy there (scripts/interrupt.ts). */
  interrupted?: () => { message: string; next: string } | undefined;
}

export async function applyBatches(worker: Worker, payloads: MigrationPayload[], report: BatchedRun, opts: BatchOptions): Promise<void> {
  const progress = opts.progress ?? (() => undefined);
  let remaining = payloads;
  const requestId = randomUUID();
  let round = 0;
  while (remaining.length > 0) {
    const stop = opts.interrupted?.();
    if (stop) {
      report.problems.push({ code: ErrorCode.Interrupted, migration: remaining[0]!.name, message: `${stop.message} Not sent: ${remaining.length} migration(s), from ${remaining[0]!.name}.`, remedy: `${stop.next} Then deploy again for the rest.` });
      break;
    }
    const batches = batchBySize(remaining);
    const batch = batches[0]!;
    round++;
    progress(`Applying ${batch.length} of ${remaining.length} pending migration(s) (request ${round}, ${batches.length} batch(es) left)…`);
    // One invocation may run for minutes: say it is still alive, for people and CI logs alike.
    const sent = Date.now();
    const heartbeat = setInterval(() => progress(`  … still applying (${Math.round((Date.now() - sent) / 1000)} s)`), 15_000);
    let result: ApplyResult;
    try {
      result = await worker.apply({ requestId: `${requestId}-${round}`, migrations: batch, ...(opts.apply ? { options: opts.apply } : {}), ...(report.format ? { format: report.format } : {}) });
    } finally {
      clearInterval(heartbeat);
    }
    if (result.baselining) report.baselining = true;
    const finished = result.results.filter((r) => r.status !== 'not-started');
    report.results.push(...finished);
    const last = finished[finished.length - 1];
    if (last) progress(`  ${finished.length} done, last ${last.name}: ${last.status}`);
    // A failed migration ends the deploy, whatever stopped the batch (a time-budget failure too):
    // the next batch would only meet its failed row (P3009).
    if (result.stopped === 'blocked' && result.stoppedBecause) {
      report.problems.push({
        code: ErrorCode.LockTimeout,
        migration: result.results.find((r) => r.status === 'not-started')?.name ?? batch[0]!.name,
        message: result.stoppedBecause,
        remedy: 'Deploy again once that deploy has finished: what was applied stays applied, the rest follows (`pnpm migrate:status` shows when the lock is free).',
      });
    }
    if (result.stopped === 'failed' || result.stopped === 'blocked' || finished.some((r) => r.status === 'failed')) break;
    const notStarted = new Set(result.results.filter((r) => r.status === 'not-started').map((r) => r.name));
    if (result.stopped === 'time-budget' && finished.length === 0) {
      report.problems.push({
        code: ErrorCode.InvokeTimeout,
        migration: batch[0]!.name,
        message: `The worker's time budget ran out before ${batch[0]!.name} could start.`,
        remedy: 'Raise the function timeout (at most 900 s) or split the migration; then run deploy again.',
      });
      break;
    }
    remaining = remaining.filter((p) => notStarted.has(p.name) || !batch.includes(p));
  }

}
