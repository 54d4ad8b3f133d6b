/** Small helpers over libpg-query parse trees: qualified names and a generic walk. */
import type { Node, RangeVar, TypeName } from 'libpg-query';

/** The schema unqualified names resolve to (Prisma's default; deploy passes the worker's). */
export const DEFAULT_SCHEMA = 'public';

/**
 * The key of a schema-qualified object: schema and name joined by NUL, the one character
 * PostgreSQL identifiers cannot hold (a quoted name may contain dots).
 */
export function objectKey(schema: string, name: string): string {
  return `${schema}\u0000${name}`;
}

/** `[schema, name]` of a key made by {@link objectKey}. */
export function splitKey(key: string): [string, string] {
  const at = key.indexOf('\u0000');
  return [key.slice(0, at), key.slice(at + 1)];
}

/** The key of a table or index reference. */
export function relKey(rv: RangeVar | undefined, defaultSchema = DEFAULT_SCHEMA): string | undefined {
  if (!rv?.relname) return undefined;
  return objectKey(rv.schemaname ?? defaultSchema, rv.relname);
}

/** The strings of a name list (`String` nodes), e.g. `["public", "Role"]`. */
export function names(list: Node[] | undefined): string[] {
  const out: string[] = [];
  for (const item of list ?? []) if ('String' in item && item.String.sval !== undefined) out.push(item.String.sval);
  return out;
}

/** The key of a possibly qualified name list (a catalog prefix is ignored). */
export function qualify(parts: string[], defaultSchema = DEFAULT_SCHEMA): string | undefined {
  const name = parts[parts.length - 1];
  if (name === undefined) return undefined;
  const schema = parts.length >= 2 ? parts[parts.length - 2]! : defaultSchema;
  return objectKey(schema, name);
}

/** The key of a type reference; built-in types keep `pg_catalog`. */
export function typeKey(type: TypeName | undefined, defaultSchema = DEFAULT_SCHEMA): string | undefined {
  return qualify(names(type?.names), defaultSchema);
}

/** The name list of a DROP object (`List` of `String`s, or a `TypeName` for types and domains). */
export function objectNames(node: Node): string[] {
  if ('List' in node) return names(node.List.items);
  if ('TypeName' in node) return names(node.TypeName.names);
  if ('String' in node && node.String.sval !== undefined) return [node.String.sval];
  return [];
}

export interface References {
  /** Every string constant (`'…'`). */
  strings: Set<string>;
  /** Every type reference (casts, column types). */
  types: TypeName[];
  /** Every table reference. */
  relations: RangeVar[];
}

/**
 * Collects string constants, type references and table references anywhere under `node`.
 * Parse trees hold some nodes unwrapped (`relation: {relname}`, `typeName: {names}`), so
 * objects are recognised by shape as well as by their wrapper key.
 */
export function references(node: unknown): References {
  const refs: References = { strings: new Set(), types: [], relations: [] };
  const visit = (value: unknown): void => {
    if (Array.isArray(value)) {
      for (const item of value) visit(item);
      return;
    }
    if (value === null || typeof value !== 'object') return;
    const obj = value as Record<string, unknown>;
    if ('A_Const' in obj) {
      const sval = (obj.A_Const as { sval?: { sval?: string } }).sval?.sval;
      if (sval !== undefined) refs.strings.add(sval);
      return;
    }
    if (typeof obj.relname === 'string') refs.relations.push(obj as RangeVar);
    else if (Array.isArray(obj.names) && ('typemod' in obj || 'location' in obj || 'arrayBounds' in obj))
      refs.types.push(obj as TypeName);
    for (const key in obj) visit(obj[key]);
  };
  visit(node);
  return refs;
}

/** The first line of a statement, at most `max` characters, for reports. */
export function shortStatement(sql: string, start: number, end: number, max = 140): string {
  const text = sql.slice(start, end);
  const nl = text.indexOf('\n');
  const first = (nl === -1 ? text : text.slice(0, nl)).trimEnd();
  const cut = first.length > max ? `${first.slice(0, max - 1)}…` : first;
  return nl === -1 || cut.endsWith('…') ? cut : `${cut} …`;
}

/** An identifier as PostgreSQL would print it, quoted. */
export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** A key as SQL: `"name"` in the default schema, else `"schema"."name"`. */
export function displayKey(key: string, defaultSchema = DEFAULT_SCHEMA): string {
  const [schema, name] = splitKey(key);
  return schema === defaultSchema ? quoteIdent(name) : `${quoteIdent(schema)}.${quoteIdent(name)}`;
}
