/**
 * The reader login on the worker's side: setting it up (as the migrating login, from the
 * reader's own credentials) and checking, on every read-only connection, that the login really
 * is a reader. A reader secret that names the master user would otherwise turn every
 * "read-only" query back into one with the migrator's rights.
 */
import type pg from 'pg';
import type { Db } from './db.js';
import {
  asPgError,
  DEFAULT_READER_ROLE,
  ErrorCode,
  MigrateError,
  readerRemedy,
  readerSetupByHand,
  readerSetupSql,
  scramVerifier,
  type SetupResult,
} from './contract/index.js';

/** Predefined roles that only read or observe; membership in any other role is more than a reader needs. */
const READ_ONLY_ROLES = [
  'pg_read_all_data',
  'pg_read_all_settings',
  'pg_read_all_stats',
  'pg_stat_scan_tables',
  'pg_monitor',
];

export interface ReaderCredentials {
  role: string;
  password: string;
}

/** The user and password a connection config logs in with (a URL's, or the secret's fields). */
export async function credentialsOf(config: pg.ClientConfig): Promise<ReaderCredentials> {
  let role = config.user;
  let password = config.password;
  if (config.connectionString) {
    const url = new URL(config.connectionString);
    role = decodeURIComponent(url.username) || role;
    password = decodeURIComponent(url.password) || password;
  }
  const resolved = typeof password === 'function' ? await password() : password;
  if (!role || !resolved) {
    throw new MigrateError(
      ErrorCode.ReaderRoleMissing,
      'The reader login has no user name or password configured.',
      'Give the reader secret (READER_SECRET_ARN) a username and password, or READER_DATABASE_URL a user and password.',
    );
  }
  return { role, password: resolved };
}

/** The `setup` action: creates (or updates) the reader login with the reader's own password. */
export async function setupReader(db: Db, reader: ReaderCredentials, retried = false): Promise<SetupResult> {
  const { rows } = await db.query<{ v: number; login: string; exists: boolean }>(
    `SELECT current_setting('server_version_num')::int AS ` +
      `v, current_user AS login, EXISTS (SELECT 1 FROM pg_roles ` +
      `WHERE rolname = $1) AS exists`,
    [reader.role],
  );
  const facts = rows[0] as { v: number; login: string; exists: boolean };
  if (facts.login === reader.role) {
    throw new MigrateError(
      ErrorCode.ReaderPrivileged,
      `The reader login "${reader.role}" is the worker's own migrating login.`,
      'Give the reader its own secret (READER_SECRET_ARN, ' +
        'username vpc_migrate_reader); the MigrationWorker construct ' +
        'creates one.',
    );
  }
  try {
    await db.query(readerSetupSql(reader.role, scramVerifier(reader.password), facts.v));
  } catch (error) {
    const pgError = asPgError(error);
    // Two set-ups at once (two stacks on one cluster, two local workers): the same end state.
    if (!retried && (pgError.code === '23505' || pgError.code === '42710')) return setupReader(db, reader, true);
    if (pgError.code === '42501') {
      throw new MigrateError(
        ErrorCode.ReaderSetupDenied,
        `The migrating login "${facts.login}" may not create ` +
          `the reader login "${reader.role}" (${pgError.code}: ` +
          `${pgError.message}).`,
        `As a role with CREATEROLE that may grant pg_read_all_data ` +
          `(on RDS, the master user; rds_superuser members may), ` +
          `run: ${readerSetupByHand(reader.role)} ` +
          ('with the password from the reader secret; then turn ' +
            'the set-up off (setupReaderRole: false) or give the ' +
            'migrating login CREATEROLE.'),
        { cause: error, details: { role: reader.role, code: pgError.code } },
      );
    }
    throw error;
  }
  return {
    readerRole: reader.role,
    created: !facts.exists,
    loginRole: facts.login,
    reads: facts.v >= 140000 ? 'pg_read_all_data' : 'public-tables',
  };
}

/**
 * Refuses a reader connection whose login can do more than read: a superuser, a role with
 * CREATEROLE/CREATEDB/REPLICATION/BYPASSRLS, or a member of any role beyond the predefined
 * read-only ones (rds_superuser, the application's own role…).
 */
export async function assertReader(db: Db): Promise<void> {
  const { rows } = await db.query<{ login: string; attrs: string[]; roles: string[] }>(
    `SELECT r.rolname AS login,
            array_remove(ARRAY[CASE WHEN r.rolsuper THEN 'SUPERUSER' END, CASE WHEN r.rolcreaterole THEN 'CREATEROLE'
              END,
                               CASE WHEN r.rolcreatedb THEN 'CREATEDB' END, CASE WHEN r.rolreplication THEN
                                 'REPLICATION' END,
                               CASE WHEN r.rolbypassrls THEN 'BYPASSRLS' END], NULL) AS attrs,
            ARRAY(SELECT b.rolname::text FROM pg_roles b
                   WHERE b.oid <> r.oid AND pg_has_role(r.oid, b.oid, 'MEMBER') AND b.rolname <> ALL($1::text[])
                   ORDER BY 1) AS roles
       FROM pg_roles r WHERE r.rolname = session_user`,
    [READ_ONLY_ROLES],
  );
  const facts = rows[0];
  if (!facts) return;
  const extra = [...facts.attrs, ...facts.roles.map((r) => `member of ${r}`)];
  if (extra.length === 0) return;
  throw new MigrateError(
    ErrorCode.ReaderPrivileged,
    `The reader login "${facts.login}" can do more than ` +
      `read (${extra.join(', ')}): read-only queries refuse ` +
      `to run as it.`,
    `Point the reader secret at a login with only pg_read_all_data. ${readerRemedy(DEFAULT_READER_ROLE)}`,
    { details: { login: facts.login, extra } },
  );
}
