import { displayKey, objectNames, qualify, relKey } from '../ast.js';
import { eachStatement, type Rule } from './rule.js';

const DESTRUCTIVE: Record<string, string> = {
  OBJECT_TABLE: 'table',
  OBJECT_SCHEMA: 'schema',
  OBJECT_TYPE: 'type',
  OBJECT_DOMAIN: 'domain',
  OBJECT_SEQUENCE: 'sequence',
  OBJECT_MATVIEW: 'materialized view',
  OBJECT_FOREIGN_TABLE: 'foreign table',
};

export const destructiveDrop: Rule = {
  id: 'destructive-drop',
  severity: 'warning',
  title: 'Destructive drop (table, column, type, schema …) or TRUNCATE',
  why:
    'The data goes with it and a later migration cannot bring it back; code still running the previous release ' +
    'fails as soon as the object is gone. Objects created by the migrations being linted are not flagged.',
  fix:
    'Make sure the data is no longer needed (back it up or copy it first) and that the release before this one ' +
    'already stopped using it (expand/contract); then keep the drop.',
  start: eachStatement((s, ctx, report, schema) => {
    const node = s.node;
    const what: string[] = [];
    if ('DropStmt' in node) {
      const kind = node.DropStmt.removeType ? DESTRUCTIVE[node.DropStmt.removeType] : undefined;
      if (!kind) return;
      for (const object of node.DropStmt.objects ?? []) {
        const parts = objectNames(object);
        if (kind === 'schema') {
          what.push(`schema "${parts[0] ?? '?'}"`);
          continue;
        }
        const key = qualify(parts, schema);
        if (key && !ctx.isNew(key)) what.push(`${kind} ${displayKey(key, schema)}`);
      }
    } else if ('AlterTableStmt' in node) {
      const table = relKey(node.AlterTableStmt.relation, schema);
      if (!table || ctx.isNew(table)) return;
      for (const item of node.AlterTableStmt.cmds ?? []) {
        if ('AlterTableCmd' in item && item.AlterTableCmd.subtype === 'AT_DropColumn') {
          what.push(`column ${displayKey(table, schema)}."${item.AlterTableCmd.name ?? '?'}"`);
        }
      }
    } else if ('TruncateStmt' in node) {
      for (const rel of node.TruncateStmt.relations ?? []) {
        const key = 'RangeVar' in rel ? relKey(rel.RangeVar, schema) : undefined;
        if (key && !ctx.isNew(key)) what.push(`all rows of ${displayKey(key, schema)} (TRUNCATE)`);
      }
    }
    if (what.length > 0) report(s, { message: `Destroys ${what.join(', ')}.` });
  }),
};
