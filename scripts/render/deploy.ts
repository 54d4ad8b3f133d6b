/** Text of `deploy`: the plan, each migration's result (with the statement_timeout it ran under), the verdict. */
import { LAMBDA_MAX_TIMEOUT_SECONDS, type MigrationResult } from '../../lambda/contract/index.js';
import type { DeployReport } from '../commands/deploy.js';
import { formatNamed } from '../formats/select.js';
import { bold, dim, green, migrationsPlace, problemLines, red, serverLine, yellow } from './common.js';

const seconds = (ms: number) =>
  ms === 0 ? 'no limit' : ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(ms % 1000 === 0 ? 0 : 1)} s`;

/** Which statement_timeout was in force after the file set its own, and why. */
function timeoutLines(r: MigrationResult, file: string): string[] {
  return (r.timeouts ?? []).map((t) =>
    t.winner === 'file'
      ? `      ${file} line ${t.line} sets statement_timeout ` +
        `= ${seconds(t.requestedMs)}: kept (it ends before the ` +
        `function's time does).`
      : `      ${file} line ${t.line} sets statement_timeout ` +
        `= ${seconds(t.requestedMs)}: the worker's time budget ` +
        `(${seconds(t.effectiveMs)}, the function's remaining ` +
        `time minus a margin) was kept instead, because Lambda ` +
        `kills a statement still running at the function timeout ` +
        `mid-write. Raise --function-timeout (at most ${LAMBDA_MAX_TIMEOUT_SECONDS} ` +
        `s) or split the migration to give it more.`,
  );
}

function resultLine(r: MigrationResult, file: string): string[] {
  return [...statusLines(r, file), ...timeoutLines(r, file)];
}

function statusLines(r: MigrationResult, file: string): string[] {
  const time = dim(`${r.durationMs} ms`);
  switch (r.status) {
    case 'applied':
      return [
        `  ${green('✔')} ${r.name} ${time}${
          r.resumedFrom !== undefined
            ? dim(` — resumed at statement ${r.resumedFrom + 1} after ` + `an interrupted run`)
            : ''
        }`,
      ];
    case 'reconciled':
      return [
        `  ${yellow('✔')} ${r.name} ${time} — reconciled, ${r.skipped?.length ?? 0} ` +
          `statement(s) skipped because the object already exists:`,
        ...(r.skipped ?? []).map((s) => `      line ${s.line}: ${s.code} ${s.message}`),
      ];
    case 'already-applied':
      return [`  ${dim('=')} ${r.name} — already recorded (another deploy applied it)`];
    case 'not-started':
      return [`  ${dim('·')} ${r.name} — not started`];
    case 'failed': {
      const e = r.error;
      const where = e?.line ? `${file} line ${e.line}${e.column ? `, column ${e.column}` : ''}` : file;
      const lines = [`  ${red('✖')} ${r.name} ${time} — failed at ${where}`];
      if (e?.code) lines.push(`      SQLSTATE ${e.code}: ${e.message}`);
      else if (e) lines.push(`      ${e.message}`);
      // A reconciliation detail spans lines (existing vs created): keep them under the DETAIL label.
      if (e?.detail) lines.push(`      DETAIL: ${e.detail.replace(/\n/g, `\n${' '.repeat(14)}`)}`);
      if (e?.hint) lines.push(`      HINT: ${e.hint}`);
      if (e?.statement) lines.push(`      statement: ${e.statement.split('\n')[0]}`);
      if (r.timeBudgetExhausted)
        lines.push(`      The statement was stopped by statement_timeout because the Lambda's time was running out.`);
      return lines;
    }
  }
}

export function renderDeploy(r: DeployReport): string {
  const format = formatNamed(r.format);
  const out = [serverLine(r.server), `Migrations: ${migrationsPlace(r.migrations)} — ${r.summaryBefore}`];
  for (const w of r.warnings) out.push(`${yellow('warning')} ${w}`);
  if (r.baselining)
    out.push(
      yellow(
        `The schema already held tables but no ${format.ledgerTable}: ` +
          `baselining — objects that already exist are reconciled ` +
          `and recorded.`,
      ),
    );
  if (r.results.length === 0 && r.problems.length === 0) {
    out.push('', green(bold('Up to date: 0 pending migrations. Nothing to apply.')));
    if (r.verification) out.push(green(r.verification));
    return out.join('\n');
  }
  if (r.results.length === 0) {
    out.push(
      '',
      red(bold(`Refusing to deploy: ${r.problems.length} problem(s); nothing was applied.`)),
      ...problemLines(r.problems),
    );
    return out.join('\n');
  }
  out.push('', `Pending: ${r.pending.length}`);
  for (const res of r.results) out.push(...resultLine(res, format.fileOf(res.name)));
  const applied = r.results.filter((x) => x.status === 'applied' || x.status === 'reconciled').length;
  out.push('');
  if (r.exitCode === 0) {
    out.push(
      green(
        bold(
          r.verification
            ? `Applied ${applied} migration(s). ${r.verification}`
            : `Applied ${applied} migration(s). Verified: the ledger holds all local migrations (${r.summaryAfter}).`,
        ),
      ),
    );
  } else {
    out.push(
      red(bold(`Deploy stopped: ${applied} applied, ${r.pending.length - applied} not applied.`)),
      ...problemLines(r.problems),
    );
    if (r.summaryAfter) out.push(`  ${dim('ledger now')} ${r.summaryAfter}`);
  }
  out.push(dim(`${r.invocations} invocation(s), ${(r.durationMs / 1000).toFixed(2)} s`));
  return out.join('\n');
}
