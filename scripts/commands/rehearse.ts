/**
 * `rehearse` (`pnpm migrate:rehearse`): for staging rehearsals. The pending migrations (the
 * deploy plan) run in ONE transaction on the target, each measured — duration, locks, rows
 * touched, error — and then everything is rolled back. Nothing is recorded in the ledger.
 */
import { randomUUID } from 'node:crypto';
import {
  type ApplyOptions,
  ErrorCode,
  MigrateError,
  type MigrationFormat,
  type RehearsalResult,
  type RehearseEvent,
  type RehearseResult,
  type ServerFacts,
} from '../../lambda/contract/index.js';
import { batchBySize, BATCH_BYTES, formatBytes, splitPayloads } from '../core/payloads.js';
import { summarize, type PlanOptions, type Problem } from '../core/plan.js';
import { sqlParser } from '../core/sql-parser.js';
import type { Request, Worker } from '../core/worker-client.js';
import { loadState } from '../formats/select.js';
import { givenLocation, type MigrationsLocation } from '../project/migrations-dir.js';
import { defineCommand } from './command.js';
import { APPLY_OPTIONS, applyOptionsFrom, formatFlag, migrationsFlag, usageError } from './flags.js';

export interface RehearseOptions extends PlanOptions {
  migrationsDir: string;
  /** Where `migrationsDir` came from (the CLI's lookup); default: given by the caller. */
  location?: MigrationsLocation;
  options?: ApplyOptions;
  /** Rehearse the pending migrations up to and including this one. */
  to?: string;
  /** `prisma` or `drizzle`; default: detected from the folder. */
  format?: MigrationFormat;
  progress?: (line: string) => void;
}

export interface RehearseReport {
  command: 'rehearse';
  migrationsDir: string;
  /** The folder (absolute) and where it came from: `--migrations`, a config file, the default. */
  migrations: MigrationsLocation;
  server: ServerFacts;
  summary: string;
  /** The migrations rehearsed, in order. */
  pending: string[];
  /** What deploy would refuse on (reported; the rehearsal still runs). */
  problems: Problem[];
  warnings: string[];
  result?: RehearseResult;
  counts: Record<RehearsalResult['status'], number>;
  invocations: number;
  durationMs: number;
  exitCode: 0 | 2;
}

export async function rehearseMigrations(worker: Worker, opts: RehearseOptions): Promise<RehearseReport> {
  const started = Date.now();
  const migrations = givenLocation(opts.migrationsDir, opts.location);
  const [state, parser] = await Promise.all([loadState(worker, migrations.dir, opts), sqlParser()]);
  let pending = state.plan.pending;
  if (opts.to !== undefined) {
    const at = pending.indexOf(opts.to);
    if (at === -1)
      throw usageError(
        `--to ${opts.to} is not a pending migration.`,
        `Pending: ${pending.slice(0, 5).join(', ') || 'none'}${pending.length > 5 ? ', …' : ''}.`,
      );
    pending = pending.slice(0, at + 1);
  }
  const report: RehearseReport = {
    command: 'rehearse',
    migrationsDir: migrations.dir,
    migrations,
    server: state.ledger.server,
    summary: summarize(state.plan),
    pending,
    problems: state.plan.problems,
    warnings: [...state.warnings],
    counts: {
      rehearsed: 0,
      partial: 0,
      failed: 0,
      'shared-transaction': 0,
      'not-rehearsable': 0,
      'already-applied': 0,
      'not-started': 0,
    },
    invocations: 0,
    durationMs: 0,
    exitCode: 2,
  };
  if (pending.length > 0) {
    const payloads = splitPayloads(parser, state.discovery.migrations, pending, (name, e) =>
      report.warnings.push(
        `${name}/migration.sql:${e.line}:${e.column}: PostgreSQL's parser rejects it (${e.message}); it is sent whole.`,
      ),
    );
    if (batchBySize(payloads).length > 1) {
      throw new MigrateError(
        ErrorCode.PayloadTooLarge,
        `The ${pending.length} pending migrations do not fit ` +
          `one Invoke request (${formatBytes(BATCH_BYTES)}), and ` +
          `a rehearsal runs them in one transaction.`,
        `Rehearse the first part with --to NAME (e.g. --to ` +
          `${pending[Math.floor(pending.length / 2)]}), deploy ` +
          `it, then rehearse the rest.`,
      );
    }
    opts.progress?.(`Rehearsing ${pending.length} pending migration(s) in one transaction (rolled back at the end)…`);
    const event: Request<RehearseEvent> = { requestId: randomUUID(), migrations: payloads };
    if (opts.options && Object.keys(opts.options).length > 0) event.options = opts.options;
    const result = await worker.rehearse(event);
    report.result = result;
    for (const r of result.results) report.counts[r.status]++;
  }
  const broken = report.counts.failed > 0 || report.counts['not-started'] > 0;
  report.exitCode = broken || report.problems.length > 0 ? 2 : 0;
  report.invocations = worker.invocations;
  report.durationMs = Date.now() - started;
  return report;
}

export const rehearseCommand = defineCommand({
  usage: `vpc-migrate rehearse [options]
For staging: runs every pending migration inside ONE transaction on the target, measures each
(duration, locks taken from pg_locks, rows touched, error), then rolls everything back. Nothing is
recorded, the ledger is not created. Statements that cannot run in a transaction
(CREATE INDEX CONCURRENTLY, VACUUM, ...) are listed as not rehearsed; a refusal caused only by the
shared transaction (a new enum value used by a later pending file) is reported as such.
  --to NAME               rehearse the pending migrations up to and including NAME
  --lock-wait SEC         wait this long for a running deploy to release the lock, 0 to 3600 (default 10)
  --lock-timeout MS       PostgreSQL lock_timeout for the statements, 0 to 3600000 (default 0: none, as deploy)
  --statement-timeout MS  cap for each statement, 0 to 3600000 (default 0: the function's remaining time;
                          always below it)
  --no-reconcile          treat "already exists" as a failure instead of skipping as deploy does
Exit codes: 0 every pending migration rehearsed without error (or nothing pending), 2 a migration
failed, the time budget ran out, deploy would refuse (failed/modified/out-of-order), or worker error.`,
  positionals: 0,
  options: {
    to: { type: 'string' },
    ...APPLY_OPTIONS,
  },
  needsWorker: true,
  async run({ values, positionals, worker, progress }) {
    if (positionals.length > 0)
      throw usageError(`Unexpected argument ${positionals[0]}.`, 'Run `vpc-migrate rehearse --help`.');
    const location = await migrationsFlag(values);
    const opts: RehearseOptions = {
      migrationsDir: location.dir,
      location,
      options: applyOptionsFrom(values),
      progress,
    };
    const to = values.to;
    if (to !== undefined) opts.to = to;
    const format = formatFlag(values.format);
    if (format !== undefined) opts.format = format;
    const report = await rehearseMigrations(worker, opts);
    return { exitCode: report.exitCode, report };
  },
});
