import type { Node } from 'libpg-query';
import { names } from '../ast.js';
import type { Rule } from './rule.js';

const DISCARD: Record<string, string> = {
  DISCARD_ALL: 'DISCARD ALL',
  DISCARD_PLANS: 'DISCARD PLANS',
  DISCARD_SEQUENCES: 'DISCARD SEQUENCES',
  DISCARD_TEMP: 'DISCARD TEMP',
};

/** The pg_advisory_unlock* functions a statement calls, anywhere in it (a DO block's body by name). */
function unlockCalls(node: Node): string[] {
  const found = new Set<string>();
  const walk = (value: unknown): void => {
    if (Array.isArray(value)) {
      for (const v of value) walk(v);
      return;
    }
    if (value === null || typeof value !== 'object') return;
    const fn = (value as { FuncCall?: { funcname?: Node[] } }).FuncCall;
    if (fn) {
      const name = names(fn.funcname).at(-1)?.toLowerCase();
      if (name?.startsWith('pg_advisory_unlock')) found.add(name);
    }
    for (const child of Object.values(value)) walk(child);
  };
  walk(node);
  // PL/pgSQL is not parsed: a DO body is searched for the name.
  if ('DoStmt' in node)
    for (const m of JSON.stringify(node.DoStmt.args ?? []).matchAll(/pg_advisory_unlock\w*/gi))
      found.add(m[0].toLowerCase());
  return [...found];
}

/** What the statement does to the session, in words, if it releases locks or resets the session. */
function resetOf(node: Node): string | undefined {
  if ('DiscardStmt' in node) {
    const what = DISCARD[node.DiscardStmt.target ?? ''] ?? 'DISCARD';
    return node.DiscardStmt.target === 'DISCARD_ALL'
      ? `${what} releases every session-level advisory lock ` +
          `and resets the whole session (settings, role, prepared ` +
          `statements, temporary tables)`
      : `${what} drops session state the rest of the file may rely on`;
  }
  if ('VariableSetStmt' in node) {
    const { kind, name, is_local } = node.VariableSetStmt;
    if (kind === 'VAR_RESET_ALL')
      return (
        'RESET ALL resets every setting of the session, those ' +
        'the deployer set included (statement_timeout, lock_timeout, ' +
        'search_path)'
      );
    if (is_local) return undefined;
    if (name === 'role') {
      return kind === 'VAR_RESET' || kind === 'VAR_SET_DEFAULT'
        ? 'RESET ROLE changes the role the rest of the session runs as'
        : 'SET ROLE changes the role the rest of the session runs as (the ledger write included)';
    }
    if (name === 'session_authorization')
      return 'SET SESSION AUTHORIZATION changes the user the rest of the session runs as (the ledger write included)';
    return undefined;
  }
  const calls = unlockCalls(node);
  if (calls.length > 0)
    return (
      `${calls.join(', ')} release${calls.length === 1 ? 's' : ''} ` +
      `session-level advisory locks, the migration lock among ` +
      `them when it is held on this session`
    );
  return undefined;
}

export const sessionReset: Rule = {
  id: 'session-reset',
  severity: 'warning',
  title: 'Statement that releases locks or resets the session',
  why:
    '`prisma migrate deploy` holds its migration lock, pg_advisory_lock(72707369), on the session that runs the ' +
    'migrations: `DISCARD ALL` or `pg_advisory_unlock_all()` releases it mid-deploy, and a concurrent deploy can ' +
    'apply the same migrations again. vpc-migrate holds the lock on a session of its own, so the lock is safe ' +
    'there, but the statement still changes the session for the rest of the file (and, under Prisma, for the ' +
    'following migrations): settings, role, temporary tables.',
  fix:
    'Remove it: a migration needs no session clean-up (vpc-migrate resets the session between migrations). Release ' +
    'only the advisory locks the file took, with pg_advisory_unlock(key) or transaction-level pg_advisory_xact_lock; ' +
    'use SET LOCAL ROLE instead of SET ROLE.',
  start(_ctx, report) {
    return {
      statement(s) {
        const what = resetOf(s.node);
        if (what) report(s, { message: `${what}.` });
      },
    };
  },
};
