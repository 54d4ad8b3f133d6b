/**
 * `drift --targets FILE`: the single-target drift check (commands/drift.ts) of every target, as a
 * matrix of target × no drift / drift / problem. Exit code: 2 a problem on any target, else 3
 * drift on any, else 0 (the single drift's codes, the worst first: a target that could not be
 * checked may hide drift).
 */
import { type DriftDifference, redact } from '../../lambda/contract/index.js';
import { mapLimit } from '../core/map-limit.js';
import type { Worker } from '../core/worker-client.js';
import { describeTarget, onTarget, type RolloutTarget, type TargetWorkers } from './targets.js';
import { problemOfError } from './status-matrix.js';

/** What the matrix reads of a target's drift report (commands/drift.ts `DriftReport`). */
export interface DriftOutcome {
  exitCode: 0 | 2 | 3;
  differences: Pick<DriftDifference, 'kind' | 'object' | 'change'>[];
  findings: { code: string; message: string; remedy?: string }[];
  problems: { code: string; message: string; remedy?: string }[];
}

export type DriftOne = (worker: Worker) => Promise<DriftOutcome>;

export interface DriftRow {
  name: string;
  via: string;
  state: 'no-drift' | 'drift' | 'problem';
  differences: Pick<DriftDifference, 'kind' | 'object' | 'change'>[];
  /** Each next step with the target's own flags. */
  problems: { code: string; message: string; remedy?: string }[];
  exitCode: 0 | 2 | 3;
}

export interface DriftMatrixReport {
  command: 'drift-targets';
  targetsFile: string;
  migrationsDir: string;
  rows: DriftRow[];
  counts: { noDrift: number; drift: number; problem: number };
  exitCode: 0 | 2 | 3;
}

export async function driftMatrix(opts: {
  targets: readonly RolloutTarget[];
  targetsFile: string;
  migrationsDir: string;
  drift: DriftOne;
  workers: TargetWorkers;
  concurrency: number;
}): Promise<DriftMatrixReport> {
  const rows: DriftRow[] = await mapLimit(opts.targets, opts.concurrency, (target) =>
    opts.workers.use(target, opts.drift).then(
      (r) => rowOf(target, r),
      (error: unknown) => errorRow(target, error),
    ),
  );
  const count = (state: DriftRow['state']) => rows.filter((r) => r.state === state).length;
  const counts = { noDrift: count('no-drift'), drift: count('drift'), problem: count('problem') };
  return {
    command: 'drift-targets',
    targetsFile: opts.targetsFile,
    migrationsDir: opts.migrationsDir,
    rows,
    counts,
    exitCode: counts.problem > 0 ? 2 : counts.drift > 0 ? 3 : 0,
  };
}

function rowOf(target: RolloutTarget, r: DriftOutcome): DriftRow {
  return {
    name: target.name,
    via: describeTarget(target),
    state: r.exitCode === 2 ? 'problem' : r.exitCode === 3 ? 'drift' : 'no-drift',
    differences: r.differences.map(({ kind, object, change }) => ({ kind, object, change })),
    problems: [...r.findings, ...r.problems].map((p) => ({
      code: p.code,
      message: redact(p.message),
      ...(p.remedy ? { remedy: onTarget(redact(p.remedy), target) } : {}),
    })),
    exitCode: r.exitCode,
  };
}

function errorRow(target: RolloutTarget, error: unknown): DriftRow {
  const e = problemOfError(error, target);
  return {
    name: target.name,
    via: describeTarget(target),
    state: 'problem',
    differences: [],
    problems: [e],
    exitCode: 2,
  };
}
