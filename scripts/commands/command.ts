/** What every command is to the command line: its flags, its help, and a run that returns a report. */
import type { Worker } from '../core/worker.js';
import type { Interruption } from '../interrupt.js';
import type { BackfillReport } from './backfill.js';
import type { BaselineReport } from './baseline.js';
import type { DeployReport } from './deploy.js';
import type { Options, Values } from './flags.js';
import type { LintReport } from './lint.js';
import type { RehearseReport } from './rehearse.js';
import type { ResolveReport } from './resolve.js';
import type { SqlReport } from './sql.js';
import type { StatusReport } from './status.js';

/** Every command's report, told apart by its `command` literal (render/report.ts switches on it). */
export type Report =
  | DeployReport
  | StatusReport
  | LintReport
  | SqlReport
  | ResolveReport
  | RehearseReport
  | BackfillReport
  | BaselineReport;

export interface CommandOutput {
  exitCode: number;
  /** Printed as JSON with --json, else as text by render/report.ts (by its `command` field). */
  report: Report;
}

export interface Command {
  summary: string;
  usage: string;
  options: Options;
  /** How many positional arguments it takes (`Infinity`: any number); cli.ts refuses more, and a stray `--`. */
  positionals: number;
  /** Whether the command talks to a worker (all but local-only ones); a function decides per invocation. */
  needsWorker: boolean | ((values: Values, positionals: string[]) => boolean);
  run(ctx: { values: Values; positionals: string[]; worker: Worker; progress: (line: string) => void; interrupted?: () => Interruption | undefined }): Promise<CommandOutput>;
}
