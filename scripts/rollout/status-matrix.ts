/**
 * `status --targets FILE`: the single-target status (commands/status.ts) of every target, as a
 * matrix of target × up to date / pending / problem. Its exit code is the single status's, the
 * worst target's: 0 all up to date, 1 some pending (none worse), 2 a problem on any target (a
 * failed or modified migration, an unreachable worker).
 */
import { MigrateError, redact, remedyCommand } from '../../lambda/contract/index.js';
import { mapLimit } from '../core/map-limit.js';
import type { Worker } from '../core/worker-client.js';
import { describeTarget, onTarget, type RolloutTarget, type TargetWorkers } from './targets.js';

/** What the matrix reads of a target's status report (commands/status.ts `StatusReport`). */
export interface StatusOutcome {
  exitCode: 0 | 1 | 2;
  plan: {
    pending: string[];
    failed: { name: string }[];
    problems: { code: string; message: string; remedy?: string }[];
  };
}

/** The single-target status with the command's flags (status.ts passes itself in). */
export type StatusOne = (worker: Worker) => Promise<StatusOutcome>;

export interface MatrixRow {
  name: string;
  via: string;
  state: 'up-to-date' | 'pending' | 'problem';
  pending: string[];
  /** Failed migrations in its ledger. */
  failed: string[];
  /** The problems (or the error that kept status from answering), each next step with the target's own flags. */
  problems: { code: string; message: string; remedy?: string }[];
  exitCode: 0 | 1 | 2;
}

export interface StatusMatrixReport {
  command: 'status-targets';
  targetsFile: string;
  migrationsDir: string;
  rows: MatrixRow[];
  counts: { upToDate: number; pending: number; problem: number };
  exitCode: 0 | 1 | 2;
  /** With pending migrations and no problem: the rollout that applies them (printed as the user runs it). */
  next?: string;
}

export interface StatusMatrixOptions {
  targets: readonly RolloutTarget[];
  targetsFile: string;
  migrationsDir: string;
  status: StatusOne;
  workers: TargetWorkers;
  concurrency: number;
}

export async function statusMatrix(opts: StatusMatrixOptions): Promise<StatusMatrixReport> {
  const rows: MatrixRow[] = await mapLimit(opts.targets, opts.concurrency, (target) =>
    opts.workers.use(target, opts.status).then(
      (r) => rowOf(target, r),
      (error: unknown) => errorRow(target, error),
    ),
  );
  return matrixOf(opts, rows);
}

/** The report of `rows`: counts and the worst exit code. Pure. */
export function matrixOf(
  opts: Pick<StatusMatrixOptions, 'targetsFile' | 'migrationsDir'>,
  rows: MatrixRow[],
): StatusMatrixReport {
  const counts = {
    upToDate: rows.filter((r) => r.state === 'up-to-date').length,
    pending: rows.filter((r) => r.state === 'pending').length,
    problem: rows.filter((r) => r.state === 'problem').length,
  };
  const exitCode = Math.max(0, ...rows.map((r) => r.exitCode)) as 0 | 1 | 2;
  return {
    command: 'status-targets',
    targetsFile: opts.targetsFile,
    migrationsDir: opts.migrationsDir,
    rows,
    counts,
    exitCode,
    ...(exitCode === 1
      ? { next: `Run ${remedyCommand('deploy', '--targets', opts.targetsFile)} to apply them (canary first).` }
      : {}),
  };
}

function rowOf(target: RolloutTarget, r: StatusOutcome): MatrixRow {
  return {
    name: target.name,
    via: describeTarget(target),
    state: r.exitCode === 2 ? 'problem' : r.exitCode === 1 ? 'pending' : 'up-to-date',
    pending: r.plan.pending,
    failed: r.plan.failed.map((f) => f.name),
    problems: r.plan.problems.map((p) => ({
      code: p.code,
      message: redact(p.message),
      ...(p.remedy ? { remedy: onTarget(redact(p.remedy), target) } : {}),
    })),
    exitCode: r.exitCode,
  };
}

/**
 * A target's run that threw, as a matrix row's problem (status and drift matrices alike), its next step on the
 * target's own flags.
 */
export function problemOfError(
  error: unknown,
  target: RolloutTarget,
): { code: string; message: string; remedy?: string } {
  return error instanceof MigrateError
    ? { code: error.code, message: redact(error.message), remedy: onTarget(redact(error.remedy), target) }
    : { code: 'VPCM_INTERNAL', message: redact(String((error as Error)?.message ?? error)) };
}

function errorRow(target: RolloutTarget, error: unknown): MatrixRow {
  const e = problemOfError(error, target);
  return {
    name: target.name,
    via: describeTarget(target),
    state: 'problem',
    pending: [],
    failed: [],
    problems: [e],
    exitCode: 2,
  };
}
