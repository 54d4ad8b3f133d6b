/** Text output of `lint`: findings grouped by file, then each rule's why and fix once. */
import type { LintReport } from '../commands/lint.js';
import { RULES } from '../lint/rules/index.js';
import { bold, dim, green, migrationsPlace, red, serverLine, yellow } from './common.js';

export function renderLint(r: LintReport): string {
  const out: string[] = [];
  if (r.server) out.push(serverLine(r.server));
  const what =
    r.scope === 'pending'
      ? 'pending migration(s)'
      : r.scope === 'all'
        ? 'migration(s), each against the history before it'
        : 'named migration(s), each against the history before it';
  out.push(`Lint: ${r.linted.length} ${what} in ${migrationsPlace(r.migrations)}`);
  for (const note of r.notes) out.push(`${yellow('warning')} ${note}`);

  for (const f of r.fixed) {
    out.push('', green(`Fixed ${f.migration}/migration.sql: removed ${f.removed.length} generated statement(s)`));
    for (const x of f.removed) out.push(`  ${dim(`line ${x.line}`)} ${x.rule}  ${x.statement}`);
  }

  let file = '';
  for (const f of r.findings) {
    if (f.file !== file) {
      file = f.file;
      out.push('');
    }
    const severity = f.severity === 'error' ? red('error  ') : yellow('warning');
    out.push(`  ${`${f.file}:${f.line}`} ${severity} ${f.rule}${f.fixable ? dim(' (fixable)') : ''}`);
    out.push(`      ${f.message}`);
    if (f.statement) out.push(`      ${dim(f.statement)}`);
  }

  const used = new Set(r.findings.map((f) => f.rule));
  const rules = RULES.filter((rule) => used.has(rule.id));
  if (rules.length > 0) {
    out.push('', bold('Why it matters, and the fix:'));
    for (const rule of rules) {
      out.push(
        `  ${rule.id} (${rule.severity}): ${rule.title}`,
        `    ${dim('why')} ${rule.why}`,
        `    ${dim('fix')} ${rule.fix}`,
      );
    }
  }

  out.push('');
  const fixable = r.fixable > 0 ? `, ${r.fixable} removable with --fix` : '';
  const counts = `${r.errors} error(s), ${r.warnings} warning(s)${fixable}`;
  if (r.linted.length === 0)
    out.push(green(bold(r.scope === 'pending' ? 'Nothing pending: nothing to lint.' : 'Nothing to lint.')));
  else if (r.errors > 0)
    out.push(red(bold(`${counts}. Deploy refuses these migrations until the errors are fixed (or --no-lint).`)));
  else if (r.warnings > 0) out.push(yellow(bold(`${counts}. No errors: deploy proceeds and prints the warnings.`)));
  else out.push(green(bold('No findings.')));
  out.push(dim(`${(r.durationMs / 1000).toFixed(2)} s`));
  return out.join('\n');
}
