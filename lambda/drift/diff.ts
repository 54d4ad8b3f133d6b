/**
 * Expected schema against live schema (issue 28): pure, on two catalogs read by introspect().
 * Objects are matched by kind and name, never by OID or position; a definition differs when its
 * deparsed text does.
 *
 * One change, one difference: an object missing from one side takes everything that belongs to
 * it (a table its columns, constraints, indexes, triggers, policies; a schema its objects) into
 * its own difference, listed under its definition, instead of one difference each.
 */
import {
  type Catalog,
  type CatalogObject,
  compareObjects,
  type ObjectKind,
  type ObjectRef,
  objectKey,
} from './catalog.js';

export type Change = 'missing' | 'only-in-live' | 'changed';

export interface Difference {
  kind: ObjectKind;
  object: string;
  /** `missing`: expected but not live; `only-in-live`: live but not expected; `changed`: both, defined differently. */
  change: Change;
  expected?: string;
  live?: string;
}

export interface DiffOptions {
  /**
   * Objects managed elsewhere. A pattern is matched against the whole qualified name, as
   * introspect() prints it (PostgreSQL's quoting: `public."User".email`, `public.f(integer)`), or
   * the same name without the identifier quotes (`public.User.email`), case-sensitively: `*`
   * stands for any run of characters (`.` included, or none), `?` for one character, anything
   * else for itself. An object is left out when a pattern matches its name or the name of an
   * object it belongs to: `audit.*` leaves out everything in schema `audit` (but not the schema,
   * `audit`), `public.legacy` or `public.Legacy` the table with its columns, indexes and triggers.
   */
  exclude?: string[];
}

export function diffCatalogs(expected: Catalog, live: Catalog, opts: DiffOptions = {}): Difference[] {
  const excluded = exclusion(opts.exclude ?? [], [expected, live]);
  const want = byKey(expected.objects.filter((o) => !excluded(o)));
  const have = byKey(live.objects.filter((o) => !excluded(o)));

  const found: Difference[] = [];
  for (const [key, e] of want) {
    const l = have.get(key);
    if (!l) found.push({ kind: e.kind, object: e.name, change: 'missing', expected: e.definition });
    else if (l.definition !== e.definition) {
      found.push({ kind: e.kind, object: e.name, change: 'changed', expected: e.definition, live: l.definition });
    }
  }
  for (const [key, l] of have) {
    if (!want.has(key)) found.push({ kind: l.kind, object: l.name, change: 'only-in-live', live: l.definition });
  }
  return folded(found, want, have).sort(compareDifferences);
}

function compareDifferences(a: Difference, b: Difference): number {
  const byObject = compareObjects(ref(a), ref(b));
  if (byObject !== 0) return byObject;
  return a.change < b.change ? -1 : a.change > b.change ? 1 : 0;
}

function ref(d: Difference): ObjectRef {
  return { kind: d.kind, name: d.object };
}

function byKey(objects: CatalogObject[]): Map<string, CatalogObject> {
  return new Map(objects.map((o) => [objectKey(o), o]));
}

/**
 * Differences whose owner is itself missing (or only in live) move into the owner's: the
 * nearest such ancestor on the same side gets a line `kind name: definition` per member.
 */
function folded(found: Difference[], want: Map<string, CatalogObject>, have: Map<string, CatalogObject>): Difference[] {
  const whole = new Map<string, Difference>();
  for (const d of found) if (d.change !== 'changed') whole.set(`${d.change}\u0000${objectKey(ref(d))}`, d);
  const members = new Map<Difference, Difference[]>();
  const kept: Difference[] = [];
  for (const d of found) {
    const side = d.change === 'missing' ? want : d.change === 'only-in-live' ? have : undefined;
    const owner = side && outermostOwner(d, side, (o) => whole.get(`${d.change}\u0000${objectKey(o)}`));
    if (!owner) {
      kept.push(d);
      continue;
    }
    const list = members.get(owner) ?? [];
    list.push(d);
    members.set(owner, list);
  }
  return kept.map((d) => {
    const list = members.get(d);
    if (!list) return d;
    const lines = list.sort((a, b) => compareObjects(ref(a), ref(b))).map((m) => `\n${m.kind} ${m.object}: ${text(m)}`);
    return d.change === 'missing'
      ? { ...d, expected: `${d.expected}${lines.join('')}` }
      : { ...d, live: `${d.live}${lines.join('')}` };
  });
}

/** The farthest ancestor that is itself a whole-object difference of the same change. */
function outermostOwner(
  d: Difference,
  side: Map<string, CatalogObject>,
  asDifference: (o: ObjectRef) => Difference | undefined,
): Difference | undefined {
  let owner: Difference | undefined;
  let at = side.get(objectKey(ref(d)))?.parent;
  for (let depth = 0; at && depth < 8; depth++) {
    owner = asDifference(at) ?? owner;
    at = side.get(objectKey(at))?.parent;
  }
  return owner;
}

function text(d: Difference): string {
  return (d.change === 'missing' ? d.expected : d.live) ?? '';
}

/** Whether an object is excluded: a pattern matches its name or an owner's (looked up on either side). */
function exclusion(patterns: string[], catalogs: Catalog[]): (o: CatalogObject) => boolean {
  if (patterns.length === 0) return () => false;
  const regexes = patterns.map(globToRegExp);
  const parents = new Map<string, ObjectRef | undefined>();
  for (const c of catalogs) for (const o of c.objects) if (o.parent) parents.set(objectKey(o), o.parent);
  return (o) => {
    let at: ObjectRef | undefined = o;
    for (let depth = 0; at && depth < 8; depth++) {
      const names = [at.name, unquoted(at.name)];
      if (regexes.some((r) => names.some((name) => r.test(name)))) return true;
      at = parents.get(objectKey(at));
    }
    return false;
  };
}

/** `public."User"` as `public.User`: quotes dropped, a doubled quote inside one kept once. */
function unquoted(name: string): string {
  return name.replace(/"((?:[^"]|"")*)"/g, (_, inner: string) => inner.replaceAll('""', '"'));
}

export function globToRegExp(pattern: string): RegExp {
  let source = '';
  for (const ch of pattern) {
    if (ch === '*') source += '.*';
    else if (ch === '?') source += '.';
    else source += ch.replace(/[\\^$.|+()[\]{}]/g, '\\$&');
  }
  return new RegExp(`^${source}$`, 's');
}
