/**
 * The adapters `deploy` and `status` hand over to with `--targets FILE` (or `--resume REPORT`):
 * read the file, check it against `--local`, then the rollout or the status matrix. The command
 * passes in its own single-target run and cli.ts's maker of workers (transport/rollout-target.ts),
 * so nothing here imports a command or a transport. Loaded only then (its own chunk of the bundle).
 */
import { remedyCommand } from '../../lambda/contract/index.js';
import { functionTimeoutFlag, usageError } from '../commands/flags.js';
import { watchInterrupts } from '../interrupt.js';
import { invocationDir } from '../project/invocation-dir.js';
import { checkNoSingleTarget, concurrencyFlag, rolloutFlags } from './flags.js';
import { rolloutProgress } from './progress.js';
import { defaultReportPath, readReport } from './report-file.js';
import type { RolloutReport } from './report.js';
import { type DeployOne, rollout } from './rollout.js';
import { type DriftMatrixReport, type DriftOne, driftMatrix } from './drift-matrix.js';
import { type StatusMatrixReport, type StatusOne, statusMatrix } from './status-matrix.js';
import {
  checkTargetsReachable,
  type MakeTargetWorkers,
  readTargetsFile,
  type RolloutTarget,
  type TargetWorkers,
} from './targets.js';

/** The flags both adapters read (the rest of a command's flags pass through to checkNoSingleTarget). */
type Flags = Parameters<typeof rolloutFlags>[0] & {
  readonly local?: boolean;
  readonly json?: boolean;
  readonly 'function-timeout'?: string;
};

export interface Seams<Run> {
  migrationsDir: string;
  /** The command's own single-target run, with its flags. */
  run: Run;
  /** cli.ts's maker of workers for targets; absent when the command was called without the CLI. */
  targetWorkers: MakeTargetWorkers | undefined;
  /**
   * The command's progress line (stderr): cli.ts rewrites the commands it names as the user ran
   * the CLI (`pnpm migrate:remote …`, `node …/run-cli.mjs …`), so an interruption's hint works as printed.
   */
  say?: (line: string) => void;
}

function makerOf(seams: { targetWorkers: MakeTargetWorkers | undefined }): MakeTargetWorkers {
  if (seams.targetWorkers) return seams.targetWorkers;
  throw usageError('--targets needs the command line (it reaches each target itself).', 'Run it from vpc-migrate.');
}

async function checkedTargets(file: string, local: boolean): Promise<RolloutTarget[]> {
  const targets = await readTargetsFile(file);
  checkTargetsReachable(targets, local);
  return targets;
}

export async function deployTargets(values: Flags, seams: Seams<DeployOne>): Promise<RolloutReport> {
  checkNoSingleTarget(values);
  const flags = rolloutFlags(values);
  const resumed = flags.resume !== undefined ? readReport(flags.resume) : undefined;
  const targetsFile = flags.targetsFile ?? resumed?.targetsFile;
  if (!targetsFile) throw usageError('--targets FILE is missing.', 'Pass --targets with the targets file.');
  const local = values.local === true;
  const targets = await checkedTargets(targetsFile, local);
  const timeout = functionTimeoutFlag(values);
  const workers = makerOf(seams)({
    targets,
    command: 'deploy',
    local,
    ...(timeout ? { functionTimeoutMs: timeout } : {}),
  });
  const reportFile = flags.reportFile ?? flags.resume ?? defaultReportPath(invocationDir(), new Date());
  // Ctrl-C / SIGTERM: no target starts after it, running deploys stop between batches and answer,
  // the report says so; a second signal exits at once (the report then shows them running).
  const watch = watchInterrupts(
    `No new target is started. Continue later with ${remedyCommand('deploy', '--resume', reportFile)}.`,
    (i, final) =>
      (seams.say ?? ((line: string) => process.stderr.write(`${line}\n`)))(
        final
          ? `Second ${i.signal}: exiting now. ${i.next}`
          : `\n${i.message}\n${i.next}\nWaiting for the running targets; press Ctrl-C again to exit now.`,
      ),
    (code) => process.exit(code),
  );
  try {
    return await rollout({
      targets,
      targetsFile,
      reportFile,
      ...(flags.resume ? { resumedFrom: flags.resume, resume: resumed } : {}),
      canary: flags.canary,
      canaryTargets: flags.canaryTargets,
      concurrency: flags.concurrency,
      maxFailures: flags.maxFailures,
      migrationsDir: seams.migrationsDir,
      deploy: seams.run,
      workers,
      progress: rolloutProgress(process.stderr, process.env, values.json === true),
      interrupted: watch.current,
    });
  } finally {
    watch.stop();
    await workers.close();
  }
}

/**
 * `status`/`drift --targets FILE`: the targets read and checked, a worker for each, and `work` run
 * on them as a matrix, the workers closed whatever happens.
 */
async function onEveryTarget<R>(
  values: Flags,
  seams: Pick<Seams<unknown>, 'targetWorkers'>,
  command: 'status' | 'drift',
  work: (matrix: { targets: RolloutTarget[]; targetsFile: string; workers: TargetWorkers }) => Promise<R>,
): Promise<R> {
  checkNoSingleTarget(values);
  const targetsFile = rolloutFlags({ ...(values.targets ? { targets: values.targets } : {}) }).targetsFile;
  if (!targetsFile) throw usageError('--targets FILE is missing.', 'Pass --targets with the targets file.');
  const local = values.local === true;
  const targets = await checkedTargets(targetsFile, local);
  const timeout = functionTimeoutFlag(values);
  const workers = makerOf(seams)({ targets, command, local, ...(timeout ? { functionTimeoutMs: timeout } : {}) });
  try {
    return await work({ targets, targetsFile, workers });
  } finally {
    await workers.close();
  }
}

export function statusTargets(values: Flags, seams: Seams<StatusOne>): Promise<StatusMatrixReport> {
  return onEveryTarget(values, seams, 'status', (m) =>
    statusMatrix({ ...m, migrationsDir: seams.migrationsDir, status: seams.run, concurrency: concurrencyFlag(values) }),
  );
}

/** `drift --targets FILE`: the drift check of every target, `--concurrency` at a time, as a matrix. */
export function driftTargets(values: Flags, seams: Seams<DriftOne>): Promise<DriftMatrixReport> {
  return onEveryTarget(values, seams, 'drift', (m) =>
    driftMatrix({ ...m, migrationsDir: seams.migrationsDir, drift: seams.run, concurrency: concurrencyFlag(values) }),
  );
}
