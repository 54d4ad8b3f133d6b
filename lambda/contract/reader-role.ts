/**
 * The role read-only run-sql switches to, and the SQL that sets it up once per database cluster
 * (the worker's `setup` action, the CDK stack's custom resource, the local database).
 */

import { remedyCommand } from './remedy-command.js';

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
    `Create the reader role once: ${remedyCommand('sql', '--write', readerSetupSql(role))} ` +
    `(or redeploy the CDK stack, which runs this set-up). Read-only run-sql never falls back to the worker's own role.`
  );
}
