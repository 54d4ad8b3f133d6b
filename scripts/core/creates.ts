/**
 * What a statement creates, by name, from its parse tree: the worker's reconciliation compares
 * the object that "already exists" with what the statement would make, and needs to know which
 * object that is (PostgreSQL's duplicate-object errors do not name it in a field). Statements
 * not listed here create nothing a duplicate error could be about, or nothing we can compare:
 * the worker then fails rather than skips.
 */
import type { Node, RangeVar } from 'libpg-query';
import type { CreatedObject } from '../../lambda/contract/index.js';

const names = (list: Node[] | undefined): string[] =>
  (list ?? []).flatMap((n) => ('String' in n && n.String.sval !== undefined ? [n.String.sval] : []));

/** A qualified name list (`schema.name` or `name`) as an object reference. */
function qualified(kind: CreatedObject['kind'], list: Node[] | undefined): CreatedObject[] {
  const parts = names(list);
  const name = parts[parts.length - 1];
  if (name === undefined) return [];
  return [parts.length > 1 ? { kind, name, schema: parts[parts.length - 2]! } : { kind, name }];
}

function relation(kind: CreatedObject['kind'], r: RangeVar | undefined): CreatedObject[] {
  if (!r?.relname) return [];
  return [r.schemaname ? { kind, name: r.relname, schema: r.schemaname } : { kind, name: r.relname }];
}

function onTable(
  kind: 'constraint' | 'column' | 'index' | 'trigger',
  name: string | undefined,
  table: RangeVar | undefined,
): CreatedObject[] {
  if (!name || !table?.relname) return [];
  const o: CreatedObject = { kind, name, table: table.relname };
  if (table.schemaname) o.schema = table.schemaname;
  return [o];
}

export function createdObjects(node: Node): CreatedObject[] {
  if ('CreateStmt' in node) return relation('relation', node.CreateStmt.relation);
  if ('CreateSeqStmt' in node) return relation('relation', node.CreateSeqStmt.sequence);
  if ('ViewStmt' in node) return node.ViewStmt.replace ? [] : relation('relation', node.ViewStmt.view);
  if ('CreateTableAsStmt' in node) return relation('relation', node.CreateTableAsStmt.into?.rel);
  if ('IndexStmt' in node) return onTable('index', node.IndexStmt.idxname, node.IndexStmt.relation);
  if ('CreateEnumStmt' in node) return qualified('type', node.CreateEnumStmt.typeName);
  if ('CompositeTypeStmt' in node) return relation('type', node.CompositeTypeStmt.typevar);
  if ('CreateDomainStmt' in node) return qualified('type', node.CreateDomainStmt.domainname);
  if ('CreateFunctionStmt' in node)
    return node.CreateFunctionStmt.replace ? [] : qualified('routine', node.CreateFunctionStmt.funcname);
  if ('CreateTrigStmt' in node)
    return node.CreateTrigStmt.replace
      ? []
      : onTable('trigger', node.CreateTrigStmt.trigname, node.CreateTrigStmt.relation);
  if ('CreateSchemaStmt' in node)
    return node.CreateSchemaStmt.schemaname ? [{ kind: 'schema', name: node.CreateSchemaStmt.schemaname }] : [];
  if ('CreateExtensionStmt' in node)
    return node.CreateExtensionStmt.extname ? [{ kind: 'extension', name: node.CreateExtensionStmt.extname }] : [];
  if ('AlterTableStmt' in node) {
    const table = node.AlterTableStmt.relation;
    return (node.AlterTableStmt.cmds ?? []).flatMap((cmd) => {
      if (!('AlterTableCmd' in cmd)) return [];
      const { subtype, def } = cmd.AlterTableCmd;
      if (subtype === 'AT_AddColumn' && def && 'ColumnDef' in def)
        return onTable('column', def.ColumnDef.colname, table);
      if (subtype === 'AT_AddConstraint' && def && 'Constraint' in def) {
        const c = def.Constraint;
        // PostgreSQL's own name for an unnamed primary key: <table>_pkey.
        const name =
          c.conname ?? (c.contype === 'CONSTR_PRIMARY' && table?.relname ? `${table.relname}_pkey` : undefined);
        return onTable('constraint', name, table);
      }
      return [];
    });
  }
  return [];
}
