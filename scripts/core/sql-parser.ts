/**
 * PostgreSQL's own parser (libpg-query, a WASM build of the real parser), loaded in one place.
 * Whatever parses SQL takes the {@link SqlParser} this resolves to as a parameter, so a caller
 * cannot forget to load it first: without one there is nothing to pass.
 */
import type { ParseResult, ScanResult, SqlError } from 'libpg-query';
import { ErrorCode, MigrateError } from '../../lambda/contract/index.js';

export interface SqlParser {
  /** The raw parse of `sql`; throws for SQL PostgreSQL rejects (see {@link SqlParser.isSyntaxError}). */
  parse(sql: string): ParseResult;
  /** PostgreSQL's scanner over `sql`: its tokens, offsets in UTF-8 bytes. */
  scan(sql: string): ScanResult;
  /** PL/pgSQL's parser over a function or DO block; throws for a body it rejects. */
  parsePlPgSQL(sql: string): ParseResult;
  /** True for the errors `parse` throws for rejected SQL (they carry the cursor position). */
  isSyntaxError(error: unknown): error is SqlError;
}

/**
 * The parser, loaded only when asked for: code that may find everything it needs in the parse
 * cache (scripts/project/parse-cache.ts) takes this instead of a {@link SqlParser}, so a warm
 * run never loads the 1.7 MB WASM. {@link sqlParser} itself is one.
 */
export type ParserSource = () => Promise<SqlParser>;

let loading: Promise<SqlParser> | undefined;

/**
 * The parser, its WASM module loaded on the first call; later calls share that load. The import
 * is dynamic so that commands that never parse (status, …) do not pay for the 1.7 MB WASM.
 *
 * @example
 * const parser = await sqlParser();
 * const { statements, mode } = splitMigration(parser, sql);
 */
export function sqlParser(): Promise<SqlParser> {
  loading ??= (async (): Promise<SqlParser> => {
    const pg = await import('libpg-query');
    await pg.loadModule();
    return {
      parse: (sql) => pg.parseSync(sql),
      scan: (sql) => pg.scanSync(sql),
      parsePlPgSQL: (sql) => pg.parsePlPgSQLSync(sql),
      isSyntaxError: (error): error is SqlError => pg.hasSqlDetails(error),
    };
  })().catch((error: unknown) => {
    loading = undefined;
    throw new MigrateError(
      ErrorCode.ParseFailed,
      `Could not load the PostgreSQL parser (libpg-query): ${error instanceof Error ? error.message : String(error)}`,
      'Reinstall dependencies (pnpm install) so that libpg-query and its WASM file are present.',
      { cause: error },
    );
  });
  return loading;
}
