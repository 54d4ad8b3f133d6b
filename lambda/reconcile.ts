/**
 * "Already exists" counts as applied only when what exists is what the statement makes. The
 * worker finds out by building it: inside a savepoint it describes the existing object from the
 * catalog, drops it (CASCADE: everything is rolled back), runs the statement, describes what
 * the statement made, and rolls back to the savepoint. Same → the statement is skipped; not the
 * same, or not comparable → the migration fails, showing both definitions.
 *
 * Tables and enums may have grown since (a later migration added a column, a label, a
 * constraint): what the statement makes must all be there, unchanged, and the extras are named.
 * Everything else must be equal.
 */
import type { Db } from './db.js';
import {
  asPgError,
  type CreatedObject,
  type DecodedMigration,
  describeSqlError,
  type MissingObject,
  redact,
  remedyCommand,
  type SkippedStatement,
  skippedEntry,
  type SqlErrorInfo,
  type StatementSpan,
} from './contract/index.js';

export type Comparison =
  | { same: true; note?: string }
  | { same: false; why: string; existing?: string; wanted?: string };

interface Described {
  /** Lines that define the object; empty when it does not exist. */
  facts: string[];
  /** How to remove it for the rebuild (names quoted by the server). */
  drop?: string;
}

const SAVEPOINT = 'vpcm_compare';

/** One column as a fact (pg_attribute `a`, pg_attrdef `d`): name, type with modifiers, NOT NULL, default. */
const COLUMN_FACT =
  `format('column %I %s%s%s', a.attname, format_type(a.atttypid, ` +
  `a.atttypmod), CASE WHEN a.attnotnull THEN ' NOT NULL' ` +
  `ELSE '' END, coalesce(' DEFAULT ' || pg_get_expr(d.adbin, ` +
  `d.adrelid), ''))`;

/** Call inside an open transaction, with no failed statement pending. */
export async function compareWithExisting(db: Db, text: string, span: StatementSpan): Promise<Comparison> {
  const objects = span.creates ?? [];
  if (objects.length === 0)
    return {
      same: false,
      why:
        'vpc-migrate cannot tell which object this statement ' +
        'creates, so it cannot compare it with the one that ' +
        'exists',
    };
  // A schema or an extension is its name: there is nothing else the statement would define.
  if (objects.every((o) => o.kind === 'schema' || o.kind === 'extension')) return { same: true };
  await db.query(`SAVEPOINT ${SAVEPOINT}`);
  try {
    const before: Described[] = [];
    for (const o of objects) before.push(await describe(db, o));
    if (before.every((d) => d.facts.length === 0)) {
      return {
        same: false,
        why: 'PostgreSQL says it already exists, but no object of that kind and name was found to compare with',
      };
    }
    for (const d of before) if (d.drop) await db.query(d.drop);
    await db.query(span.comparable ?? text);
    const after: Described[] = [];
    for (const o of objects) after.push(await describe(db, o));
    return judge(objects, before, after);
  } catch (error) {
    return { same: false, why: `comparing it failed: ${asPgError(error).message}` };
  } finally {
    await db.query(`ROLLBACK TO SAVEPOINT ${SAVEPOINT}; RELEASE SAVEPOINT ${SAVEPOINT}`);
  }
}

function judge(objects: CreatedObject[], before: Described[], after: Described[]): Comparison {
  const existing: string[] = [];
  const wanted: string[] = [];
  const extras: string[] = [];
  let same = true;
  objects.forEach((o, i) => {
    const have = before[i]?.facts ?? [];
    const want = after[i]?.facts ?? [];
    existing.push(...(have.length > 0 ? have : [`${label(o)}: (does not exist)`]));
    wanted.push(...want);
    if (o.kind === 'relation' || o.kind === 'type') {
      // Grown since, in order: every fact the statement makes is there; the rest are later additions.
      let at = 0;
      for (const fact of want) {
        const found = have.indexOf(fact, at);
        if (found === -1) same = false;
        else at = o.kind === 'type' ? found + 1 : 0;
      }
      if (have.length > 0 && want.length > 0) extras.push(...have.filter((f) => !want.includes(f)));
    } else if (have.join('\n') !== want.join('\n')) {
      same = false;
    }
  });
  if (!same)
    return {
      same: false,
      why: 'the object that exists is not what this statement creates',
      existing: existing.join('\n'),
      wanted: wanted.join('\n'),
    };
  return extras.length > 0 ? { same: true, note: `exists with later additions: ${extras.join('; ')}` } : { same: true };
}

const label = (o: CreatedObject) => `${o.kind} ${o.table ? `${o.table}.` : ''}${o.name}`;

/** The schema an object lives in: as written, else its table's, else the creation schema. */
async function schemaOf(db: Db, o: CreatedObject): Promise<string | null> {
  if (o.schema) return o.schema;
  if (o.table) {
    const { rows } = await db.query<{ s: string | null }>(
      `SELECT (SELECT nspname FROM pg_namespace n JOIN pg_class ` +
        `c ON c.relnamespace = n.oid WHERE c.oid = to_regclass(quote_ident($1))) ` +
        `AS s`,
      [o.table],
    );
    return rows[0]?.s ?? null;
  }
  const { rows } = await db.query<{ s: string | null }>('SELECT current_schema() AS s');
  return rows[0]?.s ?? null;
}

/**
 * The catalog query for an object that belongs to a table ($1 schema, $2 name, $3 table):
 * its facts from `from` (where `$table` is the table's oid), and the statement that drops it.
 */
function onTable(kind: 'constraint' | 'column', fact: string, from: string): string {
  return `SELECT (SELECT array_agg(${fact}) FROM
    ${from.replace('$table', "to_regclass(format('%I.%I', $1::text, $3::text))")}) AS facts,
                format('ALTER TABLE %I.%I DROP ${kind.toUpperCase()} %I CASCADE', $1::text, $3::text, $2::text) AS
                  drop`;
}

async function describe(db: Db, o: CreatedObject): Promise<Described> {
  const schema = await schemaOf(db, o);
  if (schema === null) return { facts: [] };
  const q = async (sql: string, params: unknown[]) =>
    (await db.query<{ facts: string[] | null; drop: string | null }>(sql, params)).rows[0];
  let row: { facts: string[] | null; drop: string | null } | undefined;
  switch (o.kind) {
    case 'relation':
      row = await q(
        `SELECT CASE WHEN c.oid IS NULL THEN NULL ELSE
                  ARRAY['kind ' || c.relkind::text]
                  || coalesce((SELECT array_agg(${COLUMN_FACT} ORDER BY a.attnum)
                                 FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum =
                                   a.attnum
                                WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped), '{}')
                  || coalesce((SELECT array_agg(format('constraint %I %s', conname, pg_get_constraintdef(oid)) ORDER
                    BY conname) FROM pg_constraint WHERE conrelid = c.oid), '{}')
                  || CASE WHEN c.relkind IN ('v', 'm') THEN ARRAY['query ' || pg_get_viewdef(c.oid)] ELSE '{}' END
                  || coalesce((SELECT ARRAY[format('sequence %s start %s increment %s min %s max %s cycle %s',
                    seqtypid::regtype, seqstart, seqincrement, seqmin, seqmax, seqcycle)] FROM pg_sequence WHERE
                      seqrelid = c.oid), '{}')
                END AS facts,
                CASE c.relkind WHEN 'r' THEN 'DROP TABLE ' WHEN 'p' THEN 'DROP TABLE ' WHEN 'v' THEN 'DROP VIEW ' WHEN
                  'm' THEN 'DROP MATERIALIZED VIEW ' WHEN 'S' THEN 'DROP SEQUENCE ' END
                  || format('%I.%I CASCADE', $1::text, $2::text) AS drop
           FROM (SELECT to_regclass(format('%I.%I', $1::text, $2::text)) AS oid) r LEFT JOIN pg_class c ON c.oid =
             r.oid`,
        [schema, o.name],
      );
      break;
    case 'index':
      row = await q(
        `SELECT CASE WHEN i.indexrelid IS NULL THEN NULL ELSE ARRAY[pg_get_indexdef(i.indexrelid)] END AS facts,
                format('DROP INDEX %I.%I CASCADE', $1::text, $2::text) AS drop
           FROM (SELECT to_regclass(format('%I.%I', $1::text, $2::text)) AS oid) r LEFT JOIN pg_index i ON
             i.indexrelid = r.oid`,
        [schema, o.name],
      );
      break;
    case 'constraint':
      row = await q(
        onTable(
          'constraint',
          `format('constraint %I %s', conname, pg_get_constraintdef(oid))`,
          'pg_constraint WHERE conrelid = $table AND conname = $2',
        ),
        [schema, o.name, o.table],
      );
      break;
    case 'column':
      row = await q(
        onTable(
          'column',
          COLUMN_FACT,
          'pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid ' +
            '= a.attrelid AND d.adnum = a.attnum WHERE a.attrelid ' +
            '= $table AND a.attname = $2 AND NOT a.attisdropped',
        ),
        [schema, o.name, o.table],
      );
      break;
    case 'type':
      row = await q(
        `SELECT CASE WHEN t.oid IS NULL THEN NULL
                     WHEN t.typtype = 'e' THEN ARRAY['enum'] || (SELECT array_agg('label ' || enumlabel ORDER BY
                       enumsortorder) FROM pg_enum WHERE enumtypid = t.oid)
                     WHEN t.typtype = 'd' THEN ARRAY[format('domain %s%s', format_type(t.typbasetype, t.typtypmod),
                       CASE WHEN t.typnotnull THEN ' NOT NULL' ELSE '' END)]
                          || coalesce((SELECT array_agg(format('constraint %I %s', conname, pg_get_constraintdef(oid))
                            ORDER BY conname) FROM pg_constraint WHERE contypid = t.oid), '{}')
                     WHEN t.typtype = 'c' THEN ARRAY['composite'] || (SELECT array_agg(format('attribute %I %s',
                       attname, format_type(atttypid, atttypmod)) ORDER BY attnum) FROM pg_attribute WHERE attrelid =
                         t.typrelid AND attnum > 0 AND NOT attisdropped)
                     ELSE ARRAY['type ' || t.typtype::text] END AS facts,
                format('DROP TYPE %I.%I CASCADE', $1::text, $2::text) AS drop
           FROM (SELECT to_regtype(format('%I.%I', $1::text, $2::text)) AS oid) r LEFT JOIN pg_type t ON t.oid = r.oid`,
        [schema, o.name],
      );
      break;
    case 'routine':
      row = await q(
        `SELECT CASE WHEN count(*) = 1 THEN ARRAY[regexp_replace(pg_get_functiondef(min(p.oid)),
          '^CREATE OR REPLACE ', 'CREATE ')]
                     WHEN count(*) > 1 THEN ARRAY[count(*) || ' overloads: ' || string_agg(p.oid::regprocedure::text,
                       ', ')] END AS facts,
                CASE WHEN count(*) = 1 THEN 'DROP ROUTINE ' || min(p.oid)::regprocedure::text || ' CASCADE' END AS drop
           FROM pg_proc p WHERE p.pronamespace = to_regnamespace(quote_ident($1)) AND p.proname = $2`,
        [schema, o.name],
      );
      break;
    case 'trigger':
      row = await q(
        `SELECT (SELECT array_agg(pg_get_triggerdef(t.oid)) FROM pg_trigger t WHERE t.tgrelid =
          to_regclass(format('%I.%I', $1::text, $3::text)) AND t.tgname = $2) AS facts,
                format('DROP TRIGGER %I ON %I.%I CASCADE', $2::text, $1::text, $3::text) AS drop`,
        [schema, o.name, o.table],
      );
      break;
    default:
      return { facts: [] };
  }
  const facts = row?.facts ?? [];
  return facts.length > 0 && row?.drop ? { facts, drop: row.drop } : { facts };
}

/** Objects the statements of this run created so far: a duplicate inside one file is never reconciled. */
export class CreatedInFile {
  private readonly lines = new Map<string, number>();
  private static key = (o: CreatedObject) => [o.kind, o.schema ?? '', o.table ?? '', o.name].join('\u0000');
  add(span: StatementSpan): void {
    for (const o of span.creates ?? [])
      if (!this.lines.has(CreatedInFile.key(o))) this.lines.set(CreatedInFile.key(o), span.line);
  }
  earlierLine(span: StatementSpan): number | undefined {
    for (const o of span.creates ?? []) {
      const line = this.lines.get(CreatedInFile.key(o));
      if (line !== undefined) return line;
    }
    return undefined;
  }
}

/**
 * A statement failed with "already exists": skip it only if the existing object is what it
 * would create (lambda/reconcile.ts). `inTransaction`: the caller's transaction is open and
 * clean (rolled back to the statement's savepoint); otherwise the comparison gets its own.
 */
export async function reconcileStatement(
  db: Db,
  m: DecodedMigration,
  span: StatementSpan,
  index: number,
  error: unknown,
  made: CreatedInFile,
  inTransaction: boolean,
): Promise<{ skip: SkippedStatement } | { info: SqlErrorInfo }> {
  const text = m.sql.slice(span.start, span.end);
  const located = () => describeSqlError(error, m.sql, span.start, span.end - span.start, span.line, index);
  const earlier = made.earlierLine(span);
  if (earlier !== undefined) {
    const info = located();
    info.detail =
      `It creates an object this file already created at line ` +
      `${earlier}: a duplicate inside one file is never reconciled.`;
    info.hint = 'Remove the duplicate statement from the migration.';
    return { info };
  }
  let comparison: Comparison;
  if (inTransaction) comparison = await compareWithExisting(db, text, span);
  else {
    await db.query('BEGIN');
    try {
      comparison = await compareWithExisting(db, text, span);
    } finally {
      await db.query('ROLLBACK').catch(() => undefined);
    }
  }
  if (comparison.same) {
    const skip = skippedEntry(m, span, index, error);
    if (comparison.note) skip.message = `${skip.message} (same definition; ${redact(comparison.note)})`;
    else skip.message = `${skip.message} (same definition)`;
    return { skip };
  }
  const info = located();
  info.detail = [
    `Not reconciled: ${comparison.why}.`,
    ...(comparison.existing !== undefined ? ['Existing:', indent(comparison.existing)] : []),
    ...(comparison.wanted !== undefined ? ['This statement creates:', indent(comparison.wanted)] : []),
  ].join('\n');
  info.hint =
    `Make the database match the migration (drop or alter ` +
    `the existing object), then ${remedyCommand('resolve', '--rolled-back', m.name)} ` +
    `and deploy again; or, if the existing object is what you want, ${remedyCommand('resolve', '--applied', m.name)}.`;
  return { info };
}

/** Whether the object exists at all (describe() says nothing of schemas and extensions: they are asked by name). */
async function exists(db: Db, o: CreatedObject): Promise<boolean> {
  if (o.kind === 'schema')
    return (
      (await db.query<{ e: boolean }>('SELECT to_regnamespace(quote_ident($1)) IS NOT NULL AS e', [o.name])).rows[0]
        ?.e === true
    );
  if (o.kind === 'extension')
    return (
      (await db.query<{ e: boolean }>('SELECT EXISTS (SELECT FROM pg_extension WHERE extname = $1) AS e', [o.name]))
        .rows[0]?.e === true
    );
  return (await describe(db, o)).facts.length > 0;
}

/**
 * What the database lacks of what `migrations` create, statement by statement, in order: an
 * object that does not exist, or (with `definitions`) one that exists but is not what its
 * statement makes (compareWithExisting, the same judgement as a reconciled deploy). Statements
 * that create nothing by name (UPDATE, DO blocks, ALTER … TYPE) are not checked. Runs in a
 * transaction of its own, rolled back: nothing changes. `firstOnly`: stop at the first
 * migration with a problem.
 */
export async function missingObjects(
  db: Db,
  migrations: DecodedMigration[],
  opts: { definitions: boolean; firstOnly?: boolean },
): Promise<MissingObject[]> {
  const found: MissingObject[] = [];
  await db.query('BEGIN');
  try {
    for (const m of migrations) {
      for (const span of m.statements) {
        const objects = span.creates ?? [];
        if (objects.length === 0) continue;
        const absent: CreatedObject[] = [];
        for (const o of objects) if (!(await exists(db, o))) absent.push(o);
        for (const o of absent)
          found.push({ migration: m.name, line: span.line, object: label(o), why: 'does not exist' });
        if (
          absent.length > 0 ||
          !opts.definitions ||
          !(span.kind === 'transactional' || span.kind === 'non-transactional')
        )
          continue;
        const comparison = await compareWithExisting(db, m.sql.slice(span.start, span.end), span);
        if (!comparison.same) {
          const entry: MissingObject = {
            migration: m.name,
            line: span.line,
            object: objects.map(label).join(', '),
            why: comparison.why,
          };
          if (comparison.existing !== undefined) entry.existing = comparison.existing;
          if (comparison.wanted !== undefined) entry.wanted = comparison.wanted;
          found.push(entry);
        }
      }
      if (opts.firstOnly && found.length > 0) break;
    }
  } finally {
    await db.query('ROLLBACK').catch(() => undefined);
  }
  return found;
}

/** Whether any statement of `m` creates something by name: otherwise nothing tells whether it ran. */
export const isCheckable = (m: DecodedMigration): boolean => m.statements.some((s) => (s.creates ?? []).length > 0);

/**
 * What `baseline --up-to` may name: the last migration that creates something by name, all of
 * which exists, as does what every migration before it creates. A migration that creates nothing
 * by name (ALTER TYPE … ADD VALUE, a data migration) is never the last one named: nothing here
 * shows it ran, and the deploy that follows runs it.
 */
export async function lastExisting(db: Db, migrations: DecodedMigration[]): Promise<string | undefined> {
  const missing = await missingObjects(db, migrations, { definitions: false, firstOnly: true });
  const stop = missing.length === 0 ? migrations.length : migrations.findIndex((m) => m.name === missing[0]!.migration);
  return migrations.slice(0, stop).findLast(isCheckable)?.name;
}

const indent = (text: string) =>
  text
    .split('\n')
    .map((l) => `  ${l}`)
    .join('\n');
