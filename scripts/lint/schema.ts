/**
 * A small model of what the migration history has built: tables (with column types), indexes
 * (with the columns they depend on) and enum types. It is learned by walking parsed statements
 * in apply order, and it only has to be right about names: which indexes exist on which table,
 * which columns have which type, which enum values exist.
 *
 * What it cannot see into (DO blocks, files the parser rejects) is kept as opaque text, so a
 * rule can refuse to call something proven when opaque SQL may have touched it.
 */
import type { ColumnDef, Constraint, IndexStmt, Node } from 'libpg-query';
import { DEFAULT_SCHEMA, names, objectKey, objectNames, qualify, relKey, splitKey, typeKey } from './ast.js';

/** Where an object was created: migration folder and line. */
export interface Origin {
  migration: string;
  line: number;
}

export interface TableInfo {
  key: string;
  /** Column name → type key (see {@link typeKey}). */
  columns: Map<string, string | undefined>;
  origin: Origin;
}

export interface IndexInfo {
  key: string;
  /** Key of the table it is on. */
  table: string;
  /** Columns it depends on (key, INCLUDE, expressions, predicate): dropping one drops the index. */
  columns: Set<string>;
  /** It backs a PRIMARY KEY / UNIQUE / EXCLUDE constraint of the same name. */
  constraint: boolean;
  origin: Origin;
  /** Model step when it was created or last renamed (see {@link SchemaModel.touchedOpaquely}). */
  step: number;
}

export interface EnumInfo {
  key: string;
  values: Set<string>;
  origin: Origin;
}

/**
 * A model as plain data, in its maps' order (rules iterate them): what the parse cache keeps of
 * a learned history, so the next deploy learns only the files added since.
 */
export interface ModelSnapshot {
  defaultSchema: string;
  step: number;
  opaque: { step: number; text: string }[];
  /** Column types: null where the model has none (JSON has no undefined). */
  tables: { key: string; columns: [string, string | null][]; origin: Origin }[];
  indexes: { key: string; table: string; columns: string[]; constraint: boolean; origin: Origin; step: number }[];
  enums: { key: string; values: string[]; origin: Origin }[];
}

/** PostgreSQL's NAMEDATALEN - 1: longer generated names are truncated in ways not modelled here. */
const MAX_IDENTIFIER_BYTES = 63;

export class SchemaModel {
  readonly tables = new Map<string, TableInfo>();
  readonly indexes = new Map<string, IndexInfo>();
  readonly enums = new Map<string, EnumInfo>();
  private readonly opaque: { step: number; text: string }[] = [];
  private step = 0;

  constructor(readonly defaultSchema = DEFAULT_SCHEMA) {}

  /** The model as plain data, copied: learning more afterwards does not change it. */
  snapshot(): ModelSnapshot {
    return {
      defaultSchema: this.defaultSchema,
      step: this.step,
      opaque: this.opaque.map((o) => ({ ...o })),
      tables: [...this.tables.values()].map((t) => ({
        key: t.key,
        columns: [...t.columns].map(([c, type]): [string, string | null] => [c, type ?? null]),
        origin: { ...t.origin },
      })),
      indexes: [...this.indexes.values()].map((i) => ({
        key: i.key,
        table: i.table,
        columns: [...i.columns],
        constraint: i.constraint,
        origin: { ...i.origin },
        step: i.step,
      })),
      enums: [...this.enums.values()].map((e) => ({ key: e.key, values: [...e.values], origin: { ...e.origin } })),
    };
  }

  /** The model a {@link snapshot} was taken of: the same answers, the same order. */
  static restore(snapshot: ModelSnapshot): SchemaModel {
    const model = new SchemaModel(snapshot.defaultSchema);
    model.step = snapshot.step;
    for (const o of snapshot.opaque) model.opaque.push({ step: o.step, text: o.text });
    for (const t of snapshot.tables) {
      const columns = new Map(t.columns.map(([c, type]): [string, string | undefined] => [c, type ?? undefined]));
      model.tables.set(t.key, { key: t.key, columns, origin: { ...t.origin } });
    }
    for (const i of snapshot.indexes)
      model.indexes.set(i.key, { ...i, columns: new Set(i.columns), origin: { ...i.origin } });
    for (const e of snapshot.enums) {
      model.enums.set(e.key, { key: e.key, values: new Set(e.values), origin: { ...e.origin } });
    }
    return model;
  }

  /** Records SQL the model cannot interpret (a DO block, a file the parser rejects). */
  addOpaque(text: string): void {
    this.opaque.push({ step: ++this.step, text });
  }

  /** Whether opaque SQL recorded after `step` mentions any of `words` (so may have changed them). */
  touchedOpaquely(step: number, ...words: string[]): boolean {
    return this.opaque.some((o) => o.step > step && words.some((w) => o.text.includes(w)));
  }

  /** Keys of the tables that have a column of this type, with those columns. */
  columnsOfType(type: string): Map<string, string[]> {
    const out = new Map<string, string[]>();
    for (const table of this.tables.values()) {
      const cols = [...table.columns].filter(([, t]) => t === type).map(([c]) => c);
      if (cols.length > 0) out.set(table.key, cols);
    }
    return out;
  }

  /** Applies one statement's effect on tables, indexes and enums. Unknown statements change nothing. */
  apply(node: Node, origin: Origin): void {
    this.step++;
    const schema = this.defaultSchema;
    if ('CreateStmt' in node) {
      const stmt = node.CreateStmt;
      const key = relKey(stmt.relation, schema);
      if (!key || (stmt.if_not_exists && this.tables.has(key))) return;
      const table: TableInfo = { key, columns: new Map(), origin };
      this.tables.set(key, table);
      for (const elt of stmt.tableElts ?? []) {
        if ('ColumnDef' in elt) this.addColumn(table, elt.ColumnDef, origin);
        else if ('Constraint' in elt) this.addConstraintIndex(key, elt.Constraint, origin);
      }
    } else if ('CreateTableAsStmt' in node) {
      const key = relKey(node.CreateTableAsStmt.into?.rel, schema);
      if (key && !this.tables.has(key)) this.tables.set(key, { key, columns: new Map(), origin });
    } else if ('IndexStmt' in node) {
      this.addIndex(node.IndexStmt, origin);
    } else if ('DropStmt' in node) {
      const stmt = node.DropStmt;
      for (const object of stmt.objects ?? []) {
        const key = qualify(objectNames(object), schema);
        if (!key) continue;
        switch (stmt.removeType) {
          case 'OBJECT_TABLE':
            this.dropTable(key);
            break;
          case 'OBJECT_INDEX':
            this.indexes.delete(key);
            break;
          case 'OBJECT_TYPE':
          case 'OBJECT_DOMAIN':
            this.enums.delete(key);
            if (stmt.behavior === 'DROP_CASCADE') this.dropColumnsOfType(key);
            break;
          case 'OBJECT_SCHEMA': {
            const dropped = objectNames(object)[0];
            for (const map of [this.tables, this.indexes, this.enums] as Map<string, unknown>[]) {
              for (const k of [...map.keys()]) if (splitKey(k)[0] === dropped) map.delete(k);
            }
            break;
          }
        }
      }
    } else if ('AlterTableStmt' in node) {
      const stmt = node.AlterTableStmt;
      const key = relKey(stmt.relation, schema);
      if (!key || (stmt.objtype !== undefined && stmt.objtype !== 'OBJECT_TABLE')) return;
      const table = this.tables.get(key);
      for (const item of stmt.cmds ?? []) {
        if (!('AlterTableCmd' in item)) continue;
        const cmd = item.AlterTableCmd;
        const def = cmd.def;
        switch (cmd.subtype) {
          case 'AT_AddColumn':
            if (def && 'ColumnDef' in def) {
              if (table) this.addColumn(table, def.ColumnDef, origin);
              else this.addColumnConstraints(key, def.ColumnDef, origin);
            }
            break;
          case 'AT_DropColumn':
            if (cmd.name !== undefined) this.dropColumn(key, cmd.name);
            break;
          case 'AT_AlterColumnType':
            if (table && cmd.name !== undefined && def && 'ColumnDef' in def) {
              table.columns.set(cmd.name, typeKey(def.ColumnDef.typeName, schema));
            }
            break;
          case 'AT_AddConstraint':
            if (def && 'Constraint' in def) this.addConstraintIndex(key, def.Constraint, origin);
            break;
          case 'AT_DropConstraint': {
            const index: IndexInfo | undefined =
              cmd.name === undefined ? undefined : this.indexes.get(objectKey(splitKey(key)[0], cmd.name));
            if (index && index.table === key) this.indexes.delete(index.key);
            break;
          }
        }
      }
    } else if ('RenameStmt' in node) {
      this.rename(node.RenameStmt);
    } else if ('AlterObjectSchemaStmt' in node) {
      const stmt = node.AlterObjectSchemaStmt;
      if (!stmt.newschema) return;
      if (stmt.objectType === 'OBJECT_TABLE') {
        const key = relKey(stmt.relation, schema);
        const table = key ? this.tables.get(key) : undefined;
        if (table) this.moveTable(table, objectKey(stmt.newschema, splitKey(table.key)[1]));
      } else if (stmt.objectType === 'OBJECT_TYPE' && stmt.object) {
        const key = qualify(objectNames(stmt.object), schema);
        const type = key ? this.enums.get(key) : undefined;
        if (type) this.renameType(type, objectKey(stmt.newschema, splitKey(type.key)[1]));
      }
    } else if ('CreateEnumStmt' in node) {
      const key = qualify(names(node.CreateEnumStmt.typeName), schema);
      if (key) this.enums.set(key, { key, values: new Set(names(node.CreateEnumStmt.vals)), origin });
    } else if ('AlterEnumStmt' in node) {
      const stmt = node.AlterEnumStmt;
      const key = qualify(names(stmt.typeName), schema);
      const type = key ? this.enums.get(key) : undefined;
      if (!type || stmt.newVal === undefined) return;
      if (stmt.oldVal !== undefined) type.values.delete(stmt.oldVal);
      type.values.add(stmt.newVal);
    } else if ('DoStmt' in node) {
      for (const arg of node.DoStmt.args ?? []) {
        if ('DefElem' in arg && arg.DefElem.defname === 'as' && arg.DefElem.arg && 'String' in arg.DefElem.arg) {
          this.addOpaque(arg.DefElem.arg.String.sval ?? '');
        }
      }
    }
  }

  private addColumn(table: TableInfo, def: ColumnDef, origin: Origin): void {
    if (def.colname === undefined) return;
    table.columns.set(def.colname, typeKey(def.typeName, this.defaultSchema));
    this.addColumnConstraints(table.key, def, origin);
  }

  /** Column-level PRIMARY KEY / UNIQUE create an index named like PostgreSQL names it. */
  private addColumnConstraints(tableKey: string, def: ColumnDef, origin: Origin): void {
    for (const c of def.constraints ?? []) {
      if (!('Constraint' in c) || def.colname === undefined) continue;
      const con = c.Constraint;
      if (con.contype === 'CONSTR_PRIMARY' || con.contype === 'CONSTR_UNIQUE') {
        this.addConstraintIndex(tableKey, { ...con, keys: [{ String: { sval: def.colname } }] }, origin);
      }
    }
  }

  private addConstraintIndex(tableKey: string, con: Constraint, origin: Origin): void {
    const kind = con.contype;
    if (kind !== 'CONSTR_PRIMARY' && kind !== 'CONSTR_UNIQUE' && kind !== 'CONSTR_EXCLUSION') return;
    const [schema, table] = splitKey(tableKey);
    if (con.indexname !== undefined) {
      // ADD CONSTRAINT … USING INDEX renames the index to the constraint's name.
      const existing = this.indexes.get(objectKey(schema, con.indexname));
      if (existing && con.conname !== undefined) this.renameIndex(existing, objectKey(schema, con.conname), true);
      return;
    }
    const keys = names(con.keys);
    const name =
      con.conname ??
      (kind === 'CONSTR_PRIMARY'
        ? `${table}_pkey`
        : `${[table, ...keys].join('_')}_${kind === 'CONSTR_UNIQUE' ? 'key' : 'excl'}`);
    if (Buffer.byteLength(name) > MAX_IDENTIFIER_BYTES) return;
    const columns = new Set([...keys, ...names(con.including)]);
    const key = objectKey(schema, name);
    this.indexes.set(key, { key, table: tableKey, columns, constraint: true, origin, step: this.step });
  }

  private addIndex(stmt: IndexStmt, origin: Origin): void {
    const tableKey = relKey(stmt.relation, this.defaultSchema);
    if (!tableKey || stmt.idxname === undefined) return;
    const key = objectKey(splitKey(tableKey)[0], stmt.idxname);
    if (stmt.if_not_exists && this.indexes.has(key)) return;
    const columns = new Set<string>();
    const collect = (value: unknown): void => {
      if (Array.isArray(value)) {
        for (const v of value) collect(v);
        return;
      }
      if (value === null || typeof value !== 'object') return;
      const obj = value as Record<string, unknown>;
      if ('IndexElem' in obj) {
        const name = (obj.IndexElem as { name?: string }).name;
        if (name !== undefined) columns.add(name);
      }
      if ('ColumnRef' in obj) {
        const fields = names((obj.ColumnRef as { fields?: Node[] }).fields);
        const last = fields[fields.length - 1];
        if (last !== undefined) columns.add(last);
      }
      for (const k in obj) collect(obj[k]);
    };
    collect([stmt.indexParams, stmt.indexIncludingParams, stmt.whereClause]);
    this.indexes.set(key, { key, table: tableKey, columns, constraint: false, origin, step: this.step });
  }

  private dropTable(key: string): void {
    this.tables.delete(key);
    for (const [k, index] of this.indexes) if (index.table === key) this.indexes.delete(k);
  }

  private dropColumn(tableKey: string, column: string): void {
    this.tables.get(tableKey)?.columns.delete(column);
    for (const [k, index] of this.indexes)
      if (index.table === tableKey && index.columns.has(column)) this.indexes.delete(k);
  }

  private dropColumnsOfType(type: string): void {
    for (const [tableKey, cols] of this.columnsOfType(type)) for (const c of cols) this.dropColumn(tableKey, c);
  }

  private renameIndex(index: IndexInfo, newKey: string, constraint = index.constraint): void {
    this.indexes.delete(index.key);
    this.indexes.set(newKey, { ...index, key: newKey, constraint, step: this.step });
  }

  private moveTable(table: TableInfo, newKey: string): void {
    const [newSchema] = splitKey(newKey);
    this.tables.delete(table.key);
    this.tables.set(newKey, { ...table, key: newKey });
    for (const index of [...this.indexes.values()]) {
      if (index.table !== table.key) continue;
      this.indexes.delete(index.key);
      const key = objectKey(newSchema, splitKey(index.key)[1]);
      this.indexes.set(key, { ...index, key, table: newKey, step: this.step });
    }
  }

  private renameType(type: EnumInfo, newKey: string): void {
    this.enums.delete(type.key);
    this.enums.set(newKey, { ...type, key: newKey });
    for (const table of this.tables.values()) {
      for (const [col, t] of table.columns) if (t === type.key) table.columns.set(col, newKey);
    }
  }

  private rename(stmt: import('libpg-query').RenameStmt): void {
    const schema = this.defaultSchema;
    const newName = stmt.newname;
    if (newName === undefined) return;
    switch (stmt.renameType) {
      case 'OBJECT_TABLE': {
        const key = relKey(stmt.relation, schema);
        const table = key ? this.tables.get(key) : undefined;
        if (table) this.moveTable(table, objectKey(splitKey(table.key)[0], newName));
        return;
      }
      case 'OBJECT_INDEX': {
        const key = relKey(stmt.relation, schema);
        const index = key ? this.indexes.get(key) : undefined;
        if (index) this.renameIndex(index, objectKey(splitKey(index.key)[0], newName));
        return;
      }
      case 'OBJECT_TABCONSTRAINT': {
        const key = relKey(stmt.relation, schema);
        if (!key || stmt.subname === undefined) return;
        const index = this.indexes.get(objectKey(splitKey(key)[0], stmt.subname));
        if (index && index.table === key) this.renameIndex(index, objectKey(splitKey(key)[0], newName));
        return;
      }
      case 'OBJECT_COLUMN': {
        const key = relKey(stmt.relation, schema);
        const table = key ? this.tables.get(key) : undefined;
        if (!key || stmt.subname === undefined) return;
        if (table?.columns.has(stmt.subname)) {
          table.columns.set(newName, table.columns.get(stmt.subname));
          table.columns.delete(stmt.subname);
        }
        for (const index of this.indexes.values()) {
          if (index.table === key && index.columns.delete(stmt.subname)) index.columns.add(newName);
        }
        return;
      }
      case 'OBJECT_TYPE': {
        const key = stmt.object ? qualify(objectNames(stmt.object), schema) : undefined;
        const type = key ? this.enums.get(key) : undefined;
        if (type) this.renameType(type, objectKey(splitKey(type.key)[0], newName));
        return;
      }
    }
  }
}
