/**
 * STUB (branch `drift`): the normalised catalog diff is built on branch `catalog`, which replaces
 * this file. Objects keyed by kind and name; `exclude` patterns (`*` any run of characters) match
 * the name.
 */
import type { Catalog, ObjectKind } from './catalog.js';

export interface Difference {
  kind: ObjectKind;
  object: string;
  change: 'missing' | 'only-in-live' | 'changed';
  expected?: string;
  live?: string;
}

export function diffCatalogs(expected: Catalog, live: Catalog, opts: { exclude?: string[] } = {}): Difference[] {
  const patterns = (opts.exclude ?? []).map(
    (p) => new RegExp(`^${p.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`),
  );
  const kept = (name: string) => !patterns.some((re) => re.test(name));
  const key = (o: { kind: string; name: string }) => `${o.kind}\0${o.name}`;
  const want = new Map(expected.objects.filter((o) => kept(o.name)).map((o) => [key(o), o]));
  const have = new Map(live.objects.filter((o) => kept(o.name)).map((o) => [key(o), o]));
  const out: Difference[] = [];
  for (const [k, o] of want) {
    const l = have.get(k);
    if (!l) out.push({ kind: o.kind, object: o.name, change: 'missing', expected: o.definition });
    else if (l.definition !== o.definition)
      out.push({ kind: o.kind, object: o.name, change: 'changed', expected: o.definition, live: l.definition });
  }
  for (const [k, l] of have)
    if (!want.has(k)) out.push({ kind: l.kind, object: l.name, change: 'only-in-live', live: l.definition });
  return out.sort((a, b) => a.kind.localeCompare(b.kind) || a.object.localeCompare(b.object));
}
