import type { Rule } from './rule.js';

/**
 * Transaction shapes no executor can run as written: refused before anything runs, rather than
 * discovered halfway through a file whose earlier blocks already committed.
 */
export const ownTransactionShape: Rule = {
  id: 'own-transaction-shape',
  severity: 'error',
  title: 'A transaction shape PostgreSQL refuses in a migration file',
  why:
    '`SET TRANSACTION SNAPSHOT` imports a snapshot exported by another session that is still open; a migration ' +
    'runs on one connection, so there is none to import and PostgreSQL refuses it (22023). A `DO` block that ' +
    "COMMITs or ROLLBACKs is only allowed outside a transaction block; inside the file's own BEGIN … COMMIT " +
    'PostgreSQL refuses it (2D000), after everything before that block has already committed.',
  fix:
    'Drop SET TRANSACTION SNAPSHOT (use SET TRANSACTION ISOLATION LEVEL REPEATABLE READ for one consistent view). ' +
    ('Move a committing DO block out of the BEGIN … COMMIT, ' +
      "or remove its COMMIT/ROLLBACK and let the file's block " +
      'commit.'),
  start(_ctx, report) {
    let inBlock = false;
    return {
      statement(s) {
        if (s.kind === 'begin') inBlock = true;
        if (s.kind === 'commit') inBlock = false;
        const node = s.node;
        if ('VariableSetStmt' in node && node.VariableSetStmt.name === 'TRANSACTION SNAPSHOT') {
          report(s, {
            message:
              'SET TRANSACTION SNAPSHOT needs a snapshot exported ' +
              'by another open session; a migration has none (PostgreSQL ' +
              'refuses it, 22023).',
          });
        }
        if (inBlock && s.kind === 'self-committing' && 'DoStmt' in node) {
          report(s, {
            message:
              "This DO block COMMITs or ROLLBACKs inside the file's " +
              'own BEGIN … COMMIT: PostgreSQL refuses that (2D000 ' +
              'invalid transaction termination).',
          });
        }
      },
    };
  },
};
