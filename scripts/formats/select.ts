/**
 * The one switch between formats: `--format` when given, else `drizzle` for a folder with
 * `meta/_journal.json` and `prisma` for anything else. Everything format-specific is reached
 * through the `Format` this returns (formats/prisma/prisma.ts, formats/drizzle/drizzle.ts);
 * `loadState` is what deploy, status and rehearse read through it first.
 */
import type { LedgerResult, MigrationFormat } from '../../lambda/contract/index.js';
import type { Plan, PlanOptions } from '../core/plan.js';
import type { Worker } from '../core/worker-client.js';
import { DETECTION_RULE } from './detection.js';
import { hasJournal } from './drizzle/discover.js';
import { drizzleFormat } from './drizzle/drizzle.js';
import type { Discovery, Format } from './format.js';
import { prismaFormat } from './prisma/prisma.js';

const FORMATS: Record<MigrationFormat, Format> = { prisma: prismaFormat, drizzle: drizzleFormat };

export { DETECTION_RULE };

/** The forced format, else `drizzle` when `dir/meta/_journal.json` exists, else `prisma`. */
export async function detectFormat(dir: string, forced?: MigrationFormat): Promise<MigrationFormat> {
  if (forced) return forced;
  return (await hasJournal(dir)) ? 'drizzle' : 'prisma';
}

/** The format of the migrations in `dir` (see {@link detectFormat}). */
export async function formatFor(dir: string, forced?: MigrationFormat): Promise<Format> {
  return FORMATS[await detectFormat(dir, forced)];
}

/** The format a report names (`format` absent: Prisma). */
export function formatNamed(name: MigrationFormat | undefined): Format {
  return FORMATS[name ?? 'prisma'];
}

/** What deploy, status and rehearse need first: the format, the local folder and what the worker's ledger says. */
export interface State {
  format: Format;
  discovery: Discovery;
  ledger: LedgerResult;
  plan: Plan;
  warnings: string[];
}

export async function loadState(
  worker: Worker,
  dir: string,
  options: PlanOptions & { format?: MigrationFormat },
): Promise<State> {
  const format = await formatFor(dir, options.format);
  const [{ discovery, warnings }, ledger] = await Promise.all([format.loadLocal(dir), format.readLedger(worker)]);
  return { format, discovery, ledger, plan: format.plan(discovery, ledger, options), warnings };
}
