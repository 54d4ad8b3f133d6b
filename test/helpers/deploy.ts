/** Deploys racing each other, as two engineers or two CI jobs would start them. */
import { deploy, type DeployReport } from '../../scripts/commands/deploy.js';
import type { Worker } from '../../scripts/core/worker-client.js';
import { prismaLedger } from './db.js';

/** One folder deployed through each worker at once, every deploy willing to wait a minute for the lock. */
export function deployAtOnce(workers: Worker[], migrationsDir: string): Promise<DeployReport[]> {
  return Promise.all(workers.map((worker) => deploy(worker, { migrationsDir, apply: { lockWaitMs: 60_000 } })));
}

/** What the reports say they applied, sorted; a migration applied twice appears twice. */
export function appliedBy(reports: DeployReport[]): string[] {
  return reports.flatMap((r) => r.results.filter((m) => m.status === 'applied').map((m) => m.name)).sort();
}

/** The Prisma ledger's names, sorted, after checking that it holds `count` distinct rows. */
export async function ledgerNames(url: string, count: number): Promise<string[]> {
  const names = (await prismaLedger(url)).map((r) => r.migration_name);
  if (names.length !== count || new Set(names).size !== count) {
    throw new Error(`expected ${count} distinct ledger rows, found ${names.length}: ${names.join(', ')}`);
  }
  return names.sort();
}
