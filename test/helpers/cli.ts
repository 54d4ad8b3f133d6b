/**
 * The real command line in-process: `main(argv)` from scripts/cli.ts with stdout and stderr
 * captured, pointed at a test worker through `--endpoint`/`--function` (the SDK path).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { vi } from 'vitest';
import { main } from '../../scripts/cli.js';
import type { TestWorker } from './test-worker.js';

export interface CliRun {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export async function runCli(argv: string[]): Promise<CliRun> {
  const out: string[] = [];
  const err: string[] = [];
  const capture = (sink: string[]) =>
    ((chunk: string | Uint8Array) => {
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
  for (const [key, value] of Object.entries(process.env))
    if (key !== 'INIT_CWD' && !key.startsWith('npm_')) env[key] = value;
  for (const [key, value] of Object.entries(extra))
    if (value === undefined) delete env[key];
    else env[key] = value;
  return env;
}

/** A child process's exit and everything it printed. */
export interface ProcessRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `file args…` as its own process in a plain shell's environment ({@link plainShellEnv} with
 * `env`); `onStderr` sees all stderr so far after each chunk (and may signal the process).
 */
export function spawnCollect(
  file: string,
  args: string[],
  opts: { cwd: string; env?: Record<string, string | undefined> },
  onStderr: (text: string, child: ChildProcess) => void = () => undefined,
): Promise<ProcessRun> {
  return new Promise((resolve) => {
    const child = spawn(file, args, { cwd: opts.cwd, env: plainShellEnv(opts.env) });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString('utf8');
      onStderr(stderr, child);
    });
    child.on('exit', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}
