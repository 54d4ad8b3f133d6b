/**
 * Matrix: the response is lost after the worker committed. The CLI reaches the worker through a
 * lossy proxy (test/helpers/fault-proxy.ts):
 * - the answer of a finished apply is lost: the very same event (same request id) sent again is
 *   answered `already-applied` for every migration, and a plain re-run of deploy has nothing to do;
 * - the client gives up while the worker is about to COMMIT (held there), a retry deploy starts
 *   and queues on the migration lock, then the commit goes through: the retry applies nothing.
 * Both for every COMMIT of the batch (each transactional file, each step of the stepwise one).
 */
import { afterAll, beforeAll, describe, expect } from 'vitest';
import * as v from 'valibot';
import { ApplyEventSchema, ErrorCode } from '../../lambda/contract/index.js';
import { connectWorker } from '../../scripts/transport/invoke.js';
import type { Worker } from '../../scripts/core/worker-client.js';
import { databaseTargets } from '../helpers/db.js';
import { ledgerRows, waitFor, workerSessionsGone } from '../helpers/fault-db.js';
import { isCommit, scenarioFixture, type Fixture } from '../helpers/fault-fixture.js';
import { cell } from '../helpers/fault-matrix.js';
import { startLossyProxy, type LossyProxy } from '../helpers/fault-proxy.js';
import { assertFinished, NAMES } from '../helpers/fault-scenario.js';
import { auditSecrets, witness } from '../helpers/fault-secrets.js';
import type { Verdict } from '../helpers/fault-worker.js';

const FILE = 'test/faults/lost-response.test.ts';

describe.each(databaseTargets())('response lost after commit on the $name PostgreSQL', ({ name: target, adminUrl }) => {
  let fixture: Fixture;
  let proxy: LossyProxy;
  let lossy: Worker;
  /** COMMITs the worker sends in a clean apply of the scenario. */
  let commits: number;

  beforeAll(async () => {
    fixture = await scenarioFixture(adminUrl);
    proxy = await startLossyProxy(fixture.fw.endpoint);
    lossy = connectWorker({
      functionName: fixture.fw.functionName,
      endpoint: proxy.url,
      localCredentials: true,
      region: 'us-east-1',
      functionTimeoutMs: 120_000,
    });
    const db = await fixture.server.clone(fixture.scenario.template);
    fixture.fw.useDatabase(db.url);
    let n = 0;
    fixture.fw.onQuery((q) => {
      if (q.action === 'apply' && q.phase === 'before' && isCommit(q.text)) n++;
      return 'continue';
    });
    expect((await fixture.deployAll()).exitCode).toBe(0);
    fixture.fw.onQuery(null);
    commits = n;
    expect(commits).toBeGreaterThanOrEqual(6);
    await db.drop();
  });

  afterAll(async () => {
    lossy?.close();
    await proxy?.close();
    await fixture?.close();
    auditSecrets(FILE, fixture?.server, fixture?.fw.logs ?? [], fixture?.fw.responses ?? []);
  });

  cell(
    'Response lost after commit · answer of a finished apply lost, same request sent again',
    {
      target,
      file: FILE,
      invariant: 'the replayed request (same id) answers already-applied for all; re-run applies nothing',
      timeout: 300_000,
    },
    async ({ ran }) => {
      const db = await fixture.server.clone(fixture.scenario.template);
      try {
        fixture.fw.useDatabase(db.url);
        proxy.dropWhen((body) => body.includes('"action":"apply"'));
        const lost = await fixture.deployAll(lossy).then(
          () => null,
          (e: unknown) => e as { code?: string; message: string; remedy?: string },
        );
        proxy.dropWhen(null);
        witness(lost);
        ran();
        // The proxy resets the connection: a drop, not a timeout.
        expect(lost?.code).toBe(ErrorCode.InvokeDropped);
        expect(lost?.message).toMatch(/whether the request ran is unknown/);
        expect(lost?.remedy).toMatch(/never applies a recorded migration twice/);
        // The worker finished: everything is recorded.
        expect((await ledgerRows(db.adminUrl)).every((r) => r.finished_at !== null)).toBe(true);

        const sent = proxy.requests.filter((b) => b.includes('"action":"apply"')).at(-1)!;
        const event = v.parse(ApplyEventSchema, JSON.parse(sent));
        const replay = await fixture.fw.worker.apply(event);
        witness(replay);
        ran();
        expect(replay.requestId).toBe(event.requestId);
        expect(replay.results.map((r) => [r.name, r.status])).toEqual(
          event.migrations.map((m) => [m.name, 'already-applied']),
        );

        const again = await fixture.deployAll();
        witness(again);
        expect(again.exitCode).toBe(0);
        expect(again.results).toEqual([]);
        await assertFinished(db, fixture.scenario);
      } finally {
        proxy.dropWhen(null);
        await db.drop();
      }
    },
  );

  cell(
    'Response lost after commit · client gives up while the worker commits, retry queued on the lock',
    {
      target,
      file: FILE,
      invariant: 'at every COMMIT of the batch: the retry deploy applies nothing, one row per migration',
      timeout: 300_000,
    },
    async ({ ran }) => {
      for (let at = 0; at < commits; at++) {
        const db = await fixture.server.clone(fixture.scenario.template);
        try {
          fixture.fw.useDatabase(db.url);
          let first: number | undefined;
          let seen = 0;
          let retryPolls = 0;
          let release!: () => void;
          const held = new Promise<void>((resolve) => (release = resolve));
          let reached!: () => void;
          const atCommit = new Promise<void>((resolve) => (reached = resolve));
          fixture.fw.onQuery(async (q): Promise<Verdict> => {
            if (q.action !== 'apply') return 'continue';
            first ??= q.invocation;
            if (q.invocation !== first) {
              if (q.phase === 'after' && q.text.includes('pg_try_advisory_lock')) retryPolls++;
              return 'continue';
            }
            if (q.phase === 'before' && isCommit(q.text) && seen++ === at) {
              reached();
              await held;
            }
            return 'continue';
          });
          const gaveUp = fixture.deployAll(lossy).then(
            () => null,
            (e: unknown) => e as { code?: string },
          );
          await atCommit;
          expect(proxy.cut()).toBe(1);
          const error = await gaveUp;
          witness(error);
          expect(error?.code).toBe(ErrorCode.InvokeDropped);
          const retry = fixture.deployAll();
          // The retry read the ledger (the commit has not happened) and now waits for the lock.
          await waitFor('the retry to wait for the migration lock', async () => retryPolls >= 2);
          release();
          const report = await retry;
          witness(report);
          fixture.fw.onQuery(null);
          expect(report.exitCode, JSON.stringify(report.problems)).toBe(0);
          expect(report.results.filter((r) => r.status !== 'already-applied')).toEqual([]);
          // It had planned (and sent) what was not yet committed when it read the ledger.
          expect(report.results.length).toBeGreaterThan(0);
          expect(NAMES).toEqual(expect.arrayContaining(report.results.map((r) => r.name)));
          await workerSessionsGone(db.adminUrl, db.name);
          await assertFinished(db, fixture.scenario);
          ran();
        } finally {
          fixture.fw.onQuery(null);
          await db.drop();
        }
      }
    },
  );
});
