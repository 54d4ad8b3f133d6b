/** What deploy and status both need first: the local folders and what the worker's ledger says. */
import { ErrorCode, type LedgerResult, MigrateError, type MigrationFormat } from '../../lambda/contract/index.js';
import { discoverMigrations, planInputs, type Discovery } from '../discover.js';
import { isDrizzleDiscovery } from '../drizzle/discover.js';
import { loadDrizzleLocal, planDrizzleFor, readDrizzleLedger } from '../drizzle/state.js';
import { detectFormat } from '../format.js';
import type { Worker } from '../invoke.js';
import { plan, type Plan, type PlanOptions } from '../plan.js';

export interface State {
  discovery: Discovery;
  ledger: LedgerResult;
  plan: Plan;
  warnings: string[];
  /** Set for a Drizzle journal (absent: Prisma). */
  format?: MigrationFormat;
}

export async function loadLocal(dir: string, format?: MigrationFormat): Promise<{ discovery: Discovery; warnings: string[] }> {
  if ((await detectFormat(dir, format)) === 'drizzle') return loadDrizzleLocal(dir);
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
  if (isDrizzleDiscovery(discovery)) return planDrizzleFor(discovery, ledger, options);
  return plan(planInputs(discovery.migrations), ledger.rows, options);
}

/** The ledger of the discovery's format (deploy reads it again to verify). */
export function ledgerFor(worker: Worker, discovery: Discovery): Promise<LedgerResult> {
  return isDrizzleDiscovery(discovery) ? readDrizzleLedger(worker) : worker.ledger();
}

export async function loadState(worker: Worker, dir: string, options: PlanOptions & { format?: MigrationFormat }): Promise<State> {
  if ((await detectFormat(dir, options.format)) === 'drizzle') {
    const [{ discovery, warnings }, ledger] = await Promise.all([loadLocal(dir, 'drizzle'), readDrizzleLedger(worker)]);
    return { discovery, ledger, plan: planFor(discovery, ledger, options), warnings, format: 'drizzle' };
  }
  const [{ discovery, warnings }, ledger] = await Promise.all([loadLocal(dir, 'prisma'), worker.ledger()]);
  return { discovery, ledger, plan: planFor(discovery, ledger, options), warnings };
}
