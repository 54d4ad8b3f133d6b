/**
 * `deploy` (`pnpm migrate:remote`): discover → ledger → plan → apply in batches → verify.
 * Refuses before applying anything when the plan has a problem; stops at the first failure;
 * verifies afterwards that the ledger holds every local migration.
 */
import { randomUUID } from 'node:crypto';
import {
  type ApplyOptions,
  ErrorCode,
  type MigrationFormat,
  type MigrationPayload,
  type MigrationResult,
  type ServerFacts,
} from '../../lambda/contract/index.js';
import { batchBySize, buildPayload } from '../batch.js';
import type { Worker } from '../invoke.js';
import { summarize, type Plan, type PlanOptions, type Problem } from '../plan.js';
import { loadParser, splitMigration } from '../split.js';
import { isDrizzleDiscovery } from '../drizzle/discover.js';
import { lintDrizzlePending } from '../drizzle/lint.js';
import { drizzleFailureRemedy, drizzlePayloads } from '../drizzle/state.js';
import { verificationOf } from '../format.js';
import { lintPending } from './lint.js';
import { ledgerFor, loadState, planFor } from './local-state.js';

export interface DeployOptions extends PlanOptions {
  migrationsDir: string;
  apply?: ApplyOptions;
  /** Lint the pending migrations first and refuse on errors (default true; `--no-lint` sets false). */
  lint?: boolean;
  /** Progress lines for long runs (stderr in the CLI). */
  progress?: (line: string) => void;
  /** Force the format (`--format`); default: detected (scripts/format.ts). */
  format?: MigrationFormat;
  /** Asked before each invocation: a signal's message stops the deploy there (scripts/interrupt.ts). */
  interrupted?: () => { message: string; next: string } | undefined;
}

export interface DeployReport {
  command: 'deploy';
  migrationsDir: string;
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
  const progress = opts.progress ?? (() => undefined);
  const [loaded] = await Promise.all([loadState(worker, opts.migrationsDir, opts), loadParser()]);
  const state = await settleInFlight(worker, opts, loaded);
  const before = state.plan;
  const report: DeployReport = {
    command: 'deploy',
    migrationsDir: opts.migrationsDir,
    server: state.ledger.server,
    summaryBefore: summarize(before),
    pending: before.pending,
    results: [],
    problems: before.problems,
    // A compatibility worker (--protocol run-sql) says what it cannot guarantee, every time.
    warnings: [...state.warnings, ...(worker.limitations ?? [])],
    baselining: !state.ledger.tableExists && state.ledger.userTableCount > 0,
    verified: false,
    planBefore: before,
    invocations: 0,
    durationMs: 0,
    exitCode: 2,
  };
  if (state.format) report.format = state.format;
  const finish = () => {
    report.invocations = worker.invocations;
    report.durationMs = Date.now() - started;
    return report;
  };
  if (before.problems.length > 0) return finish();
  if (opts.lint !== false && before.pending.length > 0) {
    const linted = isDrizzleDiscovery(state.discovery)
      ? await lintDrizzlePending(state.discovery, before.pending, { defaultSchema: state.ledger.server.schema })
      : await lintPending(state.discovery.migrations, before.pending, { defaultSchema: state.ledger.server.schema });
    report.warnings.push(...linted.warnings);
    if (linted.problems.length > 0) {
      report.problems = [...report.problems, ...linted.problems];
      return finish();
    }
  }
  if (before.pending.length === 0) {
    const check = verificationOf(before);
    if (check) report.verification = check.message;
    report.verified = true;
    report.exitCode = 0;
    return finish();
  }

  const byName = new Map(state.discovery.migrations.map((m) => [m.name, m]));
  const payloads: MigrationPayload[] = isDrizzleDiscovery(state.discovery) ? drizzlePayloads(state.discovery, before.pending, report.warnings) : before.pending.map((name) => {
    const m = byName.get(name)!;
    const split = splitMigration(m.sql);
    if (split.parseError) {
      report.warnings.push(
        `${name}/migration.sql:${split.parseError.line}:${split.parseError.column}: PostgreSQL's parser rejects it (${split.parseError.message}); it is sent whole and the database will report the error.`,
      );
    }
    return buildPayload(m, split);
  });

  let remaining = payloads;
  const requestId = randomUUID();
  let round = 0;
  while (remaining.length > 0) {
    const stop = opts.interrupted?.();
    if (stop) {
      report.problems.push({ code: ErrorCode.Interrupted, migration: remaining[0]!.name, message: `${stop.message} Not sent: ${remaining.length} migration(s), from ${remaining[0]!.name}.`, remedy: `${stop.next} Then deploy again for the rest.` });
      break;
    }
    const batches = batchBySize(remaining);
    const batch = batches[0]!;
    round++;
    progress(`Applying ${batch.length} of ${remaining.length} pending migration(s) (request ${round}, ${batches.length} batch(es) left)…`);
    // One invocation may run for minutes: say it is still alive, for people and CI logs alike.
    const sent = Date.now();
    const heartbeat = setInterval(() => progress(`  … still applying (${Math.round((Date.now() - sent) / 1000)} s)`), 15_000);
    let result: Awaited<ReturnType<Worker['apply']>>;
    try {
      result = await worker.apply({ requestId: `${requestId}-${round}`, migrations: batch, ...(opts.apply ? { options: opts.apply } : {}), ...(report.format ? { format: report.format } : {}) });
    } finally {
      clearInterval(heartbeat);
    }
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
        remedy: 'Deploy again once that deploy has finished: what was applied stays applied, the rest follows (`pnpm migrate:status` shows when the lock is free).',
      });
    }
    if (result.stopped === 'failed' || result.stopped === 'blocked' || finished.some((r) => r.status === 'failed')) break;
    const notStarted = new Set(result.results.filter((r) => r.status === 'not-started').map((r) => r.name));
    if (result.stopped === 'time-budget' && finished.length === 0) {
      report.problems.push({
        code: ErrorCode.InvokeTimeout,
        migration: batch[0]!.name,
        message: `The worker's time budget ran out before ${batch[0]!.name} could start.`,
        remedy: 'Raise the function timeout (at most 900 s) or split the migration; then run deploy again.',
      });
      break;
    }
    remaining = remaining.filter((p) => notStarted.has(p.name) || !batch.includes(p));
  }

  const failed = report.results.find((r) => r.status === 'failed');
  if (failed) {
    const special = report.format === 'drizzle' ? undefined : failureCause(failed);
    report.problems.push({
      code: ErrorCode.SqlFailed,
      migration: failed.name,
      message: special?.message ?? `Migration ${failed.name} failed${failed.error?.code ? ` (${failed.error.code})` : ''}: ${failed.error?.message ?? 'unknown error'}`,
      remedy: special ? special.remedy : report.format === 'drizzle' ? drizzleFailureRemedy(failed) :
        failed.failureRecorded === false
          ? unrecordedRemedy(failed)
          : failed.mode === 'transactional'
          ? `Nothing of it was applied (it ran in one transaction) and the failure is recorded. Fix the SQL, then \`pnpm migrate:resolve --rolled-back ${failed.name}\` and deploy again.`
          : `It ran outside a transaction: ${failed.appliedSteps ?? 0} statement(s) completed. Check the database, then \`pnpm migrate:resolve --rolled-back ${failed.name}\` (to retry) or \`--applied ${failed.name}\`.`,
    });
  }

  // Verify: the ledger must now hold every local migration (the seed's after-check).
  const after = planFor(state.discovery, await ledgerFor(worker, state.discovery), opts);
  report.summaryAfter = summarize(after);
  report.verified = after.pending.length === 0 && after.failed.length === 0;
  const check = verificationOf(after);
  if (check) {
    report.verification = check.message;
    if (!check.ok) report.verified = false;
  }
  if (!failed && report.problems.length === 0 && !report.verified) {
    report.problems.push({
      code: ErrorCode.VerifyFailed,
      migration: after.pending[0] ?? after.failed[0]?.name ?? '',
      message: check && !check.ok ? check.message : `After deploy the ledger still lacks ${after.pending.length} local migration(s): ${after.pending.slice(0, 5).join(', ')}.`,
      remedy: `Run \`pnpm migrate:status\` and look for a concurrent deploy or a manual change of ${report.format === 'drizzle' ? 'drizzle.__drizzle_migrations' : '_prisma_migrations'}.`,
    });
  }
  report.exitCode = report.problems.length === 0 && report.verified ? 0 : 2;
  return finish();
}

/** The remedy when the worker could not write the failed row: there is nothing to resolve. */
function unrecordedRemedy(r: MigrationResult): string {
  if (r.mode === 'transactional') return `Nothing of it was applied (it ran in one transaction) and the failure could not be recorded (see the hint), so there is nothing to resolve: fix the cause and deploy again.`;
  if (r.mode === 'script') return `${r.appliedSteps ?? 0} statement(s) ran (its own committed blocks stay), and the failure could not be recorded (see the hint): its row stays unfinished. Check the database, then \`pnpm migrate:resolve --rolled-back ${r.name}\` (to retry) or \`--applied ${r.name}\`.`;
  return `${r.appliedSteps ?? 0} statement(s) completed, and the failure could not be recorded (see the hint): the row still says it was interrupted, so the next deploy resumes after them once the cause is fixed. Run \`pnpm migrate:status\` to check.`;
}

/** SQLSTATEs (and pg client messages) of a lost database connection: not the SQL's fault. */
const CONNECTION_LOST = /^(57P0[123]|08...)$/;

/**
 * Failures whose cause is not the SQL: the worker's time budget (statement_timeout lowered to
 * the function's remaining time) and a lost connection. They need another message and remedy.
 */
function failureCause(r: MigrationResult): { message: string; remedy: string } | undefined {
  const e = r.error;
  const done = r.mode === 'transactional' ? 'Nothing of it was applied (it ran in one transaction)' : `It ran outside a transaction; ${r.appliedSteps ?? 0} statement(s) completed`;
  if (r.timeBudgetExhausted) {
    return {
      message:
        `Migration ${r.name} ran out of the worker's time budget: statement_timeout (${r.statementTimeoutMs ?? '?'} ms, the function's remaining time minus a safety margin) ` +
        `stopped it${e?.line ? ` at migration.sql line ${e.line}` : ''} (57014) before Lambda's function timeout could kill the worker.`,
      remedy:
        r.failureRecorded === false
          ? `${done}; the failure could not be recorded, so no resolve is needed. Raise the function timeout (at most 900 s), or make the migration fit, then deploy again.`
          : `${done} and the failure is recorded. Raise the function timeout (at most 900 s), or make the migration fit (split it, move a long data change to a backfill), ` +
            `then run \`pnpm migrate:resolve --rolled-back ${r.name}\` and deploy again.`,
    };
  }
  if (e?.code === '55P03' && /blocked waiting for the migration lock/.test(e.message)) {
    return {
      message: e.message,
      remedy: `Nothing of that statement ran; ${r.appliedSteps ?? 0} statement(s) before it are recorded in applied_steps_count. Deploy again once that deploy has finished: it resumes there.`,
    };
  }
  if (e && (CONNECTION_LOST.test(e.code ?? '') || (!e.code && /connection|terminated/i.test(e.message)))) {
    return {
      message: `Migration ${r.name} lost its database connection while it ran${e.code ? ` (${e.code})` : ''}: ${e.message}`,
      remedy:
        r.mode === 'transactional'
          ? 'Nothing of it was committed (it ran in one transaction). Deploy again once the database accepts connections: it runs from the start.'
          : r.mode === 'non-transactional'
            ? `${done}, each recorded in applied_steps_count. Deploy again once the database accepts connections: it resumes after the last completed statement.`
            : `${done}. Check the database, then \`pnpm migrate:resolve --rolled-back ${r.name}\` (to retry) or \`--applied ${r.name}\`.`,
    };
  }
  return undefined;
}

/**
 * The ledger is read without the migration lock, so a row with `finished_at` NULL may be a
 * migration another deployer (`prisma migrate deploy`, another CLI) is running right now, not a
 * failure. Before refusing with P3009: read once more, and while the lock is held, wait (up to
 * the lock wait) for the ledger to settle.
 */
async function settleInFlight(worker: Worker, opts: DeployOptions, first: Awaited<ReturnType<typeof loadState>>): Promise<Awaited<ReturnType<typeof loadState>>> {
  const deadline = Date.now() + (opts.apply?.lockWaitMs ?? 10_000);
  let state = first;
  for (let again = 0; state.plan.failed.some((f) => !f.resumable) && (again === 0 || state.ledger.server.lockHolder) && Date.now() < deadline; again++) {
    await new Promise((resolve) => setTimeout(resolve, again === 0 ? 100 : 500));
    state = await loadState(worker, opts.migrationsDir, opts);
  }
  return state;
}
