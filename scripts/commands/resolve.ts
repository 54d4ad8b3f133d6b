/**
 * `resolve` (`pnpm migrate:resolve --applied NAME | --rolled-back NAME`): Prisma's
 * `migrate resolve`, through the worker and under the migration lock. The folder check (P3017)
 * happens here, since only the CLI sees the folders; the ledger checks (P3008, P3011, P3012)
 * happen in the worker, inside the lock.
 */
import {
  ErrorCode,
  MigrateError,
  remedyCommand,
  type ResolveEvent,
  type ResolveResult,
  type ResolveTarget,
} from '../../lambda/contract/index.js';
import type { Request, Worker } from '../core/worker-client.js';
import { discoverMigrations } from '../formats/prisma/discover.js';
import { givenLocation, type MigrationsLocation } from '../project/migrations-dir.js';
import { defineCommand } from './command.js';
import { INT_FLAGS, intFlag, migrationsFlag, usageError } from './flags.js';

export interface ResolveOptions {
  migrationsDir: string;
  /** Where `migrationsDir` came from (the CLI's lookup); default: given by the caller. */
  location?: MigrationsLocation;
  name: string;
  to: ResolveTarget;
  lockWaitMs?: number;
}

export interface ResolveReport {
  command: 'resolve';
  migrationsDir: string;
  /** The folder (absolute) and where it came from: `--migrations`, a config file, the default. */
  migrations: MigrationsLocation;
  name: string;
  to: ResolveTarget;
  /** sha256 of the local migration.sql recorded by `applied`. */
  checksum?: string;
  result: ResolveResult;
  /** What to run next: status (printed as the user runs it). */
  next: string;
  exitCode: 0;
}

/** Throws a MigrateError (exit 2) for every refusal: P3017 here, P3008/P3011/P3012 from the worker. */
export async function resolve(worker: Worker, opts: ResolveOptions): Promise<ResolveReport> {
  const migrations = givenLocation(opts.migrationsDir, opts.location);
  const event: Request<ResolveEvent> = { name: opts.name, to: opts.to };
  if (opts.lockWaitMs !== undefined) event.lockWaitMs = opts.lockWaitMs;
  let checksum: string | undefined;
  if (opts.to === 'applied') {
    const discovery = await discoverMigrations(migrations.dir);
    const local = discovery.migrations.find((m) => m.name === opts.name);
    if (!local) {
      const folder = discovery.anomalies.find((a) => a.name === opts.name && a.kind === 'no-migration-sql');
      throw new MigrateError(
        ErrorCode.ResolveFolderMissing,
        `P3017: The migration ${opts.name} could not be found ` +
          `in ${discovery.dir}${folder ? ' (the folder has no readable migration.sql)' : ''}. ` +
          `Nothing was changed.`,
        `Make sure the migration exists and that you passed ` +
          `the whole folder name, e.g. "20201207184859_initial_migration" ` +
          `(${remedyCommand('status')} lists them).`,
        { details: { prismaCode: 'P3017', migration: opts.name, migrationsDir: discovery.dir } },
      );
    }
    checksum = local.checksum;
    event.checksum = checksum;
  }
  const result = await worker.resolve(event);
  const report: ResolveReport = {
    command: 'resolve',
    migrationsDir: migrations.dir,
    migrations,
    name: opts.name,
    to: opts.to,
    result,
    next: remedyCommand('status'),
    exitCode: 0,
  };
  if (checksum) report.checksum = checksum;
  return report;
}

export const resolveCommand = defineCommand({
  usage: `vpc-migrate resolve --applied NAME | --rolled-back NAME [options]
Prisma's \`migrate resolve\`, through the worker, under the migration lock.
  --applied NAME          record NAME as applied without running it: its failed rows are marked
                          rolled back and a row with the local file's checksum is added. Refused
                          if the folder is missing (P3017) or it is already applied (P3008).
  --rolled-back NAME      mark NAME's failed rows rolled back, so the next deploy retries it.
                          Refused if it was never applied (P3011) or is not failed (P3012).
  --lock-wait SEC         wait this long for a running deploy to release the lock, 0 to 3600 (default 10)
Exit codes: 0 done, 2 refused (the Prisma code is in the message and in --json) or worker error.`,
  positionals: 0,
  options: {
    applied: { type: 'string' },
    'rolled-back': { type: 'string' },
    'lock-wait': { type: 'string' },
  },
  needsWorker: true,
  async run({ values, positionals, worker }) {
    const applied = values.applied;
    const rolledBack = values['rolled-back'];
    if ((applied === undefined) === (rolledBack === undefined) || positionals.length > 0) {
      throw usageError(
        'Pass exactly one of --applied NAME or --rolled-back NAME.',
        'Run `vpc-migrate resolve --help`.',
      );
    }
    // --rolled-back changes only the ledger: the folder is named in the report, not required.
    const location = await migrationsFlag(values, { mustExist: applied !== undefined });
    const opts: ResolveOptions = {
      migrationsDir: location.dir,
      location,
      name: (applied ?? rolledBack) as string,
      to: applied !== undefined ? 'applied' : 'rolled-back',
    };
    const lockWait = intFlag(values, 'lock-wait', INT_FLAGS['lock-wait']);
    if (lockWait !== undefined) opts.lockWaitMs = lockWait;
    const report = await resolve(worker, opts);
    return { exitCode: report.exitCode, report };
  },
});
