import { remedyCommand } from '../../lambda/contract/index.js';

/**
 * The rollout report: one entry per target with its status, what was applied and what is still
 * pending, how long it took and why it failed. It is written to a file as the rollout goes
 * (report-file.ts), printed at the end (`--json`: as it is), and read back by `--resume`. The
 * functions here only change the value; nothing here does I/O.
 */

/**
 * `pending`: not started yet; `running`: its deploy was sent (a report left with `running`
 * entries belongs to a rollout that was killed); `skipped`: never started because the rollout
 * stopped (a failed canary, the failure budget spent).
 */
export type TargetStatus = 'pending' | 'running' | 'succeeded' | 'failed' | 'skipped';

export interface TargetEntry {
  name: string;
  /** How it is reached, redacted (targets.ts describeTarget). */
  via: string;
  stage: 'canary' | 'rest';
  status: TargetStatus;
  /** Migrations this run applied to it, in order. */
  applied: string[];
  /** Migrations still pending on it after its deploy (before it, while it has not run). */
  pending: string[];
  startedAt?: string;
  durationMs?: number;
  error?: { code: string; message: string; remedy?: string };
  /** Why it was skipped. */
  reason?: string;
  /** Succeeded in the report `--resume` read: not run again. */
  carried?: boolean;
}

export interface RolloutReport {
  command: 'rollout';
  /** The report file's own format, for `--resume` to check. */
  reportVersion: 1;
  targetsFile: string;
  migrationsDir: string;
  reportFile: string;
  startedAt: string;
  finishedAt?: string;
  /** The report this run resumed, if any. */
  resumedFrom?: string;
  concurrency: number;
  maxFailures: number;
  canary: string[];
  /** `running` until the end; `stopped`: a failed canary or the failure budget stopped it. */
  state: 'running' | 'succeeded' | 'failed' | 'stopped';
  targets: TargetEntry[];
  counts: Counts;
  durationMs: number;
  exitCode: 0 | 2;
  /**
   * When not every target is up to date: the command that continues; after a resumed run that carried targets over:
   * the status --targets that checks them (printed as the user runs it).
   */
  next?: string;
  /** Said before it started (a resumed report's targets no longer in the file, another folder). */
  warnings: string[];
  /** Why targets were left `skipped` (a failed canary, the failure budget, a signal). */
  stopReason?: string;
  /** A signal stopped it: the CLI exits with this code (130, 143) instead of 2. */
  interrupted?: { signal: 'SIGINT' | 'SIGTERM'; exitCode: 130 | 143 };
}

export type Counts = Record<TargetStatus, number>;

export function countStatuses(targets: readonly TargetEntry[]): Counts {
  const counts: Counts = { pending: 0, running: 0, succeeded: 0, failed: 0, skipped: 0 };
  for (const t of targets) counts[t.status]++;
  return counts;
}

/** The entry of `name` (the runner only asks for names it scheduled from the same list). */
export function entryOf(report: RolloutReport, name: string): TargetEntry {
  const entry = report.targets.find((t) => t.name === name);
  if (!entry) throw new Error(`no rollout entry named ${name}`);
  return entry;
}

/** Ends the report: every target not started is `skipped` with `reason` when the rollout stopped early. */
export function finish(report: RolloutReport, stoppedBecause: string | undefined, now: Date): RolloutReport {
  let skipped = false;
  for (const t of report.targets)
    if (t.status === 'pending' && stoppedBecause) {
      t.status = 'skipped';
      t.reason = stoppedBecause;
      skipped = true;
    }
  report.counts = countStatuses(report.targets);
  report.finishedAt = now.toISOString();
  report.durationMs = now.getTime() - Date.parse(report.startedAt);
  // Stopped only when it left targets out: a failure of the last target to start is just a failure.
  if (skipped && stoppedBecause) report.stopReason = stoppedBecause;
  report.state = report.stopReason ? 'stopped' : report.counts.failed > 0 ? 'failed' : 'succeeded';
  report.exitCode = report.state === 'succeeded' ? 0 : 2;
  const carried = report.targets.filter((t) => t.carried).length;
  // A carried target was not deployed again: migrations added since the resumed rollout are not on it.
  if (report.exitCode === 0 && carried > 0)
    report.next =
      `${carried} target(s) were carried over as succeeded in the resumed report, not deployed again: ` +
      `${remedyCommand('status', '--targets', report.targetsFile)} checks every target against the migrations now.`;
  if (report.exitCode !== 0)
    report.next =
      `${report.counts.failed > 0 ? 'Fix what failed, then run' : 'Continue with'} ` +
      `${remedyCommand('deploy', '--resume', report.reportFile)}: ` +
      'it runs only the targets that did not succeed, and each ledger decides what is still missing.';
  return report;
}
