/**
 *  Text of `rehearse`: each migration's duration, locks (by what they block), rows touched and errors, then the totals.
 */
import type { RehearsalLock, RehearsalResult } from '../../lambda/contract/index.js';
import type { RehearseReport } from '../commands/rehearse.js';
import { bold, dim, green, migrationsPlace, red, serverLine, yellow } from './common.js';

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
      lines.push(
        `  ${yellow('◐')} ${r.name} ${time}, ${r.statementsRun} ` +
          `of ${r.statements} statement(s) rehearsed, ${rowTotal} ` +
          `row(s) touched`,
      );
      break;
    case 'not-rehearsable':
      lines.push(`  ${yellow('○')} ${r.name} — not rehearsable: nothing in it can run inside a transaction`);
      break;
    case 'shared-transaction':
      lines.push(
        `  ${yellow('~')} ${r.name} ${time} — refused only because the rehearsal shares one transaction (not a defect)`,
      );
      break;
    case 'failed':
      lines.push(
        `  ${red('✖')} ${r.name} ${time} — failed at migration.sql ` +
          `line ${r.error?.line ?? '?'}${r.error?.column ? `, column ${r.error.column}` : ''}`,
      );
      break;
  }
  const e = r.error;
  if (e) {
    lines.push(`      ${e.code ? `SQLSTATE ${e.code}: ` : ''}${e.message}`);
    if (e.detail) lines.push(`      DETAIL: ${e.detail.replace(/\n/g, `\n${' '.repeat(14)}`)}`);
    if (e.hint) lines.push(`      HINT: ${e.hint}`);
    if (e.statement) lines.push(`      statement: ${e.statement.split('\n')[0]}`);
  }
  if (r.note) lines.push(`      ${dim('note')} ${r.note}`);
  for (const s of r.notRehearsed) {
    const why =
      s.reason === 'non-transactional'
        ? 'cannot run in a transaction: not rehearsed'
        : "the file's own transaction control, replaced by the rehearsal's transaction";
    lines.push(`      ${dim(`line ${s.line}`)} ${s.statement.split('\n')[0]} — ${why}`);
  }
  for (const s of r.skipped)
    lines.push(`      ${dim(`line ${s.line}`)} skipped as deploy would (already exists): ${s.code} ${s.message}`);
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
  for (const t of r.rows.slice(0, 5))
    lines.push(`      ${dim('rows')} ${t.table}: ${t.inserted} inserted, ${t.updated} updated, ${t.deleted} deleted`);
  if (r.rows.length > 5) lines.push(`      ${dim(`rows in ${r.rows.length - 5} more table(s)`)}`);
  return lines;
}

export function renderRehearse(r: RehearseReport): string {
  const out = [serverLine(r.server), `Migrations: ${migrationsPlace(r.migrations)} — ${r.summary}`];
  for (const w of r.warnings) out.push(`${yellow('warning')} ${w}`);
  if (r.problems.length > 0) {
    out.push(
      red(`Deploy would refuse (${r.problems.length} problem(s)); the pending migrations are rehearsed anyway:`),
    );
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
    for (const s of r.result.sequencesAdvanced)
      out.push(`  ${s.sequence}: ${s.before ?? 'unused'} → ${s.after ?? 'unused'}`);
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
  out.push(
    dim(
      `Locks listed are those each migration took first; one ` +
        `an earlier pending migration already held is not repeated. ` +
        `${r.invocations} invocation(s), ${(r.durationMs / 1000).toFixed(2)} ` +
        `s`,
    ),
  );
  return out.join('\n');
}
