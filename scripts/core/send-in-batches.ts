/**
 * The one loop that sends migrations to the worker in Invoke-sized batches, shared by `deploy`
 * (the live database) and `drift` (the expected schema in a scratch database): as many migrations
 * per request as fit (payloads.ts), one request at a time, the next request carrying on with what
 * the last did not start (the worker stops a batch when its time budget runs out), and a signal
 * honoured between requests. What each command says and decides about a batch's answer is its own
 * `send`.
 */
import type { MigrationPayload, MigrationResult } from '../../lambda/contract/index.js';
import type { Interruption as Signalled } from '../interrupt.js';
import { batchBySize } from './payloads.js';

/** Why the loop stops before the next request: scripts/interrupt.ts's message and next step. */
export type Interruption = Pick<Signalled, 'message' | 'next'>;

export interface BatchSending {
  /** Asked before each request; a value stops the loop there. */
  interrupted?: (() => Interruption | undefined) | undefined;
  /** The loop stopped on a signal before sending `remaining` (the caller reports it). */
  onInterrupt: (stop: Interruption, remaining: MigrationPayload[]) => void;
  /**
   * Sends one batch (request number `round`, 1-based; `left`: migrations and batches still to
   * send, this one included). Answers the batch's results, whose `not-started` ones go in the
   * next request, or `undefined` to stop (the caller has reported why).
   */
  send: (
    batch: MigrationPayload[],
    round: number,
    left: { migrations: number; batches: number },
  ) => Promise<readonly MigrationResult[] | undefined>;
}

/** Sends every payload, in order; answers true when all were sent and none stopped the loop. */
export async function sendInBatches(payloads: MigrationPayload[], how: BatchSending): Promise<boolean> {
  let remaining = payloads;
  for (let round = 1; remaining.length > 0; round++) {
    const stop = how.interrupted?.();
    if (stop) {
      how.onInterrupt(stop, remaining);
      return false;
    }
    const batches = batchBySize(remaining);
    const batch = batches[0]!;
    const results = await how.send(batch, round, { migrations: remaining.length, batches: batches.length });
    if (results === undefined) return false;
    const notStarted = new Set(results.filter((r) => r.status === 'not-started').map((r) => r.name));
    remaining = remaining.filter((p) => notStarted.has(p.name) || !batch.includes(p));
  }
  return true;
}
