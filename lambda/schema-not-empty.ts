/**
 * Prisma's P3005: a deploy into a schema that holds tables but no `_prisma_migrations` refuses.
 * Such a schema was migrated by other means, or it is not the database the user meant; applying
 * the first migration there would reconcile or fail, and in the wrong database either is damage.
 * The user says which it is: `deploy --baseline` (reconcile what exists by definition) or
 * `baseline --up-to NAME` (record what exists as applied, then deploy the rest).
 *
 * Asked by the first batch of a deploy only: it creates the ledger, so later batches find it.
 */
import { type DecodedMigration, PRISMA_LEDGER_TABLE, remedyCommand, schemaNotEmptyError } from './contract/index.js';
import type { Db } from './db.js';
import { PrismaLedger } from './prisma/prisma-ledger.js';
import { lastExisting } from './reconcile.js';

const NAMES_SHOWN = 5;

/**
 *  Throws VPCM_SCHEMA_NOT_EMPTY when the session's schema has tables but no ledger. Call under the migration lock,
 *  before any file ran.
 */
export async function refuseNonEmptySchema(db: Db, migrations: DecodedMigration[]): Promise<void> {
  const ledger = await PrismaLedger.open(db);
  if (await ledger.exists()) return;
  // As Prisma: any table (or view) of the schema; the ledger itself cannot be there (it does not exist).
  const { rows } = await db.query<{ name: string; n: string }>(
    `SELECT c.relname AS name, count(*) OVER () AS n FROM pg_catalog.pg_class c
      WHERE c.relnamespace = pg_catalog.to_regnamespace(pg_catalog.quote_ident($1)) AND c.relkind IN ('r', 'p', 'v',
        'm', 'f')
        AND c.relname <> $2
      ORDER BY c.relname LIMIT ${NAMES_SHOWN}`,
    [ledger.schema, PRISMA_LEDGER_TABLE],
  );
  if (rows.length === 0) return;
  const count = Number(rows[0]!.n);
  const shown =
    rows.map((r) => JSON.stringify(r.name)).join(', ') + (count > rows.length ? `, … (${count} in all)` : '');
  // The name that works as printed: the last migration whose objects (and its predecessors') all exist.
  const upTo = await lastExisting(db, migrations);
  const last = migrations[migrations.length - 1]!.name;
  const baselineStep = upTo
    ? `${remedyCommand('baseline', '--up-to', upTo)} records ` +
      `the migrations through ${upTo} as applied (the newest ` +
      `whose objects all exist here) after checking their ` +
      `definitions, then deploy applies the rest`
    : `${remedyCommand('baseline', '--up-to', last)} (or the ` +
      `name of the last migration the database already has) ` +
      `records the migrations through it as applied after ` +
      `checking their objects exist — though the objects of ` +
      `the first migration, ${migrations[0]!.name}, do not ` +
      `exist here, so check that this is the database you ` +
      `meant`;
  throw schemaNotEmptyError({ schema: ledger.schema, count, shown, baselineStep, upTo: upTo ?? null });
}
