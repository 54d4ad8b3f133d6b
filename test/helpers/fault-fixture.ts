/**
 * The common start of the kill, lost-response and connection-cut cells: a server role with a
 * password, a killable worker, and the four-migration scenario with its reference states.
 */
import { expect } from 'vitest';
import { deploy, type DeployReport } from '../../scripts/commands/deploy.js';
import type { Worker } from '../../scripts/invoke.js';
import { installDdlGate, secretServer, type SecretServer } from './fault-db.js';
import { buildScenario, type Scenario } from './fault-scenario.js';
import { startFaultWorker, type FaultWorker } from './fault-worker.js';

export interface Fixture {
  server: SecretServer;
  fw: FaultWorker;
  scenario: Scenario;
  /** `deploy` of the scenario's folder. Lint off: the file with CONCURRENTLY in the middle is the point. */
  deployAll(worker?: Worker): Promise<DeployReport>;
  close(): Promise<void>;
}

export async function scenarioFixture(adminUrl: string, opts: { timeoutMs?: number; gate?: boolean } = {}): Promise<Fixture> {
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
  return {
    server,
    fw,
    scenario,
    deployAll: (worker = fw.worker) => deploy(worker, { migrationsDir: scenario.dir, lint: false }),
    async close() {
      await fw.close();
      await server.close();
    },
  };
}
