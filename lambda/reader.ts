/**
 * The role read-only run-sql runs as. A READ ONLY transaction stops table writes, but not what
 * the worker's login role may otherwise do (run programs on the server, read files, signal
 * other sessions): inside the transaction the worker switches to a role that can only read, so
 * privileges refuse those too. The role is set up once per database cluster by the `setup`
 * action (the CDK stack invokes it on deploy) or by the SQL in {@link readerSetupSql}.
 */
import type { Db } from './db.js';
import {
  asPgError,
  DEFAULT_READER_ROLE,
  ErrorCode,
  MigrateError,
  readerRemedy,
  readerSetupSql,
  type SetupResult,
} from './contract/index.js';

const ident = (name: string) => '"' + name.replace(/"/g, '""') + '"';

/** Inside an open transaction: from here on, only the reader role's privileges apply. */
export async function becomeReader(db: Db, role: string): Promise<void> {
  try {
    await db.query(`SET LOCAL ROLE ${ident(role)}`);
  } catch (error) {
    const pg = asPgError(error);
    await db.query('ROLLBACK').catch(() => undefined);
    const missing = pg.code === '22023' || pg.code === '42704';
    throw new MigrateError(
      ErrorCode.ReaderRoleMissing,
      missing
        ? `Read-only run-sql runs as the role "${role}", which does not exist in this database cluster.`
        : `Read-only run-sql runs as the role "${role}", but the worker's login role may not switch to it (${pg.code}: ${pg.message}).`,
      readerRemedy(role),
      { cause: error, details: { role, code: pg.code } },
    );
  }
}

/** The `setup` action: {@link readerSetupSql} for the worker's own login role. */
export async function setupReader(db: Db, role = DEFAULT_READER_ROLE): Promise<SetupResult> {
  const { rows } = await db.query<{ v: number; login: string; exists: boolean }>(
    `SELECT current_setting('server_version_num')::int AS v, current_user AS login, EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1) AS exists`,
    [role],
  );
  const facts = rows[0] as { v: number; login: string; exists: boolean };
  await db.query(readerSetupSql(role, 'CURRENT_USER', facts.v));
  return { readerRole: role, created: !facts.exists, loginRole: facts.login, reads: facts.v >= 140000 ? 'pg_read_all_data' : 'public-tables' };
}
