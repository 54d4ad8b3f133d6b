/** What every command is to the command line: its flags, its help, and a run that returns a report. */
import type { ParseArgsConfig } from 'node:util';
import type { Worker } from '../invoke.js';
import type { Interruption } from '../interrupt.js';

export type Options = NonNullable<ParseArgsConfig['options']>;
export type Values = Record<string, string | boolean | string[] | undefined>;

export interface CommandOutput {
  exitCode: number;
  json: unknown;
  text: string;
}

export interface Command {
  summary: string;
  usage: string;
  options: Options;
  /** Whether the command talks to a worker (all but local-only ones); a function decides per invocation. */
  needsWorker: boolean | ((values: Values, positionals: string[]) => boolean);
  run(ctx: { values: Values; positionals: string[]; worker: Worker; progress: (line: string) => void; interrupted?: () => Interruption | undefined }): Promise<CommandOutput>;
}
