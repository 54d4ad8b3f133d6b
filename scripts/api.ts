/**
 * `import { deploy, status } from 'vpc-migrate'`: the CLI's deploy and status as functions. Each
 * resolves the target as the CLI does (`local`, `function`, `stack`, `endpoint`…), talks to the
 * worker over the same Lambda Invoke path, and returns the report `--json` prints. A problem is
 * a report with `exitCode` 2, not an exception; a failure to reach the worker or a bad option
 * throws `MigrateError` (its `code` and `remedy` are the CLI's).
 */
import type { ApplyOptions, MigrationFormat } from '../lambda/contract/index.js';
import { deploy as deployWith, type DeployReport } from './commands/deploy.js';
import { status as statusWith, type StatusReport } from './commands/status.js';
import { type TargetFlags, targetFor, type Worker } from './core/worker-client.js';
import { locateMigrations, type MigrationsLocation, requireMigrationsDir } from './project/migrations-dir.js';
import { connectWorker } from './transport/invoke.js';
import { resolveTarget } from './transport/target.js';

export { MigrateError, ErrorCode } from '../lambda/contract/index.js';
export type { DeployReport, StatusReport, TargetFlags };

export interface CommonOptions {
  /**
   * Which worker: `{ stack }`, `{ function }`, `{ local: true }` (optionally with `databaseUrl`), … as the CLI's target
   * flags;
   * `readerFunction` (or VPC_MIGRATE_READER_FUNCTION, or the stack's output) is the function `status` asks, never
   * `deploy`; `database` names one of the worker's named databases (`--database`), and `status` then asks the migrator.
   */
  target: TargetFlags;
  /**
   *  The migrations folder, relative to `cwd` (default: where the CLI finds it: prisma.config.ts, package.json,
   *  prisma/migrations).
   */
  migrationsDir?: string;
  /**
   *  The project directory: base for a relative `migrationsDir` and where its config is looked for (default:
   *  process.cwd()).
   */
  cwd?: string;
  /** Force the format (default: detected, as the CLI does). */
  format?: MigrationFormat;
  /** Progress lines of long runs (default: dropped). */
  progress?: (line: string) => void;
}

export interface DeployApiOptions extends CommonOptions {
  allowOutOfOrder?: boolean;
  allowModified?: boolean;
  /** Lint pending migrations first (default true). */
  lint?: boolean;
  apply?: ApplyOptions;
  /**
   * Deploy into a schema that holds tables but no ledger, reconciling what exists (`--baseline`).
   * Without it such a deploy is refused: a report with the problem VPCM_SCHEMA_NOT_EMPTY (Prisma's P3005).
   */
  baseline?: boolean;
}

/** Applies the pending migrations, as `vpc-migrate deploy --json`. */
export async function deploy(opts: DeployApiOptions): Promise<DeployReport> {
  const location = await locationOf(opts);
  return withWorker('deploy', opts.target, (worker) =>
    deployWith(worker, {
      migrationsDir: location.dir,
      location,
      allowOutOfOrder: opts.allowOutOfOrder === true,
      allowModified: opts.allowModified === true,
      lint: opts.lint !== false,
      apply: { ...opts.apply, ...(opts.baseline ? { baseline: true } : {}) },
      ...(opts.progress ? { progress: opts.progress } : {}),
      ...(opts.format ? { format: opts.format } : {}),
    }),
  );
}

/**
 *  Compares the folder with the ledger, as `vpc-migrate status --json` (`exitCode` 0 up to date, 1 pending, 2 a
 *  problem).
 */
export async function status(opts: CommonOptions): Promise<StatusReport> {
  const location = await locationOf(opts);
  return withWorker('status', opts.target, (worker) =>
    statusWith(worker, { migrationsDir: location.dir, location, ...(opts.format ? { format: opts.format } : {}) }),
  );
}

/** The folder as the CLI finds it, from `cwd` (no INIT_CWD: a program's own working directory is its project). */
async function locationOf(opts: CommonOptions): Promise<MigrationsLocation> {
  const cwd = opts.cwd ?? process.cwd();
  return requireMigrationsDir(
    await locateMigrations({ env: {}, cwd, ...(opts.migrationsDir === undefined ? {} : { flag: opts.migrationsDir }) }),
  );
}

/**
 *  Resolves the target as the CLI does and talks to the function `command` goes to (core/worker-client.ts `targetFor`).
 */
async function withWorker<T>(
  command: 'deploy' | 'status',
  flags: TargetFlags,
  run: (worker: Worker) => Promise<T>,
): Promise<T> {
  const resolved = await resolveTarget(flags);
  let worker: Worker;
  try {
    worker = connectWorker(targetFor(command, resolved.target));
  } catch (error) {
    await resolved.close();
    throw error;
  }
  try {
    return await run(worker);
  } finally {
    worker.close();
    await resolved.close();
  }
}
