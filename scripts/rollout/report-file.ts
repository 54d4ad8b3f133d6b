/**
 * The rollout report on disk: rewritten after every change of a target's status, always to a
 * temporary file renamed into place, so a reader (a person, CI, `--resume` after the CLI was
 * killed) never sees half a file. Synchronous on purpose: the report is small, and a write that
 * finished before the next deploy starts is what makes a killed rollout resumable.
 */
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ErrorCode, MigrateError } from '../../lambda/contract/index.js';
import type { RolloutReport } from './report.js';

/** `--report` unset: `.vpc-migrate/rollout-<UTC time>.json` in the directory the command was run from. */
export function defaultReportPath(dir: string, now: Date): string {
  const stamp = now.toISOString().replace(/[:.]/g, '-');
  return path.join(dir, '.vpc-migrate', `rollout-${stamp}.json`);
}

export function writeReport(file: string, report: RolloutReport): void {
  const temp = `${file}.${process.pid}.tmp`;
  try {
    // Inside the try: a parent that is a file (ENOTDIR, EEXIST) is the same refusal as an unwritable one.
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(temp, JSON.stringify(report, null, 2) + '\n');
    renameSync(temp, file);
  } catch (error) {
    try {
      rmSync(temp, { force: true });
    } catch {
      // No temporary file where there is no folder (ENOTDIR): nothing to remove.
    }
    throw new MigrateError(
      ErrorCode.RolloutReportInvalid,
      `Cannot write the rollout report ${file}: ${(error as NodeJS.ErrnoException).code ?? String(error)}.`,
      'Pass --report with a writable path (the rollout stops rather than run without its record).',
    );
  }
}

const STATUSES = new Set(['pending', 'running', 'succeeded', 'failed', 'skipped']);

/** The report `--resume` continues; refused when it is not one this tool wrote. */
export function readReport(file: string): RolloutReport {
  const refuse = (why: string) =>
    new MigrateError(
      ErrorCode.RolloutReportInvalid,
      `Cannot resume from ${file}: ${why}.`,
      'Pass --resume with the report file an earlier `deploy --targets` wrote (its --report, or ' +
        'the .vpc-migrate/rollout-*.json it printed).',
    );
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw refuse((error as NodeJS.ErrnoException).code ? `${(error as NodeJS.ErrnoException).code}` : 'it is not JSON');
  }
  const r = raw as Partial<RolloutReport>;
  if (r?.command !== 'rollout' || r.reportVersion !== 1) throw refuse('it is not a rollout report (version 1)');
  if (
    !Array.isArray(r.targets) ||
    !r.targets.every((t) => typeof t?.name === 'string' && STATUSES.has(t.status)) ||
    typeof r.targetsFile !== 'string'
  )
    throw refuse('its "targets" list is malformed');
  return r as RolloutReport;
}
