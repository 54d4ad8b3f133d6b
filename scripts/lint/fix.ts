/**
 * `lint --fix`: removes the statements the linter proved to be generated noise, with the lines
 * Prisma generated around them (its `-- AlterTable` step comment and the blank line before it),
 * and nothing else. The result is re-split and checked to hold exactly the other statements,
 * byte for byte, before anyone writes it.
 */
import { ErrorCode, lineEndOf, lineStartOf, MigrateError } from '../../lambda/contract/index.js';
import type { SqlParser } from '../core/sql-parser.js';
import { splitMigration } from '../core/split.js';
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
 * const { files, findings } = lint(parser, pending, applied);
 * for (const file of files) {
 *   const fixed = fixMigration(parser, file, findings);
 *   if (fixed && file.path) await writeFile(file.path, fixed.sql);
 * }
 */
export function fixMigration(
  parser: SqlParser,
  file: ParsedMigration,
  findings: readonly Finding[],
): FixedMigration | null {
  const byIndex = new Map<number, Finding>();
  for (const f of findings)
    if (f.fixable && f.migration === file.name && f.statementIndex >= 0) byIndex.set(f.statementIndex, f);
  if (byIndex.size === 0) return null;

  const doomed = file.statements.filter((s) => byIndex.has(s.index));
  const sql = removeStatements(file.sql, doomed);
  verify(parser, file, sql, new Set(doomed.map((s) => s.index)));
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
 * `sql` without these statements. Each goes with its `;` and, when it has its lines to itself,
 * with Prisma's step comment right above it. Lines left empty by a removal disappear, and so do
 * the blank lines around them, keeping the blank lines that separated what came before from
 * what comes after, so the file reads as if the statements had never been generated.
 */
export function removeStatements(sql: string, statements: readonly ParsedStatement[]): string {
  const cuts = statements.flatMap((s) => statementCuts(sql, s)).sort((a, b) => a[0] - b[0]);

  // Lines without their `\n`; a final newline is put back at the end.
  const endsWithNewline = sql.endsWith('\n');
  const lines: { text: string; removed: boolean }[] = [];
  let start = 0;
  for (const text of (endsWithNewline ? sql.slice(0, -1) : sql).split('\n')) {
    const end = start + text.length;
    let kept = '';
    let at = start;
    let touched = false;
    for (const [from, to] of cuts) {
      if (to <= start || from >= end) continue;
      touched = true;
      if (from > at) kept += sql.slice(at, from);
      at = Math.max(at, to);
    }
    if (at < end) kept += sql.slice(at, end);
    lines.push({ text: kept, removed: touched && BLANK.test(kept) });
    start = end + 1;
  }

  const out: string[] = [];
  for (let i = 0; i < lines.length; ) {
    const line = lines[i]!;
    if (!line.removed && !BLANK.test(line.text)) {
      out.push(line.text);
      i++;
      continue;
    }
    // A run of blank and removed lines: keep its blank lines only if nothing was removed in it;
    // else keep the blank lines that led into it (or, if none, those after it) when content
    // remains on both sides, and none at the top or bottom of the file.
    let j = i;
    while (j < lines.length && (lines[j]!.removed || BLANK.test(lines[j]!.text))) j++;
    const run = lines.slice(i, j);
    if (!run.some((l) => l.removed)) {
      out.push(...run.map((l) => l.text));
    } else if (out.length > 0 && j < lines.length) {
      const leading = run.findIndex((l) => l.removed);
      let trailing = 0;
      while (trailing < run.length && !run[run.length - 1 - trailing]!.removed) trailing++;
      const keep = leading > 0 ? run.slice(0, leading) : run.slice(run.length - trailing);
      out.push(...keep.map((l) => l.text));
    }
    i = j;
  }
  return out.length === 0 ? '' : out.join('\n') + (endsWithNewline ? '\n' : '');
}

/** The character ranges one statement's removal cuts: itself with its `;`, maybe its step comment. */
function statementCuts(sql: string, s: ParsedStatement): [number, number][] {
  let end = s.end;
  let j = end;
  while (j < sql.length && (sql[j] === ' ' || sql[j] === '\t')) j++;
  if (sql[j] === ';') end = j + 1;
  const cuts: [number, number][] = [[s.start, end]];

  const lineStart = lineStartOf(sql, s.start);
  const lineEnd = lineEndOf(sql, end);
  const ownsLines = BLANK.test(sql.slice(lineStart, s.start)) && BLANK.test(sql.slice(end, lineEnd));
  const nextLine = lineEnd < sql.length ? sql.slice(lineEnd + 1, lineEndOf(sql, lineEnd + 1)) : '';
  if (ownsLines && lineStart > 0 && BLANK.test(nextLine)) {
    const prevStart = lineStartOf(sql, lineStart - 1);
    if (PRISMA_STEP_COMMENT.test(sql.slice(prevStart, lineStart - 1))) cuts.push([prevStart, lineStart - 1]);
  }
  return cuts;
}

/** The fixed text must hold exactly the statements kept, unchanged and in order. */
function verify(parser: SqlParser, file: ParsedMigration, fixed: string, removed: Set<number>): void {
  const expected = file.statements.filter((s) => !removed.has(s.index)).map((s) => file.sql.slice(s.start, s.end));
  const split = splitMigration(parser, fixed);
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
