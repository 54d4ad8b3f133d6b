/**
 * The role read-only run-sql runs as. A READ ONLY transaction stops table writes, but not what
 * the worker's login role may otherwise do (run programs on the server, read files, signal
 * other sessions): inside the transaction the worker switches to a role that can only read, so
 * privileges refuse those too. The role is set up once per database cluster by the `setup`
 * action (the CDK stack invokes it on deploy) or by the SQL in {@link readerSetupSql}.
 */
import type { Db } from './db.js';
import type { SetupResult } from './protocol.js';
import { ErrorCode, MigrateError } from './errors.js';
import { asPgError } from './sql-error.js';

export const DEFAULT_READER_ROLE = 'vpc_migrate_reader';

const ident = (name: string) => '"' + name.replace(/"/g, '""') + '"';

/**
 * Creates the reader role (NOLOGIN) with PostgreSQL's predefined `pg_read_all_data` (PG 14+),
 * and lets `loginRole` switch to it. Idempotent. Before PG 14 there is no such role: SELECT on
 * the existing tables of `public` instead (re-run after adding tables).
 */
export function readerSetupSql(role = DEFAULT_READER_ROLE, loginRole = 'CURRENT_USER', serverVersionNum = 140000): string {
  const grantee = loginRole === 'CURRENT_USER' ? loginRole : ident(loginRole);
  const reads =
    serverVersionNum >= 140000
      ? `GRANT pg_read_all_data TO ${ident(role)};`
      : `GRANT USAGE ON SCHEMA public TO ${ident(role)}; GRANT SELECT ON ALL TABLES IN SCHEMA public TO ${ident(role)};`;
  return (
    `DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = ${quoteLiteral(role)}) THEN CREATE ROLE ${ident(role)} NOLOGIN; END IF; END $$; ` +
    `${reads} GRANT ${ident(role)} TO ${grantee};`
  );
}

function quoteLiteral(s: string): string {
  return "'" + s.replace(/'/g, "''") + "'";
}

/** The one line a person runs to fix a missing reader role (as the worker's login role, or an admin). */
export function readerRemedy(role: string): string {
  return (
    `Create the reader role once: \`pnpm run-sql --write "${readerSetupSql(role).replace(/"/g, '\\"')}"\` ` +
    `(or redeploy the CDK stack, which runs this set-up). Read-only run-sql never falls back to the worker's own role.`
  );
}

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
