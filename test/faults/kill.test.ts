/**
 * Matrix: the worker killed mid-migration. The Lambda sandbox (a child process running the real
 * handler, test/helpers/fault-worker.ts) is SIGKILLed
 * - after EVERY query the worker sends during the apply (enumerated from a clean run), which
 *   covers "after each statement" of both files and every ledger write around them, and
 * - inside the 5-statement transactional file, which travels in one round trip, after each of
 *   its DDL statements on the server (the DDL gate, test/helpers/fault-db.ts).
 * After each kill: the ledger describes the schema exactly; then a plain re-run of deploy finishes
 * the job with one row per migration and the schema and data of a clean run.
 */
import { afterAll, beforeAll, describe, expect } from 'vitest';
import { ErrorCode } from '../../lambda/contract/index.js';
import { databaseTargets } from '../helpers/db.js';
import { closeGate, workerSessionsGone, type SecretDatabase, type SecretServer } from '../helpers/fault-db.js';
import { faultPoints, scenarioFixture, type Fixture, type TracePoint } from '../helpers/fault-fixture.js';
import { cell } from '../helpers/fault-matrix.js';
import {
  assertConsistent,
  assertFinished,
  LAST,
  STEPWISE,
  TRANSACTIONAL,
  type Scenario,
} from '../helpers/fault-scenario.js';
import { auditSecrets, witness } from '../helpers/fault-secrets.js';
import { expectPrismaUpToDate } from '../helpers/prisma-agrees.js';
import { prismaAvailable } from '../helpers/prisma-judge.js';
import { status } from '../../scripts/commands/status.js';
import type { FaultWorker } from '../helpers/fault-worker.js';

const FILE = 'test/faults/kill.test.ts';

describe.each(databaseTargets())('worker killed mid-migration on the $name PostgreSQL', ({
  name: target,
  adminUrl,
}) => {
  let fixture: Fixture;
  let server: SecretServer;
  let fw: FaultWorker;
  let scenario: Scenario;
  /** The apply's queries in a clean run, each labelled with the migration running. */
  let trace: TracePoint[];
  /** Prisma 6.19's own `migrate status` judges one resumed ledger per server. */
  let judged = false;

  beforeAll(async () => {
    fixture = await scenarioFixture(adminUrl, { gate: true });
    ({ server, fw, scenario } = fixture);
    trace = await fixture.trace();
  });

  afterAll(async () => {
    await fixture?.close();
    auditSecrets(FILE, server, fw?.logs ?? [], fw?.responses ?? []);
  });

  /** Kills the worker at trace position `at`, checks, re-runs, checks. */
  async function killAt(at: number): Promise<void> {
    const db = await server.clone(scenario.template);
    try {
      fw.useDatabase(db.url);
      let n = 0;
      fw.onQuery((q) => (q.action === 'apply' && n++ === at ? 'kill' : 'continue'));
      const error = await fixture.deployAll().then(
        () => null,
        (e: unknown) => {
          witness(e);
          return e as { code?: string; message?: string };
        },
      );
      fw.onQuery(null);
      const point = trace[at]!.q;
      const where = `killed ${point.phase} query #${at}: ${point.text.slice(0, 80).replace(/\s+/g, ' ')}`;
      expect(error?.code, where).toBe(ErrorCode.WorkerCrashed);
      await afterKill(db, where);
    } finally {
      fw.onQuery(null);
      await db.drop();
    }
  }

  async function afterKill(db: SecretDatabase, where: string): Promise<void> {
    await workerSessionsGone(db.adminUrl, db.name);
    const state = await assertConsistent(db, scenario).catch((e: Error) => {
      throw new Error(`${where}: ${e.message}`);
    });
    const interrupted = /^003 interrupted after (\d+)/.exec(state);
    if (interrupted) {
      // Not a problem for status: pending, and says deploy resumes it.
      const st = await status(fw.worker, { migrationsDir: scenario.dir });
      witness(st);
      expect(st.exitCode, where).toBe(1);
      expect(st.summary, where).toContain('1 interrupted (deploy resumes)');
    }
    const again = await fixture.deployAll();
    witness(again);
    expect(again.exitCode, `${where} (${state}): re-run problems: ${JSON.stringify(again.problems)}`).toBe(0);
    if (interrupted)
      expect(again.results.find((r) => r.name === STEPWISE.name)?.resumedFrom, where).toBe(Number(interrupted[1]));
    await assertFinished(db, scenario);
    if (interrupted && Number(interrupted[1]) > 0 && !judged && prismaAvailable()) {
      judged = true;
      witness(await expectPrismaUpToDate(db.url, scenario.dir));
    }
  }

  const positions = (region: TracePoint['region']) => faultPoints(trace, region);

  cell(
    'Worker killed after each statement · 5-statement transactional file (and every worker query around it)',
    {
      target,
      file: FILE,
      invariant: 'after the kill: no row and no trace, or row and full effect; re-run: one row each, clean schema+data',
      timeout: 600_000,
    },
    async ({ ran }) => {
      // Inside the one-round-trip file: stopped on the server after DDL statement k (k = 1..4).
      for (let k = 1; k <= 4; k++) {
        const db = await server.clone(scenario.template);
        try {
          fw.useDatabase(db.url);
          const gate = await closeGate(db.adminUrl, k);
          let pending: Promise<unknown> | undefined;
          try {
            pending = fixture.deployAll().then(
              () => null,
              (e: unknown) => {
                witness(e);
                return e;
              },
            );
            await gate.waiter();
            expect(await fw.kill()).toBe(1);
          } finally {
            await gate.open();
          }
          const error = (await pending) as { code?: string } | null;
          expect(error?.code).toBe(ErrorCode.WorkerCrashed);
          await afterKill(db, `killed after statement ${k} of ${TRANSACTIONAL.name} (server side)`);
          ran();
        } finally {
          await db.drop();
        }
      }
      // Around and after the file: every query of the apply, in order.
      for (const at of positions('transactional')) {
        await killAt(at);
        ran();
      }
      expect(trace.some((t) => t.q.text.includes(LAST.name) || t.q.text.includes('"Invoice"'))).toBe(true);
    },
  );

  cell(
    'Worker killed after each statement · file with a non-transactional statement in the middle',
    {
      target,
      file: FILE,
      invariant: 'after the kill: applied_steps_count = statements in effect; plain re-run resumes, nothing twice',
      timeout: 600_000,
    },
    async ({ ran }) => {
      for (const at of positions('stepwise')) {
        await killAt(at);
        ran();
      }
      expect(judged || !prismaAvailable(), 'no kill point left 003 interrupted mid-file').toBe(true);
    },
  );
});
