/**
 * The real command line in-process: `main(argv)` from scripts/cli.ts with stdout and stderr
 * captured, pointed at a test worker through `--endpoint`/`--function` (the SDK path).
 */
import { vi } from 'vitest';
import { main } from '../../scripts/cli.js';
import type { TestWorker } from './worker.js';

export interface CliRun {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export async function runCli(argv: string[]): Promise<CliRun> {
  const out: string[] = [];
  const err: string[] = [];
  const capture = (sink: string[]) => ((chunk: string | Uint8Array) => {
    sink.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
    return true;
  }) as typeof process.stdout.write;
  const stdout = vi.spyOn(process.stdout, 'write').mockImplementation(capture(out));
  const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(capture(err));
  try {
    const exitCode = await main(argv);
    return { exitCode, stdout: out.join(''), stderr: err.join('') };
  } finally {
    stdout.mockRestore();
    stderr.mockRestore();
  }
}

/** The target flags that reach a test worker through the SDK. */
export function targetFlags(tw: TestWorker): string[] {
  return ['--endpoint', tw.endpoint, '--function', tw.functionName, '--function-timeout', '120'];
}

/**
 * The environment of a plain shell for a CLI child process: without what a package manager
 * set for the test runner (INIT_CWD, npm_*), which would make the child believe it runs as a
 * package script (scripts/invocation.ts) and print its commands for that script.
 */
export function plainShellEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (key !== 'INIT_CWD' && !key.startsWith('npm_')) env[key] = value;
  for (const [key, value] of Object.entries(extra)) if (value === undefined) delete env[key];
  else env[key] = value;
  return env;
}
