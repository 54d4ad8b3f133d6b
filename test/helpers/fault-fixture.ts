/**
 * The common starts of the fault files. `scenarioFixture`, for the kill, lost-response and
 * connection-cut cells: a server role with a password, a killable worker, and the four-migration
 * scenario with its reference states. `useFaultServer`, for the cells that need no kill: the
 * same server role, and plain test workers (test-worker.ts) on its databases.
 */
import { afterAll, beforeAll, expect } from 'vitest';
import { deploy, type DeployReport } from '../../scripts/commands/deploy.js';
import type { Worker } from '../../scripts/core/worker-client.js';
import { installDdlGate, secretServer, type SecretServer } from './fault-db.js';
import { live } from './db.js';
import { auditSecrets } from './fault-secrets.js';
import { assertFinished, buildScenario, STEPWISE, TRANSACTIONAL, type Scenario } from './fault-scenario.js';
import { startFaultWorker, type FaultWorker, type QueryEvent } from './fault-worker.js';
import { startTestWorker, type TestWorker, type TestWorkerOptions } from './test-worker.js';

export interface TracePoint {
  q: QueryEvent;
  /** Which file the worker was busy with: 002/004 and the batch around them, or 003. */
  region: 'transactional' | 'stepwise';
}

export interface Fixture {
  server: SecretServer;
  fw: FaultWorker;
  scenario: Scenario;
  /** `deploy` of the scenario's folder. Lint off: the file with CONCURRENTLY in the middle is the point. */
  deployAll(worker?: Worker): Promise<DeployReport>;
  /** The queries of the apply in a clean run of the scenario, in order: the fault points. */
  trace(): Promise<TracePoint[]>;
  close(): Promise<void>;
}

/** A query that commits: `COMMIT` alone, or a statement sent together with it (`…; COMMIT`). */
export function isCommit(text: string): boolean {
  return /(^|;)\s*COMMIT\s*;?\s*$/i.test(text);
}

/** Positions in a trace where a fault goes: after each query of `region` (and before the very first). */
export function faultPoints(trace: TracePoint[], region: TracePoint['region']): number[] {
  return trace.flatMap((t, i) => (t.region === region && (t.q.phase === 'after' || i === 0) ? [i] : []));
}

export async function scenarioFixture(
  adminUrl: string,
  opts: { timeoutMs?: number; gate?: boolean } = {},
): Promise<Fixture> {
  const server = await secretServer(adminUrl);
  const bootstrap = await server.database();
  const fw = await startFaultWorker(bootstrap.url, opts.timeoutMs === undefined ? {} : { timeoutMs: opts.timeoutMs });
  const scenario = await buildScenario(
    server,
    async (db, dir) => {
      fw.useDatabase(db.url);
      expect((await deploy(fw.worker, { migrationsDir: dir })).exitCode).toBe(0);
    },
    opts.gate ? (db) => installDdlGate(db.adminUrl) : undefined,
  );
  const deployAll = (worker = fw.worker) => deploy(worker, { migrationsDir: scenario.dir, lint: false });
  return {
    server,
    fw,
    scenario,
    deployAll,
    async trace() {
      const db = await server.clone(scenario.template);
      const seen: QueryEvent[] = [];
      fw.useDatabase(db.url);
      fw.onQuery((q) => {
        if (q.action === 'apply') seen.push(q);
        return 'continue';
      });
      try {
        const clean = await deployAll();
        expect(clean.exitCode, JSON.stringify([clean.problems, clean.results])).toBe(0);
      } finally {
        fw.onQuery(null);
      }
      await assertFinished(db, scenario);
      await db.drop();
      // 003's part: from the end of 002's COMMIT up to 004's first statement.
      const fileAt = seen.findIndex((q) => q.text.includes(TRANSACTIONAL.statements[1]!));
      const start = seen.findIndex((q, i) => i > fileAt && isCommit(q.text) && q.phase === 'after');
      const end = seen.findIndex((q) => q.text.includes('"Invoice"'));
      expect(fileAt).toBeGreaterThan(0);
      expect(start).toBeGreaterThan(fileAt);
      expect(end).toBeGreaterThan(start);
      const trace = seen.map(
        (q, i): TracePoint => ({ q, region: i > start && i < end ? 'stepwise' : 'transactional' }),
      );
      expect(trace.filter((t) => t.region === 'stepwise').length).toBeGreaterThanOrEqual(
        STEPWISE.statements.length * 2,
      );
      return trace;
    },
    async close() {
      await fw.close();
      await server.close();
    },
  };
}

export interface FaultServer {
  /** The describe's server role with a password (a stand-in until its beforeAll ran: see `live`). */
  readonly server: SecretServer;
  /** A test worker on `url`, closed after the describe; its log lines are audited. */
  worker(url: string, opts?: TestWorkerOptions): Promise<TestWorker>;
  /** Every worker started so far. */
  readonly workers: TestWorker[];
  /** More lines to audit (an in-process handler's log). */
  readonly logs: string[];
  /** More secrets to look for (passwords a test made up). */
  readonly secrets: string[];
}

/**
 * For the calling describe: a secret server before its tests; after them, every worker closed,
 * the server closed, and every line the workers logged (plus `logs`) audited for its secrets.
 */
export function useFaultServer(adminUrl: string, file: string): FaultServer {
  let server: SecretServer | undefined;
  const workers: TestWorker[] = [];
  const logs: string[] = [];
  const secrets: string[] = [];
  beforeAll(async () => {
    server = await secretServer(adminUrl);
  });
  afterAll(async () => {
    const lines = [...logs, ...workers.flatMap((w) => w.logs)];
    for (const w of workers) await w.close();
    await server?.close();
    server?.secrets.push(...secrets);
    auditSecrets(file, server, lines);
  });
  return {
    server: live(() => {
      if (!server) throw new Error('the secret server is used before its beforeAll ran');
      return server;
    }),
    async worker(url, opts) {
      const tw = await startTestWorker(url, opts);
      workers.push(tw);
      return tw;
    },
    workers,
    logs,
    secrets,
  };
}
