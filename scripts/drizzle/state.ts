/**
 * The Drizzle side of the shared commands (scripts/commands/local-state.ts, deploy.ts,
 * status.ts): the journal and its ledger in the shapes those commands already use — a
 * `Discovery`, a `LedgerResult`, a `Plan` — so the plan, report and CLI code is one.
 */
import {
  ErrorCode,
  type LedgerResult,
  MigrateError,
  type MigrationPayload,
  type MigrationResult,
} from '../../lambda/contract/index.js';
import type { Worker } from '../invoke.js';
import type { PlanOptions } from '../plan.js';
import { drizzlePayload } from './chunks.js';
import { discoverDrizzle, type DrizzleDiscovery } from './discover.js';
import { planDrizzle, type DrizzlePlan } from './plan.js';

export function planDrizzleFor(discovery: DrizzleDiscovery, ledger: LedgerResult, options: PlanOptions): DrizzlePlan {
  const local = discovery.migrations.map((m) => ({ name: m.name, hash: m.checksum, createdAt: m.createdAt, path: m.path }));
  return planDrizzle(local, ledger.drizzleRows ?? [], options);
}

/** Payloads for the pending entries, in the plan's order; parser findings go to `warnings`. Needs `loadParser()`. */
export function drizzlePayloads(discovery: DrizzleDiscovery, pending: string[], warnings: string[]): MigrationPayload[] {
  const byName = new Map(discovery.migrations.map((m) => [m.name, m]));
  return pending.map((name) => {
    const { payload, warnings: found } = drizzlePayload(byName.get(name)!);
    warnings.push(...found);
    return payload;
  });
}

/** What to do after a Drizzle migration failed (Drizzle's ledger records no failures). */
export function drizzleFailureRemedy(failed: MigrationResult): string {
  if (failed.appliedSteps === undefined) {
    return `Nothing of it was applied (it ran in one transaction) and nothing was recorded. Fix ${failed.name}.sql, then deploy again.`;
  }
  return (
    `It ended its own transaction: what its first ${failed.appliedSteps} chunk(s) did up to its last COMMIT stays applied, ` +
    `but no ledger row was written, so the next deploy runs ${failed.name}.sql from the top again. ` +
    'Make those chunks safe to run twice (IF NOT EXISTS) or undo them by hand, fix the failing chunk, then deploy again.'
  );
}

/** The journal and its files; refuses (as loadLocal does for Prisma) when an entry's file is missing. */
export async function loadDrizzleLocal(dir: string): Promise<{ discovery: DrizzleDiscovery; warnings: string[] }> {
  const discovery = await discoverDrizzle(dir);
  const errors = discovery.anomalies.filter((a) => a.severity === 'error');
  if (errors.length > 0) {
    throw new MigrateError(
      ErrorCode.MigrationFileMissing,
      `The migrations folder has problems: ${errors.map((a) => a.message).join('; ')}`,
      'Restore the files the journal names (or remove their entries with drizzle-kit drop), then run the command again.',
      { details: { anomalies: errors } },
    );
  }
  return { discovery, warnings: discovery.anomalies.map((a) => a.message) };
}

/** The Drizzle ledger; a worker that answers without `format` predates Drizzle support (or is a compat worker). */
export async function readDrizzleLedger(worker: Worker): Promise<LedgerResult> {
  const ledger = await worker.ledger('drizzle');
  if (ledger.format !== 'drizzle') {
    throw new MigrateError(
      ErrorCode.ProtocolMismatch,
      'The worker answered a Drizzle ledger request with a Prisma ledger: it does not support Drizzle journals.',
      'Redeploy the worker from this version of the repository (the run-sql compatibility protocol serves Prisma only).',
    );
  }
  return ledger;
}
