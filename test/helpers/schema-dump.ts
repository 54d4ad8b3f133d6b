/**
 * A byte-comparable picture of a database's schema: `pg_dump --schema-only` from /usr/bin when
 * its major version matches the server's (pg_dump refuses newer servers), otherwise a catalog
 * query over pg_namespace/pg_class/pg_attribute/pg_constraint/pg_index/pg_type/pg_enum/pg_proc
 * and friends, OIDs included, so even a drop-and-recreate shows.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import { withClient } from './db.js';

const run = promisify(execFile);
const PG_DUMP = '/usr/bin/pg_dump';

export interface SchemaDump {
  method: 'pg_dump' | 'catalog';
  text: string;
}

async function pgDumpMajor(): Promise<number | null> {
  if (!existsSync(PG_DUMP)) return null;
  try {
    const { stdout } = await run(PG_DUMP, ['--version']);
    const m = /(\d+)(?:\.\d+)?/.exec(stdout.replace(/^[^\d]*/, ''));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

/** pg_dump 13.22/14.19/15.14/16.10/17.6 and later write a random `\restrict` key unless given one. */
async function restrictKeyArgs(): Promise<string[]> {
  const { stdout } = await run(PG_DUMP, ['--help']);
  return stdout.includes('--restrict-key') ? ['--restrict-key=vpcmschemadump'] : [];
}

export async function schemaDump(url: string): Promise<SchemaDump> {
  const serverMajor = await withClient(url, async (c) =>
    Math.floor(
      Number((await c.query<{ v: string }>("SELECT current_setting('server_version_num') AS v")).rows[0]?.v) / 10000,
    ),
  );
  if ((await pgDumpMajor()) === serverMajor) {
    const { stdout } = await run(PG_DUMP, ['--schema-only', ...(await restrictKeyArgs()), '--dbname', url], {
      maxBuffer: 64 * 1024 * 1024,
    });
    return { method: 'pg_dump', text: stdout };
  }
  return { method: 'catalog', text: await catalogDump(url) };
}

const USER_NS =
  `(SELECT oid FROM pg_namespace WHERE nspname NOT IN ` +
  `('pg_catalog', 'information_schema') AND nspname NOT ` +
  `LIKE 'pg\\_toast%' AND nspname NOT LIKE 'pg\\_temp%')`;

const QUERIES: Record<string, string> = {
  namespace: `SELECT oid, nspname, nspowner, nspacl FROM pg_namespace WHERE oid IN ${USER_NS} ORDER BY oid`,
  class: `SELECT oid, relname, relnamespace, reltype, relkind, relpersistence, relfilenode, reloptions, relnatts,
    relchecks,
                 relhasindex, relhastriggers, relrowsecurity, relispartition, relacl, relreplident
            FROM pg_class WHERE relnamespace IN ${USER_NS} ORDER BY oid`,
  attribute: `SELECT a.attrelid, a.attnum, a.attname, format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull,
    a.atthasdef,
                     a.attisdropped, a.attidentity, a.attgenerated, a.attcollation, pg_get_expr(d.adbin, d.adrelid) AS
                       def
                FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
                LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
               WHERE c.relnamespace IN ${USER_NS} ORDER BY a.attrelid, a.attnum`,
  constraint: `SELECT oid, conname, connamespace, contype, conrelid, contypid, conindid, convalidated, condeferrable,
    condeferred,
                      pg_get_constraintdef(oid) AS def
                 FROM pg_constraint WHERE connamespace IN ${USER_NS} ORDER BY oid`,
  index: `SELECT i.indexrelid, i.indrelid, i.indisunique, i.indisprimary, i.indisvalid, i.indisready, i.indislive,
                 pg_get_indexdef(i.indexrelid) AS def
            FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relnamespace IN ${USER_NS} ORDER BY
              i.indexrelid`,
  type: `SELECT oid, typname, typnamespace, typtype, typlen, typrelid, typarray, typbasetype, typnotnull,
    format_type(oid, NULL) AS name
           FROM pg_type WHERE typnamespace IN ${USER_NS} ORDER BY oid`,
  enum: `SELECT e.oid, e.enumtypid, e.enumsortorder, e.enumlabel FROM pg_enum e ORDER BY e.enumtypid, e.enumsortorder`,
  proc: `SELECT oid, proname, pronamespace, prokind, pg_get_function_identity_arguments(oid) AS args, prorettype,
    md5(prosrc) AS src
           FROM pg_proc WHERE pronamespace IN ${USER_NS} ORDER BY oid`,
  trigger: `SELECT t.oid, t.tgrelid, t.tgname, t.tgenabled, pg_get_triggerdef(t.oid) AS def
              FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid WHERE c.relnamespace IN ${USER_NS} ORDER BY t.oid`,
  sequence: `SELECT s.seqrelid, s.seqtypid, s.seqstart, s.seqincrement, s.seqmax, s.seqmin, s.seqcache, s.seqcycle
               FROM pg_sequence s JOIN pg_class c ON c.oid = s.seqrelid WHERE c.relnamespace IN ${USER_NS} ORDER BY
                 s.seqrelid`,
  view:
    `SELECT c.oid, pg_get_viewdef(c.oid) AS def FROM pg_class ` +
    `c WHERE c.relkind IN ('v', 'm') AND c.relnamespace ` +
    `IN ${USER_NS} ORDER BY c.oid`,
  policy: `SELECT oid, polname, polrelid, polcmd, pg_get_expr(polqual, polrelid) AS qual FROM pg_policy ORDER BY oid`,
  extension: `SELECT oid, extname, extversion, extnamespace FROM pg_extension ORDER BY oid`,
  description: `SELECT objoid, classoid, objsubid, description FROM pg_description d
                 WHERE d.classoid = 'pg_class'::regclass AND d.objoid IN (SELECT oid FROM pg_class WHERE relnamespace
                   IN ${USER_NS})
                 ORDER BY objoid, objsubid`,
};

async function catalogDump(url: string): Promise<string> {
  return withClient(url, async (c) => {
    const parts: string[] = [];
    for (const [name, sql] of Object.entries(QUERIES)) {
      const { rows } = await c.query(sql);
      parts.push(`-- ${name} (${rows.length})`, ...rows.map((r) => JSON.stringify(r)));
    }
    return parts.join('\n') + '\n';
  });
}

/** `_prisma_migrations` as text (or a marker when absent), for byte comparison. */
export async function ledgerDump(url: string): Promise<string> {
  return withClient(url, async (c) => {
    const exists = (await c.query<{ t: string | null }>(`SELECT to_regclass('"_prisma_migrations"')::text AS t`))
      .rows[0]?.t;
    if (!exists) return '(no _prisma_migrations)';
    const { rows } = await c.query(`SELECT * FROM "_prisma_migrations" ORDER BY started_at, id`);
    return rows.map((r) => JSON.stringify(r)).join('\n');
  });
}
