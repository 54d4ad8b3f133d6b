/**
 * `deploy` (`pnpm migrate:remote`): discover → ledger → plan → apply in batches → verify.
 * Refuses before applying anything when the plan has a problem; stops at the first failure;
 * verifies afterwards that the ledger holds every local migration.
 */
import { randomUUID } from 'node:crypto';
import { ErrorCode } from '../../lambda/errors.js';
import type { ApplyOptions, MigrationPayload, MigrationResult, ServerFacts } from '../../lambda/protocol.js';
import { batchBySize, buildPayload } from '../batch.js';
import type { Worker } from '../invoke.js';
import { summarize, type Plan, type PlanOptions, type Problem } from '../plan.js';
import { loadParser, splitMigration } from '../split.js';
import { lintPending } from './lint.js';
import { loadState, planFor } from './local-state.js';

export interface DeployOptions extends PlanOptions {
  migrationsDir: string;
  apply?: ApplyOptions;
  /** Lint the pending migrations first and refuse on errors (default true; `--no-lint` sets false). */
  lint?: boolean;
  /** Progress lines for long runs (stderr in the CLI). */
  progress?: (line: string) => void;
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
}

export async function deploy(worker: Worker, opts: DeployOptions): Promise<DeployReport> {
  const started = Date.now();
  const progress = opts.progress ?? (() => undefined);
  const [state] = await Promise.all([loadState(worker, opts.migrationsDir, opts), loadParser()]);
  const before = state.plan;
  const report: DeployReport = {
    command: 'deploy',
    migrationsDir: opts.migrationsDir,
    server: state.ledger.server,
    summaryBefore: summarize(before),
    pending: before.pending,
    results: [],
    problems: before.problems,
    warnings: [...state.warnings],
    baselining: !state.ledger.tableExists && state.ledger.userTableCount > 0,
    verified: false,
    planBefore: before,
    invocations: 0,
    durationMs: 0,
    exitCode: 2,
  };
  const finish = () => {
    report.invocations = worker.invocations;
    report.durationMs = Date.now() - started;
    return report;
  };
  if (before.problems.length > 0) return finish();
  if (opts.lint !== false && before.pending.length > 0) {
    const linted = await lintPending(state.discovery.migrations, before.pending, { defaultSchema: state.ledger.server.schema });
    report.warnings.push(...linted.warnings);
    if (linted.problems.length > 0) {
      report.problems = [...report.problems, ...linted.problems];
      return finish();
    }
  }
  if (before.pending.length === 0) {
    report.verified = true;
    report.exitCode = 0;
    return finish();
  }

  const byName = new Map(state.discovery.migrations.map((m) => [m.name, m]));
  const payloads: MigrationPayload[] = before.pending.map((name) => {
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
    const batches = batchBySize(remaining);
    const batch = batches[0]!;
    round++;
    progress(`Applying ${batch.length} of ${remaining.length} pending migration(s) (request ${round}, ${batches.length} batch(es) left)…`);
    // One invocation may run for minutes: say it is still alive, for people and CI logs alike.
    const sent = Date.now();
    const heartbeat = setInterval(() => progress(`  … still applying (${Math.round((Date.now() - sent) / 1000)} s)`), 15_000);
    let result: Awaited<ReturnType<Worker['apply']>>;
    try {
      result = await worker.apply({ requestId: `${requestId}-${round}`, migrations: batch, ...(opts.apply ? { options: opts.apply } : {}) });
    } finally {
      clearInterval(heartbeat);
    }
    if (result.baselining) report.baselining = true;
    const finished = result.results.filter((r) => r.status !== 'not-started');
    report.results.push(...finished);
    const last = finished[finished.length - 1];
    if (last) progress(`  ${finished.length} done, last ${last.name}: ${last.status}`);
    if (result.stopped === 'failed' || result.stopped === 'blocked') break;
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
    report.problems.push({
      code: ErrorCode.SqlFailed,
      migration: failed.name,
      message: `Migration ${failed.name} failed${failed.error?.code ? ` (${failed.error.code})` : ''}: ${failed.error?.message ?? 'unknown error'}`,
      remedy:
        failed.mode === 'transactional'
          ? `Nothing of it was applied (it ran in one transaction) and the failure is recorded. Fix the SQL, then \`pnpm migrate:resolve --rolled-back ${failed.name}\` and deploy again.`
          : `It ran outside a transaction: ${failed.appliedSteps ?? 0} statement(s) completed. Check the database, then \`pnpm migrate:resolve --rolled-back ${failed.name}\` (to retry) or \`--applied ${failed.name}\`.`,
    });
  }

  // Verify: the ledger must now hold every local migration (the seed's after-check).
  const after = planFor(state.discovery, await worker.ledger(), opts);
  report.summaryAfter = summarize(after);
  report.verified = after.pending.length === 0 && after.failed.length === 0;
  if (!failed && report.problems.length === 0 && !report.verified) {
    report.problems.push({
      code: ErrorCode.VerifyFailed,
      migration: after.pending[0] ?? after.failed[0]?.name ?? '',
      message: `After deploy the ledger still lacks ${after.pending.length} local migration(s): ${after.pending.slice(0, 5).join(', ')}.`,
      remedy: 'Run `pnpm migrate:status` and look for a concurrent deploy or a manual change of _prisma_migrations.',
    });
  }
  report.exitCode = report.problems.length === 0 && report.verified ? 0 : 2;
  return finish();
}
