/**
 * `sql` (`pnpm run-sql "<sql>"`, or `-f file.sql`): ad-hoc SQL through the worker. Read-only
 * unless `--write`, and PostgreSQL enforces it (a READ ONLY transaction, one statement through
 * the extended protocol, as the reader login); read-only SQL goes to the reader function when
 * one is known (core/worker-client.ts `targetFor`). With `--write` the statement is echoed and, on a
 * terminal, confirmed; without a terminal it needs `--yes`.
 */
import { readFile } from 'node:fs/promises';
import { createInterface } from 'node:readline/promises';
import {
  type ErrorBody,
  ErrorCode,
  MigrateError,
  type RunSqlEvent,
  type RunSqlResult,
  remedyCommand,
  sqlErrorOf,
} from '../../lambda/contract/index.js';
import { type AnsweredBy, answeredBy, type Worker } from '../core/worker-client.js';
import { yellow } from '../render/common.js';
import { fromInvocationDir } from '../project/invocation-dir.js';
import { defineCommand } from './command.js';
import { refuseNulByte } from '../formats/read-files.js';
import { INT_FLAGS, intFlag, usageError } from './flags.js';

export interface SqlOptions {
  sql: string;
  /** Where the SQL came from, for messages (`-f` path or "argument"). */
  source?: string;
  write?: boolean;
  params?: string[];
  maxRows?: number;
  statementTimeoutMs?: number;
  /** Ask before a write (the CLI sets it on a terminal without --yes). */
  confirm?: (question: string) => Promise<boolean>;
  progress?: (line: string) => void;
}

export interface SqlReport {
  command: 'sql';
  sql: string;
  write: boolean;
  /** Set when the statement ran. */
  result?: RunSqlResult;
  /** Set when PostgreSQL refused it (the error carries SQLSTATE, detail, hint, line/column). */
  error?: ErrorBody;
  cancelled?: boolean;
  /** Which function answered, when a reader function was known (so the choice is visible). */
  function?: AnsweredBy;
  exitCode: 0 | 2;
}

/** SQLSTATE insufficient_privilege. */
const INSUFFICIENT_PRIVILEGE = '42501';

/**
 * The remedy of a permission error in read-only SQL when the worker's own suggests `--write` (a
 * worker from before the reader login did). `--write` is never the way out: it runs as the
 * migrator, another login on another function, and the reader function cannot run it at all.
 */
export const READ_ONLY_PERMISSION_REMEDY =
  'Read-only sql runs as the reader login, which may read all data (pg_read_all_data) and nothing more: ' +
  ('this statement needs a privilege reading does not give ' +
    '(a function that writes, a superuser-only setting or ' +
    'file). ') +
  'Read the data another way, or ask a database owner whether the reader role should be granted it.';

/** Runs one statement and returns the outcome; a PostgreSQL error is part of the report, not thrown. */
export async function runSqlCommand(worker: Worker, opts: SqlOptions): Promise<SqlReport> {
  const write = opts.write === true;
  const by = answeredBy(worker);
  const report: SqlReport = { command: 'sql', sql: opts.sql, write, ...(by ? { function: by } : {}), exitCode: 2 };
  if (write) {
    opts.progress?.(`${yellow('--write')}: this runs with write access:\n${indent(opts.sql.trim())}`);
    if (opts.confirm) {
      // Our own fixed SELECT, as the role the write will run as (read-only would switch roles).
      const who = await worker.runSql({
        sql: `SELECT current_database() AS database, current_user AS "user"`,
        maxRows: 1,
        write: true,
      });
      const row = who.rows[0] ?? {};
      if (!(await opts.confirm(`Run it on database "${String(row.database)}" as ${String(row.user)}? [y/N] `))) {
        report.cancelled = true;
        return report;
      }
    }
  }
  const event: Omit<RunSqlEvent, 'action'> = { sql: opts.sql };
  if (write) event.write = true;
  if (opts.params && opts.params.length > 0) event.params = opts.params;
  if (opts.maxRows !== undefined) event.maxRows = opts.maxRows;
  if (opts.statementTimeoutMs !== undefined) event.statementTimeoutMs = opts.statementTimeoutMs;
  try {
    report.result = await worker.runSql(event);
    report.exitCode = 0;
  } catch (error) {
    // The statement's own outcome (PostgreSQL's error, or read-only mode's refusal) is the report.
    if (
      !(error instanceof MigrateError) ||
      (error.code !== ErrorCode.SqlFailed && error.code !== ErrorCode.ReadOnlyRefused)
    )
      throw error;
    report.error = error.toJSON();
    const sqlstate = sqlErrorOf(report.error)?.code;
    if (!write && sqlstate === INSUFFICIENT_PRIVILEGE && report.error.remedy.includes('--write'))
      report.error.remedy = READ_ONLY_PERMISSION_REMEDY;
  }
  return report;
}

/**
 * This run's own arguments with `extra` (no target flags: the printed command adds them at its
 * end), for a remedy that runs as printed. SQL that starts with "-" gets a leading space, which
 * PostgreSQL ignores, instead of a "--" that would turn the target flags after it into SQL.
 */
/** The flags of sql's own that a printed command repeats. */
interface RepeatedFlags {
  param?: string[];
  'max-rows'?: string;
  'statement-timeout'?: string;
  csv?: boolean;
}

function ownArgs(values: RepeatedFlags, file: string | undefined, positionals: string[], ...extra: string[]): string[] {
  const sql = positionals.join(' ');
  const args = file !== undefined ? ['-f', file] : [sql.startsWith('-') ? ` ${sql}` : sql];
  for (const p of values.param ?? []) args.push('--param', p);
  for (const name of ['max-rows', 'statement-timeout'] as const) {
    const v = values[name];
    if (v !== undefined) args.push(`--${name}`, v);
  }
  if (values.csv === true) args.push('--csv');
  return [...args, ...extra];
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((l) => `    ${l}`)
    .join('\n');
}

async function askOnTerminal(question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await rl.question(question)).trim());
  } finally {
    rl.close();
  }
}

export const sqlCommand = defineCommand({
  usage: `vpc-migrate sql "<sql>" [options]
       vpc-migrate sql -f file.sql [options]
Runs one statement through the worker and prints the rows, the row count and command tag,
notices and the duration. Read-only by default: PostgreSQL runs it in a READ ONLY transaction,
through the extended protocol, so a write (or a "COMMIT; DELETE ...") fails with PostgreSQL's
own error. SQL that starts with "-" (a comment) goes after "--": run-sql -- "-- note\\nSELECT 1".
  -f, --file FILE         read the SQL from FILE instead of the argument
  --write                 allow changes, as the migrator (never the reader function): the statement is
                          echoed and, on a terminal, confirmed; without a terminal --yes is required
  --yes                   with --write: do not ask for confirmation
  --param VALUE           a value for $1, $2, ... (repeat for each; text, cast in SQL: $1::int)
  --max-rows N            rows returned at most (1 to 100000, default 1000); more sets "truncated"
  --statement-timeout MS  PostgreSQL statement_timeout, 1 to 3600000 (default 60000; never past the function's time)
  --csv                   rows as CSV (RFC 4180) on stdout; notices and the footer go to stderr
Read-only SQL goes to the reader function when one is known (--reader-function, VPC_MIGRATE_READER_FUNCTION,
the stack's output, --local's own): a login that can only read (pg_read_all_data), whose function answers
nothing that writes.
Exit codes: 0 the statement ran, 2 it failed (SQLSTATE, detail, hint and a caret are shown), was
cancelled, or the worker could not be reached.`,
  positionals: Infinity,
  options: {
    file: { type: 'string', short: 'f' },
    write: { type: 'boolean' },
    yes: { type: 'boolean', short: 'y' },
    param: { type: 'string', multiple: true },
    'max-rows': { type: 'string' },
    'statement-timeout': { type: 'string' },
    csv: { type: 'boolean' },
  },
  needsWorker: true,
  async run({ values, positionals, worker, progress }) {
    const file = values.file;
    if (file !== undefined && positionals.length > 0)
      throw usageError(
        'Give the SQL either as an argument or with -f FILE, not both.',
        'Run `vpc-migrate sql --help`.',
      );
    let sql: string;
    if (file !== undefined) {
      // A relative -f is read from the directory the user ran the command in, not the package's.
      const abs = fromInvocationDir(file);
      const bytes = await readFile(abs).catch((error: NodeJS.ErrnoException) => {
        throw usageError(
          `Cannot read ${abs}${abs === file ? '' : ` (-f ${file})`}: ${error.code ?? error.message}.`,
          'Check the path given to -f.',
        );
      });
      refuseNulByte(abs, bytes);
      sql = bytes.toString('utf8');
    } else {
      sql = positionals.join(' ');
    }
    if (sql.trim() === '') throw usageError('No SQL given.', 'Pass the SQL as an argument (quoted) or with -f FILE.');
    const write = values.write === true;
    const opts: SqlOptions = { sql, source: file ?? 'argument', write, progress };
    const params = values.param;
    if (Array.isArray(params)) opts.params = params;
    const maxRows = intFlag(values, 'max-rows', INT_FLAGS['max-rows']);
    if (maxRows !== undefined) opts.maxRows = maxRows;
    // 0 is not "no limit" here: the query always ends before the function's time does.
    const timeout = intFlag(values, 'statement-timeout', INT_FLAGS['sql-statement-timeout']);
    if (timeout !== undefined) opts.statementTimeoutMs = timeout;
    if (write && values.yes !== true) {
      if (!(process.stdin.isTTY && process.stderr.isTTY)) {
        throw usageError(
          'sql --write without a terminal needs --yes: there is no one to confirm the write, so nothing was run.',
          `Check the statement, then run ` +
            `${remedyCommand('sql', ...ownArgs(values, file, positionals, '--write', '--yes'))}.`,
        );
      }
      opts.confirm = askOnTerminal;
    }
    const report = await runSqlCommand(worker, opts);
    return { exitCode: report.exitCode, report };
  },
});
