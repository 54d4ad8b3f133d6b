/**
 * What every text report shares: colour (only on a terminal, never with NO_COLOR), the server
 * line, problem lines and the error block. Commands return data; render/ turns it into text.
 */
import { type ErrorBody, type ServerFacts, sqlErrorOf } from '../../lambda/contract/index.js';
import type { Problem } from '../core/plan.js';
import type { AnsweredBy } from '../core/worker-client.js';
import { type MigrationsLocation, sourceLabel } from '../project/migrations-dir.js';

const useColor = () => process.stdout.isTTY === true && !process.env.NO_COLOR;
const paint = (code: number) => (s: string) => (useColor() ? `\u001b[${code}m${s}\u001b[0m` : s);
export const red = paint(31);
export const green = paint(32);
export const yellow = paint(33);
export const dim = paint(2);
export const bold = paint(1);

export function serverLine(s: ServerFacts): string {
  return `Database "${s.database}", schema "${s.schema}" as ${s.user} (PostgreSQL ${s.version.split(' ')[0]})`;
}

/** The line that names the reader function when it answered (the migrator answering is the default, not named). */
export function functionLines(f: AnsweredBy | undefined): string[] {
  return f?.role === 'reader' ? [dim(`Answered by the reader function ${f.name} (read-only login).`)] : [];
}

/** `/abs/app/prisma/migrations (from prisma.config.ts migrations.path)`: the folder and where it came from. */
export function migrationsPlace(m: MigrationsLocation): string {
  return `${m.dir} ${dim(sourceLabel(m))}`;
}

export function problemLines(problems: Problem[]): string[] {
  return problems.flatMap((p) => [
    `  ${red('✖')} ${p.message}`,
    `    ${dim('code')} ${p.code}`,
    `    ${dim('next')} ${p.remedy}`,
  ]);
}

export function renderError(e: ErrorBody): string {
  const lines = [`${red('✖')} ${e.message}`, `  ${dim('code')} ${e.code}`, `  ${dim('next')} ${e.remedy}`];
  const sqlError = sqlErrorOf(e);
  if (sqlError?.detail) lines.push(`  DETAIL: ${sqlError.detail}`);
  if (sqlError?.hint) lines.push(`  HINT: ${sqlError.hint}`);
  return lines.join('\n');
}
