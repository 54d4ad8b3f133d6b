/**
 * A Drizzle file cut as drizzle-orm cuts it — on every `--> statement-breakpoint`, whatever the
 * journal's `breakpoints` says — and each chunk parsed with PostgreSQL's own parser
 * (core/split.ts) to know what it does to the transaction: the worker sends every chunk as
 * one query, and needs to know which chunks end the file's transaction (its own `COMMIT`),
 * open one, or cannot run inside one (`CREATE INDEX CONCURRENTLY`, ...).
 */
import {
  encodeSql,
  type ExecutionMode,
  lineOf,
  type MigrationPayload,
  runsOutsideTransaction,
  type StatementKind,
  type StatementSpan,
} from '../../../lambda/contract/index.js';
import { parserFor } from '../../core/payloads.js';
import type { SqlParser } from '../../core/sql-parser.js';
import { splitMigration } from '../../core/split.js';
import { NO_PARSE_CACHE, type ParseCache } from '../../project/parse-cache.js';
import type { DrizzleMigration } from './discover.js';

/** drizzle-orm's separator (`query.split("--> statement-breakpoint")`). */
export const STATEMENT_BREAKPOINT = '--> statement-breakpoint';

export interface DrizzleChunkIssue {
  /** 0-based chunk index. */
  chunk: number;
  line: number;
  message: string;
}

export interface DrizzleSplit {
  /**
   *  One span per chunk that holds SQL, in file offsets (empty and comment-only chunks are left out: they run nothing).
   */
  chunks: StatementSpan[];
  /** Every statement, in file offsets (to reconcile or locate statement by statement). */
  statements: StatementSpan[];
  /** `script` when a chunk ends or opens a transaction itself, else `transactional`. */
  mode: ExecutionMode;
  /** Chunks PostgreSQL's parser rejects; they are sent whole and the server reports the error. */
  parseErrors: DrizzleChunkIssue[];
  /**
   * Statements PostgreSQL will refuse where they are: a CONCURRENTLY (or other
   * non-transactional) statement inside the file's transaction, or sharing its chunk with
   * other statements (one multi-statement query is an implicit transaction).
   */
  refused: DrizzleChunkIssue[];
}

/**
 * Cuts and parses a Drizzle file.
 *
 * @example
 * splitDrizzle(await sqlParser(), 'CREATE TABLE t (id int);\n--> statement-breakpoint\nCOMMIT;\n-->
 * statement-breakpoint\nCREATE INDEX CONCURRENTLY i ON t (id);');
 * // → mode 'script'; chunk kinds transactional, commit, non-transactional; nothing refused
 */
export function splitDrizzle(parser: SqlParser, sql: string): DrizzleSplit {
  const chunks: StatementSpan[] = [];
  const statements: StatementSpan[] = [];
  const parseErrors: DrizzleChunkIssue[] = [];
  const refused: DrizzleChunkIssue[] = [];
  // Whether the file's transaction block is open when a chunk starts, as PostgreSQL will see it.
  let inBlock = true;
  let offset = 0;
  let line = 1;
  const pieces = sql.split(STATEMENT_BREAKPOINT);
  pieces.forEach((piece, index) => {
    const base = offset;
    const firstLine = line;
    offset += piece.length + STATEMENT_BREAKPOINT.length;
    line += lineOf(piece, piece.length) - 1;
    const split = splitMigration(parser, piece);
    if (split.statements.length === 0) return;
    const spans = split.statements.map((s) => ({
      ...s,
      start: s.start + base,
      end: s.end + base,
      line: firstLine + s.line - 1,
    }));
    if (split.parseError) {
      parseErrors.push({
        chunk: index,
        line: firstLine + split.parseError.line - 1,
        message: split.parseError.message,
      });
    }
    for (const s of spans) {
      if (!runsOutsideTransaction(s.kind)) continue;
      if (inBlock || spans.length > 1) {
        refused.push({
          chunk: index,
          line: s.line,
          message:
            spans.length > 1
              ? 'it shares its chunk with other statements, which PostgreSQL ' +
                'runs as one transaction; give it a chunk of its own'
              : "it runs inside the migration's transaction; end the " +
                'transaction first with a `COMMIT;--> statement-breakpoint` ' +
                'chunk before it (drizzle-orm needs this too)',
        });
      }
    }
    const control = spans.filter((s) => s.kind === 'begin' || s.kind === 'commit');
    const last = control[control.length - 1];
    if (last) inBlock = last.kind === 'begin';
    const kind: StatementKind = last
      ? last.kind
      : spans.some((s) => runsOutsideTransaction(s.kind))
        ? 'non-transactional'
        : 'transactional';
    const first = spans[0] as StatementSpan;
    chunks.push({ start: first.start, end: (spans[spans.length - 1] as StatementSpan).end, line: first.line, kind });
    statements.push(...spans);
  });
  const mode: ExecutionMode = statements.some((s) => s.kind === 'begin' || s.kind === 'commit')
    ? 'script'
    : 'transactional';
  return { chunks, statements, mode, parseErrors, refused };
}

/**
 * {@link splitDrizzle} of a journal entry, from the parse cache when it has it (the parser may
 * then be undefined: ask {@link drizzleNeedsParser} first), else made and added to it.
 */
export function cachedDrizzleSplit(
  parser: SqlParser | undefined,
  m: DrizzleMigration,
  cache: ParseCache = NO_PARSE_CACHE,
): DrizzleSplit {
  let split = cache.drizzle(m);
  if (!split) {
    split = splitDrizzle(parserFor(parser, m.name), m.sql);
    cache.rememberDrizzle(m, split);
  }
  return split;
}

/** Whether splitting these entries needs the parser: some entry's split is not in `cache`. */
export function drizzleNeedsParser(cache: ParseCache, migrations: readonly (DrizzleMigration | undefined)[]): boolean {
  return migrations.some((m) => m !== undefined && !cache.drizzle(m));
}

/** The apply payload of one journal entry, plus warnings for the report. */
export function drizzlePayload(
  parser: SqlParser | undefined,
  m: DrizzleMigration,
  cache: ParseCache = NO_PARSE_CACHE,
): { payload: MigrationPayload; warnings: string[] } {
  const split = cachedDrizzleSplit(parser, m, cache);
  const warnings = [
    ...split.parseErrors.map(
      (e) =>
        `${m.name}.sql:${e.line}: PostgreSQL's parser rejects ` +
        `chunk ${e.chunk + 1} (${e.message}); it is sent whole ` +
        `and the database will report the error.`,
    ),
    ...split.refused.map((e) => `${m.name}.sql:${e.line}: PostgreSQL will refuse this statement: ${e.message}.`),
  ];
  const payload: MigrationPayload = {
    name: m.name,
    checksum: m.checksum,
    mode: split.mode,
    statements: split.statements,
    chunks: split.chunks,
    createdAt: m.createdAt,
    ...encodeSql(m.sql),
  };
  return { payload, warnings };
}
