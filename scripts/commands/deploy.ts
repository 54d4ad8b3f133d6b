/**
 * `deploy` (`vpc-migrate deploy`): discover → ledger → plan → lint → apply in batches → verify.
 * Refuses before applying anything when the plan has a problem; stops at the first failure;
 * verifies afterwards that the ledger holds every local migration. The format says how each step
 * reads for Prisma or Drizzle; applyBatches below sends the migrations to the worker.
 */
import { randomUUID } from 'node:crypto';
import {
  type ApplyOptions,
  type ApplyResult,
  ErrorCode,
  LAMBDA_MAX_TIMEOUT_SECONDS,
  type LedgerResult,
  MigrateError,
  type MigrationFormat,
  type MigrationPayload,
  type MigrationResult,
  type ServerFacts,
} from '../../lambda/contract/index.js';
import { summarize, type Plan, type PlanOptions, type Problem } from '../core/plan.js';
import { sendInBatches } from '../core/send-in-batches.js';
import { sqlParser } from '../core/sql-parser.js';
import { timed } from '../core/timings.js';
import type { Worker } from '../core/worker-client.js';
import { loadState, type State } from '../formats/select.js';
import { givenLocation, type MigrationsLocation } from '../project/migrations-dir.js';
import { openParseCache, type ParseCache } from '../project/parse-cache.js';
import type { RolloutReport } from '../rollout/report.js';
import { type CommandOutput, defineCommand } from './command.js';
import { ROLLOUT_HELP, ROLLOUT_OPTIONS, wantsTargets } from '../rollout/flags.js';
import { APPLY_OPTIONS, applyOptionsFrom, formatFlag, migrationsFlag } from './flags.js';

export interface DeployOptions extends PlanOptions {
  migrationsDir: string;
  /** Where `migrationsDir` came from (the CLI's lookup); default: given by the caller. */
  location?: MigrationsLocation;
  apply?: ApplyOptions;
  /** Lint the pending migrations first and refuse on errors (default true; `--no-lint` sets false). */
  lint?: boolean;
  /** Progress lines for long runs (stderr in the CLI). */
  progress?: (line: string) => void;
  /** Force the format (`--format`); default: detected (formats/select.ts). */
  format?: MigrationFormat;
  /** Asked before each invocation: a signal's message stops the deploy there (scripts/interrupt.ts). */
  interrupted?: () => { message: string; next: string } | undefined;
  /**
   * The parse cache to use instead of opening the project's: a rollout shares one across its
   * targets, so the migrations are split and linted once, not once per database.
   */
  parseCache?: ParseCache;
}

export interface DeployReport {
  command: 'deploy';
  migrationsDir: string;
  /** The folder (absolute) and where it came from: `--migrations`, a config file, the default. */
  migrations: MigrationsLocation;
  server: ServerFacts;
  summaryBefore: string;
  /** Pending migrations when deploy started, in order. */
  pending: string[];
  results: MigrationResult[];
  problems: Problem[];
  warnings: string[];
  baselining: boolean;
  /** The ledger was read again after applying and holds every local migration. */
  verified: boolean;
  summaryAfter?: string;
  planBefore: Plan;
  invocations: number;
  durationMs: number;
  exitCode: 0 | 2;
  /** Set for a Drizzle journal (absent: Prisma). */
  format?: MigrationFormat;
  /** The format's own verification line (Drizzle: "Verified: database has all N migrations."). */
  verification?: string;
}

export async function deploy(worker: Worker, opts: DeployOptions): Promise<DeployReport> {
  const started = Date.now();
  const migrations = givenLocation(opts.migrationsDir, opts.location);
  // The parse cache is read while the folder and the ledger are; the SQL parser loads only for
  // what the cache does not hold (nothing pending, or a warm cache: never).
  const [loaded, cache] = await Promise.all([
    loadState(worker, migrations.dir, opts),
    opts.parseCache ??
      openParseCache({ onWriteError: (e) => opts.progress?.(`Parse cache not written (${String(e)}).`) }),
  ]);
  const parser = () => timed('parser', () => sqlParser());
  const state = await settleInFlight(worker, { ...opts, migrationsDir: migrations.dir }, loaded);
  const { format } = state;
  const before = state.plan;
  const report: DeployReport = {
    command: 'deploy',
    migrationsDir: migrations.dir,
    migrations,
    server: state.ledger.server,
    summaryBefore: summarize(before),
    pending: before.pending,
    results: [],
    problems: before.problems,
    // A compatibility worker (--protocol run-sql) says what it cannot guarantee, every time.
    warnings: [...state.warnings, ...(worker.limitations ?? [])],
    // Prisma refuses such a schema (P3005) unless told --baseline; the worker decides, under the lock.
    baselining:
      !state.ledger.tableExists &&
      state.ledger.userTableCount > 0 &&
      (format.wire === 'drizzle' || opts.apply?.baseline === true),
    verified: false,
    planBefore: before,
    invocations: 0,
    durationMs: 0,
    exitCode: 2,
  };
  if (format.wire) report.format = format.wire;
  const finish = () => {
    report.invocations = worker.invocations;
    report.durationMs = Date.now() - started;
    return report;
  };
  if (before.problems.length > 0) return finish();
  if (opts.lint !== false && before.pending.length > 0) {
    const lintOptions = { defaultSchema: state.ledger.server.schema, cache };
    const linted = await timed('lint', () => format.lintPending(parser, state.discovery, before.pending, lintOptions));
    report.warnings.push(...linted.warnings);
    if (linted.problems.length > 0) {
      report.problems = [...report.problems, ...linted.problems];
      await cache.save();
      return finish();
    }
  }
  if (before.pending.length === 0) {
    const check = format.verify(before);
    if (check) report.verification = check.message;
    report.verified = true;
    report.exitCode = 0;
    return finish();
  }

  const payloads = await timed('split', async () => {
    const built = await format.payloads(parser, state.discovery, before.pending, report.warnings, cache);
    await cache.save();
    return built;
  });
  const ledgerAfter = await applyBatches(worker, payloads, report, opts);

  const failed = report.results.find((r) => r.status === 'failed');
  if (failed) {
    const said = format.failure(failed);
    report.problems.push({
      code: ErrorCode.SqlFailed,
      migration: failed.name,
      message:
        said.message ??
        `Migration ${failed.name} failed${failed.error?.code ? ` (${failed.error.code})` : ''}: ` +
          `${failed.error?.message ?? 'unknown error'}`,
      remedy: said.remedy,
    });
  }

  // Verify: the ledger must now hold every local migration (the seed's after-check). The last
  // batch's answer carries the ledger as it left it; without it (too large, an older worker, the
  // run-sql protocol, a batch that did not answer) it is read with an Invoke of its own.
  const after = await timed('verify', async () =>
    format.plan(state.discovery, ledgerAfter ?? (await format.readLedger(worker)), opts),
  );
  report.summaryAfter = summarize(after);
  report.verified = after.pending.length === 0 && after.failed.length === 0;
  const check = format.verify(after);
  if (check) {
    report.verification = check.message;
    if (!check.ok) report.verified = false;
  }
  if (!failed && report.problems.length === 0 && !report.verified) {
    report.problems.push({
      code: ErrorCode.VerifyFailed,
      migration: after.pending[0] ?? after.failed[0]?.name ?? '',
      message:
        check && !check.ok
          ? check.message
          : `After deploy the ledger still lacks ${after.pending.length} ` +
            `local migration(s): ${after.pending.slice(0, 5).join(', ')}.`,
      remedy:
        `Run \`vpc-migrate status\` and look for a concurrent ` + `deploy or a manual change of ${format.ledgerTable}.`,
    });
  }
  report.exitCode = report.problems.length === 0 && report.verified ? 0 : 2;
  return finish();
}

/**
 * The ledger is read without the migration lock, so a row with `finished_at` NULL may be a
 * migration another deployer (`prisma migrate deploy`, another CLI) is running right now, not a
 * failure. Before refusing with P3009: read once more, and while the lock is held, wait (up to
 * the lock wait) for the ledger to settle.
 */
async function settleInFlight(worker: Worker, opts: DeployOptions, first: State): Promise<State> {
  const deadline = Date.now() + (opts.apply?.lockWaitMs ?? 10_000);
  let state = first;
  for (
    let again = 0;
    state.plan.failed.some((f) => !f.resumable) &&
    (again === 0 || state.ledger.server.lockHolder) &&
    Date.now() < deadline;
    again++
  ) {
    await new Promise((resolve) => setTimeout(resolve, again === 0 ? 100 : 500));
    state = await loadState(worker, opts.migrationsDir, opts);
  }
  return state;
}

/**
 * The sending (scripts/core/send-in-batches.ts): the payloads in as few Invoke requests as fit,
 * one request at a time, stopping at the first failure, a lock held by another deploy, an
 * exhausted time budget or a signal. What the worker reports is added to the report as it arrives.
 * Answers the ledger as the last batch sent left it, when that batch's answer carried it.
 */
async function applyBatches(
  worker: Worker,
  payloads: MigrationPayload[],
  report: DeployReport,
  opts: DeployOptions,
): Promise<LedgerResult | undefined> {
  const progress = opts.progress ?? (() => undefined);
  const requestId = randomUUID();
  let ledgerAfter: LedgerResult | undefined;
  await sendInBatches(payloads, {
    interrupted: opts.interrupted,
    onInterrupt: (stop, remaining) =>
      report.problems.push({
        code: ErrorCode.Interrupted,
        migration: remaining[0]!.name,
        message: `${stop.message} Not sent: ${remaining.length} migration(s), from ${remaining[0]!.name}.`,
        remedy: `${stop.next} Then deploy again for the rest.`,
      }),
    send: async (batch, round, left) => {
      progress(
        `Applying ${batch.length} of ${left.migrations} pending ` +
          `migration(s) (request ${round}, ${left.batches} batch(es) ` +
          `left)…`,
      );
      // One invocation may run for minutes: say it is still alive, for people and CI logs alike.
      const sent = Date.now();
      const heartbeat = setInterval(
        () => progress(`  … still applying (${Math.round((Date.now() - sent) / 1000)} s)`),
        15_000,
      );
      let result: ApplyResult;
      ledgerAfter = undefined;
      try {
        // One Lambda Invoke; no import shows where it lands: lambda/handler.ts answers it.
        result = await worker.apply({
          requestId: `${requestId}-${round}`,
          migrations: batch,
          ...(opts.apply ? { options: opts.apply } : {}),
          ...(report.format ? { format: report.format } : {}),
        });
      } catch (error) {
        // Prisma's P3005 (lambda/schema-not-empty.ts): a refusal of the deploy, reported as its problem.
        if (!(error instanceof MigrateError && error.code === ErrorCode.SchemaNotEmpty)) throw error;
        report.problems.push({
          code: error.code,
          migration: batch[0]!.name,
          message: error.message,
          remedy: error.remedy,
        });
        return undefined;
      } finally {
        clearInterval(heartbeat);
      }
      ledgerAfter = result.ledgerAfter;
      if (result.baselining) report.baselining = true;
      const finished = result.results.filter((r) => r.status !== 'not-started');
      report.results.push(...finished);
      const last = finished[finished.length - 1];
      if (last) progress(`  ${finished.length} done, last ${last.name}: ${last.status}`);
      // A failed migration ends the deploy, whatever stopped the batch (a time-budget failure too):
      // the next batch would only meet its failed row (P3009).
      if (result.stopped === 'blocked' && result.stoppedBecause) {
        report.problems.push({
          code: ErrorCode.LockTimeout,
          migration: result.results.find((r) => r.status === 'not-started')?.name ?? batch[0]!.name,
          message: result.stoppedBecause,
          remedy:
            'Deploy again once that deploy has finished: what was ' +
            'applied stays applied, the rest follows (`vpc-migrate ' +
            'status` shows when the lock is free).',
        });
      }
      if (result.stopped === 'failed' || result.stopped === 'blocked' || finished.some((r) => r.status === 'failed'))
        return undefined;
      if (result.stopped === 'time-budget' && finished.length === 0) {
        report.problems.push({
          code: ErrorCode.InvokeTimeout,
          migration: batch[0]!.name,
          message: `The worker's time budget ran out before ${batch[0]!.name} could start.`,
          remedy:
            `Raise the function timeout (at most ${LAMBDA_MAX_TIMEOUT_SECONDS} ` +
            `s) or split the migration; then run deploy again.`,
        });
        return undefined;
      }
      return result.results;
    },
  });
  return ledgerAfter;
}

export const deployCommand = defineCommand({
  usage: `vpc-migrate deploy [options]
Applies every pending migration in order, then verifies the ledger.
  --allow-out-of-order    apply folders older than the newest applied one (still reported)
  --allow-modified        accept applied migrations whose file changed (still reported)
  --lock-wait SEC         wait this long for another deploy to finish, 0 to 3600 (default 10)
  --lock-timeout MS       PostgreSQL lock_timeout for migration statements, 0 to 3600000 (default 0: none)
  --statement-timeout MS  cap for each statement, 0 to 3600000 (default 0: the function's remaining time;
                          always below it)
  --no-reconcile          treat "already exists" as a failure instead of reconciling
  --baseline              deploy into a schema that holds tables but no ledger, reconciling what already
                          exists (without it such a deploy is refused, as Prisma's P3005; or record
                          what exists with vpc-migrate baseline --up-to NAME)
  --no-lint               skip the lint of pending migrations (by default lint errors refuse the deploy)
Exit codes: 0 applied or up to date, 2 problem (nothing or not everything applied).
${ROLLOUT_HELP}
  With --targets: exit 0 every target up to date, 2 any target failed or the rollout stopped.`,
  positionals: 0,
  options: {
    'allow-out-of-order': { type: 'boolean' },
    'allow-modified': { type: 'boolean' },
    ...APPLY_OPTIONS,
    baseline: { type: 'boolean' },
    'no-lint': { type: 'boolean' },
    ...ROLLOUT_OPTIONS,
  },
  // With --targets each target gets its own worker (scripts/rollout/target-worker.ts).
  needsWorker: (values) => !wantsTargets(values),
  async run({
    values,
    worker,
    progress,
    interrupted,
    targetWorkers,
  }): Promise<CommandOutput<DeployReport | RolloutReport>> {
    const apply = applyOptionsFrom(values);
    if (values.baseline === true) apply.baseline = true;
    const location = await migrationsFlag(values);
    const format = formatFlag(values.format);
    const each = {
      migrationsDir: location.dir,
      location,
      allowOutOfOrder: values['allow-out-of-order'] === true,
      allowModified: values['allow-modified'] === true,
      lint: values['no-lint'] !== true,
      apply,
      ...(format ? { format } : {}),
    };
    if (wantsTargets(values)) {
      // Every target's deploy is this one, with these flags, sharing the rollout's parse cache.
      const report = await (await import('../rollout/commands.js')).deployTargets(values, {
        migrationsDir: location.dir,
        run: (w, parseCache, stop) => deploy(w, { ...each, parseCache, interrupted: stop }),
        targetWorkers,
        say: progress,
      });
      return { exitCode: report.interrupted?.exitCode ?? report.exitCode, report };
    }
    const report = await deploy(worker, {
      ...each,
      progress,
      ...(interrupted ? { interrupted } : {}),
    });
    return { exitCode: report.exitCode, report };
  },
});
