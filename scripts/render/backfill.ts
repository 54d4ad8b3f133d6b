/** Text of `backfill`: what ran (rows per table, notices, the check before and after), or why not. */
import { type CheckOutcome, sqlErrorOf } from '../../lambda/contract/index.js';
import type { BackfillReport } from '../commands/backfill.js';
import { bold, dim, green, red, yellow } from './common.js';
import { caretLines, renderTable } from './rows.js';

function checkLines(label: string, c: CheckOutcome): string[] {
  if (c.error) return [`  ${label}: ${red('check failed')} ${c.error.code ?? ''} ${c.error.message}`];
  const table = renderTable(
    c.fields.map((f) => f.name),
    c.rows,
  );
  return [
    `  ${label}:`,
    ...table.split('\n').map((l) => `    ${l}`),
    ...(c.truncated ? [`    ${dim('(more rows not shown)')}`] : []),
  ];
}

export function renderBackfill(r: BackfillReport, sql?: string): string {
  const out: string[] = [];
  for (const w of r.warnings) out.push(`${yellow('warning')} ${w}`);
  if (r.status === 'already-run') {
    out.push(yellow(bold(`Backfill ${r.name} has already run; nothing was run this time.`)));
    for (const run of r.previousRuns ?? []) {
      out.push(
        `  ran ${run.finishedAt} by ${run.runBy}: ${run.rowsAffected} ` +
          `row(s)${run.again ? ' (--again)' : ''}` +
          `${run.checksum !== r.checksum ? dim(' — the file has changed since') : ''}`,
      );
    }
    out.push(`  ${dim('next')} ${r.error?.remedy ?? 'Pass --again to run it once more on purpose.'}`);
    return out.join('\n');
  }
  if (r.status === 'failed') {
    const info = sqlErrorOf(r.error);
    out.push(red(bold(`Backfill ${r.name} failed: nothing was changed and nothing was recorded.`)));
    out.push(`  ${info?.code ? `SQLSTATE ${info.code}: ` : ''}${info?.message ?? r.error?.message ?? ''}`);
    if (info && sql) out.push(...caretLines(sql, info, `${r.name}.sql line`).map((l) => `  ${l}`));
    if (info?.detail) out.push(`  DETAIL: ${info.detail}`);
    if (info?.hint) out.push(`  HINT: ${info.hint}`);
    out.push(`  ${dim('next')} ${r.error?.remedy ?? ''}`);
    return out.join('\n');
  }
  const res = r.result;
  if (!res) return out.join('\n');
  if (res.tableCreated) out.push(dim('Created the tracking table _vpc_migrate_backfills.'));
  if (res.previousRuns.length > 0)
    out.push(yellow(`Ran again (--again): ${res.previousRuns.length} earlier run(s) recorded.`));
  out.push(
    green(
      bold(
        `Backfill ${r.name} ran in one transaction: ${res.rowsAffected} ` +
          `row(s) affected, ${res.durationMs} ms. Recorded.`,
      ),
    ),
  );
  for (const t of res.rows.slice(0, 10))
    out.push(`  ${dim('rows')} ${t.table}: ${t.inserted} inserted, ${t.updated} updated, ${t.deleted} deleted`);
  for (const n of res.notices) out.push(`  ${dim(n)}`);
  if (res.check) {
    out.push(`Check: ${res.check.query}`);
    out.push(...checkLines('before', res.check.before), ...checkLines('after', res.check.after));
  }
  return out.join('\n');
}
