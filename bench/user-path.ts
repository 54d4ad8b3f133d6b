/**
 * The user's path, timed as a whole process: the bin (`node scripts/run-cli.mjs`, what the
 * package's `vpc-migrate` bin and `pnpm migrate:remote` run) with `--local` and DATABASE_URL set
 * to the round's database, spawn to exit: Node's start, the launcher, the CLI, the local Invoke
 * endpoint with the worker inside, and PostgreSQL. pnpm's own start is not included.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { REPO_ROOT } from '../infra/bundling.js';

export const BIN = path.join(REPO_ROOT, 'scripts', 'run-cli.mjs');

export interface ProcessRun {
  code: number;
  wallMs: number;
  stdout: string;
  stderr: string;
}

/**
 * A plain shell's environment: nothing a package manager set for `pnpm bench` (INIT_CWD, npm_*
 * make the CLI print its commands as package scripts), no NODE_OPTIONS, no vpc-migrate settings
 * from the caller's shell; then `extra`.
 */
export function userEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k === 'INIT_CWD' || k === 'NODE_OPTIONS' || k.startsWith('npm_') || k.startsWith('VPC_MIGRATE_')) continue;
    if (k === 'DATABASE_URL' || k.startsWith('PG')) continue;
    env[k] = v;
  }
  return { ...env, ...extra };
}

/** Runs `file args…` in `cwd` to its exit; wall time from spawn to the 'close' of its pipes. */
export function runProcess(
  file: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  cwd: string = REPO_ROOT,
): Promise<ProcessRun> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(file, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', reject);
    child.on('close', (code) =>
      resolve({
        code: code ?? -1,
        wallMs: performance.now() - started,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      }),
    );
  });
}

/** `vpc-migrate <command> --local --migrations DIR` on `databaseUrl`, as a user runs it (text output). */
export function runBin(
  command: 'deploy' | 'status' | 'drift',
  migrationsDir: string,
  databaseUrl: string,
  extraEnv: Record<string, string> = {},
): Promise<ProcessRun> {
  return runProcess(
    process.execPath,
    [BIN, command, '--local', '--migrations', migrationsDir],
    userEnv({ DATABASE_URL: databaseUrl, ...extraEnv }),
  );
}

/** Throws with the tail of its output unless the run exited 0. */
export function expectSuccess(run: ProcessRun, what: string): void {
  if (run.code !== 0)
    throw new Error(`${what} exited ${run.code}:\n${run.stderr.slice(-3000)}\n${run.stdout.slice(-2000)}`);
}

/** Node's own start (`node -e 0`), for scale next to the no-op status. */
export async function nodeStartMs(times = 5): Promise<number[]> {
  const xs: number[] = [];
  for (let i = 0; i < times; i++) xs.push((await runProcess(process.execPath, ['-e', '0'], userEnv({}))).wallMs);
  return xs;
}
