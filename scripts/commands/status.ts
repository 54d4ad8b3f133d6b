/**
 * `status` (`pnpm migrate:status`): the deploy plan without applying anything. Its exit code
 * is part of the interface: 0 up to date, 1 pending, 2 problem.
 */
import { type MigrationFormat, remedyCommand, type ServerFacts } from '../../lambda/contract/index.js';
import { summarize, type Plan, type PlanOptions } from '../core/plan.js';
import { type AnsweredBy, answeredBy, type Worker } from '../core/worker-client.js';
import type { LedgerCounts } from '../formats/format.js';
import { loadState } from '../formats/select.js';
import { givenLocation, type MigrationsLocation } from '../project/migrations-dir.js';
import type { StatusMatrixReport } from '../rollout/status-matrix.js';
import { type CommandOutput, defineCommand } from './command.js';
import { TARGETS_HELP, TARGETS_OPTIONS, wantsTargets } from '../rollout/flags.js';
import { formatFlag, migrationsFlag } from './flags.js';

export interface StatusReport {
  command: 'status';
  migrationsDir: string;
  /** The folder (absolute) and where it came from: `--migrations`, a config file, the default. */
  migrations: MigrationsLocation;
  server: ServerFacts;
  ledgerTableExists: boolean;
  summary: string;
  plan: Plan;
  warnings: string[];
  invocations: number;
  durationMs: number;
  exitCode: 0 | 1 | 2;
  /** With pending migrations: the deploy command that applies them (printed as the user runs it). */
  next?: string;
  /** Set for a Drizzle journal (absent: Prisma). */
  format?: MigrationFormat;
  /** Drizzle: the seed's counts for CI (rows in the database, journal entries, pending). */
  counts?: LedgerCounts;
  /** Which function answered, when a reader function was known (status goes to it). */
  function?: AnsweredBy;
}

export async function status(
  worker: Worker,
  opts: { migrationsDir: string; location?: MigrationsLocation; format?: MigrationFormat } & PlanOptions,
): Promise<StatusReport> {
  const started = Date.now();
  const migrations = givenLocation(opts.migrationsDir, opts.location);
  const state = await loadState(worker, migrations.dir, opts);
  const p = state.plan;
  const counts = state.format.counts(p);
  const exitCode = p.state === 'problem' ? 2 : p.state === 'pending' ? 1 : 0;
  const by = answeredBy(worker);
  return {
    command: 'status',
    migrationsDir: migrations.dir,
    migrations,
    server: state.ledger.server,
    ledgerTableExists: state.ledger.tableExists,
    summary: summarize(p),
    plan: p,
    warnings: state.warnings,
    invocations: worker.invocations,
    durationMs: Date.now() - started,
    exitCode,
    ...(exitCode === 1
      ? { next: `Run ${remedyCommand('deploy')} to apply ${p.pending.length} pending migration(s).` }
      : {}),
    ...(state.format.wire ? { format: state.format.wire } : {}),
    ...(counts ? { counts } : {}),
    ...(by ? { function: by } : {}),
  };
}

export const statusCommand = defineCommand({
  usage: `vpc-migrate status [options]
Shows applied, pending, failed, modified, missing-locally and out-of-order migrations. Only reads
the ledger: it asks the reader function when one is known (--reader-function, VPC_MIGRATE_READER_FUNCTION,
the stack's output, --local's own).
Exit codes: 0 up to date, 1 pending migrations,
            2 problem (failed, modified, missing locally, out of order, worker error).
${TARGETS_HELP}
  With --targets: a matrix of the targets; the exit code is the worst target's (0, 1 or 2 as above).`,
  positionals: 0,
  options: { ...TARGETS_OPTIONS },
  needsWorker: (values) => !wantsTargets(values),
  async run({ values, worker, targetWorkers }): Promise<CommandOutput<StatusReport | StatusMatrixReport>> {
    const location = await migrationsFlag(values);
    const format = formatFlag(values.format);
    if (wantsTargets(values)) {
      const report = await (await import('../rollout/commands.js')).statusTargets(values, {
        migrationsDir: location.dir,
        run: (w) => status(w, { migrationsDir: location.dir, location, format }),
        targetWorkers,
      });
      return { exitCode: report.exitCode, report };
    }
    const report = await status(worker, { migrationsDir: location.dir, location, format });
    return { exitCode: report.exitCode, report };
  },
});
