/**
 * The directory the user ran the command in: relative paths (`--migrations`, `--backfills`,
 * `-f FILE`) and the project's own configuration are found from here, never from where
 * vpc-migrate is installed.
 *
 * Under `pnpm run` / `npm run` the script runs in the package's folder, and the package manager
 * puts the user's directory in `INIT_CWD`. That variable is inherited by everything the script
 * starts, so it only counts when the script that is running is a vpc-migrate command itself
 * (`npm_lifecycle_script` names our bin); a test runner started by `pnpm test` that spawns the
 * CLI in a temporary folder keeps that folder.
 */
import path from 'node:path';

/**
 *  What a package script that runs vpc-migrate looks like (`vpc-migrate …` or this repository's `node
 *  scripts/run-cli.mjs …`).
 */
const OUR_SCRIPT = /(^|[\s/"'])(vpc-migrate|run-cli\.mjs)(\s|$)/;

export function invocationDir(env: NodeJS.ProcessEnv = process.env, cwd: string = process.cwd()): string {
  const initCwd = env.INIT_CWD;
  const script = env.npm_lifecycle_script;
  if (initCwd && path.isAbsolute(initCwd) && script && OUR_SCRIPT.test(script)) return initCwd;
  return cwd;
}

/** `p` resolved against {@link invocationDir} (absolute paths stay as they are). */
export function fromInvocationDir(
  p: string,
  env: NodeJS.ProcessEnv = process.env,
  cwd: string = process.cwd(),
): string {
  return path.resolve(invocationDir(env, cwd), p);
}
