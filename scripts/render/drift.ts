/** Text of `drift`: where the expected schema was built, each difference with both definitions, the verdict. */
import type { DriftReport } from '../commands/drift.js';
import type { DriftMatrixReport } from '../rollout/drift-matrix.js';
import { bold, dim, green, migrationsPlace, problemLines, red, serverLine, yellow } from './common.js';

const CHANGE = { missing: 'missing in live', 'only-in-live': 'only in live', changed: 'changed' } as const;

/** A definition over several lines (a function's body, a folded table) stays under its label. */
const indented = (definition: string) => definition.replace(/\r?\n/g, `\n${' '.repeat(16)}`);

export function renderDrift(r: DriftReport): string {
  const out = [serverLine(r.server), `Migrations: ${migrationsPlace(r.migrations)}`];
  const place = r.builtIn
    ? r.builtIn.kind === 'scratch'
      ? `in the scratch database ${r.builtIn.name} (${r.cleanedUp ? 'dropped' : 'NOT dropped'})`
      : `in the dev database "${r.builtIn.name}" (${r.cleanedUp ? 'emptied' : 'NOT emptied'})`
    : undefined;
  out.push(
    (place ? `Expected schema: ${r.applied} applied migration(s) ${place}` : 'Expected schema: not built') +
      `${r.pending > 0 ? dim(`; ${r.pending} pending migration(s) not part of it`) : ''}`,
  );
  if (r.objects) out.push(dim(`Read ${r.objects.expected} expected and ${r.objects.live} live object(s).`));
  if (r.excluded.length > 0) out.push(dim(`Excluded: ${r.excluded.join(', ')}`));
  if (r.removedStale.length > 0) out.push(dim(`Removed stale scratch database(s): ${r.removedStale.join(', ')}`));
  for (const w of r.warnings) out.push(`${yellow('warning')} ${w}`);
  if (r.differences.length > 0) {
    out.push('', red(bold(`${r.differences.length} difference(s):`)));
    for (const d of r.differences) {
      out.push(`  ${red('•')} ${d.kind} ${bold(d.object)}: ${CHANGE[d.change]}`);
      if (d.expected !== undefined) out.push(`      expected: ${indented(d.expected)}`);
      if (d.live !== undefined) out.push(`      live:     ${indented(d.live)}`);
    }
  }
  if (r.findings.length > 0)
    out.push('', red(bold(`${r.findings.length} ledger finding(s):`)), ...problemLines(r.findings));
  if (r.problems.length > 0) out.push('', red(bold(`${r.problems.length} problem(s):`)), ...problemLines(r.problems));
  out.push('');
  if (r.exitCode === 0) out.push(green(bold('No drift: the live schema matches its applied migrations.')));
  else if (r.exitCode === 3) out.push(red(bold('Drift: the live schema differs from its applied migrations.')));
  else if (r.problems.length === 0 && r.objects)
    // Only ledger findings: the comparison ran, but against edited files, not what the database ran.
    out.push(
      red(
        bold(
          `Not verified: compared with the local files (${r.differences.length > 0 ? 'drift above' : 'no drift'}), ` +
            'but an applied migration was edited since it was applied.',
        ),
      ),
    );
  else out.push(red(bold('The drift check could not be completed.')));
  out.push(dim(`${r.invocations} invocation(s), ${(r.durationMs / 1000).toFixed(2)} s`));
  return out.join('\n');
}

/** `drift --targets`: one line per target, then each target's differences and problems. */
export function renderDriftMatrix(r: DriftMatrixReport): string {
  const width = Math.max(6, ...r.rows.map((row) => row.name.length));
  const out = [`Drift of ${r.migrationsDir} on ${r.rows.length} target(s) from ${r.targetsFile}`, ''];
  out.push(dim(`  ${'target'.padEnd(width)}  state      differences  problems`));
  for (const row of r.rows) {
    const state =
      row.state === 'no-drift' ? green('no drift ') : row.state === 'drift' ? red('drift    ') : red('problem  ');
    out.push(
      `  ${row.name.padEnd(width)}  ${state}  ${String(row.differences.length).padStart(11)}  ` +
        row.problems.map((p) => p.code).join(', '),
    );
  }
  const c = r.counts;
  out.push('', `${c.noDrift} without drift, ${c.drift} with drift, ${c.problem} with a problem.`);
  for (const row of r.rows) {
    for (const d of row.differences) out.push(`  ${row.name}: ${d.kind} ${d.object}: ${CHANGE[d.change]}`);
    for (const p of row.problems) {
      out.push(`  ${row.name}: ${p.code} ${p.message}`);
      if (p.remedy) out.push(`    ${dim('next')} ${p.remedy}`);
    }
  }
  return out.join('\n');
}
