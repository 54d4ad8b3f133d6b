/** Text of `drift`: where the expected schema was built, each difference with both definitions, the verdict. */
import type { DriftReport } from '../commands/drift.js';
import { bold, dim, green, migrationsPlace, problemLines, red, serverLine, yellow } from './common.js';

const CHANGE = { missing: 'missing in live', 'only-in-live': 'only in live', changed: 'changed' } as const;

export function renderDrift(r: DriftReport): string {
  const out = [serverLine(r.server), `Migrations: ${migrationsPlace(r.migrations)}`];
  const place = r.builtIn
    ? r.builtIn.kind === 'scratch'
      ? `scratch database ${r.builtIn.name} (${r.cleanedUp ? 'dropped' : 'NOT dropped'})`
      : `dev database "${r.builtIn.name}" (${r.cleanedUp ? 'emptied' : 'NOT emptied'})`
    : 'not built';
  out.push(
    `Expected schema: ${r.applied} applied migration(s) in the ${place}` +
      `${r.pending > 0 ? dim(`; ${r.pending} pending migration(s) not part of it`) : ''}`,
  );
  if (r.objects) out.push(dim(`Compared ${r.objects.expected} expected and ${r.objects.live} live object(s).`));
  if (r.excluded.length > 0) out.push(dim(`Excluded: ${r.excluded.join(', ')}`));
  if (r.removedStale.length > 0) out.push(dim(`Removed stale scratch database(s): ${r.removedStale.join(', ')}`));
  for (const w of r.warnings) out.push(`${yellow('warning')} ${w}`);
  if (r.differences.length > 0) {
    out.push('', red(bold(`${r.differences.length} difference(s):`)));
    for (const d of r.differences) {
      out.push(`  ${red('•')} ${d.kind} ${bold(d.object)}: ${CHANGE[d.change]}`);
      if (d.expected !== undefined) out.push(`      expected: ${d.expected}`);
      if (d.live !== undefined) out.push(`      live:     ${d.live}`);
    }
  }
  if (r.findings.length > 0)
    out.push('', red(bold(`${r.findings.length} ledger finding(s):`)), ...problemLines(r.findings));
  if (r.problems.length > 0) out.push('', red(bold(`${r.problems.length} problem(s):`)), ...problemLines(r.problems));
  out.push('');
  if (r.exitCode === 0) out.push(green(bold('No drift: the live schema matches its applied migrations.')));
  else if (r.exitCode === 3) out.push(red(bold('Drift: the live schema differs from its applied migrations.')));
  else out.push(red(bold('The drift check could not be completed.')));
  return out.join('\n');
}
