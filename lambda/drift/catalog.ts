/**
 * STUB (branch `drift`): the catalog introspection is built on branch `catalog`, which replaces
 * this file. Only tables and columns, from information_schema, so the drift lifecycle compiles and
 * its tests run; the interface is the agreed one.
 */
import type { Db } from '../db.js';

export type ObjectKind =
  | 'schema'
  | 'table'
  | 'column'
  | 'constraint'
  | 'index'
  | 'enum'
  | 'sequence'
  | 'view'
  | 'materialized view'
  | 'function'
  | 'procedure'
  | 'trigger'
  | 'policy'
  | 'extension'
  | 'row security';
export interface CatalogObject {
  kind: ObjectKind;
  name: string;
  definition: string;
}
export interface Catalog {
  objects: CatalogObject[];
}

const SYSTEM_SCHEMAS = ['pg_catalog', 'information_schema', 'pg_toast'];

export async function introspect(db: Db, opts: { excludeSchemas?: string[] } = {}): Promise<Catalog> {
  const skip = [...SYSTEM_SCHEMAS, ...(opts.excludeSchemas ?? [])];
  const tables = await db.query<{ s: string; t: string; k: string }>(
    `SELECT table_schema AS s, table_name AS t, table_type AS k FROM information_schema.tables
      WHERE table_schema <> ALL($1::text[]) AND table_schema NOT LIKE 'pg\\_temp\\_%'`,
    [skip],
  );
  const columns = await db.query<{ s: string; t: string; c: string; d: string }>(
    `SELECT table_schema AS s, table_name AS t, column_name AS c,
            concat_ws(' ', data_type, CASE WHEN is_nullable = 'NO' THEN 'NOT NULL' END,
                      'DEFAULT ' || column_default) AS d
       FROM information_schema.columns
      WHERE table_schema <> ALL($1::text[]) AND table_schema NOT LIKE 'pg\\_temp\\_%'`,
    [skip],
  );
  return {
    objects: [
      ...tables.rows.map((r) => ({
        kind: (r.k === 'VIEW' ? 'view' : 'table') as ObjectKind,
        name: `${r.s}.${r.t}`,
        definition: r.k,
      })),
      ...columns.rows.map((r) => ({ kind: 'column' as const, name: `${r.s}.${r.t}.${r.c}`, definition: r.d })),
    ],
  };
}
