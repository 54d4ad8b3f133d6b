/**
 * `backfill NAME` (`pnpm backfill NAME`): runs `prisma/backfills/NAME.sql` through the worker in
 * one transaction and records it, so it cannot run twice by accident (`--again` to insist).
 * Deploy never runs backfills.
 */
import { readdir, readFile } from 'node:fs/promises';
import { hostname, userInfo } from 'node:os';
import path from 'node:path';
import * as v from 'valibot';
import {
  type BackfillEvent,
  type BackfillResult,
  type BackfillRun,
  BackfillRunSchema,
  type ErrorBody,
  ErrorCode,
  MigrateError,
  parseBackfillCheck,
  remedyCommand,
} from '../../lambda/contract/index.js';
import { sha256Hex } from '../core/checksum.js';
import { refuseNulByte } from '../formats/read-files.js';
import { sqlParser } from '../core/sql-parser.js';
import { splitMigration } from '../core/split.js';
import type { Request, Worker } from '../core/worker-client.js';
import { fromInvocationDir, invocationDir } from '../project/invocation-dir.js';
import { defineCommand } from './command.js';
import { INT_FLAGS, intFlag, usageError } from './flags.js';

export const DEFAULT_BACKFILLS_DIR = 'prisma/backfills';

export interface BackfillOptions {
  name: string;
  dir?: string;
  again?: boolean;
  /** Recorded as who ran it; default VPC_MIGRATE_RUN_BY or user@host. */
  runBy?: string;
  statementTimeoutMs?: number;
  lockTimeoutMs?: number;
  progress?: (line: string) => void;
}

export interface BackfillReport {
  command: 'backfill';
  name: string;
  file: string;
  checksum: string;
  /** The file's `-- check:` query, if any. */
  check?: string;
  status: 'ran' | 'already-run' | 'failed';
  result?: BackfillResult;
  /** Recorded runs (when it was refused as already run). */
  previousRuns?: BackfillRun[];
  error?: ErrorBody;
  warnings: string[];
  /** 0 ran, 1 already run (nothing was run), 2 failed. */
  exitCode: 0 | 1 | 2;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

export async function backfill(worker: Worker, opts: BackfillOptions): Promise<BackfillReport> {
  const dir = path.resolve(opts.dir ?? DEFAULT_BACKFILLS_DIR);
  const name = opts.name.endsWith('.sql') ? opts.name.slice(0, -4) : opts.name;
  if (name === '' || /[/\\\0]/.test(name))
    throw usageError(
      `"${opts.name}" is not a backfill name.`,
      `Pass the file name in ${dir} without .sql, e.g. ${remedyCommand('backfill', 'fill_order_totals')}.`,
    );
  const file = path.join(dir, `${name}.sql`);
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (error) {
    const available = await readdir(dir).then(
      (names) =>
        names
          .filter((n) => n.endsWith('.sql'))
          .map((n) => n.slice(0, -4))
          .sort(),
      () => null,
    );
    throw new MigrateError(
      ErrorCode.BackfillMissing,
      `No backfill ${name}: ${file} ` +
        `${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'does not exist' : 'cannot be read'}.`,
      available === null
        ? `The folder ${dir} does not exist; put backfills in ` +
            `prisma/backfills/NAME.sql or point --backfills DIR ` +
            `at them.`
        : `Available: ${available.join(', ') || 'none'}.`,
      { details: { file, available } },
    );
  }
  refuseNulByte(file, bytes);
  let sql: string;
  try {
    sql = utf8.decode(bytes);
  } catch {
    throw new MigrateError(ErrorCode.NotUtf8, `${file} is not valid UTF-8.`, 'Re-save the file as UTF-8.');
  }
  const checksum = sha256Hex(bytes);
  const report: BackfillReport = {
    command: 'backfill',
    name,
    file,
    checksum,
    status: 'failed',
    warnings: [],
    exitCode: 2,
  };
  const check = parseBackfillCheck(sql);
  if (check) report.check = check;

  const split = splitMigration(await sqlParser(), sql);
  if (split.parseError) {
    report.warnings.push(
      `${name}.sql:${split.parseError.line}:${split.parseError.column}: ` +
        `PostgreSQL's parser rejects it (${split.parseError.message}); ` +
        `it is sent as is and the database will report the error.`,
    );
  }
  const control = split.statements.find((s) => s.kind === 'begin' || s.kind === 'commit');
  const outside = split.statements.find((s) => s.kind === 'non-transactional');
  if (control || outside) {
    const s = (control ?? outside)!;
    throw new MigrateError(
      ErrorCode.BackfillInvalid,
      control
        ? `${name}.sql line ${s.line}: a backfill must not manage ` +
            `its own transaction (${sql.slice(s.start, s.end).split(/\s/)[0]}). ` +
            `Nothing was run.`
        : `${name}.sql line ${s.line}: this statement cannot run ` +
            `inside a transaction, and a backfill is one transaction. ` +
            `Nothing was run.`,
      control
        ? 'Remove BEGIN/COMMIT: vpc-migrate runs the whole file ' +
            'in one transaction and records it in the same transaction.'
        : `Move it into a migration of its own (CONCURRENTLY alone ` +
            `in its file), or run it alone: ${remedyCommand('sql', '--write', sql.slice(s.start, s.end))}.`,
      { details: { file, line: s.line } },
    );
  }

  const event: Request<BackfillEvent> = { name, checksum, sql, runBy: opts.runBy ?? defaultRunBy() };
  if (opts.again) event.again = true;
  if (opts.statementTimeoutMs !== undefined) event.statementTimeoutMs = opts.statementTimeoutMs;
  if (opts.lockTimeoutMs !== undefined) event.lockTimeoutMs = opts.lockTimeoutMs;
  opts.progress?.(`Running backfill ${name} (${path.relative(invocationDir(), file) || file}) in one transaction…`);
  try {
    report.result = await worker.backfill(event);
    report.status = 'ran';
    report.exitCode = 0;
  } catch (error) {
    if (!(error instanceof MigrateError)) throw error;
    if (error.code === ErrorCode.BackfillAlreadyRun) {
      report.status = 'already-run';
      const runs = error.details?.previousRuns;
      report.previousRuns = v.is(v.array(BackfillRunSchema), runs) ? runs : [];
      report.error = error.toJSON();
      report.exitCode = 1;
    } else if (error.code === ErrorCode.SqlFailed || error.code === ErrorCode.BackfillInvalid) {
      report.error = error.toJSON();
    } else {
      throw error;
    }
  }
  return report;
}

function defaultRunBy(): string {
  if (process.env.VPC_MIGRATE_RUN_BY) return process.env.VPC_MIGRATE_RUN_BY.slice(0, 200);
  let user = 'unknown';
  try {
    user = userInfo().username;
  } catch {
    // no passwd entry (containers): keep "unknown"
  }
  return `${user}@${hostname()}`.slice(0, 200);
}

export const backfillCommand = defineCommand({
  usage: `vpc-migrate backfill NAME [options]
Runs prisma/backfills/NAME.sql through the worker in ONE transaction and records it in
_vpc_migrate_backfills (name, checksum, started/finished, rows affected, who ran it) in the same
transaction, so it cannot run twice by accident. Deploy never runs backfills.
A sanity query in the file's leading comments runs read-only before and after, and is printed:
  -- check: SELECT count(*) AS missing
  --        FROM "Order" WHERE "totalCents" = 0
  --backfills DIR          where the backfill files are, relative to where you ran the command
                           (default prisma/backfills)
  --again                 run it even though a run is recorded
  --statement-timeout MS  cap for the backfill, 0 to 3600000 (default 0: the function's remaining time;
                          always below it)
  --lock-timeout MS       PostgreSQL lock_timeout, 0 to 3600000 (default 0: none)
Who ran it: VPC_MIGRATE_RUN_BY, else user@host.
Exit codes: 0 ran and recorded, 1 already run (nothing was run; --again to insist), 2 failed
(rolled back, nothing recorded), refused, or worker error.`,
  positionals: 1,
  options: {
    backfills: { type: 'string' },
    again: { type: 'boolean' },
    'statement-timeout': { type: 'string' },
    'lock-timeout': { type: 'string' },
  },
  needsWorker: true,
  async run({ values, positionals, worker, progress }) {
    if (positionals.length !== 1)
      throw usageError(
        'Name exactly one backfill.',
        'Run `vpc-migrate backfill NAME` (the file prisma/backfills/NAME.sql).',
      );
    const opts: BackfillOptions = { name: positionals[0] as string, again: values.again === true, progress };
    // --backfills (and its default) from the directory the user ran the command in.
    opts.dir = fromInvocationDir(values.backfills ?? DEFAULT_BACKFILLS_DIR);
    const statementTimeout = intFlag(values, 'statement-timeout', INT_FLAGS['statement-timeout']);
    if (statementTimeout !== undefined) opts.statementTimeoutMs = statementTimeout;
    const lockTimeout = intFlag(values, 'lock-timeout', INT_FLAGS['lock-timeout']);
    if (lockTimeout !== undefined) opts.lockTimeoutMs = lockTimeout;
    const report = await backfill(worker, opts);
    return { exitCode: report.exitCode, report };
  },
});
