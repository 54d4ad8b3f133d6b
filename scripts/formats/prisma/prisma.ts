/**
 * Prisma's migrations as the CLI handles them: `<folder>/migration.sql` in byte order of the
 * folder name, the `_prisma_migrations` ledger, one payload per file split by PostgreSQL's
 * parser, and remedies around the failed row Prisma keeps (`migrate resolve`).
 */
import { needsParser, splitPayloads } from '../../core/payloads.js';
import { plan } from '../../core/plan.js';
import { lintPending } from '../../lint/pending.js';
import { type Discovery, type Format, usableLocal } from '../format.js';
import { discoverMigrations, planInputs } from './discover.js';
import { failureCause, prismaFailureRemedy, withInvalidIndex } from './remedies.js';

export const prismaFormat: Format<Discovery> = {
  name: 'prisma',
  ledgerTable: '_prisma_migrations',
  fileOf: () => 'migration.sql',

  async loadLocal(dir) {
    const discovery = await discoverMigrations(dir);
    return usableLocal(
      discovery,
      'Fix the folders listed (each migration folder needs a migration.sql), then run the command again.',
    );
  },

  readLedger: (worker) => worker.ledger(),

  // Pending = local folders with no ledger row yet, in byte order of the name (Prisma's rule); a
  // failed row (P3009), a changed checksum or an out-of-order folder is a problem that refuses
  // the deploy instead (core/plan.ts) — except an interrupted run of ours on the unchanged file,
  // which is `resumable` and pending again (the worker resumes it where it stopped).
  plan: (discovery, ledger, options) => plan(planInputs(discovery.migrations), ledger.rows, options),

  lintPending: (parser, discovery, pending, opts) => lintPending(parser, discovery.migrations, pending, opts),

  // Split by PostgreSQL's own parser, so the worker runs each file in the mode its statements
  // need ('non-transactional' for CONCURRENTLY and the like, 'script' for its own BEGIN/COMMIT).
  async payloads(parser, discovery, pending, warnings, cache) {
    const loaded = cache && !needsParser(cache, discovery.migrations, pending) ? undefined : await parser();
    return splitPayloads(
      loaded,
      discovery.migrations,
      pending,
      (name, e) =>
        warnings.push(
          `${name}/migration.sql:${e.line}:${e.column}: PostgreSQL's ` +
            `parser rejects it (${e.message}); it is sent whole ` +
            `and the database will report the error.`,
        ),
      cache,
    );
  },

  failure: (failed) => withInvalidIndex(failed, failureCause(failed) ?? { remedy: prismaFailureRemedy(failed) }),

  // The shared check (every local migration recorded, none failed) says it all for Prisma.
  verify: () => undefined,
  counts: () => undefined,
};
