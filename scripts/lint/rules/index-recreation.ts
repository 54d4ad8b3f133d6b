import type { Node } from 'libpg-query';
import { displayKey, objectKey, relKey, splitKey } from '../ast.js';
import type { IndexInfo, SchemaModel } from '../schema.js';
import { eachStatement, type Rule } from './rule.js';

/** The index a CREATE INDEX would collide with by name, as the model knows it now. */
export function existingIndex(
  node: Node,
  model: SchemaModel,
): { key: string; table: string; existing: IndexInfo } | undefined {
  if (!('IndexStmt' in node) || node.IndexStmt.idxname === undefined) return undefined;
  const table = relKey(node.IndexStmt.relation, model.defaultSchema);
  if (!table) return undefined;
  const key = objectKey(splitKey(table)[0], node.IndexStmt.idxname);
  const existing = model.indexes.get(key);
  return existing ? { key, table, existing } : undefined;
}

export const indexRecreation: Rule = {
  id: 'index-recreation',
  severity: 'warning',
  title: 'CREATE INDEX of an index the history already creates',
  why:
    'An index of that name already exists, so the statement changes nothing: PostgreSQL fails it with 42P07 ' +
    '(Prisma stops with P3018), vpc-migrate skips it as "already exists", IF NOT EXISTS makes it a no-op. Prisma ' +
    'generates it when its schema describes an index differently from the hand-written one the history built ' +
    '(CONCURRENTLY, INCLUDE, fillfactor, operator classes).',
  fix:
    'Delete it (`lint --fix` does when the history creates that index on the same table). To change the ' +
    'definition, DROP INDEX CONCURRENTLY and CREATE INDEX CONCURRENTLY it in migrations of their own.',
  start: eachStatement((s, ctx, report, schema) => {
    const hit = existingIndex(s.node, ctx.model);
    if (!hit) return;
    const { existing, table } = hit;
    const [, indexName] = splitKey(hit.key);
    const where = `${existing.origin.migration}/migration.sql line ${existing.origin.line}`;
    if (existing.table !== table) {
      report(s, {
        message:
          `Index "${indexName}" already exists on ${displayKey(existing.table, schema)} ` +
          `(created at ${where}), not on ${displayKey(table, schema)}: ` +
          `this statement fails with 42P07 or is skipped.`,
      });
      return;
    }
    const touched = ctx.model.touchedOpaquely(existing.step, indexName, splitKey(table)[1]);
    report(s, {
      message: touched
        ? `Re-creates index "${indexName}" (created at ${where}), ` +
          `but a DO block or an unparsable file since then mentions ` +
          `it, so it cannot be proven to still exist.`
        : `Re-creates index "${indexName}" on ${displayKey(table, schema)}: ` +
          `${where} already creates it and nothing after that ` +
          `drops or renames it.`,
      fixable: !touched,
    });
  }),
};
