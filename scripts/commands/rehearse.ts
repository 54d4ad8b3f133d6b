/**
 * `rehearse` (`pnpm migrate:rehearse`): for staging rehearsals. The pending migrations (the
 * deploy plan) run in ONE transaction on the target, each measured — duration, locks, rows
 * touched, error — and then everything is rolled back. Nothing is recorded in the ledger.
 */
import { randomUUID } from 'node:crypto';
import {
  type ApplyOptions,
  ErrorCode,
  MigrateError,
  type MigrationFormat,
  type RehearsalLock,
  type RehearsalResult,
  type RehearseResult,
  type ServerFacts,
} from '../../lambda/contract/index.js';
import { batchBySize, buildPayload, BATCH_BYTES } from '../batch.js';
import type { Command } from './command.js';
import { formatFlag } from '../format.js';
import { formatBytes, type Worker } from '../invoke.js';
import { summarize, type PlanOptions, type Problem } from '../plan.js';
import { bold, dim, green, red, serverLine, yellow } from '../report.js';
import { loadParser, splitMigration } from '../split.js';
import { applyOptionsFrom, stringFlag, usageError } from './flags.js';
import { loadState } from './local-state.js';

export interface RehearseOptions extends PlanOptions {
  migrationsDir: string;
  options?: ApplyOptions;
  /** Rehearse the pending migrations up to and including this one. */
  to?: string;
  /** `prisma` or `drizzle`; default: detected from the folder. */
  format?: MigrationFormat;
  progress?: (line: string) => void;
}

export interface RehearseReport {
  command: 'rehearse';
  migrationsDir: string;
  server: ServerFacts;
  summary: string;
  /** The migrations rehearsed, in order. */
  pending: string[];
  /** What deploy would refuse on (reported; the rehearsal still runs). */
  problems: Problem[];
  warnings: string[];
  result?: RehearseResult;
  counts: Record<RehearsalResult['status'], number>;
  invocations: number;
  durationMs: number;
  exitCode: 0 | 2;
}

const STATUSES: RehearsalResult['status'][] = ['rehearsed', 'partial', 'failed', 'shared-transaction', 'not-rehearsable', 'already-applied', 'not-started'];

export async function rehearseMigrations(worker: Worker, opts: RehearseOptions): Promise<RehearseReport> {
  const started = Date.now();
  const [state] = await Promise.all([loadState(worker, opts.migrationsDir, opts), loadParser()]);
  let pending = state.plan.pending;
  if (opts.to !== undefined) {
    const at = pending.indexOf(opts.to);
    if (at === -1) throw usageError(`--to ${opts.to} is not a pending migration.`, `Pending: ${pending.slice(0, 5).join(', ') || 'none'}${pending.length > 5 ? ', …' : ''}.`);
    pending = pending.slice(0, at + 1);
  }
  const report: RehearseReport = {
    command: 'rehearse',
    migrationsDir: opts.migrationsDir,
    server: state.ledger.server,
    summary: summarize(state.plan),
    pending,
    problems: state.plan.problems,
    warnings: [...state.warnings],
    counts: Object.fromEntries(STATUSES.map((s) => [s, 0])) as RehearseReport['counts'],
    invocations: 0,
    durationMs: 0,
    exitCode: 2,
  };
  if (pending.length > 0) {
    const byName = new Map(state.discovery.migrations.map((m) => [m.name, m]));
    const payloads = pending.map((name) => {
      const m = byName.get(name)!;
      const split = splitMigration(m.sql);
      if (split.parseError) {
        report.warnings.push(`${name}/migration.sql:${split.parseError.line}:${split.parseError.column}: PostgreSQL's parser rejects it (${split.parseError.message}); it is sent whole.`);
      }
      return buildPayload(m, split);
    });
    if (batchBySize(payloads).length > 1) {
      throw new MigrateError(
        ErrorCode.PayloadTooLarge,
        `The ${pending.length} pending migrations do not fit one Invoke request (${formatBytes(BATCH_BYTES)}), and a rehearsal runs them in one transaction.`,
        `Rehearse the first part with --to NAME (e.g. --to ${pending[Math.floor(pending.length / 2)]}), deploy it, then rehearse the rest.`,
      );
    }
    opts.progress?.(`Rehearsing ${pending.length} pending migration(s) in one transaction (rolled back at the end)…`);
    const event: Record<string, unknown> = { action: 'rehearse', requestId: randomUUID(), migrations: payloads };
    if (opts.options && Object.keys(opts.options).length > 0) event.options = opts.options;
    report.result = await worker.send<RehearseResult>(event);
    for (const r of report.result.results) report.counts[r.status]++;
  }
  const broken = report.counts.failed > 0 || report.counts['not-started'] > 0;
  report.exitCode = broken || report.problems.length > 0 ? 2 : 0;
  report.invocations = worker.invocations;
  report.durationMs = Date.now() - started;
  return report;
}

const IMPACT: Record<NonNullable<RehearsalLock['blocks']>, string> = {
  'reads-and-writes': 'blocks reads and writes',
  writes: 'blocks writes',
  'schema-changes': 'blocks schema changes and VACUUM',
  ddl: 'blocks only schema changes of it',
};

function lockLine(l: RehearsalLock): string {
  const what = l.kind ? `${l.target} (${l.kind})` : l.target;
  const impact = l.blocks ? ` — ${IMPACT[l.blocks]}` : '';
  const text = `${l.mode} on ${what}${impact}`;
  return l.blocks === 'reads-and-writes' ? red(text) : l.blocks === 'writes' ? yellow(text) : text;
}

function resultLines(r: RehearsalResult): string[] {
  const time = dim(`${r.durationMs} ms`);
  const rowTotal = r.rows.reduce((n, x) => n + x.inserted + x.updated + x.deleted, 0);
  const lines: string[] = [];
  switch (r.status) {
    case 'already-applied':
      return [`  ${dim('=')} ${r.name} — already applied (recorded in the ledger), not rehearsed`];
    case 'not-started':
      return [`  ${dim('·')} ${r.name} — not started: the worker's time budget ran out`];
    case 'rehearsed':
      lines.push(`  ${green('✔')} ${r.name} ${time}, ${r.statementsRun} statement(s), ${rowTotal} row(s) touched`);
      break;
    case 'partial':
      lines.push(`  ${yellow('◐')} ${r.name} ${time}, ${r.statementsRun} of ${r.statements} statement(s) rehearsed, ${rowTotal} row(s) touched`);
      break;
    case 'not-rehearsable':
      lines.push(`  ${yellow('○')} ${r.name} — not rehearsable: nothing in it can run inside a transaction`);
      break;
    case 'shared-transaction':
      lines.push(`  ${yellow('~')} ${r.name} ${time} — refused only because the rehearsal shares one transaction (not a defect)`);
      break;
    case 'failed':
      lines.push(`  ${red('✖')} ${r.name} ${time} — failed at migration.sql line ${r.error?.line ?? '?'}${r.error?.column ? `, column ${r.error.column}` : ''}`);
      break;
  }
  const e = r.error;
  if (e) {
    lines.push(`      ${e.code ? `SQLSTATE ${e.code}: ` : ''}${e.message}`);
    if (e.detail) lines.push(`      DETAIL: ${e.detail}`);
    if (e.hint) lines.push(`      HINT: ${e.hint}`);
    if (e.statement) lines.push(`      statement: ${e.statement.split('\n')[0]}`);
  }
  if (r.note) lines.push(`      ${dim('note')} ${r.note}`);
  for (const s of r.notRehearsed) {
    const why = s.reason === 'non-transactional' ? 'cannot run in a transaction: not rehearsed' : "the file's own transaction control, replaced by the rehearsal's transaction";
    lines.push(`      ${dim(`line ${s.line}`)} ${s.statement.split('\n')[0]} — ${why}`);
  }
  for (const s of r.skipped) lines.push(`      ${dim(`line ${s.line}`)} skipped as deploy would (already exists): ${s.code} ${s.message}`);
  const existing = r.locks.filter((l) => !l.newObject);
  const strong = existing.filter((l) => l.blocks !== 'ddl');
  const weak = existing.length - strong.length;
  const fresh = r.locks.length - existing.length;
  if (strong.length > 0) {
    lines.push(`      ${dim('locks')} ${lockLine(strong[0]!)}`);
    for (const l of strong.slice(1)) lines.push(`            ${lockLine(l)}`);
  }
  const more = [
    weak > 0 ? `${weak} weaker lock(s) on existing objects (they block only schema changes of those)` : '',
    fresh > 0 ? `${fresh} on objects it creates (nobody else can be waiting for those)` : '',
  ].filter(Boolean);
  if (more.length > 0) lines.push(`      ${dim(`${strong.length > 0 ? 'plus ' : 'locks: '}${more.join('; ')}`)}`);
  for (const t of r.rows.slice(0, 5)) lines.push(`      ${dim('rows')} ${t.table}: ${t.inserted} inserted, ${t.updated} updated, ${t.deleted} deleted`);
  if (r.rows.length > 5) lines.push(`      ${dim(`rows in ${r.rows.length - 5} more table(s)`)}`);
  return lines;
}

export function renderRehearse(r: RehearseReport): string {
  const out = [serverLine(r.server), `Migrations: ${r.migrationsDir} — ${r.summary}`];
  for (const w of r.warnings) out.push(`${yellow('warning')} ${w}`);
  if (r.problems.length > 0) {
    out.push(red(`Deploy would refuse (${r.problems.length} problem(s)); the pending migrations are rehearsed anyway:`));
    for (const p of r.problems) out.push(`  ${red('✖')} ${p.message}`, `    ${dim('next')} ${p.remedy}`);
  }
  if (!r.result) {
    out.push('', green(bold('Nothing to rehearse: 0 pending migrations.')));
    return out.join('\n');
  }
  out.push('', `Rehearsal of ${r.pending.length} pending migration(s) in one transaction:`);
  for (const res of r.result.results) out.push(...resultLines(res));
  out.push('');
  if (r.result.sequencesAdvanced.length > 0) {
    out.push(yellow('Sequences advanced (nextval is never rolled back; concurrent sessions may account for part):'));
    for (const s of r.result.sequencesAdvanced) out.push(`  ${s.sequence}: ${s.before ?? 'unused'} → ${s.after ?? 'unused'}`);
  }
  const c = r.counts;
  const parts = [`${c.rehearsed} rehearsed`];
  if (c.partial) parts.push(`${c.partial} partly (statements that cannot run in a transaction)`);
  if (c['not-rehearsable']) parts.push(`${c['not-rehearsable']} not rehearsable`);
  if (c['shared-transaction']) parts.push(`${c['shared-transaction']} refused only by the shared transaction`);
  if (c['already-applied']) parts.push(`${c['already-applied']} already applied`);
  if (c['not-started']) parts.push(`${c['not-started']} not started`);
  parts.push(`${c.failed} failed`);
  const line = `${parts.join(', ')}. Rolled back: the database is as it was.`;
  out.push(c.failed > 0 || c['not-started'] > 0 ? red(bold(line)) : green(bold(line)));
  out.push(dim(`Locks listed are those each migration took first; one an earlier pending migration already held is not repeated. ${r.invocations} invocation(s), ${(r.durationMs / 1000).toFixed(2)} s`));
  return out.join('\n');
}

export const rehearseCommand: Command = {
  summary: 'apply pending migrations in one transaction, measure, roll back (pnpm migrate:rehearse)',
  usage: `vpc-migrate rehearse [options]      (pnpm migrate:rehearse)
For staging: runs every pending migration inside ONE transaction on the target, measures each
(duration, locks taken from pg_locks, rows touched, error), then rolls everything back. Nothing is
recorded, the ledger is not created. Statements that cannot run in a transaction
(CREATE INDEX CONCURRENTLY, VACUUM, ...) are listed as not rehearsed; a refusal caused only by the
shared transaction (a new enum value used by a later pending file) is reported as such.
  --to NAME               rehearse the pending migrations up to and including NAME
  --lock-wait SEC         wait this long for a running deploy to release the lock (default 10)
  --lock-timeout MS       PostgreSQL lock_timeout for the statements (default: none, as deploy)
  --statement-timeout MS  cap for each statement (always below the function's remaining time)
  --no-reconcile          treat "already exists" as a failure instead of skipping as deploy does
Exit codes: 0 every pending migration rehearsed without error (or nothing pending), 2 a migration
failed, the time budget ran out, deploy would refuse (failed/modified/out-of-order), or worker error.`,
  options: {
    to: { type: 'string' },
    'lock-wait': { type: 'string' },
    'lock-timeout': { type: 'string' },
    'statement-timeout': { type: 'string' },
    'no-reconcile': { type: 'boolean' },
  },
  needsWorker: true,
  async run({ values, positionals, worker, progress }) {
    if (positionals.length > 0) throw usageError(`Unexpected argument ${positionals[0]}.`, 'Run vpc-migrate rehearse --help.');
    const opts: RehearseOptions = { migrationsDir: stringFlag(values, 'migrations') ?? 'prisma/migrations', options: applyOptionsFrom(values), progress };
    const to = stringFlag(values, 'to');
    if (to !== undefined) opts.to = to;
    const format = formatFlag(values.format);
    if (format !== undefined) opts.format = format;
    const report = await rehearseMigrations(worker, opts);
    return { exitCode: report.exitCode, json: report, text: renderRehearse(report) };
  },
};
