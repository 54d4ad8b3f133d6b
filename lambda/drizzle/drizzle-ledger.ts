/**
 * Drizzle's ledger, `drizzle.__drizzle_migrations`, created and written as drizzle-orm 0.45.4's
 * pg-core dialect `migrate()` does: `id SERIAL PRIMARY KEY, hash text NOT NULL, created_at
 * bigint`, one row per applied journal entry (`hash` = sha256 of the file's text, `created_at`
 * = the entry's `when`). Drizzle keeps no failure state: a row means "applied", nothing else.
 */
import {
  DRIZZLE_LEDGER_SCHEMA,
  DRIZZLE_LEDGER_TABLE,
  type DrizzleLedgerRow,
  inline,
  quoteIdent,
} from '../contract/index.js';
import type { Db } from '../db.js';
import { type LockProof, ledgerGuardSql } from '../ledger-guard.js';

const SCHEMA = quoteIdent(DRIZZLE_LEDGER_SCHEMA);
const TABLE = `${SCHEMA}.${quoteIdent(DRIZZLE_LEDGER_TABLE)}`;

/** drizzle-orm's DDL, word for word (`CREATE TABLE IF NOT EXISTS` in `migrate()`). */
export const CREATE_DRIZZLE_SCHEMA_SQL = `CREATE SCHEMA IF NOT EXISTS ${SCHEMA}`;
export const CREATE_DRIZZLE_LEDGER_SQL = `CREATE TABLE IF NOT EXISTS ${TABLE} (
  id SERIAL PRIMARY KEY,
  hash text NOT NULL,
  created_at bigint
)`;

export async function drizzleLedgerExists(db: Db): Promise<boolean> {
  const { rows } = await db.query<{ exists: boolean }>(`SELECT to_regclass('${TABLE}') IS NOT NULL AS exists`);
  return rows[0]?.exists === true;
}

/**
 * Creates the schema and table when missing; returns whether the table was. Unlike drizzle-orm
 * it skips `CREATE SCHEMA` when the schema exists, so a role without CREATE on the database
 * can still migrate once the schema is there.
 */
export async function ensureDrizzleLedger(db: Db): Promise<boolean> {
  if (await drizzleLedgerExists(db)) return false;
  const { rows } = await db.query<{ exists: boolean }>(`SELECT to_regnamespace('${SCHEMA}') IS NOT NULL AS exists`);
  if (rows[0]?.exists !== true) await db.query(CREATE_DRIZZLE_SCHEMA_SQL);
  await db.query(CREATE_DRIZZLE_LEDGER_SQL);
  return true;
}

/** Every row, oldest entry first. */
export async function readDrizzleRows(db: Db): Promise<DrizzleLedgerRow[]> {
  const { rows } = await db.query<{ id: number; hash: string; created_at: string | null }>(
    `SELECT id, hash, created_at FROM ${TABLE} ORDER BY created_at ASC NULLS FIRST, id ASC`,
  );
  return rows.map((r) => ({
    id: Number(r.id),
    hash: r.hash,
    created_at: r.created_at === null ? null : Number(r.created_at),
  }));
}

/**
 * drizzle-orm's insert: in the caller's transaction when there is one. Guarded
 * (lambda/ledger-guard.ts): the lock is held and no row of the same file (hash and `when`) exists.
 * The guard, the INSERT and (with `commit`) the caller's COMMIT are one simple-protocol query
 * (values inlined): when the guard or the INSERT fails PostgreSQL runs none of the rest, and the
 * caller's transaction stays aborted for its ROLLBACK; in autocommit the query is one implicit
 * transaction, so no row is written past a failed guard.
 */
export async function insertDrizzleRow(
  db: Db,
  hash: string,
  createdAt: number,
  lock: LockProof,
  options: { commit?: boolean } = {},
): Promise<void> {
  const lit = (v: string) => db.escapeLiteral(v);
  const guard = ledgerGuardSql(db, {
    lock,
    alreadyRecorded:
      `EXISTS (SELECT FROM ${TABLE} WHERE hash = ${lit(hash)} ` +
      `AND created_at IS NOT DISTINCT FROM ${lit(String(createdAt))}::bigint)`,
  });
  const insert = inline({
    text: `INSERT INTO ${TABLE} ("hash", "created_at") VALUES ($1, $2)`,
    values: [hash, createdAt],
  });
  await db.query(`${guard}; ${insert}${options.commit ? '; COMMIT' : ''}`);
}
