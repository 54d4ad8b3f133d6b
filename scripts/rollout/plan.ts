/**
 * Which targets a rollout runs, and in which stage: pure functions of the targets file, the
 * flags and (with `--resume`) the earlier report.
 */
import { ErrorCode, MigrateError } from '../../lambda/contract/index.js';
import type { RolloutReport, TargetEntry } from './report.js';
import { describeTarget, type RolloutTarget } from './targets.js';

export interface StagePlan {
  /** Run first, all of them; any failure stops the rollout. */
  canary: RolloutTarget[];
  /** Run after the canary, `--concurrency` at a time. */
  rest: RolloutTarget[];
  /** Succeeded in the resumed report: carried over, not run. */
  carried: TargetEntry[];
  /** Named by the resumed report, no longer in the targets file: left out. */
  dropped: string[];
}

export interface StageOptions {
  /** `--canary N`: how many targets form the canary stage (from the top of the file). */
  canary: number;
  /** `--canary-target NAME`: these instead (any number). */
  canaryTargets?: readonly string[];
  /** `--resume`: the report of the run to continue. */
  resume?: RolloutReport;
}

/**
 * The stages. A resumed rollout runs only the targets that did not succeed (failed, running when
 * the CLI died, skipped, never started, or new in the file), and its canary comes from those.
 */
export function planStages(targets: readonly RolloutTarget[], opts: StageOptions): StagePlan {
  const done = new Map<string, TargetEntry>();
  for (const t of opts.resume?.targets ?? []) if (t.status === 'succeeded') done.set(t.name, t);
  const carried = targets.flatMap((t) => {
    const entry = done.get(t.name);
    return entry ? [{ ...entry, carried: true }] : [];
  });
  const toRun = targets.filter((t) => !done.has(t.name));
  const dropped = (opts.resume?.targets ?? []).map((t) => t.name).filter((n) => !targets.some((t) => t.name === n));
  const named = opts.canaryTargets ?? [];
  if (named.length > 0) {
    const unknown = named.filter((n) => !targets.some((t) => t.name === n));
    if (unknown.length > 0)
      throw new MigrateError(
        ErrorCode.UsageError,
        `--canary-target names no target of the file: ${unknown.join(', ')}.`,
        'Pass --canary-target with a "name" from the targets file, or --canary N for the first N.',
      );
    const canary = toRun.filter((t) => named.includes(t.name));
    return { canary, rest: toRun.filter((t) => !named.includes(t.name)), carried, dropped };
  }
  return { canary: toRun.slice(0, opts.canary), rest: toRun.slice(opts.canary), carried, dropped };
}

/** What a resumed run should say before it starts: targets it leaves out, another migrations folder. */
export function resumeWarnings(plan: StagePlan, resumed: RolloutReport | undefined, migrationsDir: string): string[] {
  if (!resumed) return [];
  const out: string[] = [];
  if (plan.dropped.length > 0)
    out.push(
      `The resumed report names ${plan.dropped.length} target(s) the targets file no longer has ` +
        `(${plan.dropped.slice(0, 5).join(', ')}): they are left out.`,
    );
  if (resumed.migrationsDir !== migrationsDir)
    out.push(
      `The resumed rollout deployed ${resumed.migrationsDir}; this run deploys ${migrationsDir} ` +
        '(each ledger decides what is missing).',
    );
  return out;
}

/** The first report of a run: every target pending, carried ones as they were. */
export function initialEntries(plan: StagePlan): TargetEntry[] {
  const fresh = (stage: 'canary' | 'rest') => (t: RolloutTarget) => ({
    name: t.name,
    via: describeTarget(t),
    stage,
    status: 'pending' as const,
    applied: [],
    pending: [],
  });
  return [...plan.carried, ...plan.canary.map(fresh('canary')), ...plan.rest.map(fresh('rest'))];
}
