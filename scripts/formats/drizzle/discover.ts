/**
 * Local discovery for a Drizzle migrations folder, read as drizzle-orm 0.45.4 reads it
 * (`readMigrationFiles` in drizzle-orm's migrator.ts):
 * - `meta/_journal.json` is the only source of truth: its `entries`, in the journal's order;
 *   the file of an entry is `<tag>.sql` next to `meta/`. A `.sql` file the journal does not
 *   name is not a migration, and `meta/_journal.json.backup` is not read.
 * - The text is the file's bytes decoded as UTF-8 (`readFileSync().toString()`: no BOM
 *   stripping, no CRLF normalisation, invalid bytes become U+FFFD); the hash is sha256 of that
 *   text, lowercase hex; `created_at` is the entry's `when`.
 */
import { createHash } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { ErrorCode, MigrateError } from '../../../lambda/contract/index.js';
import { JOURNAL_FILE } from '../detection.js';
import type { Anomaly, Discovery, LocalMigration } from '../format.js';
import { mapLimit } from '../../core/map-limit.js';
import { readBytes, refuseNulByte } from '../read-files.js';

/** Where the journal sits inside the migrations folder. */
export { JOURNAL_FILE };
/** Journal dialects that mean PostgreSQL (`pg` in drizzle-kit before 0.21, `postgresql` since). */
export const POSTGRES_DIALECTS: readonly string[] = ['postgresql', 'pg'];

/** One entry of `meta/_journal.json`. */
export interface JournalEntry {
  idx: number | null;
  version: string | null;
  /** Milliseconds since the epoch: the ledger's `created_at`. */
  when: number;
  /** The file is `<tag>.sql`. */
  tag: string;
  breakpoints: boolean | null;
}

export interface Journal {
  dialect: string | null;
  entries: JournalEntry[];
}

/** A journal entry with its file read. `name` is the tag, `checksum` Drizzle's hash. */
export interface DrizzleMigration extends LocalMigration {
  /** The entry's `when`. */
  createdAt: number;
  /** Position in the journal (0-based), which is the apply order. */
  position: number;
}

export interface DrizzleDiscovery extends Discovery {
  format: 'drizzle';
  /** Absolute path of meta/_journal.json. */
  journalPath: string;
  dialect: string | null;
  /** In journal order. */
  migrations: DrizzleMigration[];
}

export function isDrizzleDiscovery(d: Discovery): d is DrizzleDiscovery {
  return (d as Partial<DrizzleDiscovery>).format === 'drizzle';
}

/** sha256 of the text as drizzle-orm computes it (`createHash('sha256').update(text)`: UTF-8). */
export function drizzleHash(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/**
 * Parses `meta/_journal.json`, reporting every problem at once.
 *
 * @throws MigrateError `VPCM_JOURNAL_INVALID` (not JSON, no entries array, an entry without a
 *   usable `tag` or `when`, a tag twice) or `VPCM_PROVIDER_MISMATCH` (a dialect other than PostgreSQL).
 */
export function parseJournal(text: string, file: string): Journal {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw journalError(file, [`it is not valid JSON (${(error as Error).message})`]);
  }
  if (typeof raw !== 'object' || raw === null || !Array.isArray((raw as { entries?: unknown }).entries)) {
    throw journalError(file, ['it has no "entries" array']);
  }
  const { dialect, entries: list } = raw as { dialect?: unknown; entries: unknown[] };
  if (dialect !== undefined && (typeof dialect !== 'string' || !POSTGRES_DIALECTS.includes(dialect))) {
    throw new MigrateError(
      ErrorCode.ProviderMismatch,
      `${file} says dialect ${JSON.stringify(dialect)}, but these migrations are applied to PostgreSQL.`,
      'Point --migrations at the output folder of a drizzle-kit config with dialect "postgresql".',
      { details: { path: file, dialect } },
    );
  }
  const problems: string[] = [];
  const entries: JournalEntry[] = [];
  const seen = new Set<string>();
  list.forEach((item, i) => {
    const e = (typeof item === 'object' && item !== null ? item : {}) as Record<string, unknown>;
    const tag = e.tag;
    const when = e.when;
    if (typeof tag !== 'string' || tag.length === 0 || tag.length > 251 || /[/\\\0]/.test(tag)) {
      problems.push(`entries[${i}].tag must be a file name without / or \\ (got ${JSON.stringify(tag)})`);
      return;
    }
    if (typeof when !== 'number' || !Number.isSafeInteger(when) || when < 0) {
      problems.push(`entries[${i}] (${tag}): "when" must be a timestamp in milliseconds (got ${JSON.stringify(when)})`);
      return;
    }
    if (seen.has(tag)) problems.push(`entries[${i}]: tag ${tag} appears twice`);
    seen.add(tag);
    entries.push({
      idx: typeof e.idx === 'number' ? e.idx : null,
      version: typeof e.version === 'string' ? e.version : null,
      when,
      tag,
      breakpoints: typeof e.breakpoints === 'boolean' ? e.breakpoints : null,
    });
  });
  if (problems.length > 0) throw journalError(file, problems);
  return { dialect: typeof dialect === 'string' ? dialect : null, entries };
}

function journalError(file: string, problems: string[]): MigrateError {
  return new MigrateError(
    ErrorCode.JournalInvalid,
    `${file} cannot be used: ${problems.slice(0, 10).join('; ')}` +
      `${problems.length > 10 ? ` (and ${problems.length - 10} more)` : ''}.`,
    'Restore meta/_journal.json from git (drizzle-kit writes ' +
      'it; it must list every migration as {idx, version, ' +
      'when, tag, breakpoints}).',
    { details: { path: file, problems } },
  );
}

/** Whether `dir` holds a Drizzle journal (format detection). */
export async function hasJournal(dir: string): Promise<boolean> {
  try {
    return (await stat(path.join(dir, JOURNAL_FILE))).isFile();
  } catch {
    return false;
  }
}

/**
 * Reads a Drizzle migrations folder: the journal's entries in order, each file's text and hash,
 * and what is unusual about the folder (as `anomalies`; `error` ones make deploy refuse).
 *
 * @example
 * const { migrations, anomalies } = await discoverDrizzle('drizzle');
 * for (const m of migrations) console.log(m.name, m.createdAt, m.checksum);
 */
export async function discoverDrizzle(dir: string): Promise<DrizzleDiscovery> {
  const root = path.resolve(dir);
  const journalPath = path.join(root, JOURNAL_FILE);
  let text: string;
  try {
    text = await readFile(journalPath, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new MigrateError(
      code === 'ENOENT' ? ErrorCode.MigrationsDirMissing : ErrorCode.JournalInvalid,
      `${journalPath} ` +
        `${code === 'ENOENT' ? 'does not exist' : `cannot be read (${code ?? (error as Error).message})`}: ` +
        `this is not a Drizzle migrations folder.`,
      'Point --migrations at the folder drizzle-kit generates ' +
        'into (its `out`, e.g. `drizzle`), or drop --format ' +
        'drizzle for a Prisma folder.',
      { cause: error, details: { path: journalPath } },
    );
  }
  const journal = parseJournal(text, journalPath);
  const [files, metaFiles] = await Promise.all([listFiles(root), listFiles(path.join(root, 'meta'))]);

  const anomalies: Anomaly[] = [];
  const results = await mapLimit(journal.entries, 64, (entry, position) => readEntry(root, entry, position));
  const migrations: DrizzleMigration[] = [];
  for (const r of results) {
    anomalies.push(...r.anomalies);
    if (r.migration) migrations.push(r.migration);
  }

  let newest: JournalEntry | undefined;
  for (const entry of journal.entries) {
    if (newest && entry.when <= newest.when) {
      anomalies.push({
        kind: 'odd-name',
        name: entry.tag,
        severity: 'warning',
        message:
          `Journal entry ${entry.tag} has "when" ${iso(entry.when)}, ` +
          `not after the entry before it (${newest.tag}, ${iso(newest.when)}). ` +
          (`It is applied in journal order; drizzle-orm's own migrator ` +
            `would skip it on a database that already has ${newest.tag}.`),
      });
    }
    if (!newest || entry.when > newest.when) newest = entry;
  }

  const named = new Set(journal.entries.map((e) => `${e.tag}.sql`));
  for (const file of files) {
    if (file.endsWith('.sql') && !named.has(file)) {
      anomalies.push({
        kind: 'stray-file',
        name: file,
        severity: 'warning',
        message:
          `${file} is not in meta/_journal.json: it is not a migration ` +
          `(drizzle-orm ignores it too) and is never applied. ` +
          'If it should be, generate it again with drizzle-kit (or add its entry to the journal).',
      });
    }
  }
  for (const file of metaFiles) {
    if (file === '_journal.json' || /_snapshot\.json$/.test(file) || file.startsWith('.')) continue;
    anomalies.push({
      kind: 'stray-file',
      name: `meta/${file}`,
      severity: 'warning',
      message: `meta/${file} is not read: only meta/_journal.json lists the migrations.`,
    });
  }
  return { dir: root, migrations, anomalies, provider: null, format: 'drizzle', journalPath, dialect: journal.dialect };
}

interface EntryResult {
  migration?: DrizzleMigration;
  anomalies: Anomaly[];
}

async function readEntry(root: string, entry: JournalEntry, position: number): Promise<EntryResult> {
  const file = path.join(root, `${entry.tag}.sql`);
  const name = entry.tag;
  let bytes: Buffer;
  try {
    bytes = await readBytes(file);
  } catch (error) {
    return {
      anomalies: [
        {
          kind: 'no-migration-sql',
          name,
          severity: 'error',
          message:
            `Journal entry ${name} has no readable ${name}.sql (` +
            `${(error as NodeJS.ErrnoException).code ?? (error as Error).message}); ` +
            ('drizzle-orm stops on it too ("No file … found"). Restore ' +
              'the file from git or remove the entry with drizzle-kit ' +
              'drop.'),
        },
      ],
    };
  }
  refuseNulByte(file, bytes);
  const sql = bytes.toString('utf8');
  const anomalies: Anomaly[] = [];
  if (sql.trim() === '') {
    anomalies.push({
      kind: 'empty-file',
      name,
      severity: 'warning',
      message: `${name}.sql is empty: nothing runs, and it is recorded as applied (as drizzle-orm does).`,
    });
  }
  if (sql.charCodeAt(0) === 0xfeff) {
    anomalies.push({
      kind: 'bom',
      name,
      severity: 'warning',
      message:
        `${name}.sql starts with a byte order mark; it is sent ` +
        `as part of the text (as drizzle-orm does) and the first ` +
        `statement will likely fail.`,
    });
  }
  if (sql.includes('\r\n')) {
    anomalies.push({
      kind: 'crlf',
      name,
      severity: 'warning',
      message:
        `${name}.sql has CRLF line endings. Drizzle's hash covers ` +
        `them as they are: a checkout with other line endings ` +
        `changes the hash, and an applied file then shows as ` +
        `modified.`,
    });
  }
  if (!Buffer.from(sql, 'utf8').equals(bytes)) {
    anomalies.push({
      kind: 'odd-name',
      name,
      severity: 'warning',
      message:
        `${name}.sql is not valid UTF-8: it is read as drizzle-orm ` +
        `reads it (invalid bytes become U+FFFD), hashed and ` +
        `applied that way.`,
    });
  }
  return {
    anomalies,
    migration: { name, path: file, bytes, sql, checksum: drizzleHash(sql), createdAt: entry.when, position },
  };
}

async function listFiles(dir: string): Promise<string[]> {
  try {
    const entries = await readdir(dir, { withFileTypes: true });
    return entries
      .filter((e) => e.isFile())
      .map((e) => e.name)
      .sort();
  } catch {
    return [];
  }
}

export function iso(ms: number): string {
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? String(ms) : d.toISOString();
}
