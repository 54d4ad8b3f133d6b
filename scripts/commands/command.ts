/** What every command is to the command line: its flags, its help, and a run that returns a report. */
import type { Worker } from '../core/worker-client.js';
import type { InterruptMessage, Interruption } from '../interrupt.js';
import type { MakeTargetWorkers } from '../rollout/targets.js';
import type { Options, Values } from './flags.js';

/** `R`: the command's own report type, a member of render/report.ts's `Report` union. */
export interface CommandOutput<R extends { command: string } = { command: string }> {
  exitCode: number;
  /** Printed as JSON with --json, else as text by render/report.ts (by its `command` field). */
  report: R;
}

/**
 * A command with its own flags `O` (parsed by node:util's parseArgs beside TARGET_OPTIONS), typed in `run`,
 * and its own report `R`.
 */
export interface Command<O extends Options = Options, R extends { command: string } = { command: string }> {
  usage: string;
  options: O;
  /** How many positional arguments it takes (`Infinity`: any number); cli.ts refuses more, and a stray `--`. */
  positionals: number;
  /** Whether the command talks to a worker (all but local-only ones); a function decides per invocation. */
  needsWorker: boolean | ((values: Values<O>, positionals: string[]) => boolean);
  /**
   * What Ctrl-C says, for a command that migrates nothing (drift): its own message and next step (a canonical
   * command, rewritten as the user runs it). Default: the migrating commands' text, then `status`.
   */
  interrupt?: { message: InterruptMessage; next: string };
  run(ctx: {
    values: Values<O>;
    positionals: string[];
    worker: Worker;
    progress: (line: string) => void;
    interrupted?: () => Interruption | undefined;
    /** Workers for the entries of a targets file (`--targets`): cli.ts gives transport/rollout-target.ts's. */
    targetWorkers?: MakeTargetWorkers;
  }): Promise<CommandOutput<R>>;
}

/** Declares a command, its flags' types inferred from its `options` literal, its report's from `run`. */
export function defineCommand<const O extends Options, R extends { command: string }>(
  command: Command<O, R>,
): Command<O, R> {
  return command;
}
