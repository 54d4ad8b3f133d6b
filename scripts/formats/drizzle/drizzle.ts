/**
 * Drizzle's migrations as the CLI handles them: the entries of `meta/_journal.json`, the
 * `drizzle.__drizzle_migrations` ledger matched by hash, payloads cut on drizzle-orm's
 * `--> statement-breakpoint`, and remedies for a ledger that records no failures. The journal,
 * ledger and plan take the shared shapes (`Discovery`, `LedgerResult`, `Plan`), so the commands
 * and reports are one for both formats.
 */
import { ErrorCode, type LedgerResult, MigrateError, type MigrationResult } from '../../../lambda/contract/index.js';
import type { Worker } from '../../core/worker-client.js';
import { type Format, usableLocal } from '../format.js';
import { drizzleNeedsParser, drizzlePayload } from './chunks.js';
import { discoverDrizzle, type DrizzleDiscovery } from './discover.js';
import { lintDrizzlePending } from './pending-lint.js';
import { planDrizzle, verifyDrizzle, type DrizzlePlan } from './plan.js';

export const drizzleFormat: Format<DrizzleDiscovery> = {
  name: 'drizzle',
  wire: 'drizzle',
  ledgerTable: 'drizzle.__drizzle_migrations',
  fileOf: (name) => `${name}.sql`,

  async loadLocal(dir) {
    const discovery = await discoverDrizzle(dir);
    return usableLocal(
      discovery,
      'Restore the files the journal names (or remove their ' +
        'entries with drizzle-kit drop), then run the command ' +
        'again.',
    );
  },

  readLedger: readDrizzleLedger,

  plan(discovery, ledger, options) {
    const local = discovery.migrations.map((m) => ({
      name: m.name,
      hash: m.checksum,
      createdAt: m.createdAt,
      path: m.path,
    }));
    return planDrizzle(local, ledger.drizzleRows ?? [], options);
  },

  lintPending: lintDrizzlePending,

  async payloads(parser, discovery, pending, warnings, cache) {
    const byName = new Map(discovery.migrations.map((m) => [m.name, m]));
    const chosen = pending.map((name) => byName.get(name));
    const loaded = cache && !drizzleNeedsParser(cache, chosen) ? undefined : await parser();
    return pending.map((name) => {
      const { payload, warnings: found } = drizzlePayload(loaded, byName.get(name)!, cache);
      warnings.push(...found);
      return payload;
    });
  },

  failure: (failed) => ({ remedy: drizzleFailureRemedy(failed) }),

  // Plans of this format are DrizzlePlans (plan() above).
  verify: (plan) => verifyDrizzle(plan as DrizzlePlan),
  counts: (plan) => (plan as DrizzlePlan).counts,
};

/** What to do after a Drizzle migration failed (Drizzle's ledger records no failures). */
function drizzleFailureRemedy(failed: MigrationResult): string {
  if (failed.appliedSteps === undefined) {
    return (
      `Nothing of it was applied (it ran in one transaction) ` +
      `and nothing was recorded. Fix ${failed.name}.sql, then ` +
      `deploy again.`
    );
  }
  return (
    `It ended its own transaction: what its first ${failed.appliedSteps} ` +
    `chunk(s) did up to its last COMMIT stays applied, ` +
    `but no ledger row was written, so the next deploy runs ${failed.name}.sql from the top again. ` +
    ('Make those chunks safe to run twice (IF NOT EXISTS) ' +
      'or undo them by hand, fix the failing chunk, then deploy ' +
      'again.')
  );
}

/** The Drizzle ledger; a worker that answers without `format` predates Drizzle support (or is a compat worker). */
async function readDrizzleLedger(worker: Worker): Promise<LedgerResult> {
  const ledger = await worker.ledger('drizzle');
  if (ledger.format !== 'drizzle') {
    throw new MigrateError(
      ErrorCode.ProtocolMismatch,
      'The worker answered a Drizzle ledger request with a Prisma ledger: it does not support Drizzle journals.',
      'Redeploy the worker from this version of the repository ' +
        '(the run-sql compatibility protocol serves Prisma only).',
    );
  }
  return ledger;
}
