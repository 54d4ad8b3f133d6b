/**
 * Parsing for the linter: files to lint get exact statement spans from core/split.ts (the same
 * spans and lines deploy uses); history files only need their parse trees, so they are parsed
 * once with the parser's `parse` and never split.
 */
import type { Node } from 'libpg-query';
import { ErrorCode, LineCounter, MigrateError } from '../../lambda/contract/index.js';
import type { SqlParser } from '../core/sql-parser.js';
import { splitMigrationWithNodes } from '../core/split.js';
import type { LintInput, ParsedMigration, ParsedStatement } from './types.js';

/** Splits and parses a file to lint: every statement with its node, span, line and kind. */
export function parseMigration(parser: SqlParser, input: LintInput): ParsedMigration {
  // One parse gives both the spans and the trees (deploy's split of this file then hits split.ts's cache).
  const split = splitMigrationWithNodes(parser, input.sql);
  if (split.parseError) return { ...input, statements: [], mode: split.mode, parseError: split.parseError };
  if (split.statements.length === 0) return { ...input, statements: [], mode: split.mode };
  // split.ts keeps exactly the raw statements that have a node, in order.
  const nodes = split.nodes;
  if (nodes.length !== split.statements.length) {
    throw new MigrateError(
      ErrorCode.ParseFailed,
      `${input.name}/migration.sql: the parser returned ${nodes.length} ` +
        `statement(s) but the splitter ${split.statements.length}.`,
      'This is a bug in vpc-migrate; please report it with the file.',
    );
  }
  const statements: ParsedStatement[] = split.statements.map((span, index) => ({
    index,
    node: nodes[index]!,
    ...span,
  }));
  return { ...input, statements, mode: split.mode };
}

export interface HistoryStatement {
  node: Node;
  line: number;
}

/** The parse trees of a history file, with approximate lines; null when the parser rejects it. */
export function parseHistoryFile(parser: SqlParser, sql: string): HistoryStatement[] | null {
  if (sql.trim() === '' || sql.includes('\u0000')) return [];
  let raw: NonNullable<ReturnType<SqlParser['parse']>['stmts']>;
  try {
    raw = parser.parse(sql).stmts ?? [];
  } catch {
    return null;
  }
  // The parser's offsets are UTF-8 byte offsets.
  const lines = new LineCounter(Buffer.from(sql));
  return raw.flatMap((s) => (s.stmt ? [{ node: s.stmt, line: lines.lineAt(s.stmt_location ?? 0) }] : []));
}
