/**
 * What lambda/drift/catalog.ts reads, kind by kind, on each server the tests have (embedded
 * PostgreSQL 18, and the system one when it answers): the definitions, what is left out
 * (extension members, system and excluded schemas, the ledgers, aggregates), and that what
 * legitimately differs between two builds of the same schema (column order after DROP COLUMN,
 * how an enum got its labels, a serial's current value) is not a difference.
 */
import { describe, expect, it } from 'vitest';
import type { Catalog } from '../../lambda/drift/catalog.js';
import { diffCatalogs } from '../../lambda/drift/diff.js';
import { databaseTargets, query, useFreshDatabase } from '../helpers/db.js';
import { catalogOf } from '../helpers/drift.js';

const SCHEMA_SQL = `
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE SCHEMA app;
CREATE TYPE app.mood AS ENUM ('sad', 'ok');
CREATE DOMAIN app.email AS text COLLATE "C" DEFAULT 'a@b' NOT NULL CHECK (VALUE LIKE '%@%');
CREATE TYPE app.pair AS (left_side int, right_side app.email);
CREATE TYPE app.floats AS RANGE (SUBTYPE = float8, SUBTYPE_DIFF = float8mi);
CREATE SEQUENCE app.counter AS bigint START 10 INCREMENT 5 MINVALUE 10 MAXVALUE 1000 CACHE 2 CYCLE;
CREATE TABLE app.account (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  dropped int,
  name text COLLATE "C" NOT NULL,
  doubled bigint GENERATED ALWAYS AS (id * 2) STORED,
  mood app.mood DEFAULT 'ok'
);
ALTER TABLE app.account DROP COLUMN dropped;
ALTER TABLE app.account ADD CONSTRAINT name_not_empty CHECK (name <> '') NOT VALID;
CREATE INDEX account_name_trgm ON app.account USING gin (name gin_trgm_ops);
CREATE TABLE app.events (at timestamptz NOT NULL, account bigint) PARTITION BY RANGE (at);
CREATE TABLE app.events_2026 PARTITION OF app.events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
CREATE TABLE app.parted_ref (id int PRIMARY KEY) PARTITION BY RANGE (id);
CREATE TABLE app.parted_ref_1 PARTITION OF app.parted_ref FOR VALUES FROM (0) TO (100);
CREATE TABLE app.parted_ref_2 PARTITION OF app.parted_ref FOR VALUES FROM (100) TO (200);
CREATE TABLE app.referrer (ref int REFERENCES app.parted_ref (id));
CREATE TABLE app.forced (x int);
ALTER TABLE app.forced FORCE ROW LEVEL SECURITY;
ALTER TABLE app.account ENABLE ROW LEVEL SECURITY;
ALTER TABLE app.account FORCE ROW LEVEL SECURITY;
CREATE POLICY own ON app.account AS RESTRICTIVE FOR SELECT TO PUBLIC USING (name = current_user);
CREATE VIEW app.names AS SELECT name FROM app.account WHERE mood = 'ok';
CREATE MATERIALIZED VIEW app.counts AS SELECT count(*) AS n FROM app.account WITH NO DATA;
CREATE FUNCTION app.touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
CREATE FUNCTION app.add(a int, b int) RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT a + b';
CREATE FUNCTION app.add(a text, b text) RETURNS text LANGUAGE sql IMMUTABLE AS 'SELECT a || b';
CREATE PROCEDURE app.noop() LANGUAGE sql AS 'SELECT 1';
CREATE AGGREGATE app.total(int) (sfunc = int4pl, stype = int);
CREATE TRIGGER account_touch BEFORE UPDATE ON app.account FOR EACH ROW EXECUTE FUNCTION app.touch();
ALTER TABLE app.account DISABLE TRIGGER account_touch;
CREATE TABLE app._prisma_migrations (id varchar(36) PRIMARY KEY);
CREATE SCHEMA drizzle;
CREATE TABLE drizzle.__drizzle_migrations (id SERIAL PRIMARY KEY, hash text NOT NULL, created_at bigint);
CREATE SCHEMA scratch;
CREATE TABLE scratch.t (x int);
`;

/** The same schema reached another way: columns in another order, enum labels added later, the counter used. */
const SAME_SCHEMA_OTHER_WAY = SCHEMA_SQL.replace(
  `CREATE TYPE app.mood AS ENUM ('sad', 'ok');`,
  `CREATE TYPE app.mood AS ENUM ('ok');
ALTER TYPE app.mood ADD VALUE 'sad' BEFORE 'ok';`,
)
  .replace(
    /CREATE TABLE app\.account \([^;]*\);\nALTER TABLE app\.account DROP COLUMN dropped;/,
    `CREATE TABLE app.account (mood app.mood DEFAULT 'ok', name text COLLATE "C" NOT NULL);
ALTER TABLE app.account ADD COLUMN id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY;
ALTER TABLE app.account ADD COLUMN doubled bigint GENERATED ALWAYS AS (id * 2) STORED;`,
  )
  .concat(`SELECT nextval('app.counter'); INSERT INTO app.account (name) VALUES ('x');`);

/** The schema, then an index left invalid by a failed CREATE INDEX CONCURRENTLY (it must run alone). */
async function build(url: string, sql: string): Promise<void> {
  await query(url, `${sql}; CREATE TABLE app.dup (v int); INSERT INTO app.dup VALUES (1), (1);`);
  const failed = await query(url, 'CREATE UNIQUE INDEX CONCURRENTLY dup_v ON app.dup (v)').then(
    () => false,
    () => true,
  );
  if (!failed) throw new Error('the unique index was expected to fail on duplicate values');
}

function definitions(catalog: Catalog): Map<string, string> {
  return new Map(catalog.objects.map((o) => [`${o.kind} ${o.name}`, o.definition]));
}

describe.each(databaseTargets())('drift catalog kinds ($name server)', ({ adminUrl }) => {
  // Read-only tests: one pair for the describe.
  const a = useFreshDatabase(adminUrl, { per: 'describe', prepare: (url) => build(url, SCHEMA_SQL) });
  const b = useFreshDatabase(adminUrl, { per: 'describe', prepare: (url) => build(url, SAME_SCHEMA_OTHER_WAY) });

  it('reads each kind with PostgreSQL’s deparsers, leaving out what is not the schema', async () => {
    const catalog = await catalogOf(a.url, { excludeSchemas: ['scratch'] });
    const defs = definitions(catalog);

    // A foreign key to a partitioned table is one pg_constraint row per partition (their names vary by version).
    const referrer = [...defs].filter(([key]) => key.startsWith('constraint app.referrer.'));
    expect(referrer.length).toBeGreaterThan(0);
    for (const [, definition] of referrer)
      expect(definition).toMatch(/^FOREIGN KEY \(ref\) REFERENCES app\.parted_ref/);
    expect(defs.get('row security app.forced')).toBe('ROW LEVEL SECURITY DISABLED, FORCED');
    expect(defs.get('index app.dup_v')).toBe('CREATE UNIQUE INDEX dup_v ON app.dup USING btree (v) -- INVALID');

    const elsewhere = /^(function|procedure|view|materialized view) |parted_ref|referrer|forced|dup/;
    expect(Object.fromEntries([...defs].filter(([key]) => !elsewhere.test(key)))).toEqual({
      'extension pg_trgm': 'EXTENSION pg_trgm SCHEMA public',
      'extension plpgsql': 'EXTENSION plpgsql SCHEMA pg_catalog',
      'schema app': 'SCHEMA app',
      'schema drizzle': 'SCHEMA drizzle',
      'schema public': 'SCHEMA public',
      'enum app.mood': "ENUM ('sad', 'ok')",
      'domain app.email':
        'DOMAIN AS text COLLATE pg_catalog."C" DEFAULT \'a@b\'::text NOT NULL ' +
        "CONSTRAINT email_check CHECK ((VALUE ~~ '%@%'::text))",
      'type app.pair': 'COMPOSITE (left_side integer, right_side app.email)',
      'type app.floats':
        'RANGE (SUBTYPE = double precision, SUBTYPE_OPCLASS = pg_catalog.float8_ops, SUBTYPE_DIFF = float8mi)',
      'sequence app.account_id_seq':
        'SEQUENCE AS bigint START 1 INCREMENT 1 MINVALUE 1 MAXVALUE 9223372036854775807 CACHE 1 NO CYCLE ' +
        'OWNED BY app.account.id',
      'sequence app.counter': 'SEQUENCE AS bigint START 10 INCREMENT 5 MINVALUE 10 MAXVALUE 1000 CACHE 2 CYCLE',
      'table app.account': 'TABLE app.account',
      'table app.events': 'TABLE app.events PARTITION BY RANGE (at)',
      'table app.events_2026':
        "TABLE app.events_2026 PARTITION OF app.events FOR VALUES FROM ('2026-01-01 00:00:00+00') " +
        "TO ('2027-01-01 00:00:00+00')",
      'column app.account.doubled': 'bigint GENERATED ALWAYS AS ((id * 2)) STORED',
      'column app.account.id': 'bigint GENERATED ALWAYS AS IDENTITY NOT NULL',
      'column app.account.mood': "app.mood DEFAULT 'ok'::app.mood",
      'column app.account.name': 'text COLLATE pg_catalog."C" NOT NULL',
      'column app.events.account': 'bigint',
      'column app.events.at': 'timestamp with time zone NOT NULL',
      'column app.events_2026.account': 'bigint',
      'column app.events_2026.at': 'timestamp with time zone NOT NULL',
      'constraint app.account.account_pkey': 'PRIMARY KEY (id)',
      'constraint app.account.name_not_empty': "CHECK ((name <> ''::text)) NOT VALID",
      'index app.account_name_trgm':
        'CREATE INDEX account_name_trgm ON app.account USING gin (name public.gin_trgm_ops)',
      'row security app.account': 'ROW LEVEL SECURITY ENABLED, FORCED',
      'policy app.account.own':
        'POLICY own ON app.account AS RESTRICTIVE FOR SELECT TO PUBLIC USING ((name = CURRENT_USER))',
      'trigger app.account.account_touch':
        'CREATE TRIGGER account_touch BEFORE UPDATE ON app.account FOR EACH ROW EXECUTE FUNCTION app.touch() ' +
        '-- DISABLED',
    });
    // Overloads apart; no aggregate; none of pg_trgm's functions in public.
    expect([...defs.keys()].filter((k) => /^(function|procedure) /.test(k))).toEqual([
      'function app.add(a integer, b integer)',
      'function app.add(a text, b text)',
      'function app.touch()',
      'procedure app.noop()',
    ]);
    expect(defs.get('function app.add(a text, b text)')).toBe(
      'CREATE OR REPLACE FUNCTION app.add(a text, b text)\n RETURNS text\n LANGUAGE sql\n IMMUTABLE\n' +
        'AS $function$SELECT a || b$function$',
    );
    expect(defs.get('view app.names')).toMatch(/FROM app\.account\s+WHERE \(.*mood = 'ok'::app\.mood\);$/);
    expect(defs.get('materialized view app.counts')).toMatch(/^SELECT count\(\*\) AS n\s+FROM app\.account;$/);
    // Parents: what folds into a missing table or schema.
    const parents = new Map(catalog.objects.map((o) => [`${o.kind} ${o.name}`, o.parent]));
    expect(parents.get('sequence app.account_id_seq')).toEqual({ kind: 'table', name: 'app.account' });
    expect(parents.get('index app.account_name_trgm')).toEqual({ kind: 'table', name: 'app.account' });
    expect(parents.get('table app.account')).toEqual({ kind: 'schema', name: 'app' });
  });

  it('reads the excluded schema when not told to leave it out', async () => {
    const defs = definitions(await catalogOf(a.url));
    expect(defs.get('table scratch.t')).toBe('TABLE scratch.t');
  });

  it('finds no difference with the same schema built another way', async () => {
    expect(SAME_SCHEMA_OTHER_WAY).not.toContain('dropped int');
    expect(SAME_SCHEMA_OTHER_WAY).not.toContain("ENUM ('sad', 'ok')");
    expect(diffCatalogs(await catalogOf(a.url), await catalogOf(b.url))).toEqual([]);
  });
});
