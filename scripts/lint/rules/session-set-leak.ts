import type { Node } from 'libpg-query';
import { names } from '../ast.js';
import type { Rule } from './rule.js';

/** The setting a session-level SET / set_config(…, false) changes, if the statement is one. */
function sessionSetting(node: Node): string | undefined {
  if ('VariableSetStmt' in node) {
    const { kind, name, is_local } = node.VariableSetStmt;
    // Who the session runs as is session-reset's (session-reset.ts).
    if (is_local || name === 'role' || name === 'session_authorization') return undefined;
    if (kind === 'VAR_SET_VALUE' || kind === 'VAR_SET_CURRENT') return name;
    if (kind === 'VAR_SET_MULTI' && name === 'SESSION CHARACTERISTICS') return 'default_transaction_*';
    return undefined;
  }
  if ('SelectStmt' in node) {
    for (const target of node.SelectStmt.targetList ?? []) {
      const val = 'ResTarget' in target ? target.ResTarget.val : undefined;
      if (!val || !('FuncCall' in val)) continue;
      const fn = names(val.FuncCall.funcname);
      const args = val.FuncCall.args ?? [];
      const local = args[2];
      if (fn[fn.length - 1] !== 'set_config' || !local || !('A_Const' in local)) continue;
      const isLocal = local.A_Const.boolval?.boolval === true;
      const setting = args[0] && 'A_Const' in args[0] ? args[0].A_Const.sval?.sval : undefined;
      if (!isLocal) return setting ?? 'a setting';
    }
  }
  return undefined;
}

/** Whether the statement undoes a session setting (RESET x, RESET ALL, SET x TO DEFAULT, DISCARD ALL). */
function resets(node: Node, setting: string): boolean {
  if ('DiscardStmt' in node) return node.DiscardStmt.target === 'DISCARD_ALL';
  if (!('VariableSetStmt' in node)) return false;
  const { kind, name } = node.VariableSetStmt;
  if (kind === 'VAR_RESET_ALL') return true;
  return (kind === 'VAR_RESET' || kind === 'VAR_SET_DEFAULT') && name?.toLowerCase() === setting.toLowerCase();
}

export const sessionSetLeak: Rule = {
  id: 'session-set-leak',
  severity: 'warning',
  title: 'Session-level SET that outlives the file',
  why:
    'A plain SET (or set_config(…, false)) stays in effect for the rest of the database session. `prisma migrate ' +
    'deploy` runs the following migrations on the same connection, so a `SET lock_timeout` or `SET search_path` ' +
    'silently applies to them too. vpc-migrate resets the session between migrations, so here it only reaches the ' +
    'rest of this file, but the file behaves differently under Prisma.',
  fix:
    'Use SET LOCAL (it ends with the transaction), or RESET the setting at the end of the file. For lock_timeout ' +
    'and statement_timeout, prefer `deploy --lock-timeout MS` / `--statement-timeout MS`.',
  start(ctx, report) {
    const { statements } = ctx.file;
    return {
      statement(s) {
        const setting = sessionSetting(s.node);
        if (setting === undefined) return;
        if (statements.slice(s.index + 1).some((later) => resets(later.node, setting))) return;
        report(s, { message: `Sets ${setting} for the whole session, not just this migration, and never resets it.` });
      },
    };
  },
};
