/**
 * Matrix: the database connection cut mid-migration by `pg_terminate_backend` from another
 * session. The worker process survives, so this also exercises its error paths (recording the
 * failure over a dead connection, releasing the lock):
 * - between queries: the worker is held after each query of the apply (enumerated from a clean
 *   run) while its backend is terminated;
 * - inside a statement: in the one-round-trip transactional file after DDL statement k (the DDL
 *   gate); on a transactional statement of the stepwise file blocked by a table lock; and on
 *   CREATE INDEX CONCURRENTLY waiting for an older transaction, which leaves an INVALID index.
 * After each cut: a clear result, a ledger that describes the schema, and a plain re-run that
 * finishes the job with the schema and data of a clean run.
 */
import { afterAll, beforeAll, describe, expect } from 'vitest';
import type { DeployReport } from '../../scripts/commands/deploy.js';
import { databaseTargets } from '../helpers/db.js';
import {
  closeGate,
  fingerprint,
  ledgerRows,
  query,
  session,
  waitFor,
  workerSessionsGone,
  type SecretDatabase,
} from '../helpers/fault-db.js';
import { faultPoints, isCommit, scenarioFixture, type Fixture, type TracePoint } from '../helpers/fault-fixture.js';
import { cell } from '../helpers/fault-matrix.js';
import { assertConsistent, assertFinished, STEPWISE } from '../helpers/fault-scenario.js';
import { auditSecrets, witness } from '../helpers/fault-secrets.js';
import type { Verdict } from '../helpers/fault-worker.js';

const FILE = 'test/faults/connection.test.ts';

describe.each(databaseTargets())('connection cut mid-migration on the $name PostgreSQL', ({
  name: target,
  adminUrl,
}) => {
  let fixture: Fixture;
  let trace: TracePoint[];

  beforeAll(async () => {
    fixture = await scenarioFixture(adminUrl, { gate: true });
    trace = await fixture.trace();
  });

  afterAll(async () => {
    await fixture?.close();
    auditSecrets(FILE, fixture?.server, fixture?.fw.logs ?? [], fixture?.fw.responses ?? []);
  });

  const terminate = (db: SecretDatabase, pid: number) =>
    query(db.adminUrl, 'SELECT pg_terminate_backend($1, 5000)', [pid]);

  /** The deploy that lost its connection: a report naming the lost connection, or an error saying so. */
  function expectClear(
    outcome: { report: DeployReport | null; error: { message?: string } | null },
    where: string,
  ): void {
    witness(outcome.report ?? outcome.error);
    if (outcome.error) {
      expect(outcome.error.message, where).toMatch(/connection|terminat/i);
      return;
    }
    const report = outcome.report!;
    expect(report.exitCode, where).toBe(2);
    const problem = report.problems[0];
    expect(problem?.message, where).toMatch(/lost its database connection/);
    expect(problem?.remedy, where).toMatch(/Deploy again/);
  }

  async function rerun(db: SecretDatabase, where: string): Promise<void> {
    await workerSessionsGone(db.adminUrl, db.name);
    const state = await assertConsistent(db, fixture.scenario).catch((e: Error) => {
      throw new Error(`${where}: ${e.message}`);
    });
    const again = await fixture.deployAll();
    witness(again);
    expect(again.exitCode, `${where} (${state}): ${JSON.stringify(again.problems)}`).toBe(0);
    await assertFinished(db, fixture.scenario);
  }

  const settle = (p: Promise<DeployReport>) =>
    p.then(
      (report) => ({ report, error: null }),
      (error: unknown) => ({ report: null, error: error as { message?: string } }),
    );

  cell(
    'Database connection cut · pg_terminate_backend after each worker query',
    {
      target,
      file: FILE,
      invariant: 'clear result; ledger describes the schema; plain re-run finishes (resumes the stepwise file)',
      timeout: 600_000,
    },
    async ({ ran }) => {
      for (const at of [...faultPoints(trace, 'transactional'), ...faultPoints(trace, 'stepwise')].sort(
        (a, b) => a - b,
      )) {
        const db = await fixture.server.clone(fixture.scenario.template);
        try {
          fixture.fw.useDatabase(db.url);
          let n = 0;
          fixture.fw.onQuery(async (q): Promise<Verdict> => {
            if (q.action === 'apply' && n++ === at && q.pid) {
              await terminate(db, q.pid);
            }
            return 'continue';
          });
          const outcome = await settle(fixture.deployAll());
          fixture.fw.onQuery(null);
          const point = trace[at]!.q;
          const where = `cut ${point.phase} query #${at}: ${point.text.slice(0, 80).replace(/\s+/g, ' ')}`;
          const lastCommit = trace.findLastIndex((t) => isCommit(t.q.text) && t.q.phase === 'after');
          if (at >= lastCommit) {
            // After the last COMMIT only the lock release is left (and a dead session holds no
            // lock): the batch is complete and deploy verifies it.
            expect(outcome.report?.exitCode, where).toBe(0);
          } else {
            expectClear(outcome, where);
          }
          await rerun(db, where);
          ran();
        } finally {
          fixture.fw.onQuery(null);
          await db.drop();
        }
      }
    },
  );

  cell(
    'Database connection cut · inside a running statement ' +
      '(transactional file, stepwise file, CREATE INDEX CONCURRENTLY)',
    {
      target,
      file: FILE,
      invariant:
        'transactional work rolls back; an INVALID index left ' +
        'by CONCURRENTLY is rebuilt by the re-run, not recorded ' +
        'as done',
      timeout: 300_000,
    },
    async ({ ran }) => {
      // 1. Inside the one-round-trip transactional file, after each of its DDL statements.
      for (let k = 1; k <= 4; k++) {
        const db = await fixture.server.clone(fixture.scenario.template);
        try {
          fixture.fw.useDatabase(db.url);
          const gate = await closeGate(db.adminUrl, k);
          const running = settle(fixture.deployAll());
          try {
            await terminate(db, await gate.waiter());
          } finally {
            await gate.open();
          }
          const where = `cut inside 002 after statement ${k}`;
          expectClear(await running, where);
          expect((await ledgerRows(db.adminUrl)).map((r) => r.migration_name)).toEqual(['001_base']);
          await rerun(db, where);
          ran();
        } finally {
          await db.drop();
        }
      }

      // 2. A transactional statement of the stepwise file, blocked by a lock the test holds, and
      // 3. CREATE INDEX CONCURRENTLY waiting for an older transaction (its index is already in the
      //    catalog, INVALID, when the cut comes).
      const cases = [
        { statement: 1, lock: 'LOCK TABLE "AuditLog" IN ACCESS EXCLUSIVE MODE', leavesInvalidIndex: false },
        { statement: 2, lock: 'LOCK TABLE "Customer" IN ROW EXCLUSIVE MODE', leavesInvalidIndex: true },
      ];
      for (const c of cases) {
        const db = await fixture.server.clone(fixture.scenario.template);
        const blocker = await session(db.adminUrl);
        try {
          fixture.fw.useDatabase(db.url);
          let worker: number | undefined;
          const text = STEPWISE.statements[c.statement]!;
          fixture.fw.onQuery(async (q): Promise<Verdict> => {
            if (q.action === 'apply' && q.phase === 'before' && q.text === text && worker === undefined) {
              await blocker.query('BEGIN');
              await blocker.query(c.lock);
              worker = q.pid;
            }
            return 'continue';
          });
          const running = settle(fixture.deployAll());
          const pid = await waitFor('the worker to wait for the blocking transaction', async () => {
            if (worker === undefined) return null;
            const rows = await query<{ waiting: boolean }>(
              db.adminUrl,
              `SELECT wait_event_type = 'Lock' AS waiting FROM pg_stat_activity WHERE pid = $1`,
              [worker],
            );
            return rows[0]?.waiting ? worker : null;
          });
          await terminate(db, pid);
          await blocker.query('COMMIT');
          fixture.fw.onQuery(null);
          const where = `cut while 003 statement ${c.statement + 1} waited`;
          expectClear(await running, where);
          await workerSessionsGone(db.adminUrl, db.name);
          const row = (await ledgerRows(db.adminUrl)).find((r) => r.migration_name === STEPWISE.name);
          expect(row?.finished_at).toBeNull();
          expect(row?.applied_steps_count).toBe(c.statement);
          const invalid = await query<{ n: string }>(
            db.adminUrl,
            `SELECT count(*) AS n FROM pg_index WHERE NOT indisvalid ` +
              `AND indexrelid = to_regclass('"Customer_tier_idx"')`,
          );
          expect(Number(invalid[0]?.n), where).toBe(c.leavesInvalidIndex ? 1 : 0);
          // Apart from that unusable index, the schema is exactly the recorded progress.
          expect(await fingerprint(db.adminUrl, { ignoreInvalidIndexes: true })).toBe(
            fixture.scenario.refs.stepwise[c.statement],
          );
          if (!c.leavesInvalidIndex) {
            await rerun(db, where);
          } else {
            const again = await fixture.deployAll();
            witness(again);
            expect(again.exitCode, JSON.stringify(again.problems)).toBe(0);
            const resumed = again.results.find((r) => r.name === STEPWISE.name);
            expect(resumed?.resumedFrom).toBe(c.statement);
            const logs = (await ledgerRows(db.adminUrl)).find((r) => r.migration_name === STEPWISE.name)?.logs;
            expect(logs).toMatch(/Rebuilt index "?public"?\."?Customer_tier_idx"?: /);
            expect(logs).toMatch(/an interrupted CREATE INDEX CONCURRENTLY had left it INVALID/);
            await assertFinished(db, fixture.scenario);
          }
          ran();
        } finally {
          fixture.fw.onQuery(null);
          await blocker.end().catch(() => undefined);
          await db.drop();
        }
      }
    },
  );
});
