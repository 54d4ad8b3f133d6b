/**
 * The floor: ONE `psql` session applying the corpus's files in order, `\i` each, autocommit
 * (psql's default: every statement commits on its own, so CONCURRENTLY statements run). No
 * ledger, no locking, no checks: the least work that gets the schema in place.
 */
import { execFileSync, spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';

/** psql from PATH (or /usr/bin/psql); null when there is none. */
export function findPsql(): string | null {
  for (const candidate of ['psql', '/usr/bin/psql']) {
    try {
      execFileSync(candidate, ['--version'], { stdio: 'ignore' });
      return candidate;
    } catch {
      // next
    }
  }
  return null;
}

export function psqlVersion(psql: string): string {
  return execFileSync(psql, ['--version'], { encoding: 'utf8' }).trim();
}

/** psql quotes `\i` arguments in single quotes, a quote doubled inside. */
const quoted = (file: string) => `'${file.replace(/'/g, "''")}'`;

/** Writes the `\i` script for these files (already in apply order). */
export async function writeFloorScript(file: string, migrationFiles: string[]): Promise<void> {
  await writeFile(file, migrationFiles.map((f) => `\\i ${quoted(f)}\n`).join(''));
}

/** Runs the script in one psql session; resolves with the wall time in ms. Stops at the first error. */
export function runFloor(psql: string, databaseUrl: string, script: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const env = { ...process.env };
    delete env.PGOPTIONS;
    const child = spawn(psql, ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-f', script, '-d', databaseUrl], {
      env,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    const err: Buffer[] = [];
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', reject);
    child.on('close', (code) => {
      const ms = performance.now() - started;
      if (code === 0) resolve(ms);
      else
        reject(
          new Error(
            `psql floor failed (exit ${code}): ${Buffer.concat(err)
              .toString('utf8')
              .split('\n')
              .filter((l) => /ERROR|FATAL/.test(l))
              .slice(0, 3)
              .join('\n')}`,
          ),
        );
    });
  });
}
