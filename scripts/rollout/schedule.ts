/**
 * The scheduler of a rollout: the canary stage, then the rest with a concurrency cap and a
 * failure budget. It knows nothing of workers or files: `runOne` deploys a target and says how
 * it went, `changed` hears of every status change (the report file and the progress display).
 */
import type { RolloutTarget } from './targets.js';

export interface Outcome {
  ok: boolean;
}

export interface ScheduleOptions {
  concurrency: number;
  /** Failures tolerated before no new target is started (0: stop scheduling at the first). */
  maxFailures: number;
  runOne(target: RolloutTarget): Promise<Outcome>;
}

/** Why the rollout stopped early, or undefined when every target was started. */
export async function schedule(
  canary: readonly RolloutTarget[],
  rest: readonly RolloutTarget[],
  opts: ScheduleOptions,
): Promise<string | undefined> {
  // The canary stage must succeed entirely: its first failure stops it (and everything).
  const canaryFailures = await runPool(canary, opts.concurrency, 0, opts.runOne);
  if (canaryFailures > 0) return `the canary stage failed (${canaryFailures} of ${canary.length})`;
  const failures = await runPool(rest, opts.concurrency, opts.maxFailures, opts.runOne);
  return failures > opts.maxFailures
    ? `${failures} target(s) failed, more than --max-failures ${opts.maxFailures}`
    : undefined;
}

/**
 * Runs `targets` in order, at most `concurrency` at a time; once more than `budget` failed, none
 * is started (those running finish). Returns the failures.
 */
async function runPool(
  targets: readonly RolloutTarget[],
  concurrency: number,
  budget: number,
  runOne: (t: RolloutTarget) => Promise<Outcome>,
): Promise<number> {
  let next = 0;
  let failures = 0;
  const lane = async () => {
    while (next < targets.length && failures <= budget) {
      const target = targets[next++]!;
      if (!(await runOne(target)).ok) failures++;
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, targets.length) }, lane));
  return failures;
}
