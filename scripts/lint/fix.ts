/**
 * `lint --fix`: removes the statements the linter proved to be generated noise, with the lines
 * Prisma generated around them (its `-- AlterTable` step comment and the blank line before it),
 * and nothing else. The result is re-split and checked to hold exactly the other statements,
 * byte for byte, before anyone writes it.
 */
import { ErrorCode, MigrateError } from '../../lambda/errors.js';
import { splitMigration } from '../split.js';
import type { Finding, ParsedMigration, ParsedStatement, RuleId } from './types.js';

export interface RemovedStatement {
  line: number;
  rule: RuleId;
  statement: string;
}

export interface FixedMigration {
  migration: string;
  path?: string;
  /** The new text of migration.sql. */
  sql: string;
  removed: RemovedStatement[];
}

/** Prisma's step comment above each generated statement: `-- CreateIndex`, `-- AlterTable` … */
const PRISMA_STEP_COMMENT = /^-- [A-Z][A-Za-z]*\s*$/;
const BLANK = /^[ \t\r]*$/;

/**
 * The file without the statements of its fixable findings; null when there is nothing to fix.
 *
 * @example
 * const { files, findings } = lint(pending, applied);
 * for (const file of files) {
 *   const fixed = fixMigration(file, findings);
 *   if (fixed && file.path) await writeFile(file.path, fixed.sql);
 * }
 */
export function fixMigration(file: ParsedMigration, findings: readonly Finding[]): FixedMigration | null {
  const byIndex = new Map<number, Finding>();
  for (const f of findings) if (f.fixable && f.migration === file.name && f.statementIndex >= 0) byIndex.set(f.statementIndex, f);
  if (byIndex.size === 0) return null;

  const doomed = file.statements.filter((s) => byIndex.has(s.index));
  const ranges = doomed.map((s) => removalRange(file.sql, s)).sort((a, b) => a[0] - b[0]);
  let sql = '';
  let at = 0;
  for (const [from, to] of ranges) {
    if (from < at) throw internal(file, 'overlapping removals');
    sql += file.sql.slice(at, from);
    at = to;
  }
  sql += file.sql.slice(at);

  verify(file, sql, new Set(doomed.map((s) => s.index)));
  return {
    migration: file.name,
    ...(file.path ? { path: file.path } : {}),
    sql,
    removed: doomed.map((s) => {
      const f = byIndex.get(s.index)!;
      return { line: s.line, rule: f.rule, statement: f.statement };
    }),
  };
}

/**
 * What to cut for one statement: the statement and its `;`; when it has its lines to itself,
 * also Prisma's step comment right above it and the blank lines separating it from what comes
 * before, so the file reads as if the statement had never been generated.
 */
export function removalRange(sql: string, s: ParsedStatement): [number, number] {
  let end = s.end;
  let j = end;
  while (j < sql.length && (sql[j] === ' ' || sql[j] === '\t')) j++;
  if (sql[j] === ';') end = j + 1;

  const lineStart = sql.lastIndexOf('\n', s.start - 1) + 1;
  let lineEnd = sql.indexOf('\n', end);
  if (lineEnd === -1) lineEnd = sql.length;
  if (!BLANK.test(sql.slice(lineStart, s.start)) || !BLANK.test(sql.slice(end, lineEnd))) return [s.start, end];

  let blockStart = lineStart;
  const nextLine = lineEnd < sql.length ? lineAt(sql, lineEnd + 1) : '';
  if (blockStart > 0 && BLANK.test(nextLine)) {
    const prevStart = sql.lastIndexOf('\n', blockStart - 2) + 1;
    if (PRISMA_STEP_COMMENT.test(sql.slice(prevStart, blockStart - 1))) blockStart = prevStart;
  }
  let from = blockStart;
  while (from > 0) {
    const prevStart = sql.lastIndexOf('\n', from - 2) + 1;
    if (!BLANK.test(sql.slice(prevStart, from - 1))) break;
    from = prevStart;
  }
  // Cut from the newline that ends the previous content, keeping the block's own newline.
  if (from > 0) return [from - 1, lineEnd];
  // At the top of the file: cut the block, its newline and the blank lines after it.
  let to = Math.min(lineEnd + 1, sql.length);
  while (to < sql.length) {
    const next = sql.indexOf('\n', to);
    if (next === -1 || !BLANK.test(sql.slice(to, next))) break;
    to = next + 1;
  }
  return [0, to];
}

function lineAt(sql: string, start: number): string {
  const nl = sql.indexOf('\n', start);
  return sql.slice(start, nl === -1 ? sql.length : nl);
}

/** The fixed text must hold exactly the statements kept, unchanged and in order. */
function verify(file: ParsedMigration, fixed: string, removed: Set<number>): void {
  const expected = file.statements.filter((s) => !removed.has(s.index)).map((s) => file.sql.slice(s.start, s.end));
  const split = splitMigration(fixed);
  const actual = split.statements.map((s) => fixed.slice(s.start, s.end));
  if (split.parseError || actual.length !== expected.length || actual.some((text, i) => text !== expected[i])) {
    throw internal(file, 'the fixed file does not hold exactly the statements that were kept');
  }
}

function internal(file: ParsedMigration, what: string): MigrateError {
  return new MigrateError(
    ErrorCode.ParseFailed,
    `lint --fix refused to change ${file.name}/migration.sql: ${what}. Nothing was written.`,
    'This is a bug in vpc-migrate; please report it with the file. Remove the statements by hand meanwhile.',
  );
}
