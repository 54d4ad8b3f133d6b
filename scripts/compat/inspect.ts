/**
 * What one statement needs in run-sql mode, read from PostgreSQL's parser (libpg-query):
 * whether PL/pgSQL `EXECUTE` can run it (so it can share an atomic `DO` block with others and
 * with its ledger row), and a session `SET` turned into `SET LOCAL`, so a file's
 * `SET lock_timeout = '5s'` ends with its transaction instead of staying on the worker's
 * pooled connection for whatever that connection runs next (docs/design.md §3, "no state leaks").
 */
import type { Node } from 'libpg-query';
import type { StatementKind } from '../../lambda/contract/index.js';
import type { SqlParser } from '../core/sql-parser.js';

export interface PreparedStatement {
  /** The text to send (a session SET made LOCAL when it runs inside a DO block). */
  text: string;
  /**
   *  PL/pgSQL `EXECUTE` runs it: false for non-transactional statements, transaction control, `SELECT … INTO`, `COPY`,
   *  and text the parser rejects.
   */
  executable: boolean;
}

function parseOne(parser: SqlParser, text: string): Node | undefined {
  try {
    const stmts = parser.parse(text).stmts ?? [];
    return stmts.length === 1 ? stmts[0]?.stmt : undefined;
  } catch {
    return undefined;
  }
}

export function prepareStatement(parser: SqlParser, text: string, kind: StatementKind): PreparedStatement {
  if (kind !== 'transactional' && kind !== 'timeout-setting') return { text, executable: false };
  const node = parseOne(parser, text);
  if (!node) return { text, executable: false };
  if ('TransactionStmt' in node || 'CopyStmt' in node) return { text, executable: false };
  if ('SelectStmt' in node && node.SelectStmt.intoClause) return { text, executable: false };
  if ('VariableSetStmt' in node) return { text: localSet(parser, text, node.VariableSetStmt), executable: true };
  return { text, executable: true };
}

function localSet(parser: SqlParser, text: string, stmt: { kind?: string; name?: string; is_local?: boolean }): string {
  if (stmt.is_local || !['VAR_SET_VALUE', 'VAR_SET_DEFAULT', 'VAR_SET_CURRENT'].includes(stmt.kind ?? '')) return text;
  const rewritten =
    stmt.name === 'session_authorization'
      ? text.replace(/^SET(?=\s)/i, 'SET LOCAL')
      : text.replace(/^SET(\s+SESSION)?(?=\s)/i, 'SET LOCAL');
  // Keep the rewrite only when the parser reads it as the same SET, now LOCAL.
  const check = parseOne(parser, rewritten);
  const same =
    check &&
    'VariableSetStmt' in check &&
    check.VariableSetStmt.is_local === true &&
    check.VariableSetStmt.name === stmt.name;
  return same ? rewritten : text;
}
