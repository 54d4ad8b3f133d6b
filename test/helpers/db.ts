/**
 * Databases for integration tests: every test file takes its own fresh database on the
 * servers global-setup.ts found, so files run in parallel without seeing each other.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, beforeEach, inject } from 'vitest';
import { createDatabase, dropDatabase } from '../../scripts/local/database.js';

export interface DatabaseTarget {
  name: 'embedded' | 'system';
  /** Superuser URL of the server's `postgres` database. */
  adminUrl: string;
}

/** The run's embedded server: for a suite that runs on it alone, whatever `databaseTargets()` gives. */
export function embeddedTarget(): DatabaseTarget {
  return { name: 'embedded', adminUrl: inject('embeddedUrl') };
}

/**
 * The servers to run against, for `describe.each`: the embedded one (`pnpm test`), the system
 * one when it answered (`pnpm test:system`), or both (the long suites); see global-setup.ts.
 */
export function databaseTargets(): DatabaseTarget[] {
  const servers = inject('servers');
  const targets: DatabaseTarget[] = [];
  if (servers !== 'system') targets.push(embeddedTarget());
  const systemUrl = inject('systemUrl');
  if (systemUrl && servers !== 'embedded') targets.push({ name: 'system', adminUrl: systemUrl });
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

/** 'test': opened before each test of the calling describe, closed after it; 'describe': once for all of them. */
export type FixtureScope = 'test' | 'describe';

/**
 * The hook pair every fixture here is made of: `open` before each test (or once, before the
 * describe's tests), `close` after; returns a stand-in for the current one (see `live`).
 */
export function fixture<T extends object>(
  per: FixtureScope,
  open: () => Promise<T>,
  close: (t: T) => Promise<void>,
): T {
  let current: T | undefined;
  (per === 'test' ? beforeEach : beforeAll)(async () => {
    current = await open();
  });
  (per === 'test' ? afterEach : afterAll)(async () => {
    const t = current;
    current = undefined;
    if (t) await close(t);
  });
  return live(() => {
    if (!current) throw new Error('a fixture was used outside the tests of the describe that made it');
    return current;
  });
}

/**
 * A stand-in that reads through to whatever `get` returns at the time of use, so a describe can
 * name `db` and `tw` once (`const { db, tw } = useFreshWorker(…)`) while each test gets its own.
 */
export function live<T extends object>(get: () => T): T {
  return new Proxy({} as T, {
    get(_, key) {
      if (key === 'then') return undefined; // not a promise: `await`ing it must not ask `get`
      const target = get();
      const value: unknown = Reflect.get(target, key, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
    set(_, key, value) {
      return Reflect.set(get(), key, value);
    },
  });
}

/**
 * A fresh database for every test of the calling describe (or one for the describe), dropped
 * after. `prepare` runs on it first (tables the tests read).
 */
export function useFreshDatabase(
  adminUrl: string,
  opts: { per?: FixtureScope; prepare?: (url: string) => Promise<unknown> } = {},
): FreshDatabase {
  return fixture(
    opts.per ?? 'test',
    async () => {
      const db = await freshDatabase(adminUrl);
      return orDrop(db, async () => {
        await opts.prepare?.(db.url);
        return db;
      });
    },
    (db) => db.drop(),
  );
}

/** The set-up of a new database: when it fails, the database is dropped, so nothing is left behind. */
export async function orDrop<T>(db: FreshDatabase, setUp: () => Promise<T>): Promise<T> {
  try {
    return await setUp();
  } catch (error) {
    await db.drop().catch(() => undefined);
    throw error;
  }
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

/** A `_prisma_migrations` row as pg returns it: the one Prisma ledger row type of the tests. */
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

/** Every ledger row, in Prisma's order (started_at, then name; then id, for rows alike in both). */
export const PRISMA_LEDGER_SQL = 'SELECT * FROM _prisma_migrations ORDER BY started_at, migration_name, id';

/** Every ledger row (PRISMA_LEDGER_SQL); fails when the table does not exist. */
export function prismaLedger(url: string): Promise<PrismaLedgerRow[]> {
  return query<PrismaLedgerRow>(url, PRISMA_LEDGER_SQL);
}
