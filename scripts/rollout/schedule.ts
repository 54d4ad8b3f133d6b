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
  /** Asked before each target starts: a reason (a signal) stops the scheduling there. */
  stopped?: () => string | undefined;
}

/** Why the rollout stopped early, or undefined when every target was started. */
export async function schedule(
  canary: readonly RolloutTarget[],
  rest: readonly RolloutTarget[],
  opts: ScheduleOptions,
): Promise<string | undefined> {
  // The canary stage must succeed entirely: its first failure stops it (and everything).
  const stopped = opts.stopped ?? (() => undefined);
  const canaryFailures = await runPool(canary, opts.concurrency, 0, opts.runOne, stopped);
  if (canaryFailures > 0) return `the canary stage failed (${canaryFailures} of ${canary.length})`;
  const failures = await runPool(rest, opts.concurrency, opts.maxFailures, opts.runOne, stopped);
  if (failures > opts.maxFailures) return `${failures} target(s) failed, more than --max-failures ${opts.maxFailures}`;
  return stopped();
}

/**
 * Runs `targets` in order, at most `concurrency` at a time; once more than `budget` failed, or
 * `stopped` says so, none is started (those running finish). Returns the failures.
 */
async function runPool(
  targets: readonly RolloutTarget[],
  concurrency: number,
  budget: number,
  runOne: (t: RolloutTarget) => Promise<Outcome>,
  stopped: () => string | undefined,
): Promise<number> {
  let next = 0;
  let failures = 0;
  const lane = async () => {
    while (next < targets.length && failures <= budget && !stopped()) {
      const target = targets[next++]!;
      if (!(await runOne(target)).ok) failures++;
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, targets.length) }, lane));
  return failures;
}
