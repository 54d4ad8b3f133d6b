/** Text of `deploy --targets` (the rollout's outcome) and `status --targets` (the matrix). */
import type { RolloutReport, TargetEntry } from '../rollout/report.js';
import type { StatusMatrixReport } from '../rollout/status-matrix.js';
import { bold, dim, green, red, yellow } from './common.js';

export function renderRollout(r: RolloutReport): string {
  const c = r.counts;
  const width = Math.max(6, ...r.targets.map((t) => t.name.length));
  const out = [
    `Rollout of ${r.migrationsDir} to ${r.targets.length} target(s) from ${r.targetsFile}` +
      (r.resumedFrom ? ` (resuming ${r.resumedFrom})` : ''),
    dim(`canary: ${r.canary.join(', ') || 'none'}; concurrency ${r.concurrency}; --max-failures ${r.maxFailures}`),
    ...r.warnings.map((w) => `${yellow('warning')} ${w}`),
    '',
    ...r.targets.flatMap((t) => [`  ${t.name.padEnd(width)}  ${statusCell(t)}`, ...nextStep(t.error?.remedy, width)]),
    '',
    `${c.succeeded} succeeded, ${c.failed} failed, ${c.skipped} skipped` +
      (c.running + c.pending > 0 ? `, ${c.running + c.pending} not finished` : '') +
      ` in ${(r.durationMs / 1000).toFixed(1)} s.`,
    `Report: ${r.reportFile}`,
  ];
  if (r.exitCode === 0) {
    out.push(green(bold(r.next ? 'Every target that ran is up to date.' : 'Every target is up to date.')));
    if (r.next) out.push(yellow(r.next));
  } else {
    const stop = r.stopReason ? `The rollout stopped: ${r.stopReason}. ` : '';
    out.push(red(bold(`${stop}Not every target is up to date.`)));
    if (r.next) out.push(yellow(r.next));
  }
  return out.join('\n');
}

/** A failed target's own next step under its row: resuming alone does not clear a failed migration (P3009). */
function nextStep(remedy: string | undefined, width: number): string[] {
  return remedy ? [`  ${' '.repeat(width)}  ${dim('next')} ${remedy}`] : [];
}

function statusCell(t: TargetEntry): string {
  const applied = t.applied.length > 0 ? `${t.applied.length} applied` : 'nothing to apply';
  switch (t.status) {
    case 'succeeded':
      return green(t.carried ? 'succeeded earlier' : `up to date (${applied})`);
    case 'failed':
      return red(`failed ${t.error?.code ?? ''}: ${t.error?.message ?? ''}`);
    case 'skipped':
      return yellow('skipped');
    default:
      return yellow(t.status);
  }
}

export function renderStatusMatrix(r: StatusMatrixReport): string {
  const width = Math.max(6, ...r.rows.map((row) => row.name.length));
  const out = [`Status of ${r.migrationsDir} on ${r.rows.length} target(s) from ${r.targetsFile}`, ''];
  out.push(dim(`  ${'target'.padEnd(width)}  state        pending  failed  problems`));
  for (const row of r.rows) {
    const state =
      row.state === 'up-to-date'
        ? green('up to date ')
        : row.state === 'pending'
          ? yellow('pending    ')
          : red('problem    ');
    out.push(
      `  ${row.name.padEnd(width)}  ${state}  ${String(row.pending.length).padStart(7)}  ` +
        `${String(row.failed.length).padStart(6)}  ${row.problems.map((p) => p.code).join(', ')}`.trimEnd(),
    );
  }
  const c = r.counts;
  out.push('', `${c.upToDate} up to date, ${c.pending} pending, ${c.problem} with a problem.`);
  const troubled = r.rows.filter((row) => row.problems.length > 0);
  if (troubled.length > 0) out.push('', red(bold('Problems:')));
  for (const row of troubled)
    for (const p of row.problems) {
      out.push(`  ${row.name}: ${p.code} ${p.message}`);
      if (p.remedy) out.push(`    ${dim('next')} ${p.remedy}`);
    }
  if (r.next) out.push(yellow(bold(r.next)));
  return out.join('\n');
}
