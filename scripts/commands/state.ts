/** What deploy, status, rehearse and lint need first: the format, the local folder and what the worker's ledger says. */
import type { LedgerResult, MigrationFormat } from '../../lambda/contract/index.js';
import type { Plan, PlanOptions } from '../core/plan.js';
import type { Worker } from '../core/worker.js';
import type { Discovery, Format } from '../formats/format.js';
import { formatFor } from '../formats/select.js';

export interface State {
  format: Format;
  discovery: Discovery;
  ledger: LedgerResult;
  plan: Plan;
  warnings: string[];
}

export async function loadState(worker: Worker, dir: string, options: PlanOptions & { format?: MigrationFormat }): Promise<State> {
  const format = await formatFor(dir, options.format);
  const [{ discovery, warnings }, ledger] = await Promise.all([format.loadLocal(dir), format.readLedger(worker)]);
  return { format, discovery, ledger, plan: format.plan(discovery, ledger, options), warnings };
}
