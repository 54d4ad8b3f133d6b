/**
 * `lint` (`pnpm migrate:lint`): static checks of migrations with PostgreSQL's parser, and
 * `--fix` for the generated noise the linter can prove. Deploy lints its pending migrations
 * itself, through the format (lint/pending.ts).
 *
 * Which migrations are linted:
 * - default: the pending ones, as deploy would apply them (the worker's ledger says which);
 *   the applied ones are the history the schema model is learned from.
 * - `--all`: every local migration, each against the local history before it; no worker.
 * - `NAME…`: these folders, each against the local history before it; no worker.
 */
import { writeFile } from 'node:fs/promises';
import { ErrorCode, MigrateError, type MigrationFormat, type ServerFacts } from '../../lambda/contract/index.js';
import { sqlParser } from '../core/sql-parser.js';
import type { Worker } from '../core/worker-client.js';
import { formatFor } from '../formats/select.js';
import { fixMigration, type RemovedStatement } from '../lint/fix.js';
import { lint, lintHistory, type LintResult } from '../lint/linter.js';
import { lintInput } from '../lint/pending.js';
import type { Finding, LintInput } from '../lint/types.js';
import { givenLocation, type MigrationsLocation } from '../project/migrations-dir.js';
import { defineCommand } from './command.js';
import { formatFlag, migrationsFlag } from './flags.js';

export interface LintCommandOptions {
  migrationsDir: string;
  /** Where `migrationsDir` came from (the CLI's lookup); default: given by the caller. */
  location?: MigrationsLocation;
  /** Lint every local migration, each against the history before it (no worker needed). */
  all?: boolean;
  /** Lint these migration folders, each against the local history before it (no worker needed). */
  names?: string[];
  /** Remove the statements proven to be generated noise from the linted files. */
  fix?: boolean;
  /** Force the format (`--format`); default: detected (formats/select.ts). */
  format?: MigrationFormat;
}

export interface FixedFile {
  migration: string;
  path: string;
  removed: RemovedStatement[];
}

export interface LintReport {
  command: 'lint';
  migrationsDir: string;
  /** The folder (absolute) and where it came from: `--migrations`, a config file, the default. */
  migrations: MigrationsLocation;
  scope: 'pending' | 'all' | 'named';
  /** The database asked for the ledger (pending scope only). */
  server?: ServerFacts;
  /** Migrations linted, in apply order. */
  linted: string[];
  /** What remains after `--fix`, by file then line. */
  findings: Finding[];
  fixed: FixedFile[];
  errors: number;
  warnings: number;
  /** Findings `--fix` would remove. */
  fixable: number;
  /** Things about the folder that are not lint findings (discovery anomalies). */
  notes: string[];
  durationMs: number;
  /** 0: no error findings (warnings allowed); 2: at least one error. */
  exitCode: 0 | 2;
}

/**
 * Runs the linter; `worker` is only used for the default (pending) scope.
 *
 * @example
 * const report = await runLint(worker, { migrationsDir: 'prisma/migrations' });
 * if (report.exitCode !== 0) for (const f of report.findings) console.error(`${f.file}:${f.line} ${f.message}`);
 */
export async function runLint(worker: Worker | undefined, opts: LintCommandOptions): Promise<LintReport> {
  const started = Date.now();
  const names = opts.names ?? [];
  if (opts.all && names.length > 0) {
    throw new MigrateError(
      ErrorCode.UsageError,
      'Pass either --all or migration names, not both.',
      'Run `vpc-migrate lint --all`, or `vpc-migrate lint NAME…`.',
    );
  }
  if (opts.fix && opts.all) {
    throw new MigrateError(
      ErrorCode.UsageError,
      '--fix with --all would edit migrations that are already applied, changing their checksums.',
      'Run `lint --fix` on the pending migrations (with a ' +
        'worker flag), or name the migrations to fix: `vpc-migrate ' +
        'lint --fix NAME`.',
    );
  }
  const migrations = givenLocation(opts.migrationsDir, opts.location);
  const format = await formatFor(migrations.dir, opts.format);
  const [{ discovery, warnings }, parser] = await Promise.all([format.loadLocal(migrations.dir), sqlParser()]);
  const inputs = discovery.migrations.map(lintInput);
  const byName = new Map(inputs.map((m) => [m.name, m]));

  let scope: LintReport['scope'];
  let server: ServerFacts | undefined;
  let run: (inputs: Map<string, LintInput>) => LintResult;
  if (names.length > 0) {
    const unknown = names.filter((n) => !byName.has(n));
    if (unknown.length > 0) {
      throw new MigrateError(
        ErrorCode.UsageError,
        `No migration folder named ${unknown.map((n) => `"${n}"`).join(', ')} in ${discovery.dir}.`,
        'Pass folder names exactly as they appear under the migrations folder (e.g. 20250101090000_init).',
      );
    }
    scope = 'named';
    const wanted = new Set(names);
    run = (current) =>
      lintHistory(
        parser,
        discovery.migrations.map((m) => current.get(m.name)!),
        (n) => wanted.has(n),
      );
  } else if (opts.all) {
    scope = 'all';
    run = (current) =>
      lintHistory(
        parser,
        discovery.migrations.map((m) => current.get(m.name)!),
      );
  } else {
    if (!worker) {
      throw new MigrateError(
        ErrorCode.NoTarget,
        'Linting the pending migrations needs the ledger, so a worker.',
        'Pass --local, --function NAME or --stack NAME; or lint without a database: `lint --all` or `lint NAME…`.',
      );
    }
    scope = 'pending';
    const ledger = await format.readLedger(worker);
    server = ledger.server;
    const pending = new Set(format.plan(discovery, ledger, {}).pending);
    run = (current) => {
      const all = discovery.migrations.map((m) => current.get(m.name)!);
      const [files, history] = [all.filter((m) => pending.has(m.name)), all.filter((m) => !pending.has(m.name))];
      return lint(parser, files, history, { defaultSchema: ledger.server.schema });
    };
  }

  let result = run(byName);
  const fixed: FixedFile[] = [];
  if (opts.fix) {
    const current = new Map(byName);
    for (const file of result.files) {
      const change = fixMigration(parser, file, result.findings);
      if (!change || !file.path) continue;
      await writeFile(file.path, change.sql);
      current.set(file.name, { ...file, sql: change.sql });
      fixed.push({ migration: file.name, path: file.path, removed: change.removed });
    }
    if (fixed.length > 0) result = run(current);
  }

  const findings = result.findings;
  const errors = findings.filter((f) => f.severity === 'error').length;
  return {
    command: 'lint',
    migrationsDir: migrations.dir,
    migrations,
    scope,
    ...(server ? { server } : {}),
    linted: result.files.map((f) => f.name),
    findings,
    fixed,
    errors,
    warnings: findings.length - errors,
    fixable: findings.filter((f) => f.fixable).length,
    notes: warnings,
    durationMs: Date.now() - started,
    exitCode: errors > 0 ? 2 : 0,
  };
}

export const lintCommand = defineCommand({
  usage: `vpc-migrate lint [NAME...] [options]
Checks migrations with PostgreSQL's own parser; each finding has a rule id, severity, file:line,
why it matters and the fix (docs/commands.md#rules lists the rules).
  (no NAME, no --all)     the pending migrations, against the applied ones: needs a worker flag, like status
  NAME...                 these migration folders, each against the local history before it (no worker)
  --all                   every local migration, each against the local history before it (no worker)
  --fix                   remove the statements proven to be Prisma's generated noise (many-to-many
                          _AB_pkey/_AB_unique churn, re-creations of indexes the history already has)
                          from the linted files, and nothing else; refused with --all (applied files)
Exit codes: 0 no errors (warnings allowed), 2 errors found or lint could not run.`,
  positionals: Infinity,
  options: {
    all: { type: 'boolean' },
    fix: { type: 'boolean' },
  },
  needsWorker: (values, positionals) => values.all !== true && positionals.length === 0,
  async run({ values, positionals, worker }) {
    const offline = values.all === true || positionals.length > 0;
    const format = formatFlag(values.format);
    const location = await migrationsFlag(values);
    const report = await runLint(offline ? undefined : worker, {
      migrationsDir: location.dir,
      location,
      all: values.all === true,
      names: positionals,
      fix: values.fix === true,
      ...(format ? { format } : {}),
    });
    return { exitCode: report.exitCode, report };
  },
});
