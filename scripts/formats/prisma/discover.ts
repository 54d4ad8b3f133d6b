/**
 * Local discovery: the migration folders under `prisma/migrations`, read as Prisma reads them.
 *
 * What Prisma does, and where it says so (prisma/prisma-engines unless noted):
 * - Every *directory* in the migrations folder is a migration; files and symlinks are ignored
 *   (`list_migrations` keeps `file_type().is_dir()` entries; prisma/prisma
 *   `packages/migrate/src/utils/listMigrations.ts` keeps `Dirent.isDirectory()`).
 * - Order: by name. The engine sorted with Rust's `str::cmp`, i.e. byte order
 *   (`schema-connector/src/migrations_directory.rs`, `list_migrations`); we order by byte order
 *   too (docs/design.md §4), never splitting names, whatever they contain. Note: Prisma 6's CLI now lists
 *   the folders itself and sorts with `localeCompare` (`listMigrations.ts`, also in the bundled
 *   prisma@6.19.3). Both orders agree on `<14 digits>_<snake_case>` names (identical on both
 *   corpora) but differ on mixed case, `-` vs `_`, or an 8-digit prefix next to a 14-digit one.
 * - The script is `<folder>/migration.sql`; a folder without it fails with P3015
 *   `MigrationFileNotFound` when read (`schema-connector/src/error.rs`,
 *   `From<ReadMigrationScriptError>`).
 * - `migration_lock.toml`: the first line starting with `provider`, with `provider = ` and
 *   quotes trimmed, must equal the connector's provider, else P3019 `ProviderSwitchedError`; no
 *   lock file, no check (`migrations_directory.rs`, `read_provider_from_lock_file`).
 */
import { readdirSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { ErrorCode, lineOf, MigrateError } from '../../../lambda/contract/index.js';
import { checksumMatches, sha256Hex } from '../../core/checksum.js';
import type { LocalMigrationRef } from '../../core/plan.js';
import type { Anomaly, Discovery, LocalMigration } from '../format.js';
import { isUtf8 } from 'node:buffer';
import { mapInSlices, readBytesSync, refuseNulByte } from '../read-files.js';

/** The script file inside each migration folder. */
export const MIGRATION_FILE = 'migration.sql';
/** The lock file at the top of the migrations folder. */
export const LOCK_FILE = 'migration_lock.toml';
/** The only provider we migrate (Prisma's connector type for PostgreSQL). */
export const EXPECTED_PROVIDER = 'postgresql';

/**
 * Reads a Prisma migrations folder: every sub-folder's migration.sql, in byte order of the
 * folder name, with its sha256, plus what Prisma would trip over (as `anomalies`).
 *
 * Throws `MigrateError` with `VPCM_MIGRATIONS_DIR_MISSING` (no such folder),
 * `VPCM_PROVIDER_MISMATCH` (lock file names another provider, Prisma P3019) or
 * `VPCM_NOT_UTF8` (a migration.sql that is not valid UTF-8; Prisma would hash a lossy decoding).
 *
 * @example
 * const { migrations, anomalies } = await discoverMigrations('prisma/migrations');
 * for (const a of anomalies) console.warn(`${a.severity}: ${a.message}`);
 */
export async function discoverMigrations(dir: string): Promise<Discovery> {
  const root = path.resolve(dir);
  const entries = await readdir(root, { withFileTypes: true }).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT' || err.code === 'ENOTDIR') {
      const what = err.code === 'ENOENT' ? 'does not exist' : 'is not a directory';
      throw new MigrateError(
        ErrorCode.MigrationsDirMissing,
        `The migrations folder ${root} ${what}.`,
        'Run from the project root, or point at the folder holding the migration folders with `--migrations DIR` ' +
          '(usually prisma/migrations).',
        { cause: err, details: { path: root } },
      );
    }
    throw err;
  });

  const anomalies: Anomaly[] = [];
  const folders: string[] = [];
  for (const entry of entries) {
    if (entry.isDirectory()) folders.push(entry.name);
    else if (entry.name !== LOCK_FILE) {
      const stray = strayAnomaly(entry.name, entry.isSymbolicLink());
      if (stray) anomalies.push(stray);
    }
  }
  sortByBytes(folders);

  // The lock file is read alongside the folders; the folders are read, checked and hashed in
  // slices (formats/read-files.ts), letting the local worker or an Invoke move in between.
  const [provider, folderResults] = await Promise.all([
    readProvider(root),
    mapInSlices(folders, READ_SLICE, (name) => inspectFolder(root, name)),
  ]);

  const migrations: LocalMigration[] = [];
  const notUtf8: NotUtf8[] = [];
  const folderAnomalies: Anomaly[] = [];
  for (const result of folderResults) {
    folderAnomalies.push(...result.anomalies);
    if (result.migration) migrations.push(result.migration);
    if (result.notUtf8) notUtf8.push(result.notUtf8);
  }

  const [bad] = notUtf8;
  if (bad) {
    const others = notUtf8.length > 1 ? ` (and ${notUtf8.length - 1} more file(s): see details)` : '';
    throw new MigrateError(
      ErrorCode.NotUtf8,
      `${bad.file} is not valid UTF-8: invalid byte sequence at byte ${bad.offset} (line ${bad.line})${others}.`,
      `Re-save the file as UTF-8 (e.g. \`iconv -f WINDOWS-1252 -t UTF-8\`). If it was already applied, ` +
        'its recorded checksum covers the old bytes, so it will then be reported as modified.',
      { details: { files: notUtf8 } },
    );
  }

  return { dir: root, migrations, anomalies: [...folderAnomalies, ...anomalies], provider };
}

/** Sorts names in byte order of their UTF-8 encoding, each name encoded once (not twice per comparison). */
function sortByBytes(names: string[]): void {
  const keys = new Map(names.map((name) => [name, Buffer.from(name)]));
  names.sort((a, b) => Buffer.compare(keys.get(a)!, keys.get(b)!));
}

/**
 * The plan's view of discovered migrations: checksums compared with Prisma's leniency
 * (CRLF↔LF, old unpadded hex) against the file's bytes.
 *
 * @example
 * const result = plan(planInputs(discovery.migrations), ledger.rows);
 */
export function planInputs(migrations: LocalMigration[]): LocalMigrationRef[] {
  return migrations.map((m) => ({
    name: m.name,
    checksum: m.checksum,
    path: m.path,
    matches: (recorded: string) => checksumMatches(m.bytes, recorded),
  }));
}

/**
 * Prisma's `read_provider_from_lock_file`, to the letter: the first line starting with
 * `provider`, leading `provider = ` and surrounding quotes trimmed. Returns null when no line
 * starts with `provider` (Prisma then reports the provider as "<PROVIDER NOT FOUND>").
 */
export function parseLockProvider(content: string): string | null {
  // Rust's `str::lines` splits on LF and drops one CR before it.
  const line = content
    .split('\n')
    .map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l))
    .find((l) => l.startsWith('provider'));
  if (line === undefined) return null;
  let value = line;
  while (value.startsWith('provider = ')) value = value.slice('provider = '.length);
  return value.replace(/^"+|"+$/g, '');
}

// Folders read between two turns of the event loop (~2 ms of work each on the 820-folder corpus).
const READ_SLICE = 64;

async function readProvider(root: string): Promise<string | null> {
  let content: string;
  try {
    // Decoded like Prisma's CLI does (`readFile(..., 'utf-8')`), BOM kept: a BOM before
    // `provider` hides the line from Prisma too.
    content = await readFile(path.join(root, LOCK_FILE), 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // Prisma reads the lock file with `.catch(() => null)`: unreadable is the same as absent.
    if (code === 'ENOENT' || code === 'EISDIR' || code === 'EACCES') return null;
    throw err;
  }
  const provider = parseLockProvider(content);
  if (provider !== EXPECTED_PROVIDER) {
    const found = provider === null ? 'has no `provider = "..."` line' : `says provider = "${provider}"`;
    throw new MigrateError(
      ErrorCode.ProviderMismatch,
      `${path.join(root, LOCK_FILE)} ${found}, but these migrations are applied to PostgreSQL ` +
        `(provider "${EXPECTED_PROVIDER}"). Prisma refuses this too (P3019).`,
      provider === null
        ? `Add the line \`provider = "${EXPECTED_PROVIDER}"\` to ${LOCK_FILE}.`
        : `Point \`--migrations DIR\` at a PostgreSQL migration history, or, if these migrations are PostgreSQL SQL, ` +
            `set \`provider = "${EXPECTED_PROVIDER}"\` in ${LOCK_FILE}.`,
      { details: { path: path.join(root, LOCK_FILE), provider, expected: EXPECTED_PROVIDER } },
    );
  }
  return provider;
}

interface NotUtf8 {
  name: string;
  file: string;
  offset: number;
  line: number;
}

interface FolderResult {
  migration?: LocalMigration;
  notUtf8?: NotUtf8;
  anomalies: Anomaly[];
}

function inspectFolder(root: string, name: string): FolderResult {
  const file = path.join(root, name, MIGRATION_FILE);
  const anomalies = nameAnomalies(name);
  let bytes: Buffer;
  try {
    bytes = readBytesSync(file);
  } catch (err) {
    anomalies.push(missingScriptAnomaly(root, name, err as NodeJS.ErrnoException));
    return { anomalies };
  }
  refuseNulByte(file, bytes);
  if (!isUtf8(bytes)) {
    const offset = firstInvalidUtf8(bytes);
    return { anomalies, notUtf8: { name, file, offset, line: lineOf(bytes, offset) } };
  }
  anomalies.push(...contentAnomalies(name, bytes));
  return { anomalies, migration: withLazyText({ name, path: file, bytes, checksum: sha256Hex(bytes) }) };
}

/**
 * The migration with its text decoded when first read: status only hashes the bytes, deploy
 * and lint read the text of the pending files. Valid UTF-8 decodes exactly (checked above);
 * a leading U+FEFF is kept, as the worker re-hashes the text it receives and must get the
 * file's checksum, which covers the BOM's bytes.
 */
function withLazyText(m: Omit<LocalMigration, 'sql'>): LocalMigration {
  let sql: string | undefined;
  return {
    ...m,
    get sql() {
      sql ??= m.bytes.toString('utf8');
      return sql;
    },
  };
}

function strayAnomaly(name: string, symlink: boolean): Anomaly | null {
  if (symlink) {
    return {
      kind: 'stray-file',
      name,
      severity: 'warning',
      message:
        `${name} is a symbolic link. Prisma only takes real directories as migrations, so it ignores it, ` +
        `and so do we: whatever it points to is NOT applied.`,
    };
  }
  // Hidden files (.gitkeep, .DS_Store) are routine and cannot be mistaken for a migration.
  if (name.startsWith('.')) return null;
  return {
    kind: 'stray-file',
    name,
    severity: 'warning',
    message:
      `${name} is a file, not a migration folder: Prisma ignores it and so do we, so it is never applied.` +
      (name.toLowerCase().endsWith('.sql')
        ? ` If it is a migration, move it to <timestamp>_<name>/${MIGRATION_FILE}.`
        : ''),
  };
}

// No length check: `migration_name` is VARCHAR(255), and file systems already cap a name at
// 255 bytes, which is never more than 255 characters.
function nameAnomalies(name: string): Anomaly[] {
  const out: Anomaly[] = [];
  if (!/^[0-9]/.test(name)) {
    out.push({
      kind: 'odd-name',
      name,
      severity: 'warning',
      message:
        `Folder ${name} does not start with a timestamp. Prisma still applies it, in name order ` +
        `(byte order), so it runs where its name sorts, not by date.`,
    });
  }
  return out;
}

function missingScriptAnomaly(root: string, name: string, error: NodeJS.ErrnoException): Anomaly {
  let reason: string;
  if (error.code === 'ENOENT') {
    // Listing the folder is worth it only here (rare): a `Migration.sql` or `up.sql` is the usual cause.
    let contents: string[] = [];
    try {
      contents = readdirSync(path.join(root, name));
    } catch {
      // unreadable: listed as empty
    }
    reason = contents.length === 0 ? 'the folder is empty' : `the folder holds: ${contents.slice(0, 10).join(', ')}`;
  } else {
    reason = `${MIGRATION_FILE} cannot be read (${error.code ?? error.message})`;
  }
  return {
    kind: 'no-migration-sql',
    name,
    severity: 'error',
    message:
      `Folder ${name} has no readable ${MIGRATION_FILE} (${reason}). Prisma stops with P3015 ` +
      `("Could not find the migration file") when it reaches it; we refuse it the same way. ` +
      `Restore ${name}/${MIGRATION_FILE} or delete the folder.`,
  };
}

/** Whether the text is empty or only whitespace (`trim()`), decoding it only when no byte says otherwise. */
function blank(bytes: Buffer): boolean {
  // A printable ASCII byte is never whitespace (nor part of a multi-byte character).
  for (const b of bytes) if (b > 0x20 && b < 0x7f) return false;
  return bytes.toString('utf8').trim() === '';
}

function contentAnomalies(name: string, bytes: Buffer): Anomaly[] {
  const out: Anomaly[] = [];
  if (bytes.length === 0 || blank(bytes)) {
    out.push({
      kind: 'empty-file',
      name,
      severity: 'warning',
      message:
        `${name}/${MIGRATION_FILE} ${bytes.length === 0 ? 'is empty' : 'holds only whitespace'}. ` +
        `Prisma applies it anyway (nothing runs) and records it as applied; so do we.`,
    });
  }
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) {
    out.push({
      kind: 'bom',
      name,
      severity: 'warning',
      message:
        `${name}/${MIGRATION_FILE} starts with a UTF-8 byte order mark. It is sent as part of the text, ` +
        `as Prisma does, and PostgreSQL reads it as part of the first token, so the first statement will ` +
        `likely fail. The checksum covers the BOM; removing it changes the checksum.`,
    });
  }
  if (bytes.includes(CRLF)) {
    out.push({
      kind: 'crlf',
      name,
      severity: 'warning',
      message:
        `${name}/${MIGRATION_FILE} has CRLF line endings. It is applied as is; the checksum is over the ` +
        `raw bytes, and an LF-only copy still matches the recorded checksum (Prisma accepts both).`,
    });
  }
  return out;
}

const CRLF = Buffer.from('\r\n');

/** Offset of the first byte that does not start or continue a valid UTF-8 sequence. */
function firstInvalidUtf8(bytes: Uint8Array): number {
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i]!;
    let need: number;
    let min: number;
    if (b < 0x80) {
      i++;
      continue;
    } else if (b >= 0xc2 && b <= 0xdf) [need, min] = [1, 0x80];
    else if (b >= 0xe0 && b <= 0xef) [need, min] = [2, 0x800];
    else if (b >= 0xf0 && b <= 0xf4) [need, min] = [3, 0x10000];
    else return i;
    // Truncated at end of file.
    if (i + need >= bytes.length) return i;
    let cp = b & (0x3f >> need);
    for (let k = 1; k <= need; k++) {
      const c = bytes[i + k]!;
      if ((c & 0xc0) !== 0x80) return i;
      cp = (cp << 6) | (c & 0x3f);
    }
    // Overlong forms, UTF-16 surrogates and code points past U+10FFFF are invalid too.
    if (cp < min || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff) return i;
    i += need + 1;
  }
  return bytes.length;
}
