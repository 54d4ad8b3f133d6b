/**
 * The loop deploy and drift share (scripts/core/send-in-batches.ts): a request carries as many
 * migrations as fit, the next one what the last did not start, a signal stops it between requests
 * and a `send` that answers nothing stops it for good. Pure logic: `send` here is the caller's
 * decision, not a stand-in for the worker (the integration suites send to a real one).
 */
import { describe, expect, it } from 'vitest';
import type { MigrationPayload, MigrationResult } from '../../lambda/contract/index.js';
import { BATCH_BYTES } from '../../scripts/core/payloads.js';
import { type Interruption, sendInBatches } from '../../scripts/core/send-in-batches.js';

const payload = (name: string, bytes = 10): MigrationPayload => ({
  name,
  checksum: '0'.repeat(64),
  mode: 'transactional',
  statements: [],
  sql: 'x'.repeat(bytes),
});

const result = (name: string, status: MigrationResult['status']): MigrationResult =>
  ({ name, status }) as MigrationResult;

describe('sendInBatches', () => {
  it('sends again, in order, what the last request did not start', async () => {
    const sent: string[][] = [];
    const all = await sendInBatches(
      ['a', 'b', 'c'].map((n) => payload(n)),
      {
        onInterrupt: () => expect.unreachable(),
        send: async (batch, round, left) => {
          sent.push([`round ${round}`, `left ${left.migrations}`, ...batch.map((p) => p.name)]);
          // The first request's time budget runs out after `a`.
          return batch.map((p, i) => result(p.name, round === 1 && i > 0 ? 'not-started' : 'applied'));
        },
      },
    );
    expect(all).toBe(true);
    expect(sent).toEqual([
      ['round 1', 'left 3', 'a', 'b', 'c'],
      ['round 2', 'left 2', 'b', 'c'],
    ]);
  });

  it('splits what does not fit one request', async () => {
    const half = Math.floor(BATCH_BYTES / 2);
    const sizes: number[] = [];
    const all = await sendInBatches(
      ['a', 'b', 'c'].map((n) => payload(n, half)),
      {
        onInterrupt: () => expect.unreachable(),
        send: async (batch, _round, left) => {
          sizes.push(batch.length, left.batches);
          return batch.map((p) => result(p.name, 'applied'));
        },
      },
    );
    expect(all).toBe(true);
    // Two payloads of half the limit do not fit one request with their envelope: one per request.
    expect(sizes).toEqual([1, 3, 1, 2, 1, 1]);
  });

  it('stops between requests on a signal, and when send answers nothing', async () => {
    let asked = 0;
    let stoppedBefore: string[] = [];
    const interrupted = (): Interruption | undefined =>
      ++asked === 2 ? { message: 'Interrupted (SIGINT).', next: 'Run it again.' } : undefined;
    const half = Math.floor(BATCH_BYTES / 2);
    const all = await sendInBatches(
      ['a', 'b', 'c'].map((n) => payload(n, half)),
      {
        interrupted,
        onInterrupt: (stop, remaining) => {
          expect(stop.message).toBe('Interrupted (SIGINT).');
          stoppedBefore = remaining.map((p) => p.name);
        },
        send: async (batch) => batch.map((p) => result(p.name, 'applied')),
      },
    );
    expect(all).toBe(false);
    expect(stoppedBefore).toEqual(['b', 'c']);

    let requests = 0;
    const stopped = await sendInBatches(
      ['a', 'b', 'c'].map((n) => payload(n, half)),
      {
        onInterrupt: () => expect.unreachable(),
        send: async () => {
          requests++;
          return undefined;
        },
      },
    );
    expect(stopped).toBe(false);
    expect(requests).toBe(1);
  });
});
