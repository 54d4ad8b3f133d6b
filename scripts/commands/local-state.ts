/** What deploy and status both need first: the local folders and what the worker's ledger says. */
import { ErrorCode, MigrateError } from '../../lambda/errors.js';
import type { LedgerResult } from '../../lambda/protocol.js';
import { discoverMigrations, planInputs, type Discovery } from '../discover.js';
import type { Worker } from '../invoke.js';
import { plan, type Plan, type PlanOptions } from '../plan.js';

export interface State {
  discovery: Discovery;
  ledger: LedgerResult;
  plan: Plan;
  warnings: string[];
}

export async function loadLocal(dir: string): Promise<{ discovery: Discovery; warnings: string[] }> {
  const discovery = await discoverMigrations(dir);
  const errors = discovery.anomalies.filter((a) => a.severity === 'error');
  if (errors.length > 0) {
    throw new MigrateError(
      ErrorCode.MigrationFileMissing,
      `The migrations folder has problems: ${errors.map((a) => a.message).join('; ')}`,
      'Fix the folders listed (each migration folder needs a migration.sql), then run the command again.',
      { details: { anomalies: errors } },
    );
  }
  const warnings = discovery.anomalies.map((a) => a.message);
  return { discovery, warnings };
}

export function planFor(discovery: Discovery, ledger: LedgerResult, options: PlanOptions): Plan {
  return plan(planInputs(discovery.migrations), ledger.rows, options);
}

export async function loadState(worker: Worker, dir: string, options: PlanOptions): Promise<State> {
  const [{ discovery, warnings }, ledger] = await Promise.all([loadLocal(dir), worker.ledger()]);
  return { discovery, ledger, plan: planFor(discovery, ledger, options), warnings };
}
