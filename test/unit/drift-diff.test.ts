/** diffCatalogs (lambda/drift/diff.ts): pure, on hand-written catalogs. */
import { describe, expect, it } from 'vitest';
import type { Catalog, CatalogObject } from '../../lambda/drift/catalog.js';
import { diffCatalogs, globToRegExp } from '../../lambda/drift/diff.js';

const schema: CatalogObject = { kind: 'schema', name: 'public', definition: 'SCHEMA public' };
const user: CatalogObject = {
  kind: 'table',
  name: 'public."User"',
  definition: 'TABLE public."User"',
  parent: { kind: 'schema', name: 'public' },
};
const onUser = (kind: CatalogObject['kind'], name: string, definition: string): CatalogObject => ({
  kind,
  name,
  definition,
  parent: { kind: 'table', name: 'public."User"' },
});
const email = onUser('column', 'public."User".email', 'text NOT NULL');
const id = onUser('column', 'public."User".id', 'integer NOT NULL');
const pkey = onUser('constraint', 'public."User"."User_pkey"', 'PRIMARY KEY (id)');
const emailKey = onUser('index', 'public."User_email_key"', 'CREATE UNIQUE INDEX … (email)');

const catalog = (...objects: CatalogObject[]): Catalog => ({ objects });
const base = catalog(schema, user, id, email, pkey, emailKey);

describe('diffCatalogs', () => {
  it('finds nothing between equal catalogs, whatever the order of their objects', () => {
    expect(diffCatalogs(base, catalog(...[...base.objects].reverse()))).toEqual([]);
  });

  it('reports missing, only-in-live and changed objects with the definitions of each side', () => {
    const live = catalog(schema, user, { ...id, definition: 'bigint NOT NULL' }, pkey, {
      ...emailKey,
      name: 'public."User_email_idx"',
    });
    expect(diffCatalogs(base, live)).toEqual([
      { kind: 'column', object: 'public."User".email', change: 'missing', expected: 'text NOT NULL' },
      {
        kind: 'column',
        object: 'public."User".id',
        change: 'changed',
        expected: 'integer NOT NULL',
        live: 'bigint NOT NULL',
      },
      {
        kind: 'index',
        object: 'public."User_email_idx"',
        change: 'only-in-live',
        live: 'CREATE UNIQUE INDEX … (email)',
      },
      {
        kind: 'index',
        object: 'public."User_email_key"',
        change: 'missing',
        expected: 'CREATE UNIQUE INDEX … (email)',
      },
    ]);
  });

  it('sorts by kind, then name in code-unit order, whatever the input order', () => {
    const live = catalog(
      onUser('trigger', 'public."User".b', 'T'),
      onUser('column', 'public."User".z', 'text'),
      onUser('trigger', 'public."User".a', 'T'),
      ...base.objects,
      onUser('column', 'public."User"."Z"', 'text'),
    );
    expect(diffCatalogs(base, live).map((d) => `${d.kind} ${d.object}`)).toEqual([
      'column public."User"."Z"',
      'column public."User".z',
      'trigger public."User".a',
      'trigger public."User".b',
    ]);
  });

  it('matches by kind and name: a same-named object of another kind is another object', () => {
    const rls = onUser('row security', 'public."User"', 'ROW LEVEL SECURITY ENABLED');
    expect(diffCatalogs(base, catalog(...base.objects, rls))).toEqual([
      { kind: 'row security', object: 'public."User"', change: 'only-in-live', live: 'ROW LEVEL SECURITY ENABLED' },
    ]);
  });

  it('reports a table missing once, with what belonged to it under its definition', () => {
    expect(diffCatalogs(base, catalog(schema))).toEqual([
      {
        kind: 'table',
        object: 'public."User"',
        change: 'missing',
        expected: [
          'TABLE public."User"',
          'column public."User".email: text NOT NULL',
          'column public."User".id: integer NOT NULL',
          'constraint public."User"."User_pkey": PRIMARY KEY (id)',
          'index public."User_email_key": CREATE UNIQUE INDEX … (email)',
        ].join('\n'),
      },
    ]);
  });

  it('folds into the outermost object missing: a schema added takes its tables and their columns', () => {
    const audit: CatalogObject = { kind: 'schema', name: 'audit', definition: 'SCHEMA audit' };
    const log: CatalogObject = {
      kind: 'table',
      name: 'audit.log',
      definition: 'TABLE audit.log',
      parent: { kind: 'schema', name: 'audit' },
    };
    const at: CatalogObject = {
      kind: 'column',
      name: 'audit.log."at"',
      definition: 'timestamptz',
      parent: { kind: 'table', name: 'audit.log' },
    };
    expect(diffCatalogs(base, catalog(...base.objects, at, log, audit))).toEqual([
      {
        kind: 'schema',
        object: 'audit',
        change: 'only-in-live',
        live: 'SCHEMA audit\ntable audit.log: TABLE audit.log\ncolumn audit.log."at": timestamptz',
      },
    ]);
  });

  it('keeps a changed member of a table that exists on both sides as its own difference', () => {
    const live = catalog(schema, user, id, { ...email, definition: 'text' }, pkey, emailKey);
    expect(diffCatalogs(base, live)).toHaveLength(1);
  });

  describe('exclude patterns', () => {
    const legacy: CatalogObject = {
      kind: 'table',
      name: 'public.legacy',
      definition: 'TABLE public.legacy',
      parent: { kind: 'schema', name: 'public' },
    };
    const legacyCol: CatalogObject = {
      kind: 'column',
      name: 'public.legacy.x',
      definition: 'int',
      parent: { kind: 'table', name: 'public.legacy' },
    };
    const live = catalog(
      ...base.objects,
      legacy,
      legacyCol,
      onUser('index', 'public."User_tmp_idx"', 'CREATE INDEX …'),
    );

    it('leave out the objects a pattern names, and what belongs to them', () => {
      expect(diffCatalogs(base, live, { exclude: ['public.legacy', 'public."User_tmp_idx"'] })).toEqual([]);
      // The column alone, its table still reported (with the column folded in otherwise).
      expect(diffCatalogs(base, live, { exclude: ['public.legacy.x', 'public."User_tmp_idx"'] })).toEqual([
        { kind: 'table', object: 'public.legacy', change: 'only-in-live', live: 'TABLE public.legacy' },
      ]);
    });

    it('* stands for any run of characters, dots included; ? for one', () => {
      expect(diffCatalogs(base, live, { exclude: ['public.leg*', 'public."User_???_idx"'] })).toEqual([]);
      expect(diffCatalogs(base, live, { exclude: ['*'] })).toEqual([]);
      expect(diffCatalogs(base, live, { exclude: ['public.*'] })).toEqual([]);
    });

    it('match the whole name, case-sensitively, with every other character literal', () => {
      const names = (exclude: string[]) => diffCatalogs(base, live, { exclude }).map((d) => d.object);
      expect(names(['legacy', 'PUBLIC.LEGACY', 'public.legac', 'public+legacy', 'public.legacy.'])).toEqual([
        'public.legacy',
        'public."User_tmp_idx"',
      ]);
      expect(names(['public"legacy'])).toEqual(['public.legacy', 'public."User_tmp_idx"']);
    });

    it('match the name without its identifier quotes too', () => {
      expect(diffCatalogs(base, catalog(...live.objects.slice(0, -1)), { exclude: ['public.legacy'] })).toEqual([]);
      const quoted = onUser('column', 'public."User"."Nick""name"', 'text');
      const names = (exclude: string[]) => diffCatalogs(base, catalog(...base.objects, quoted), { exclude }).length;
      expect(names(['public.User.Nick"name'])).toBe(0);
      expect(names(['public.User'])).toBe(0);
      expect(names(['public.user'])).toBe(1);
      expect(names(['public.User.Nickname'])).toBe(1);
    });

    it('also leave out what is missing from live', () => {
      expect(diffCatalogs(live, base, { exclude: ['public.leg*', '*tmp*'] })).toEqual([]);
    });
  });
});

describe('globToRegExp', () => {
  it('escapes regular-expression characters', () => {
    expect(globToRegExp('a.b(c)[d]+e$').test('a.b(c)[d]+e$')).toBe(true);
    expect(globToRegExp('a.b').test('axb')).toBe(false);
    expect(globToRegExp('f(*)').test('f(integer, text)')).toBe(true);
    expect(globToRegExp('a*').test('a\nb')).toBe(true);
  });
});
