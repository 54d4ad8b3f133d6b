/**
 * Drizzle migrations folders written byte for byte (meta/_journal.json + `<tag>.sql`), and
 * drizzle-orm 0.45.4's own migrator (node-postgres driver) as the independent judge of
 * `drizzle.__drizzle_migrations`.
 */
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { drizzle } from 'drizzle-orm/node-postgres';
import { migrate } from 'drizzle-orm/node-postgres/migrator';
import pg from 'pg';
import { query } from './db.js';

export interface Entry {
  tag: string;
  when: number;
  sql: string;
}

interface JournalEntry {
  idx: number;
  version: string;
  when: number;
  tag: string;
  breakpoints: boolean;
}

/** A folder with these entries in this journal order. */
export async function drizzleDir(entries: Entry[], extraFiles: Record<string, string> = {}): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'vpcm-drizzle-'));
  await mkdir(path.join(dir, 'meta'));
  for (const e of entries) await writeFile(path.join(dir, `${e.tag}.sql`), e.sql);
  await writeJournal(
    dir,
    entries.map((e) => ({ tag: e.tag, when: e.when })),
  );
  for (const [name, text] of Object.entries(extraFiles)) await writeFile(path.join(dir, name), text);
  return dir;
}

/** Rewrites meta/_journal.json with these entries, in this order. */
export async function writeJournal(dir: string, entries: { tag: string; when: number }[]): Promise<void> {
  const journal = {
    version: '7',
    dialect: 'postgresql',
    entries: entries.map(
      (e, idx): JournalEntry => ({ idx, version: '7', when: e.when, tag: e.tag, breakpoints: true }),
    ),
  };
  await writeFile(path.join(dir, 'meta', '_journal.json'), JSON.stringify(journal, null, 2));
}

export async function readJournal(dir: string): Promise<{ tag: string; when: number }[]> {
  return (JSON.parse(await readFile(path.join(dir, 'meta', '_journal.json'), 'utf8')) as { entries: JournalEntry[] })
    .entries;
}

export const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/**
 * drizzle-orm's `migrate()` on this folder. Returns the SQL it ran, as its logger saw it, so a
 * test can tell "applied nothing" from "applied something".
 */
export async function drizzleMigrate(url: string, dir: string): Promise<string[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const queries: string[] = [];
  try {
    const db = drizzle({ client, logger: { logQuery: (query: string) => void queries.push(query) } });
    await migrate(db, { migrationsFolder: dir });
  } finally {
    await client.end();
  }
  return queries;
}

export interface DrizzleRow {
  id: number;
  hash: string;
  created_at: string;
}

export { query };

export const drizzleRows = (url: string) =>
  query<DrizzleRow>(url, 'SELECT id, hash, created_at FROM drizzle.__drizzle_migrations ORDER BY id');

/** The ledger table's shape: columns, defaults, nullability, constraints. */
export async function ledgerShape(url: string): Promise<unknown> {
  const columns = await query(
    url,
    `SELECT column_name, data_type, is_nullable, column_default, ordinal_position
       FROM information_schema.columns WHERE table_schema = 'drizzle' AND table_name = '__drizzle_migrations' ORDER BY
         ordinal_position`,
  );
  const constraints = await query(
    url,
    `SELECT conname, contype, pg_get_constraintdef(oid) AS def FROM pg_constraint
      WHERE conrelid = 'drizzle.__drizzle_migrations'::regclass ORDER BY conname`,
  );
  return { columns, constraints };
}
