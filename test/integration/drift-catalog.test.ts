/**
 * Issue 28, acceptance 1 and 2 for the comparison core (lambda/drift): documenso's history
 * (../shared/corpora, test data) deployed through the real worker into two databases reads the
 * same; each out-of-band change on a copy of one is exactly one difference, with both definitions.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Catalog, introspect } from '../../lambda/drift/catalog.js';
import { type Difference, diffCatalogs } from '../../lambda/drift/diff.js';
import { embeddedTarget, type FreshDatabase, query, withClient } from '../helpers/db.js';
import { catalogOf, copyOfDatabase, deployedDatabase } from '../helpers/drift.js';
import { corporaDir } from '../helpers/migrations.js';

const dir = path.join(corporaDir, 'documenso__documenso', 'migrations');
const embedded = embeddedTarget();

describe.skipIf(!existsSync(dir))('drift catalog: documenso', () => {
  let deployed: FreshDatabase[] = [];
  let expected: Catalog;

  beforeAll(async () => {
    deployed = await Promise.all([deployedDatabase(embedded.adminUrl, dir), deployedDatabase(embedded.adminUrl, dir)]);
    expected = await catalogOf(deployed[0]!.url);
  }, 300_000);

  afterAll(async () => {
    for (const db of deployed) await db.drop();
  });

  it('two databases deployed from the same history have no differences', async () => {
    expect(expected.objects.length).toBeGreaterThan(500);
    expect(diffCatalogs(expected, await catalogOf(deployed[1]!.url))).toEqual([]);
  });

  it("the session's search_path and DateStyle change nothing that is read", async () => {
    const url = new URL(deployed[1]!.url);
    url.searchParams.set('options', '-c search_path=pg_temp -c DateStyle=SQL,DMY -c TimeZone=Asia/Tokyo');
    const odd = await withClient(url.toString(), async (client) => {
      const catalog = await introspect(client);
      // Its own transaction, its settings local to it: the session is as it was.
      const after = await client.query<{ search_path: string; tx: string }>(
        "SELECT current_setting('search_path') AS search_path, now() = statement_timestamp() AS tx",
      );
      expect(after.rows[0]).toEqual({ search_path: 'pg_temp', tx: true });
      return catalog;
    });
    expect(diffCatalogs(expected, odd)).toEqual([]);
  });

  it("in the caller's transaction: reads the same, leaves it open with its settings", async () => {
    await withClient(deployed[1]!.url, async (client) => {
      await client.query('BEGIN; SET LOCAL search_path = pg_temp; CREATE TEMP TABLE mine (x int)');
      expect(diffCatalogs(expected, await introspect(client))).toEqual([]);
      const after = await client.query("SELECT current_setting('search_path') AS path, to_regclass('mine') AS mine");
      expect(after.rows[0]).toEqual({ path: 'pg_temp', mine: 'mine' });
      await client.query('ROLLBACK');
    });
  });

  it.each(OUT_OF_BAND)('$name is reported exactly once', async ({ setUp, sql, differences }) => {
    const live = await copyOfDatabase(embedded.adminUrl, deployed[0]!);
    let base = expected;
    let baseCopy: FreshDatabase | undefined;
    try {
      if (setUp) {
        // The object the change alters is not in documenso's history: both sides get it first.
        baseCopy = await copyOfDatabase(embedded.adminUrl, deployed[0]!);
        await query(baseCopy.url, setUp);
        await query(live.url, setUp);
        base = await catalogOf(baseCopy.url);
      }
      await query(live.url, sql);
      expect(diffCatalogs(base, await catalogOf(live.url))).toEqual(differences);
    } finally {
      await live.drop();
      await baseCopy?.drop();
    }
  });
});

interface OutOfBand {
  name: string;
  setUp?: string;
  sql: string;
  differences: Difference[];
}

const GENERATE_ID = (body: string) =>
  'CREATE OR REPLACE FUNCTION public.generate_id()\n RETURNS text\n LANGUAGE plpgsql\nAS $function$\nBEGIN\n' +
  `  RETURN ${body};\nEND;\n$function$\n`.trimEnd();

const OUT_OF_BAND: OutOfBand[] = [
  {
    name: 'a column added',
    sql: 'ALTER TABLE "User" ADD COLUMN nickname varchar(40) DEFAULT \'x\'',
    differences: [
      {
        kind: 'column',
        object: 'public."User".nickname',
        change: 'only-in-live',
        live: "character varying(40) DEFAULT 'x'::character varying",
      },
    ],
  },
  {
    name: "a column's default changed",
    sql: 'ALTER TABLE "User" ALTER COLUMN disabled SET DEFAULT true',
    differences: [
      {
        kind: 'column',
        object: 'public."User".disabled',
        change: 'changed',
        expected: 'boolean DEFAULT false NOT NULL',
        live: 'boolean DEFAULT true NOT NULL',
      },
    ],
  },
  {
    name: 'an index dropped',
    sql: 'DROP INDEX "User_email_idx"',
    differences: [
      {
        kind: 'index',
        object: 'public."User_email_idx"',
        change: 'missing',
        expected: 'CREATE INDEX "User_email_idx" ON public."User" USING btree (email)',
      },
    ],
  },
  {
    name: 'an index made non-unique',
    sql: 'DROP INDEX "Team_url_key"; CREATE INDEX "Team_url_key" ON "Team" (url)',
    differences: [
      {
        kind: 'index',
        object: 'public."Team_url_key"',
        change: 'changed',
        expected: 'CREATE UNIQUE INDEX "Team_url_key" ON public."Team" USING btree (url)',
        live: 'CREATE INDEX "Team_url_key" ON public."Team" USING btree (url)',
      },
    ],
  },
  {
    name: 'an enum label added',
    sql: "ALTER TYPE \"Role\" ADD VALUE 'AUDITOR' BEFORE 'USER'",
    differences: [
      {
        kind: 'enum',
        object: 'public."Role"',
        change: 'changed',
        expected: "ENUM ('ADMIN', 'USER')",
        live: "ENUM ('ADMIN', 'AUDITOR', 'USER')",
      },
    ],
  },
  {
    name: 'a check constraint altered',
    setUp: 'ALTER TABLE "Team" ADD CONSTRAINT "Team_url_check" CHECK (length(url) > 0)',
    sql: 'ALTER TABLE "Team" DROP CONSTRAINT "Team_url_check", ADD CONSTRAINT "Team_url_check" CHECK (length(url) > 2)',
    differences: [
      {
        kind: 'constraint',
        object: 'public."Team"."Team_url_check"',
        change: 'changed',
        expected: 'CHECK ((length(url) > 0))',
        live: 'CHECK ((length(url) > 2))',
      },
    ],
  },
  {
    name: 'a function body changed',
    sql: `CREATE OR REPLACE FUNCTION generate_id() RETURNS TEXT AS $$
BEGIN
  RETURN nanoid(21, 'abcdefhiklmnorstuvwxyz');
END;
$$ LANGUAGE plpgsql VOLATILE`,
    differences: [
      {
        kind: 'function',
        object: 'public.generate_id()',
        change: 'changed',
        expected: GENERATE_ID("nanoid(16, 'abcdefhiklmnorstuvwxyz')"),
        live: GENERATE_ID("nanoid(21, 'abcdefhiklmnorstuvwxyz')"),
      },
    ],
  },
  {
    // A built-in trigger function: a new function of our own would be a second difference.
    name: 'a trigger added',
    sql:
      'CREATE TRIGGER "User_no_op_update" BEFORE UPDATE ON "User" ' +
      'FOR EACH ROW EXECUTE FUNCTION suppress_redundant_updates_trigger()',
    differences: [
      {
        kind: 'trigger',
        object: 'public."User"."User_no_op_update"',
        change: 'only-in-live',
        live:
          'CREATE TRIGGER "User_no_op_update" BEFORE UPDATE ON public."User" ' +
          'FOR EACH ROW EXECUTE FUNCTION suppress_redundant_updates_trigger()',
      },
    ],
  },
  {
    name: 'a table added (its columns, constraints and sequence inside that one difference)',
    sql: 'CREATE TABLE "Note" (id serial PRIMARY KEY, body text NOT NULL, "userId" int REFERENCES "User" (id))',
    differences: [
      {
        kind: 'table',
        object: 'public."Note"',
        change: 'only-in-live',
        live: [
          'TABLE public."Note"',
          'sequence public."Note_id_seq": SEQUENCE AS integer START 1 INCREMENT 1 MINVALUE 1 MAXVALUE 2147483647 ' +
            'CACHE 1 NO CYCLE OWNED BY public."Note".id',
          // Names in code-unit order: a quoted name ("userId") before a plain one.
          'column public."Note"."userId": integer',
          'column public."Note".body: text NOT NULL',
          'column public."Note".id: integer DEFAULT nextval(\'public."Note_id_seq"\'::regclass) NOT NULL',
          'constraint public."Note"."Note_pkey": PRIMARY KEY (id)',
          'constraint public."Note"."Note_userId_fkey": FOREIGN KEY ("userId") REFERENCES public."User"(id)',
        ].join('\n'),
      },
    ],
  },
];
