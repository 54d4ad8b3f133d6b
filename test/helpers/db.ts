/**
 * Databases for integration tests: every test file takes its own fresh database on the
 * servers global-setup.ts found, so files run in parallel without seeing each other.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';
import { createDatabase, dropDatabase } from '../../scripts/local/database.js';

export interface DatabaseTarget {
  name: 'embedded' | 'system';
  /** Superuser URL of the server's `postgres` database. */
  adminUrl: string;
}

/** The servers to run against, for `describe.each`: the embedded one, and the system one when it answered. */
export function databaseTargets(): DatabaseTarget[] {
  const targets: DatabaseTarget[] = [{ name: 'embedded', adminUrl: inject('embeddedUrl') }];
  const systemUrl = inject('systemUrl');
  if (systemUrl) targets.push({ name: 'system', adminUrl: systemUrl });
  return targets;
}

export interface FreshDatabase {
  url: string;
  drop(): Promise<void>;
}

/** Creates a uniquely named, empty database on the server of `adminUrl`. */
export async function freshDatabase(adminUrl: string): Promise<FreshDatabase> {
  // The prefix lets a person find (and drop) what a killed run left on a shared system server.
  const name = `vpcm_test_${randomBytes(8).toString('hex')}`;
  const url = await createDatabase(adminUrl, name);
  return { url, drop: () => dropDatabase(adminUrl, name) };
}

/** One short-lived connection for a test's own look at the database (not the worker's path). */
export async function withClient<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** The rows of one query on its own connection. */
export function query<T extends pg.QueryResultRow>(url: string, sql: string, params: unknown[] = []): Promise<T[]> {
  return withClient(url, async (client) => (await client.query<T>(sql, params)).rows);
}

/** A `_prisma_migrations` row as pg returns it. */
export interface PrismaLedgerRow {
  id: string;
  checksum: string;
  finished_at: Date | null;
  migration_name: string;
  logs: string | null;
  rolled_back_at: Date | null;
  started_at: Date;
  applied_steps_count: number;
}

/** Every ledger row, in Prisma's order (started_at, then name). */
export function prismaLedger(url: string): Promise<PrismaLedgerRow[]> {
  return query<PrismaLedgerRow>(url, 'SELECT * FROM _prisma_migrations ORDER BY started_at, migration_name');
}
