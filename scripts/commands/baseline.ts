/**
 * `baseline --up-to NAME` (`pnpm migrate:baseline`): for a database migrated by other means (the
 * one a deploy refuses with VPCM_SCHEMA_NOT_EMPTY, Prisma's P3005), record the local migrations
 * from the first through NAME as applied, as Prisma's baselining does with `migrate resolve
 * --applied` for each. Unlike it, the worker first checks by definition that what each of them
 * creates exists (lambda/baseline.ts); the next deploy applies the rest. Prisma format only.
 */
import { randomUUID } from 'node:crypto';
import { type BaselineEvent, ErrorCode, MigrateError, remedyCommand } from '../../lambda/contract/index.js';
import { batchBySize, splitPayloads } from '../core/payloads.js';
import { sqlParser } from '../core/sql-parser.js';
import type { Request, Worker } from '../core/worker-client.js';
import { discoverMigrations } from '../formats/prisma/discover.js';
import { detectFormat } from '../formats/select.js';
import { givenLocation, type MigrationsLocation } from '../project/migrations-dir.js';
import { defineCommand } from './command.js';
import { formatFlag, INT_FLAGS, intFlag, migrationsFlag, usageError } from './flags.js';

export interface BaselineOptions {
  migrationsDir: string;
  /** Where `migrationsDir` came from (the CLI's lookup); default: given by the caller. */
  location?: MigrationsLocation;
  /** The last migration to record (a whole folder name). */
  upTo: string;
  lockWaitMs?: number;
  progress?: (line: string) => void;
}

export interface BaselineReport {
  command: 'baseline';
  migrationsDir: string;
  migrations: MigrationsLocation;
  upTo: string;
  /** Recorded now, in order. */
  recorded: string[];
  /** Already recorded as applied: left as they were. */
  alreadyRecorded: string[];
  /** Recorded though they create nothing by name that could be checked (data migrations, ALTER … TYPE). */
  unchecked: string[];
  ledgerCreated: boolean;
  /** Local migrations after NAME: what the next deploy applies. */
  remaining: number;
  /** What to run next (printed as the user runs it). */
  next: string;
  exitCode: 0;
}

/** Throws a MigrateError (exit 2) for every refusal: an unknown NAME here, a mismatch from the worker. */
export async function baseline(worker: Worker, opts: BaselineOptions): Promise<BaselineReport> {
  const migrations = givenLocation(opts.migrationsDir, opts.location);
  const [discovery, parser] = await Promise.all([discoverMigrations(migrations.dir), sqlParser()]);
  const names = discovery.migrations.map((m) => m.name);
  const at = names.indexOf(opts.upTo);
  if (at === -1) {
    const shown = names.slice(-5);
    throw new MigrateError(
      ErrorCode.BaselineUnknownMigration,
      `${JSON.stringify(opts.upTo)} is not a migration in ` +
        `${discovery.dir}${names.length === 0 ? ' (it holds none)' : ''}. ` +
        `Nothing was recorded.`,
      names.length === 0
        ? 'Point --migrations at the folder holding the migration folders.'
        : `Pass the whole folder name of a local migration, e.g. ` +
            `${remedyCommand('baseline', '--up-to', names[names.length - 1]!)} ` +
            `(the newest; ${names.length > 5 ? '…, ' : ''}${shown.join(', ')}).`,
      { details: { upTo: opts.upTo, migrationsDir: discovery.dir } },
    );
  }
  const chosen = names.slice(0, at + 1);
  const payloads = splitPayloads(parser, discovery.migrations, chosen, () => undefined);
  const report: BaselineReport = {
    command: 'baseline',
    migrationsDir: migrations.dir,
    migrations,
    upTo: opts.upTo,
    recorded: [],
    alreadyRecorded: [],
    unchecked: [],
    ledgerCreated: false,
    remaining: names.length - chosen.length,
    next: remedyCommand('deploy'),
    exitCode: 0,
  };
  // One request when it fits (one transaction); otherwise in order, each request's migrations
  // checked and recorded together, so a refused one leaves only its predecessors recorded.
  const batches = batchBySize(payloads);
  for (const [i, batch] of batches.entries()) {
    if (batches.length > 1)
      opts.progress?.(`Checking and recording ${batch.length} migration(s) (request ${i + 1} of ${batches.length})…`);
    const event: Request<BaselineEvent> = { requestId: randomUUID(), migrations: batch };
    if (opts.lockWaitMs !== undefined) event.lockWaitMs = opts.lockWaitMs;
    const result = await worker.baseline(event);
    report.recorded.push(...result.recorded.map((r) => r.migration_name));
    report.alreadyRecorded.push(...result.alreadyRecorded.filter((n) => !report.alreadyRecorded.includes(n)));
    report.unchecked.push(...result.unchecked);
    if (result.ledgerCreated) report.ledgerCreated = true;
  }
  return report;
}

export const baselineCommand = defineCommand({
  usage: `vpc-migrate baseline --up-to NAME [options]
For a database migrated by other means (deploy refuses it: VPCM_SCHEMA_NOT_EMPTY, Prisma's P3005).
Records the local migrations from the first through NAME as applied without running them, as
Prisma's \`migrate resolve --applied\` rows, after checking by definition that what each of them
creates exists. The next deploy applies the migrations after NAME. Under the migration lock.
Prisma format only.
  --up-to NAME            the last migration the database already has (the whole folder name)
  --lock-wait SEC         wait this long for a running deploy to release the lock, 0 to 3600 (default 10)
Exit codes: 0 recorded, 2 refused (unknown NAME: VPCM_BASELINE_UNKNOWN_MIGRATION; objects missing or
different: VPCM_BASELINE_MISMATCH, each listed; nothing recorded) or worker error.`,
  positionals: 0,
  options: {
    'up-to': { type: 'string' },
    'lock-wait': { type: 'string' },
  },
  needsWorker: true,
  async run({ values, worker, progress }) {
    const upTo = values['up-to'];
    if (upTo === undefined || upTo === '')
      throw usageError(
        'Pass --up-to NAME: the last migration the database already has.',
        `Run ${remedyCommand('baseline', '--help')}.`,
      );
    const location = await migrationsFlag(values);
    if ((await detectFormat(location.dir, formatFlag(values.format))) === 'drizzle') {
      throw usageError(
        'baseline records Prisma migrations (_prisma_migrations); this folder is a Drizzle journal.',
        `Deploy with ${remedyCommand('deploy', '--baseline')}, ` +
          `which reconciles what already exists and records every ` +
          `migration in Drizzle's ledger.`,
      );
    }
    const opts: BaselineOptions = { migrationsDir: location.dir, location, upTo, progress };
    const lockWait = intFlag(values, 'lock-wait', INT_FLAGS['lock-wait']);
    if (lockWait !== undefined) opts.lockWaitMs = lockWait;
    const report = await baseline(worker, opts);
    return { exitCode: report.exitCode, report };
  },
});
