/**
 * What a database's schema is, read from its catalog: the one home for the catalog SQL of drift
 * (issue 28). Every definition is PostgreSQL's own deparse where one exists (pg_get_indexdef,
 * pg_get_constraintdef, pg_get_viewdef, pg_get_functiondef, pg_get_triggerdef, format_type,
 * pg_get_expr), so two databases built from the same migrations read the same, whatever their OIDs.
 *
 * Deliberately not compared (they legitimately differ between two databases built from the same
 * migrations): OIDs, owners and grants (role names differ between servers), column order (attnum
 * order after a DROP COLUMN differs from a fresh build; columns are matched by name), sequence
 * values, comments, tablespaces, statistics targets, and extension versions (a fresh
 * `CREATE EXTENSION` gets the server's default version, an old database the one it was created
 * with: that is a server upgrade, not a migration). NOT NULL constraints (pg_constraint rows since
 * PostgreSQL 18) are compared as the column's nullability, and the index behind a primary key,
 * unique or exclusion constraint as that constraint, so one change is reported once.
 * Beyond issue 28's list: domains, and composite and range types (kind `type`). Not read (yet):
 * aggregates, rules, extended statistics, collations, casts, operators, text search
 * configurations, foreign servers, event triggers, publications, grants.
 *
 * Left out: system schemas (pg_catalog, information_schema, pg_toast, pg_temp_*, pg_toast_temp_*),
 * objects that belong to an extension (pg_depend deptype 'e'), and the ledgers with everything
 * that hangs on them: `_prisma_migrations` in any schema, `drizzle.__drizzle_migrations` and its
 * serial sequence.
 */
import { DRIZZLE_LEDGER_SCHEMA, DRIZZLE_LEDGER_TABLE, PRISMA_LEDGER_TABLE } from '../contract/index.js';
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
  | 'row security'
  | 'domain'
  | 'type';

/** Every kind, in the order objects and differences are listed. */
export const OBJECT_KINDS: readonly ObjectKind[] = [
  'extension',
  'schema',
  'enum',
  'domain',
  'type',
  'sequence',
  'table',
  'column',
  'constraint',
  'index',
  'row security',
  'policy',
  'trigger',
  'view',
  'materialized view',
  'function',
  'procedure',
];

export interface ObjectRef {
  kind: ObjectKind;
  name: string;
}

export interface CatalogObject {
  kind: ObjectKind;
  /** Qualified, each part quoted as quote_ident does: `public."User".email`, `public.f(integer, text)`. */
  name: string;
  /** Normalised, deparsed by PostgreSQL. */
  definition: string;
  /**
   * The object it belongs to (a column's table, a table's schema): a missing or added table is
   * one difference, not one per column.
   */
  parent?: ObjectRef;
}

export interface Catalog {
  objects: CatalogObject[];
}

export interface IntrospectOptions {
  /** Schemas to leave out, beside the system ones (names as stored, unquoted). */
  excludeSchemas?: string[];
}

/** The key of an object: names are unique within a kind. */
export function objectKey(o: ObjectRef): string {
  return `${o.kind}\u0000${o.name}`;
}

/** Kind order, then name in code-unit order (never the server's collation): the same on every machine. */
export function compareObjects(a: ObjectRef, b: ObjectRef): number {
  const byKind = OBJECT_KINDS.indexOf(a.kind) - OBJECT_KINDS.indexOf(b.kind);
  if (byKind !== 0) return byKind;
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/**
 * Reads the catalog in one read-only, repeatable-read transaction of its own, or, called inside
 * the caller's transaction, in a savepoint rolled back at the end (so the caller's transaction
 * and settings are as they were). The settings that change how PostgreSQL prints names and
 * constants are pinned for that time: search_path (every name schema-qualified the same way,
 * whatever the caller's search_path), DateStyle, IntervalStyle, TimeZone, extra_float_digits,
 * bytea_output, quote_all_identifiers.
 */
export async function introspect(db: Db, opts: IntrospectOptions = {}): Promise<Catalog> {
  const excluded = opts.excludeSchemas ?? [];
  const nested = await begin(db);
  try {
    await db.query(PINNED_SETTINGS_SQL);
    const rows: CatalogRow[] = [];
    for (const sql of CATALOG_QUERIES) rows.push(...(await db.query<CatalogRow>(sql, [excluded])).rows);
    await db.query(nested ? `ROLLBACK TO SAVEPOINT ${SAVEPOINT}; RELEASE SAVEPOINT ${SAVEPOINT}` : 'COMMIT');
    return { objects: withoutLedgers(merged(rows.map(toObject))) };
  } catch (error) {
    const undo = nested ? `ROLLBACK TO SAVEPOINT ${SAVEPOINT}; RELEASE SAVEPOINT ${SAVEPOINT}` : 'ROLLBACK';
    await db.query(undo).catch(() => undefined);
    throw error;
  }
}

const SAVEPOINT = 'vpcm_introspect';

/**
 * Opens our transaction; inside the caller's, BEGIN only warns (25001, "there is already a
 * transaction in progress"): then a savepoint instead. Returns whether it was nested.
 */
async function begin(db: Db): Promise<boolean> {
  let nested = false;
  const onNotice = (notice: { code?: string }) => {
    if (notice.code === '25001') nested = true;
  };
  db.on('notice', onNotice);
  try {
    // A plain BEGIN: with transaction modes it would fail, and abort the caller's transaction.
    await db.query('BEGIN');
  } finally {
    db.off('notice', onNotice);
  }
  await db.query(nested ? `SAVEPOINT ${SAVEPOINT}` : 'SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY');
  return nested;
}

interface CatalogRow {
  kind: ObjectKind;
  name: string;
  definition: string;
  parent_kind: ObjectKind | null;
  parent_name: string | null;
}

function toObject(r: CatalogRow): CatalogObject {
  const o: CatalogObject = { kind: r.kind, name: r.name, definition: r.definition.trim() };
  if (r.parent_kind && r.parent_name) o.parent = { kind: r.parent_kind, name: r.parent_name };
  return o;
}

/**
 * Objects of one kind and name, sorted, their definitions joined: a foreign key that references
 * a partitioned table is one pg_constraint row per referenced partition, all of the same name.
 */
function merged(objects: CatalogObject[]): CatalogObject[] {
  const byKey = new Map<string, CatalogObject[]>();
  for (const o of objects) {
    const key = objectKey(o);
    const same = byKey.get(key);
    if (same) same.push(o);
    else byKey.set(key, [o]);
  }
  const out: CatalogObject[] = [];
  for (const same of byKey.values()) {
    const first = same[0]!;
    if (same.length === 1) {
      out.push(first);
      continue;
    }
    const definitions = same.map((o) => o.definition).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    out.push({ ...first, definition: definitions.join('\n') });
  }
  return out.sort(compareObjects);
}

/** The ledger tables, never drift, as `table` names; everything whose parent chain reaches one goes with it. */
export const DRIZZLE_LEDGER_NAME = `${storedIdent(DRIZZLE_LEDGER_SCHEMA)}.${storedIdent(DRIZZLE_LEDGER_TABLE)}`;

function isLedgerTable(o: ObjectRef): boolean {
  if (o.kind !== 'table') return false;
  return o.name === DRIZZLE_LEDGER_NAME || o.name.endsWith(`.${storedIdent(PRISMA_LEDGER_TABLE)}`);
}

/** A name as quote_ident prints it, for the ledgers' plain lower-case names (none is a keyword). */
function storedIdent(name: string): string {
  return /^[a-z_][a-z0-9_$]*$/.test(name) ? name : `"${name.replaceAll('"', '""')}"`;
}

function withoutLedgers(objects: CatalogObject[]): CatalogObject[] {
  const parents = new Map(objects.map((o) => [objectKey(o), o.parent]));
  const underLedger = (o: ObjectRef): boolean => {
    for (let at: ObjectRef | undefined = o, depth = 0; at && depth < 8; depth++) {
      if (isLedgerTable(at)) return true;
      at = parents.get(objectKey(at));
    }
    return false;
  };
  return objects.filter((o) => !underLedger(o));
}

const PINNED_SETTINGS_SQL = `SELECT
  set_config('search_path', 'pg_catalog', true),
  set_config('DateStyle', 'ISO, MDY', true),
  set_config('IntervalStyle', 'postgres', true),
  set_config('TimeZone', 'UTC', true),
  set_config('extra_float_digits', '1', true),
  set_config('bytea_output', 'hex', true),
  set_config('quote_all_identifiers', 'off', true)`;

// ---- The catalog SQL. $1 is the caller's excluded schemas (text[]). ----

/** A schema of the user's: not a system one, not excluded, not an extension's. */
function userSchema(n: string): string {
  return `${n}.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
    AND ${n}.nspname !~ '^pg_(toast_)?temp_'
    AND NOT (${n}.nspname = ANY ($1::text[]))
    AND ${notExtensionMember('pg_namespace', `${n}.oid`)}`;
}

function notExtensionMember(catalog: string, oid: string): string {
  return `NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend x
    WHERE x.classid = 'pg_catalog.${catalog}'::regclass AND x.objid = ${oid} AND x.deptype = 'e')`;
}

/** A relation `c` in schema `n` of the user's, of the given relkinds. */
function userRelation(c: string, n: string, relkinds: string): string {
  return `${c}.relkind IN (${relkinds}) AND ${userSchema(n)} AND ${notExtensionMember('pg_class', `${c}.oid`)}`;
}

const TABLE_KINDS = `'r', 'p', 'f'`;
const RELATION_KINDS = `'r', 'p', 'f', 'v', 'm'`;
const RELATION_NAME = `format('%I.%I', n.nspname, c.relname)`;
const RELATION_KIND = `CASE c.relkind WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view' ELSE 'table' END`;
const SCHEMA_PARENT = `'schema' AS parent_kind, quote_ident(n.nspname) AS parent_name`;
const TABLE_PARENT = `'table' AS parent_kind, ${RELATION_NAME} AS parent_name`;

const SCHEMAS_SQL = `SELECT 'schema' AS kind, quote_ident(n.nspname) AS name,
    'SCHEMA ' || quote_ident(n.nspname) AS definition, NULL AS parent_kind, NULL AS parent_name
  FROM pg_catalog.pg_namespace n
  WHERE ${userSchema('n')}`;

/** Extensions are listed whatever their schema (plpgsql lives in pg_catalog), by name and schema. */
const EXTENSIONS_SQL = `SELECT 'extension' AS kind, quote_ident(e.extname) AS name,
    format('EXTENSION %I SCHEMA %I', e.extname, n.nspname) AS definition, NULL AS parent_kind, NULL AS parent_name
  FROM pg_catalog.pg_extension e JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace
  WHERE NOT (n.nspname = ANY ($1::text[]))`;

/** A table's own properties; its columns, constraints and indexes are objects of their own. */
const TABLES_SQL = `SELECT 'table' AS kind, ${RELATION_NAME} AS name,
    CASE WHEN c.relpersistence = 'u' THEN 'UNLOGGED ' ELSE '' END
    || CASE c.relkind WHEN 'f' THEN 'FOREIGN TABLE ' ELSE 'TABLE ' END || ${RELATION_NAME}
    || CASE WHEN c.relispartition THEN
         coalesce(' PARTITION OF ' || (SELECT string_agg(format('%I.%I', pn.nspname, p.relname), ', ')
           FROM pg_catalog.pg_inherits i JOIN pg_catalog.pg_class p ON p.oid = i.inhparent
           JOIN pg_catalog.pg_namespace pn ON pn.oid = p.relnamespace WHERE i.inhrelid = c.oid), '')
         || ' ' || coalesce(pg_catalog.pg_get_expr(c.relpartbound, c.oid), '')
       ELSE coalesce(' INHERITS ('
         || (SELECT string_agg(format('%I.%I', pn.nspname, p.relname), ', ' ORDER BY i.inhseqno)
           FROM pg_catalog.pg_inherits i JOIN pg_catalog.pg_class p ON p.oid = i.inhparent
           JOIN pg_catalog.pg_namespace pn ON pn.oid = p.relnamespace WHERE i.inhrelid = c.oid) || ')', '')
       END
    || CASE WHEN c.relkind = 'p' THEN ' PARTITION BY ' || pg_catalog.pg_get_partkeydef(c.oid) ELSE '' END
    || coalesce(' WITH (' || array_to_string(c.reloptions, ', ') || ')', '') AS definition,
    ${SCHEMA_PARENT}
  FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
  WHERE ${userRelation('c', 'n', TABLE_KINDS)}`;

/** Type, collation when not the type's own, identity or generation or default, nullability. */
const COLUMNS_SQL = `SELECT 'column' AS kind, format('%I.%I.%I', n.nspname, c.relname, a.attname) AS name,
    pg_catalog.format_type(a.atttypid, a.atttypmod)
    || CASE WHEN a.attcollation <> t.typcollation
         THEN ' COLLATE ' || format('%I.%I', cn.nspname, co.collname) ELSE '' END
    || CASE a.attidentity WHEN 'a' THEN ' GENERATED ALWAYS AS IDENTITY'
         WHEN 'd' THEN ' GENERATED BY DEFAULT AS IDENTITY' ELSE '' END
    || CASE WHEN a.attgenerated IN ('s', 'v')
         THEN ' GENERATED ALWAYS AS (' || pg_catalog.pg_get_expr(d.adbin, d.adrelid)
           || CASE a.attgenerated WHEN 's' THEN ') STORED' ELSE ') VIRTUAL' END
         WHEN d.adbin IS NOT NULL THEN ' DEFAULT ' || pg_catalog.pg_get_expr(d.adbin, d.adrelid) ELSE '' END
    || CASE WHEN a.attnotnull THEN ' NOT NULL' ELSE '' END AS definition,
    ${TABLE_PARENT}
  FROM pg_catalog.pg_attribute a
  JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
  JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
  LEFT JOIN pg_catalog.pg_collation co ON co.oid = a.attcollation
  LEFT JOIN pg_catalog.pg_namespace cn ON cn.oid = co.collnamespace
  LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
  WHERE a.attnum > 0 AND NOT a.attisdropped AND ${userRelation('c', 'n', TABLE_KINDS)}`;

/** Table constraints; NOT NULL ones (contype 'n', PostgreSQL 18) are the column's nullability. */
const CONSTRAINTS_SQL = `SELECT 'constraint' AS kind, format('%I.%I.%I', n.nspname, c.relname, con.conname) AS name,
    pg_catalog.pg_get_constraintdef(con.oid) AS definition,
    ${TABLE_PARENT}
  FROM pg_catalog.pg_constraint con
  JOIN pg_catalog.pg_class c ON c.oid = con.conrelid
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
  WHERE con.contype <> 'n' AND ${userRelation('c', 'n', TABLE_KINDS)}`;

/** Indexes but those behind a constraint (compared as the constraint); an invalid one says so. */
const INDEXES_SQL = `SELECT 'index' AS kind, format('%I.%I', n.nspname, ic.relname) AS name,
    pg_catalog.pg_get_indexdef(i.indexrelid) || CASE WHEN i.indisvalid THEN '' ELSE ' -- INVALID' END AS definition,
    ${RELATION_KIND} AS parent_kind, ${RELATION_NAME} AS parent_name
  FROM pg_catalog.pg_index i
  JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid
  JOIN pg_catalog.pg_class c ON c.oid = i.indrelid
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
  WHERE ${userRelation('c', 'n', `'r', 'p', 'm'`)}
    AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint con
      WHERE con.conindid = i.indexrelid AND con.conrelid = i.indrelid AND con.contype IN ('p', 'u', 'x'))`;

/** Labels in their order (enumsortorder: a label added BEFORE another sorts between). */
const ENUMS_SQL = `SELECT 'enum' AS kind, format('%I.%I', n.nspname, t.typname) AS name,
    'ENUM (' || coalesce((SELECT string_agg(quote_literal(e.enumlabel), ', ' ORDER BY e.enumsortorder)
      FROM pg_catalog.pg_enum e WHERE e.enumtypid = t.oid), '') || ')' AS definition,
    ${SCHEMA_PARENT}
  FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
  WHERE t.typtype = 'e' AND ${userSchema('n')} AND ${notExtensionMember('pg_type', 't.oid')}`;

/** Base type, collation when not the base type's, default, NOT NULL, and the CHECK constraints by name. */
const DOMAINS_SQL = `SELECT 'domain' AS kind, format('%I.%I', n.nspname, t.typname) AS name,
    'DOMAIN AS ' || pg_catalog.format_type(t.typbasetype, t.typtypmod)
    || CASE WHEN t.typcollation <> b.typcollation
         THEN ' COLLATE ' || format('%I.%I', cn.nspname, co.collname) ELSE '' END
    || coalesce(' DEFAULT ' || pg_catalog.pg_get_expr(t.typdefaultbin, 0), '')
    || CASE WHEN t.typnotnull THEN ' NOT NULL' ELSE '' END
    || coalesce((SELECT string_agg(
           format(' CONSTRAINT %I ', con.conname) || pg_catalog.pg_get_constraintdef(con.oid), '' ORDER BY con.conname)
         FROM pg_catalog.pg_constraint con WHERE con.contypid = t.oid AND con.contype = 'c'), '')
    AS definition,
    ${SCHEMA_PARENT}
  FROM pg_catalog.pg_type t
  JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
  JOIN pg_catalog.pg_type b ON b.oid = t.typbasetype
  LEFT JOIN pg_catalog.pg_collation co ON co.oid = t.typcollation
  LEFT JOIN pg_catalog.pg_namespace cn ON cn.oid = co.collnamespace
  WHERE t.typtype = 'd' AND ${userSchema('n')} AND ${notExtensionMember('pg_type', 't.oid')}`;

/** Composite types (attributes in their order: it is the type's) and range types. */
const TYPES_SQL = `SELECT 'type' AS kind, format('%I.%I', n.nspname, t.typname) AS name,
    CASE t.typtype WHEN 'c' THEN 'COMPOSITE (' || coalesce((SELECT string_agg(
        quote_ident(a.attname) || ' ' || pg_catalog.format_type(a.atttypid, a.atttypmod)
        || CASE WHEN a.attcollation <> at.typcollation
             THEN ' COLLATE ' || format('%I.%I', acn.nspname, aco.collname) ELSE '' END, ', ' ORDER BY a.attnum)
      FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_type at ON at.oid = a.atttypid
      LEFT JOIN pg_catalog.pg_collation aco ON aco.oid = a.attcollation
      LEFT JOIN pg_catalog.pg_namespace acn ON acn.oid = aco.collnamespace
      WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped), '') || ')'
    ELSE (SELECT format('RANGE (SUBTYPE = %s, SUBTYPE_OPCLASS = %s%s%s%s)',
        pg_catalog.format_type(r.rngsubtype, NULL), format('%I.%I', ocn.nspname, oc.opcname),
        CASE WHEN r.rngcollation <> 0 THEN ', COLLATION = ' || format('%I.%I', rcn.nspname, rco.collname) ELSE '' END,
        CASE WHEN r.rngcanonical <> 0 THEN ', CANONICAL = ' || r.rngcanonical::pg_catalog.regproc::text ELSE '' END,
        CASE WHEN r.rngsubdiff <> 0 THEN ', SUBTYPE_DIFF = ' || r.rngsubdiff::pg_catalog.regproc::text ELSE '' END)
      FROM pg_catalog.pg_range r
      JOIN pg_catalog.pg_opclass oc ON oc.oid = r.rngsubopc
      JOIN pg_catalog.pg_namespace ocn ON ocn.oid = oc.opcnamespace
      LEFT JOIN pg_catalog.pg_collation rco ON rco.oid = r.rngcollation
      LEFT JOIN pg_catalog.pg_namespace rcn ON rcn.oid = rco.collnamespace
      WHERE r.rngtypid = t.oid) END AS definition,
    ${SCHEMA_PARENT}
  FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
  WHERE (t.typtype = 'r' OR (t.typtype = 'c'
      AND (SELECT c.relkind FROM pg_catalog.pg_class c WHERE c.oid = t.typrelid) = 'c'))
    AND ${userSchema('n')} AND ${notExtensionMember('pg_type', 't.oid')}`;

/** The options, never the current value; a serial's or identity's sequence belongs to its table. */
const SEQUENCES_SQL = `SELECT 'sequence' AS kind, ${RELATION_NAME} AS name,
    format('SEQUENCE AS %s START %s INCREMENT %s MINVALUE %s MAXVALUE %s CACHE %s %s',
      pg_catalog.format_type(s.seqtypid, NULL), s.seqstart, s.seqincrement, s.seqmin, s.seqmax, s.seqcache,
      CASE WHEN s.seqcycle THEN 'CYCLE' ELSE 'NO CYCLE' END)
    || CASE WHEN tc.oid IS NULL THEN '' ELSE format(' OWNED BY %I.%I.%I', tn.nspname, tc.relname, ta.attname) END
    AS definition,
    CASE WHEN tc.oid IS NULL THEN 'schema' ELSE 'table' END AS parent_kind,
    CASE WHEN tc.oid IS NULL THEN quote_ident(n.nspname) ELSE format('%I.%I', tn.nspname, tc.relname) END AS parent_name
  FROM pg_catalog.pg_sequence s
  JOIN pg_catalog.pg_class c ON c.oid = s.seqrelid
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
  LEFT JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = c.oid
    AND d.refclassid = 'pg_catalog.pg_class'::regclass AND d.refobjsubid > 0 AND d.deptype IN ('a', 'i')
  LEFT JOIN pg_catalog.pg_class tc ON tc.oid = d.refobjid
  LEFT JOIN pg_catalog.pg_namespace tn ON tn.oid = tc.relnamespace
  LEFT JOIN pg_catalog.pg_attribute ta ON ta.attrelid = d.refobjid AND ta.attnum = d.refobjsubid
  WHERE ${userRelation('c', 'n', `'S'`)}`;

const VIEWS_SQL = `SELECT ${RELATION_KIND} AS kind, ${RELATION_NAME} AS name,
    pg_catalog.pg_get_viewdef(c.oid)
    || coalesce(' WITH (' || array_to_string(c.reloptions, ', ') || ')', '') AS definition,
    ${SCHEMA_PARENT}
  FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
  WHERE ${userRelation('c', 'n', `'v', 'm'`)}`;

/**
 * Overloads told apart by their identity arguments; aggregates have no pg_get_functiondef; a
 * function made as part of another object (a range type's constructors, pg_depend deptype 'i')
 * is that object's.
 */
const FUNCTIONS_SQL = `SELECT CASE p.prokind WHEN 'p' THEN 'procedure' ELSE 'function' END AS kind,
    format('%I.%I(%s)', n.nspname, p.proname, pg_catalog.pg_get_function_identity_arguments(p.oid)) AS name,
    pg_catalog.pg_get_functiondef(p.oid) AS definition,
    ${SCHEMA_PARENT}
  FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
  WHERE p.prokind IN ('f', 'p', 'w') AND ${userSchema('n')} AND ${notExtensionMember('pg_proc', 'p.oid')}
    AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend i
      WHERE i.classid = 'pg_catalog.pg_proc'::regclass AND i.objid = p.oid AND i.deptype = 'i')`;

/** User triggers (not the internal ones behind foreign keys), with their enabled state when not the default. */
const TRIGGERS_SQL = `SELECT 'trigger' AS kind, format('%I.%I.%I', n.nspname, c.relname, t.tgname) AS name,
    pg_catalog.pg_get_triggerdef(t.oid)
    || CASE t.tgenabled WHEN 'D' THEN ' -- DISABLED' WHEN 'R' THEN ' -- ENABLE REPLICA'
         WHEN 'A' THEN ' -- ENABLE ALWAYS' ELSE '' END AS definition,
    ${RELATION_KIND} AS parent_kind, ${RELATION_NAME} AS parent_name
  FROM pg_catalog.pg_trigger t
  JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
  WHERE NOT t.tgisinternal AND ${userRelation('c', 'n', RELATION_KINDS)}`;

const POLICIES_SQL = `SELECT 'policy' AS kind, format('%I.%I.%I', n.nspname, c.relname, p.polname) AS name,
    format('POLICY %I ON %I.%I AS %s FOR %s TO %s', p.polname, n.nspname, c.relname,
      CASE WHEN p.polpermissive THEN 'PERMISSIVE' ELSE 'RESTRICTIVE' END,
      CASE p.polcmd WHEN 'r' THEN 'SELECT' WHEN 'a' THEN 'INSERT' WHEN 'w' THEN 'UPDATE'
        WHEN 'd' THEN 'DELETE' ELSE 'ALL' END,
      (SELECT string_agg(r.name, ', ' ORDER BY r.name) FROM (SELECT CASE WHEN o = 0 THEN 'PUBLIC'
        ELSE quote_ident(pg_catalog.pg_get_userbyid(o)) END AS name FROM unnest(p.polroles) AS o) r))
    || coalesce(' USING (' || pg_catalog.pg_get_expr(p.polqual, p.polrelid) || ')', '')
    || coalesce(' WITH CHECK (' || pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) || ')', '') AS definition,
    ${TABLE_PARENT}
  FROM pg_catalog.pg_policy p
  JOIN pg_catalog.pg_class c ON c.oid = p.polrelid
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
  WHERE ${userRelation('c', 'n', TABLE_KINDS)}`;

/** Listed only when enabled or forced: turning it on out of band is an object only in live. */
const ROW_SECURITY_SQL = `SELECT 'row security' AS kind, ${RELATION_NAME} AS name,
    'ROW LEVEL SECURITY ' || CASE WHEN c.relrowsecurity THEN 'ENABLED' ELSE 'DISABLED' END
    || CASE WHEN c.relforcerowsecurity THEN ', FORCED' ELSE '' END AS definition,
    ${TABLE_PARENT}
  FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
  WHERE (c.relrowsecurity OR c.relforcerowsecurity) AND ${userRelation('c', 'n', TABLE_KINDS)}`;

const CATALOG_QUERIES = [
  EXTENSIONS_SQL,
  SCHEMAS_SQL,
  ENUMS_SQL,
  DOMAINS_SQL,
  TYPES_SQL,
  SEQUENCES_SQL,
  TABLES_SQL,
  COLUMNS_SQL,
  CONSTRAINTS_SQL,
  INDEXES_SQL,
  ROW_SECURITY_SQL,
  POLICIES_SQL,
  TRIGGERS_SQL,
  VIEWS_SQL,
  FUNCTIONS_SQL,
];
