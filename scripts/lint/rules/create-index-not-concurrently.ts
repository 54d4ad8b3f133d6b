import { displayKey, relKey } from '../ast.js';
import { existingIndex } from './index-recreation.js';
import { eachStatement, type Rule } from './rule.js';

export const createIndexNotConcurrently: Rule = {
  id: 'create-index-not-concurrently',
  severity: 'warning',
  title: 'CREATE INDEX without CONCURRENTLY on an existing table',
  why:
    'A plain CREATE INDEX holds a SHARE lock on the table for the whole build: every INSERT, UPDATE and DELETE ' +
    'waits until the index is built, which takes minutes on a large table. Tables created by the same deploy are ' +
    'empty and are not flagged.',
  fix:
    'Use CREATE INDEX CONCURRENTLY IF NOT EXISTS in a migration folder of its own (CONCURRENTLY cannot share a ' +
    'file, see concurrently-mixed); vpc-migrate runs that file outside a transaction.',
  start: eachStatement((s, ctx, report, schema) => {
    const node = s.node;
    if (!('IndexStmt' in node) || node.IndexStmt.concurrent) return;
    const table = relKey(node.IndexStmt.relation, schema);
    // A re-creation is reported by index-recreation, which says why it should go instead.
    if (!table || ctx.isNew(table) || existingIndex(node, ctx.model)) return;
    const name = node.IndexStmt.idxname ? `"${node.IndexStmt.idxname}" ` : '';
    report(s, {
      message:
        `Builds index ${name}on the existing table ${displayKey(table, schema)} ` +
        `without CONCURRENTLY: writes to it are blocked until ` +
        `the build ends.`,
    });
  }),
};
