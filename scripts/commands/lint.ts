/**
 * `lint` (`pnpm migrate:lint`): static checks of migrations with PostgreSQL's parser, and
 * `--fix` for the generated noise the linter can prove. Deploy calls {@link lintPending} first.
 *
 * Which migrations are linted:
 * - default: the pending ones, as deploy would apply them (the worker's ledger says which);
 *   the applied ones are the history the schema model is learned from.
 * - `--all`: every local migration, each against the local history before it; no worker.
 * - `NAME…`: these folders, each against the local history before it; no worker.
 */
import { writeFile } from 'node:fs/promises';
import { ErrorCode, MigrateError, type ServerFacts } from '../../lambda/contract/index.js';
import type { LocalMigration } from '../discover.js';
import type { Worker } from '../invoke.js';
import { fixMigration, type RemovedStatement } from '../lint/fix.js';
import { lint, lintHistory, type LintResult } from '../lint/lint.js';
import { loadLintParser } from '../lint/parse.js';
import type { Finding, LintInput } from '../lint/types.js';
import type { Problem } from '../plan.js';
import { ledgerFor, loadLocal, planFor } from './local-state.js';

export interface LintCommandOptions {
  migrationsDir: string;
  /** Lint every local migration, each against the history before it (no worker needed). */
  all?: boolean;
  /** Lint these migration folders, each against the local history before it (no worker needed). */
  names?: string[];
  /** Remove the statements proven to be generated noise from the linted files. */
  fix?: boolean;
}

export interface FixedFile {
  migration: string;
  path: string;
  removed: RemovedStatement[];
}

export interface LintReport {
  command: 'lint';
  migrationsDir: string;
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
    throw new MigrateError(ErrorCode.UsageError, 'Pass either --all or migration names, not both.', 'Run `vpc-migrate lint --all`, or `vpc-migrate lint NAME…`.');
  }
  if (opts.fix && opts.all) {
    throw new MigrateError(
      ErrorCode.UsageError,
      '--fix with --all would edit migrations that are already applied, changing their checksums.',
      'Run `lint --fix` on the pending migrations (with a worker flag), or name the migrations to fix: `vpc-migrate lint --fix NAME`.',
    );
  }
  const [{ discovery, warnings }] = await Promise.all([loadLocal(opts.migrationsDir), loadLintParser()]);
  const inputs = discovery.migrations.map(toInput);
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
    run = (current) => lintHistory(discovery.migrations.map((m) => current.get(m.name)!), (n) => wanted.has(n));
  } else if (opts.all) {
    scope = 'all';
    run = (current) => lintHistory(discovery.migrations.map((m) => current.get(m.name)!));
  } else {
    if (!worker) {
      throw new MigrateError(ErrorCode.NoTarget, 'Linting the pending migrations needs the ledger, so a worker.', 'Pass --local, --function NAME or --stack NAME; or lint without a database: `lint --all` or `lint NAME…`.');
    }
    scope = 'pending';
    const ledger = await ledgerFor(worker, discovery);
    server = ledger.server;
    const pending = new Set(planFor(discovery, ledger, {}).pending);
    run = (current) => {
      const all = discovery.migrations.map((m) => current.get(m.name)!);
      return lint(all.filter((m) => pending.has(m.name)), all.filter((m) => !pending.has(m.name)), { defaultSchema: ledger.server.schema });
    };
  }

  let result = run(byName);
  const fixed: FixedFile[] = [];
  if (opts.fix) {
    const current = new Map(byName);
    for (const file of result.files) {
      const change = fixMigration(file, result.findings);
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
    migrationsDir: opts.migrationsDir,
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

/** Deploy lists at most this many lint warnings one by one; beyond, it counts them per rule. */
const MAX_LISTED_WARNINGS = 10;

export interface PendingLint {
  findings: Finding[];
  /** One per error finding: deploy refuses (`VPCM_LINT_FAILED`). */
  problems: Problem[];
  /** Lines for the deploy report's warnings. */
  warnings: string[];
}

/**
 * Lints the pending migrations for deploy: `local` in apply order, `pending` from the plan.
 * Errors become problems (deploy refuses), warnings become report lines.
 */
export async function lintPending(local: readonly LocalMigration[], pending: readonly string[], opts: { defaultSchema?: string } = {}): Promise<PendingLint> {
  if (pending.length === 0) return { findings: [], problems: [], warnings: [] };
  await loadLintParser();
  const wanted = new Set(pending);
  const inputs = local.map(toInput);
  const { findings } = lint(
    inputs.filter((m) => wanted.has(m.name)),
    inputs.filter((m) => !wanted.has(m.name)),
    opts.defaultSchema ? { defaultSchema: opts.defaultSchema } : {},
  );
  const problems: Problem[] = findings
    .filter((f) => f.severity === 'error')
    .map((f) => ({
      code: ErrorCode.LintFailed,
      migration: f.migration,
      message: `${f.file}:${f.line} [${f.rule}] ${f.message}`,
      remedy: `${f.fix} Or pass --no-lint to deploy without these checks.`,
    }));
  const warned = findings.filter((f) => f.severity === 'warning');
  let warnings: string[];
  if (warned.length <= MAX_LISTED_WARNINGS) {
    warnings = warned.map((f) => `lint ${f.file}:${f.line} [${f.rule}] ${f.message}`);
  } else {
    const perRule = new Map<string, number>();
    for (const f of warned) perRule.set(f.rule, (perRule.get(f.rule) ?? 0) + 1);
    const files = new Set(warned.map((f) => f.migration)).size;
    warnings = [
      `lint: ${warned.length} warning(s) in ${files} pending migration(s) (${[...perRule].map(([r, n]) => `${r} ${n}`).join(', ')}); \`pnpm migrate:lint\` lists them with the fix.`,
    ];
  }
  return { findings, problems, warnings };
}

function toInput(m: LocalMigration): LintInput {
  return { name: m.name, sql: m.sql, path: m.path };
}
