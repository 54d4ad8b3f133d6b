/**
 * `deploy --targets FILE`: the single-target deploy (commands/deploy.ts), run on every target of
 * the file in stages. Each target keeps every guarantee of a single deploy (its own lock, ledger,
 * lint, verification): the rollout only decides which target runs when, and records how it went.
 *
 * Reads top to bottom: plan the stages (plan.ts), write the first report, schedule (schedule.ts)
 * with each target's deploy through its worker (target-worker.ts), record each change, finish.
 */
import { MigrateError, redact } from '../../lambda/contract/index.js';
import type { Worker } from '../core/worker-client.js';
import type { Interruption } from '../interrupt.js';
import { openParseCache, type ParseCache } from '../project/parse-cache.js';
import { initialEntries, planStages, resumeWarnings, type StageOptions } from './plan.js';
import type { RolloutProgress } from './progress.js';
import { writeReport } from './report-file.js';
import { countStatuses, entryOf, finish, type RolloutReport, type TargetEntry } from './report.js';
import { schedule } from './schedule.js';
import { onTarget, type RolloutTarget, type TargetWorkers } from './targets.js';

/** What the rollout reads of a target's deploy report (commands/deploy.ts `DeployReport`). */
export interface DeployOutcome {
  exitCode: number;
  /** Pending when the deploy started. */
  pending: string[];
  results: { name: string; status: string }[];
  problems: { code: string; message: string; remedy: string }[];
}

/**
 * The single-target deploy with the command's flags (deploy.ts passes itself in, so the
 * rollout does not import the command that starts it), sharing the rollout's parse cache.
 */
export type DeployOne = (
  worker: Worker,
  parseCache: ParseCache,
  interrupted: () => { message: string; next: string } | undefined,
) => Promise<DeployOutcome>;

export interface RolloutOptions extends StageOptions {
  targets: readonly RolloutTarget[];
  targetsFile: string;
  reportFile: string;
  /** The report file `--resume` read (recorded in the new report). */
  resumedFrom?: string;
  concurrency: number;
  maxFailures: number;
  migrationsDir: string;
  deploy: DeployOne;
  workers: TargetWorkers;
  progress: RolloutProgress;
  /** A signal's interruption (scripts/interrupt.ts): no target starts after it, and deploys stop between batches. */
  interrupted?: () => Interruption | undefined;
  now?: () => Date;
}

export async function rollout(opts: RolloutOptions): Promise<RolloutReport> {
  const now = opts.now ?? (() => new Date());
  const plan = planStages(opts.targets, opts);
  const report: RolloutReport = {
    command: 'rollout',
    reportVersion: 1,
    targetsFile: opts.targetsFile,
    migrationsDir: opts.migrationsDir,
    reportFile: opts.reportFile,
    startedAt: now().toISOString(),
    ...(opts.resumedFrom ? { resumedFrom: opts.resumedFrom } : {}),
    concurrency: opts.concurrency,
    maxFailures: opts.maxFailures,
    canary: plan.canary.map((t) => t.name),
    warnings: resumeWarnings(plan, opts.resume, opts.migrationsDir),
    state: 'running',
    targets: initialEntries(plan),
    counts: countStatuses([]),
    durationMs: 0,
    exitCode: 2,
  };
  const record = (entry?: TargetEntry) => {
    report.counts = countStatuses(report.targets);
    writeReport(opts.reportFile, report);
    if (entry) opts.progress.changed(report, entry);
  };
  record();
  opts.progress.start(report);
  // One cache for every target: the canary's deploy splits and lints the files, the rest find them
  // (in memory when the project's cache file is off).
  const parseCache = await openParseCache({ inMemoryWhenOff: true });
  const interrupted = opts.interrupted ?? (() => undefined);
  const stopped = await schedule(plan.canary, plan.rest, {
    concurrency: opts.concurrency,
    maxFailures: opts.maxFailures,
    stopped: () => {
      const i = interrupted();
      return i ? `interrupted (${i.signal})` : undefined;
    },
    runOne: async (target) => {
      const entry = entryOf(report, target.name);
      entry.status = 'running';
      entry.startedAt = now().toISOString();
      record(entry);
      const started = Date.now();
      let ok = false;
      try {
        const result = await opts.workers.use(target, (worker) => opts.deploy(worker, parseCache, interrupted));
        ok = recordDeploy(entry, result, target);
      } catch (error) {
        entry.status = 'failed';
        entry.error = errorOf(error, target);
      }
      entry.durationMs = Date.now() - started;
      record(entry);
      return { ok };
    },
  });
  opts.progress.end();
  finish(report, stopped, now());
  const signal = interrupted();
  if (signal) report.interrupted = { signal: signal.signal, exitCode: signal.exitCode };
  writeReport(opts.reportFile, report);
  return report;
}

/** What a target's deploy report says, in its rollout entry; true when it succeeded. */
function recordDeploy(entry: TargetEntry, r: DeployOutcome, target: RolloutTarget): boolean {
  const done = r.results.filter((m) => m.status === 'applied' || m.status === 'reconciled').map((m) => m.name);
  const doneSet = new Set([...done, ...r.results.filter((m) => m.status === 'already-applied').map((m) => m.name)]);
  entry.applied = done;
  entry.pending = r.pending.filter((name) => !doneSet.has(name));
  entry.status = r.exitCode === 0 ? 'succeeded' : 'failed';
  const problem = r.problems[0];
  if (entry.status === 'failed')
    entry.error = problem
      ? { code: problem.code, message: redact(problem.message), remedy: onTarget(redact(problem.remedy), target) }
      : { code: 'VPCM_VERIFY_FAILED', message: 'The deploy did not verify.' };
  return entry.status === 'succeeded';
}

function errorOf(error: unknown, target: RolloutTarget): NonNullable<TargetEntry['error']> {
  if (error instanceof MigrateError)
    return { code: error.code, message: redact(error.message), remedy: onTarget(redact(error.remedy), target) };
  return { code: 'VPCM_INTERNAL', message: redact(String((error as Error)?.message ?? error)) };
}
