/**
 * Split a migration.sql into statements with PostgreSQL's own parser (libpg-query, a WASM build
 * of the real parser), and classify each statement so the worker knows how to run the file.
 *
 * The CLI parses each file once; the worker receives the original text plus these spans and
 * never parses (docs/design.md §3 "Parse on the client").
 *
 * Offsets: libpg-query reports `stmt_location`/`stmt_len` and scanner tokens in UTF-8 bytes and
 * syntax-error cursors in code points (PostgreSQL's `scanner_errposition` converts byte offsets to
 * character numbers). Everything returned here is in UTF-16 code units, i.e. JS string indices.
 */
import type {
  AlterSubscriptionStmt,
  CreateSubscriptionStmt,
  DefElem,
  DoStmt,
  Node,
  RawStmt,
  ScanToken,
} from 'libpg-query';
import {
  type ExecutionMode,
  indexAfterCodePoints,
  LineCounter,
  lineOf,
  positionOf,
  runsOutsideTransaction,
  type StatementKind,
  type StatementSpan,
} from '../../lambda/contract/index.js';
import { createdObjects } from './creates.js';
import type { SqlParser } from './sql-parser.js';

export interface SplitParseError {
  message: string;
  /** 1-based line of the error position in the file. */
  line: number;
  /** 1-based column (UTF-16 code units) of the error position. */
  column: number;
}

export interface SplitResult {
  statements: StatementSpan[];
  mode: ExecutionMode;
  /**
   * Set when PostgreSQL's parser rejects the file. The file is then sent as one transactional
   * statement and the server reports the real error; the CLI shows this as a warning.
   */
  parseError?: SplitParseError;
}

/**
 * Split `sql` into executable statements and decide how the worker runs the file.
 * Never throws for SQL the parser rejects: see {@link SplitResult.parseError}.
 *
 * @example
 * splitMigration(await sqlParser(), 'BEGIN;\nUPDATE t SET a = 1;\nCOMMIT;');
 * // → { mode: 'script', statements: [{ start: 0, end: 5, line: 1, kind: 'begin' }, ...] }
 */
export function splitMigration(parser: SqlParser, sql: string): SplitResult {
  const cached = splitCache.get(sql);
  if (cached) return { ...cached, statements: cached.statements.slice() };
  return remember(sql, analyze(parser, sql).result);
}

/**
 * {@link splitMigration} plus each statement's parse tree (`nodes[i]` belongs to
 * `statements[i]`), from the same single parse: the linter needs both, and deploy's
 * `splitMigration` of the same text afterwards is then answered from the cache.
 */
export function splitMigrationWithNodes(parser: SqlParser, sql: string): SplitResult & { nodes: Node[] } {
  const { result, nodes } = analyze(parser, sql);
  remember(sql, result);
  return { ...result, statements: result.statements.slice(), nodes };
}

// One parse per file per process: lint and deploy both split every pending file, and a parse
// costs ~0.2 ms per KB of SQL (the 820-file trigger.dev history: 150-600 ms per pass). The cache
// holds only the spans (the text is the caller's own string); oldest entries go first.
const SPLIT_CACHE_ENTRIES = 10_000;
const splitCache = new Map<string, SplitResult>();

function remember(sql: string, result: SplitResult): SplitResult {
  if (splitCache.size >= SPLIT_CACHE_ENTRIES) splitCache.delete(splitCache.keys().next().value as string);
  splitCache.set(sql, result);
  return { ...result, statements: result.statements.slice() };
}

function analyze(pg: SqlParser, sql: string): { result: SplitResult; nodes: Node[] } {
  // The parser reads a C string: a NUL would silently end the file early.
  const nul = sql.indexOf('\u0000');
  if (nul !== -1) return { result: unparsable(sql, 'migration.sql contains a NUL character', nul), nodes: [] };

  // libpg-query refuses '' outright; an empty file is a legal, empty migration.
  if (skipSpaceAndComments(sql, 0, sql.length) === sql.length) {
    return { result: { statements: [], mode: 'transactional' }, nodes: [] };
  }

  let raw: RawStmt[];
  try {
    raw = pg.parse(sql).stmts ?? [];
  } catch (error) {
    if (!pg.isSyntaxError(error)) throw error;
    const details = error.sqlDetails;
    const index = indexAfterCodePoints(sql, 0, details?.cursorPosition ?? 0);
    return { result: unparsable(sql, details?.message ?? error.message, index), nodes: [] };
  }

  const bytes = new ByteIndex(sql);
  const lines = new LineCounter(sql);
  const statements: StatementSpan[] = [];
  const nodes: Node[] = [];
  for (const stmt of raw) {
    const location = stmt.stmt_location ?? 0;
    const rawStart = bytes.toIndex(location);
    // stmt_len 0 means "to the end of the string" (the last statement, without a `;`).
    const rawEnd = stmt.stmt_len ? bytes.toIndex(location + stmt.stmt_len) : sql.length;
    const start = skipSpaceAndComments(sql, rawStart, rawEnd);
    const end = trimmedEnd(pg, sql, start, rawEnd);
    if (end <= start || stmt.stmt === undefined) continue;
    const span: StatementSpan = { start, end, line: lines.lineAt(start), kind: classifyStatement(stmt.stmt, pg) };
    const creates = createdObjects(stmt.stmt);
    if (creates.length > 0) span.creates = creates;
    if ('IndexStmt' in stmt.stmt && stmt.stmt.IndexStmt.concurrent && creates.length > 0) {
      const comparable = withoutConcurrently(pg, sql.slice(start, end));
      if (comparable) span.comparable = comparable;
    }
    statements.push(span);
    nodes.push(stmt.stmt);
  }
  return { result: { statements, mode: executionModeOf(statements.map((s) => s.kind)) }, nodes };
}

/**
 * CREATE INDEX CONCURRENTLY … as a plain CREATE INDEX (the CONCURRENTLY keyword token cut out,
 * found by PostgreSQL's scanner): the form the worker can build inside a transaction to compare.
 */
function withoutConcurrently(pg: SqlParser, text: string): string | undefined {
  const bytes = Buffer.from(text, 'utf8');
  const token = pg.scan(text).tokens.find((t) => t.keywordKind !== 0 && t.text.toUpperCase() === 'CONCURRENTLY');
  if (!token) return undefined;
  return bytes.subarray(0, token.start).toString('utf8') + bytes.subarray(token.end).toString('utf8');
}

/**
 * How the worker runs a file with these statement kinds: its own BEGIN/COMMIT make it a script;
 * otherwise any statement PostgreSQL refuses in a transaction block makes it non-transactional.
 */
export function executionModeOf(kinds: readonly StatementKind[]): ExecutionMode {
  if (kinds.some((k) => k === 'begin' || k === 'commit')) return 'script';
  if (kinds.some(runsOutsideTransaction)) return 'non-transactional';
  return 'transactional';
}

/**
 * Classify one top-level statement by its parse-tree node.
 *
 * `non-transactional` mirrors PostgreSQL 18's `PreventInTransactionBlock` call sites
 * (postgres/postgres, read via the source index):
 * - tcop/utility.c standard_ProcessUtility: COMMIT PREPARED, ROLLBACK PREPARED,
 *   CREATE TABLESPACE, DROP TABLESPACE, CREATE DATABASE, DROP DATABASE, ALTER SYSTEM;
 *   ProcessUtilitySlow: CREATE INDEX CONCURRENTLY (IndexStmt.concurrent),
 *   ALTER TABLE ... DETACH PARTITION ... CONCURRENTLY (PartitionCmd.concurrent);
 *   ExecDropStmt: DROP INDEX CONCURRENTLY.
 * - commands/indexcmds.c ExecReindex: REINDEX (CONCURRENTLY), REINDEX SCHEMA/SYSTEM/DATABASE;
 *   ReindexPartitions: REINDEX TABLE/INDEX of a partitioned relation (catalog-dependent: not
 *   visible in the parse tree, left transactional).
 * - commands/vacuum.c vacuum(): VACUUM (VACOPT_VACUUM, i.e. `is_vacuumcmd`); ANALYZE alone is allowed.
 * - commands/cluster.c cluster(): CLUSTER without a table; also CLUSTER of a partitioned table
 *   (catalog-dependent, left transactional).
 * - commands/dbcommands.c AlterDatabase: ALTER DATABASE ... SET TABLESPACE.
 * - commands/discard.c DiscardAll: DISCARD ALL.
 * - commands/subscriptioncmds.c: CREATE SUBSCRIPTION when it creates a slot (create_slot, default
 *   true unless connect = false); DROP SUBSCRIPTION when the subscription has a slot (catalog-
 *   dependent: treated as non-transactional, which is always executable); ALTER SUBSCRIPTION ...
 *   REFRESH PUBLICATION; SET/ADD/DROP PUBLICATION unless refresh = false; SET (failover = ...) and
 *   SET (two_phase = false) (CheckAlterSubOption, when the slot must change). ENABLE has no call site.
 *
 * Not there, so transactional: ALTER TYPE ... ADD VALUE (allowed in a transaction since PG 12),
 * REFRESH MATERIALIZED VIEW CONCURRENTLY.
 *
 * Also outside a block, `self-committing`: CALL, and DO blocks that COMMIT/ROLLBACK (PL/pgSQL's
 * `_SPI_commit` raises 2D000 inside a block). Never inside a savepoint of ours,
 * `transaction-control`: SAVEPOINT / RELEASE / ROLLBACK TO, SET TRANSACTION [SNAPSHOT], SET
 * SESSION CHARACTERISTICS. Checked against the time budget, `timeout-setting`: SET/RESET
 * statement_timeout (and RESET ALL).
 */
export function classifyStatement(node: Node, parser: SqlParser): StatementKind {
  if ('TransactionStmt' in node) {
    switch (node.TransactionStmt.kind) {
      case 'TRANS_STMT_BEGIN':
      case 'TRANS_STMT_START':
        return 'begin';
      case 'TRANS_STMT_COMMIT': // COMMIT, END, COMMIT AND CHAIN
      case 'TRANS_STMT_ROLLBACK': // ROLLBACK, ABORT
      case 'TRANS_STMT_PREPARE': // PREPARE TRANSACTION ends the block too
        return 'commit';
      case 'TRANS_STMT_COMMIT_PREPARED':
      case 'TRANS_STMT_ROLLBACK_PREPARED':
        return 'non-transactional';
      case 'TRANS_STMT_SAVEPOINT':
      case 'TRANS_STMT_RELEASE':
      case 'TRANS_STMT_ROLLBACK_TO':
        return 'transaction-control';
      default:
        return 'transactional';
    }
  }
  if ('VariableSetStmt' in node) {
    const { name, kind } = node.VariableSetStmt;
    // SET TRANSACTION …, SET TRANSACTION SNAPSHOT …, SET SESSION CHARACTERISTICS AS TRANSACTION …
    if (
      kind === 'VAR_SET_MULTI' &&
      (name === 'TRANSACTION' || name === 'TRANSACTION SNAPSHOT' || name === 'SESSION CHARACTERISTICS')
    ) {
      return 'transaction-control';
    }
    if (name?.toLowerCase() === 'statement_timeout' || kind === 'VAR_RESET_ALL') return 'timeout-setting';
    return 'transactional';
  }
  if ('SelectStmt' in node && setsStatementTimeout(node)) return 'timeout-setting';
  // The procedure's body lives in the database, not in the file: it may COMMIT, which PostgreSQL
  // only allows when CALL runs outside a transaction block.
  if ('CallStmt' in node) return 'self-committing';
  if ('DoStmt' in node) return doBlockCommits(parser, node.DoStmt) ? 'self-committing' : 'transactional';
  if ('IndexStmt' in node) return node.IndexStmt.concurrent ? 'non-transactional' : 'transactional';
  if ('DropStmt' in node) {
    const drop = node.DropStmt;
    return drop.removeType === 'OBJECT_INDEX' && drop.concurrent ? 'non-transactional' : 'transactional';
  }
  if ('ReindexStmt' in node) {
    const { kind, params } = node.ReindexStmt;
    if (kind === 'REINDEX_OBJECT_SCHEMA' || kind === 'REINDEX_OBJECT_SYSTEM' || kind === 'REINDEX_OBJECT_DATABASE') {
      return 'non-transactional';
    }
    const concurrently = findOption(params, 'concurrently');
    return concurrently && defElemBoolean(concurrently) !== false ? 'non-transactional' : 'transactional';
  }
  if ('VacuumStmt' in node) return node.VacuumStmt.is_vacuumcmd ? 'non-transactional' : 'transactional';
  if ('ClusterStmt' in node) return node.ClusterStmt.relation ? 'transactional' : 'non-transactional';
  if ('AlterDatabaseStmt' in node) {
    return findOption(node.AlterDatabaseStmt.options, 'tablespace') ? 'non-transactional' : 'transactional';
  }
  if ('DiscardStmt' in node) return node.DiscardStmt.target === 'DISCARD_ALL' ? 'non-transactional' : 'transactional';
  if ('AlterTableStmt' in node) {
    const detachesConcurrently = (node.AlterTableStmt.cmds ?? []).some((cmd) => {
      if (!('AlterTableCmd' in cmd) || cmd.AlterTableCmd.subtype !== 'AT_DetachPartition') return false;
      const def = cmd.AlterTableCmd.def;
      return def !== undefined && 'PartitionCmd' in def && def.PartitionCmd.concurrent === true;
    });
    return detachesConcurrently ? 'non-transactional' : 'transactional';
  }
  if ('CreateSubscriptionStmt' in node) return createSubscriptionKind(node.CreateSubscriptionStmt);
  if ('AlterSubscriptionStmt' in node) return alterSubscriptionKind(node.AlterSubscriptionStmt);
  if (
    'DropSubscriptionStmt' in node ||
    'CreatedbStmt' in node ||
    'DropdbStmt' in node ||
    'CreateTableSpaceStmt' in node ||
    'DropTableSpaceStmt' in node ||
    'AlterSystemStmt' in node
  ) {
    return 'non-transactional';
  }
  return 'transactional';
}

/** `SELECT set_config('statement_timeout', …)`: a SET in disguise. */
function setsStatementTimeout(node: Node): boolean {
  if (!('SelectStmt' in node)) return false;
  return (node.SelectStmt.targetList ?? []).some((target) => {
    const val = 'ResTarget' in target ? target.ResTarget.val : undefined;
    if (!val || !('FuncCall' in val)) return false;
    const fn = (val.FuncCall.funcname ?? []).map((n) => ('String' in n ? n.String.sval : '')).pop();
    const first = val.FuncCall.args?.[0];
    return (
      fn === 'set_config' &&
      first !== undefined &&
      'A_Const' in first &&
      first.A_Const.sval?.sval?.toLowerCase() === 'statement_timeout'
    );
  });
}

/**
 * True when a DO block's body has COMMIT or ROLLBACK (PL/pgSQL transaction control), found with
 * PostgreSQL's own PL/pgSQL parser. A body it cannot parse, or another language, counts as
 * committing when the words appear: running it outside a block is always possible, inside it
 * would fail.
 */
function doBlockCommits(parser: SqlParser, stmt: DoStmt): boolean {
  let body = '';
  let language = 'plpgsql';
  for (const arg of stmt.args ?? []) {
    if (!('DefElem' in arg)) continue;
    const value = arg.DefElem.arg && 'String' in arg.DefElem.arg ? (arg.DefElem.arg.String.sval ?? '') : '';
    if (arg.DefElem.defname === 'as') body = value;
    if (arg.DefElem.defname === 'language') language = value.toLowerCase();
  }
  const mentions = /\b(commit|rollback)\b/i.test(body);
  if (!mentions || language !== 'plpgsql') return mentions;
  try {
    const tag = body.includes('$vpcm$') ? `$vpcm${body.length}$` : '$vpcm$';
    return /"PLpgSQL_stmt_(commit|rollback)"/.test(JSON.stringify(parser.parsePlPgSQL(`DO ${tag}${body}${tag}`)));
  } catch {
    return true;
  }
}

function createSubscriptionKind(stmt: CreateSubscriptionStmt): StatementKind {
  // parse_subscription_options: connect = false turns create_slot's default to false.
  const connect = optionBoolean(stmt.options, 'connect') ?? true;
  const createSlot = optionBoolean(stmt.options, 'create_slot') ?? connect;
  return createSlot ? 'non-transactional' : 'transactional';
}

function alterSubscriptionKind(stmt: AlterSubscriptionStmt): StatementKind {
  switch (stmt.kind) {
    case 'ALTER_SUBSCRIPTION_REFRESH':
      return 'non-transactional';
    case 'ALTER_SUBSCRIPTION_SET_PUBLICATION':
    case 'ALTER_SUBSCRIPTION_ADD_PUBLICATION':
    case 'ALTER_SUBSCRIPTION_DROP_PUBLICATION':
      return optionBoolean(stmt.options, 'refresh') === false ? 'transactional' : 'non-transactional';
    case 'ALTER_SUBSCRIPTION_OPTIONS':
      if (findOption(stmt.options, 'failover')) return 'non-transactional';
      return findOption(stmt.options, 'two_phase') && optionBoolean(stmt.options, 'two_phase') !== true
        ? 'non-transactional'
        : 'transactional';
    default:
      return 'transactional';
  }
}

function findOption(options: Node[] | undefined, name: string): DefElem | undefined {
  for (const option of options ?? []) {
    if ('DefElem' in option && option.DefElem.defname === name) return option.DefElem;
  }
  return undefined;
}

function optionBoolean(options: Node[] | undefined, name: string): boolean | undefined {
  const option = findOption(options, name);
  return option ? defElemBoolean(option) : undefined;
}

/** PostgreSQL's `defGetBoolean`; undefined where PostgreSQL would raise an error. */
function defElemBoolean(def: DefElem): boolean | undefined {
  const arg = def.arg;
  if (arg === undefined) return true;
  if ('Integer' in arg) {
    const value = arg.Integer.ival ?? 0;
    return value === 0 ? false : value === 1 ? true : undefined;
  }
  if ('Boolean' in arg) return arg.Boolean.boolval ?? false;
  let text: string | undefined;
  if ('String' in arg) text = arg.String.sval;
  else if ('TypeName' in arg && arg.TypeName.names?.length === 1) {
    const only = arg.TypeName.names[0];
    if (only && 'String' in only) text = only.String.sval;
  }
  switch (text?.toLowerCase()) {
    case 'true':
    case 'on':
      return true;
    case 'false':
    case 'off':
      return false;
    default:
      return undefined;
  }
}

// ---------------------------------------------------------------------------------------------
// Positions

/**
 * UTF-8 byte offsets → JS string indices. Statement offsets arrive in increasing order, so a
 * cursor moving forward keeps the whole file linear; ASCII text (most files) maps 1:1.
 */
class ByteIndex {
  private readonly ascii: boolean;
  private byte = 0;
  private index = 0;

  constructor(private readonly text: string) {
    this.ascii = Buffer.byteLength(text, 'utf8') === text.length;
  }

  toIndex(byteOffset: number): number {
    if (this.ascii) return Math.min(byteOffset, this.text.length);
    if (byteOffset < this.byte) {
      this.byte = 0;
      this.index = 0;
    }
    const text = this.text;
    while (this.byte < byteOffset && this.index < text.length) {
      const unit = text.charCodeAt(this.index);
      let width = 1;
      let units = 1;
      if (unit >= 0x800) {
        width = 3;
        const next = text.charCodeAt(this.index + 1);
        if (unit >= 0xd800 && unit <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
          width = 4;
          units = 2;
        }
      } else if (unit >= 0x80) {
        width = 2;
      }
      // A byte offset inside a character (never a token boundary) maps to that character.
      if (this.byte + width > byteOffset) break;
      this.byte += width;
      this.index += units;
    }
    return this.index;
  }
}

// ---------------------------------------------------------------------------------------------
// Lexical trimming. Only whitespace and comments are skipped here, and only from positions that
// are token boundaries in the parser's initial state (a statement's start, or the file's start).

/**
 *  PostgreSQL's `space` class in scan.l: [ \t\n\r\f\v]. JS trim() would also eat NBSP, which PostgreSQL reads as part
 *  of an identifier.
 */
function isPgSpace(unit: number): boolean {
  return unit === 0x20 || (unit >= 0x09 && unit <= 0x0d);
}

function skipSpaceAndComments(sql: string, from: number, to: number): number {
  let i = from;
  while (i < to) {
    const unit = sql.charCodeAt(i);
    if (isPgSpace(unit)) {
      i++;
    } else if (unit === 0x2d && sql.charCodeAt(i + 1) === 0x2d) {
      // `--` runs to the end of the line: scan.l ends it at \n or \r.
      i += 2;
      while (i < to && sql.charCodeAt(i) !== 0x0a && sql.charCodeAt(i) !== 0x0d) i++;
    } else if (unit === 0x2f && sql.charCodeAt(i + 1) === 0x2a) {
      const after = blockCommentEnd(sql, i);
      if (after === -1) return i; // unterminated: leave it for the parser to report
      i = after;
    } else {
      break;
    }
  }
  return Math.min(i, to);
}

/** Index after the `*\/` closing the (nestable) block comment starting at `open`, or -1. */
function blockCommentEnd(sql: string, open: number): number {
  let depth = 0;
  let i = open;
  while (i < sql.length - 1) {
    const a = sql.charCodeAt(i);
    const b = sql.charCodeAt(i + 1);
    if (a === 0x2f && b === 0x2a) {
      depth++;
      i += 2;
    } else if (a === 0x2a && b === 0x2f) {
      depth--;
      i += 2;
      if (depth === 0) return i;
    } else {
      i++;
    }
  }
  return -1;
}

/**
 * End of the statement's last token. The parser's range runs to the `;` (or the end of the file)
 * and so may hold trailing whitespace and comments. Whitespace is trimmed directly; a trailing
 * comment can only exist if the trimmed text ends with `*\/` or its last line holds `--`, and
 * only then is the statement scanned to find its last token exactly.
 */
function trimmedEnd(pg: SqlParser, sql: string, start: number, rawEnd: number): number {
  let end = rawEnd;
  while (end > start && isPgSpace(sql.charCodeAt(end - 1))) end--;
  if (!mayEndInComment(sql, start, end)) return end;

  const text = sql.slice(start, end);
  let tokens: ScanToken[];
  try {
    tokens = pg.scan(text).tokens;
  } catch {
    return end; // cannot happen for text the parser accepted; keep the whitespace-trimmed end
  }
  for (let t = tokens.length - 1; t >= 0; t--) {
    const token = tokens[t];
    if (!token || token.tokenName === 'SQL_COMMENT' || token.tokenName === 'C_COMMENT' || token.text === ';') continue;
    return start + new ByteIndex(text).toIndex(token.end);
  }
  return end;
}

function mayEndInComment(sql: string, start: number, end: number): boolean {
  if (end - start >= 2 && sql.charCodeAt(end - 2) === 0x2a && sql.charCodeAt(end - 1) === 0x2f) return true;
  for (let i = end - 1; i > start; i--) {
    const unit = sql.charCodeAt(i);
    if (unit === 0x0a || unit === 0x0d) return false;
    if (unit === 0x2d && sql.charCodeAt(i - 1) === 0x2d) return true;
  }
  return false;
}

/**
 * A file the parser rejects travels as one statement and the server reports the real error.
 * Only leading comments and surrounding whitespace are trimmed: without a parse, a trailing `;`
 * might sit inside an unterminated literal, and the text must reach the server unchanged.
 */
function unparsable(sql: string, message: string, errorIndex: number): SplitResult {
  const start = skipSpaceAndComments(sql, 0, sql.length);
  let end = sql.length;
  while (end > start && isPgSpace(sql.charCodeAt(end - 1))) end--;
  const statements: StatementSpan[] =
    end > start ? [{ start, end, line: lineOf(sql, start), kind: 'transactional' }] : [];
  return {
    statements,
    mode: 'transactional',
    parseError: { message, ...positionOf(sql, errorIndex) },
  };
}
