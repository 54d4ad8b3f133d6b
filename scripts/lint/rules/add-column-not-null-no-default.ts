import type { ColumnDef } from 'libpg-query';
import { displayKey, names, relKey } from '../ast.js';
import { eachStatement, type Rule } from './rule.js';

const SERIAL_TYPES = new Set(['serial', 'serial4', 'bigserial', 'serial8', 'smallserial', 'serial2']);

/** NOT NULL (or PRIMARY KEY) with nothing that fills existing rows. */
export function requiredWithoutDefault(def: ColumnDef): boolean {
  const kinds = new Set(
    (def.constraints ?? []).flatMap((c) => ('Constraint' in c && c.Constraint.contype ? [c.Constraint.contype] : [])),
  );
  const notNull = def.is_not_null === true || kinds.has('CONSTR_NOTNULL') || kinds.has('CONSTR_PRIMARY');
  const filled =
    def.raw_default !== undefined ||
    (def.identity !== undefined && def.identity !== '') ||
    kinds.has('CONSTR_DEFAULT') ||
    kinds.has('CONSTR_IDENTITY') ||
    kinds.has('CONSTR_GENERATED');
  const typeNames = names(def.typeName?.names);
  const serial = typeNames.length === 1 && SERIAL_TYPES.has(typeNames[0]!);
  return notNull && !filled && !serial;
}

export const addColumnNotNullNoDefault: Rule = {
  id: 'add-column-not-null-no-default',
  severity: 'warning',
  title: 'ADD COLUMN … NOT NULL without a default on an existing table',
  why:
    'PostgreSQL has no value for the rows already in the table, so the statement fails with 23502 "column … ' +
    'contains null values" as soon as the table has one row (Prisma warns: "This is not possible if the table is ' +
    'not empty"). It passes on an empty development database and fails in production.',
  fix:
    'Add a DEFAULT (constant defaults are instant since PostgreSQL 11), or add the column nullable, backfill it, ' +
    'and SET NOT NULL in a later migration.',
  start: eachStatement((s, ctx, report, schema) => {
    const node = s.node;
    if (!('AlterTableStmt' in node)) return;
    const table = relKey(node.AlterTableStmt.relation, schema);
    if (!table || ctx.isNew(table)) return;
    const columns: string[] = [];
    for (const item of node.AlterTableStmt.cmds ?? []) {
      if (!('AlterTableCmd' in item) || item.AlterTableCmd.subtype !== 'AT_AddColumn') continue;
      const def = item.AlterTableCmd.def;
      if (def && 'ColumnDef' in def && requiredWithoutDefault(def.ColumnDef))
        columns.push(`"${def.ColumnDef.colname ?? '?'}"`);
    }
    if (columns.length === 0) return;
    report(s, {
      message:
        `Adds required column(s) ${columns.join(', ')} without ` +
        `a default to ${displayKey(table, schema)}: fails with ` +
        `23502 if the table has any row.`,
    });
  }),
};
