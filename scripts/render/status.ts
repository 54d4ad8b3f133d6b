/** Text of `status`: pending migrations (resumable ones noted), problems, and what to run next. */
import type { StatusReport } from '../commands/status.js';
import { bold, dim, functionLines, green, migrationsPlace, problemLines, red, serverLine, yellow } from './common.js';

export function renderStatus(r: StatusReport): string {
  const out = [
    serverLine(r.server),
    ...functionLines(r.function),
    `Migrations: ${migrationsPlace(r.migrations)} — ${r.summary}`,
  ];
  for (const w of r.warnings) out.push(`${yellow('warning')} ${w}`);
  if (r.server.lockHolder) {
    const h = r.server.lockHolder;
    out.push(yellow(`A migration is running now: pid ${h.pid} (${h.application ?? '?'}) since ${h.since ?? '?'}.`));
  }
  const p = r.plan;
  if (p.pending.length > 0) {
    out.push('', `${p.pending.length} pending migration(s):`);
    for (const name of p.pending) {
      const resume = p.failed.find((f) => f.name === name && f.resumable);
      const note = resume
        ? dim(` (interrupted after ${resume.appliedStepsCount} statement(s): deploy resumes it)`)
        : '';
      out.push(`  ${yellow('•')} ${name}${p.outOfOrder.includes(name) ? red(' (out of order)') : ''}${note}`);
    }
  }
  if (r.plan.problems.length > 0)
    out.push('', red(bold(`${r.plan.problems.length} problem(s):`)), ...problemLines(r.plan.problems));
  out.push('');
  if (r.exitCode === 0) out.push(green(bold('Database schema is up to date: 0 pending migrations.')));
  else if (r.next) out.push(yellow(bold(r.next)));
  return out.join('\n');
}
