/**
 * The PostgreSQL server the bench runs on, and its fresh databases: the server answering on
 * 127.0.0.1:5432 (as user postgres) when it does, else the embedded one (scripts/local/database.ts).
 * Every measurement gets a database of its own, dropped afterwards, even when the run fails.
 */
import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { createDatabase, dropDatabase, type LocalDatabase, startLocalDatabase } from '../scripts/local/database.js';
import { probe, SYSTEM_URL } from '../test/helpers/global-setup.js';

export { SYSTEM_URL };

export interface Server {
  adminUrl: string;
  source: string;
  version: string;
  settings: string;
  stop(): Promise<void>;
}

async function describe(url: string): Promise<{ version: string; settings: string }> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ version: string; fsync: string; sc: string; sb: string }>(
      `SELECT version() AS version, current_setting('fsync') AS fsync,
              current_setting('synchronous_commit') AS sc, current_setting('shared_buffers') AS sb`,
    );
    const r = rows[0]!;
    return {
      version: r.version.split(',')[0]!,
      settings: `fsync=${r.fsync}, synchronous_commit=${r.sc}, shared_buffers=${r.sb}`,
    };
  } finally {
    await client.end();
  }
}

/** 127.0.0.1:5432 if it answers (unless `embedded`), else the embedded PostgreSQL in a temporary directory. */
export async function startServer(opts: { embedded?: boolean } = {}): Promise<Server> {
  if (!opts.embedded && (await probe(SYSTEM_URL)) !== null)
    return {
      adminUrl: SYSTEM_URL,
      source: 'local server on 127.0.0.1:5432',
      ...(await describe(SYSTEM_URL)),
      stop: async () => undefined,
    };
  const root = await mkdtemp(path.join(os.tmpdir(), 'vpcm-bench-'));
  await chmod(root, 0o755); // as root the server runs as user postgres, which must traverse it
  let db: LocalDatabase;
  try {
    db = await startLocalDatabase({ dataDir: path.join(root, 'pgdata') });
  } catch (error) {
    await rm(root, { recursive: true, force: true });
    throw error;
  }
  return {
    adminUrl: db.url,
    source: 'embedded PostgreSQL (scripts/local/database.ts)',
    ...(await describe(db.url)),
    stop: async () => {
      await db.stop();
      await rm(root, { recursive: true, force: true });
    },
  };
}

export interface FreshDatabase {
  name: string;
  url: string;
  drop(): Promise<void>;
}

const runId = randomBytes(3).toString('hex');
let seq = 0;
/** Created and not yet dropped: {@link dropLeftovers} drops them on the way out of a failed run. */
const live = new Map<string, string>();

/** An empty database on `server`, named so that a person can find what a killed run left. */
export async function freshDatabase(server: Server, what: string): Promise<FreshDatabase> {
  const name = `vpcm_bench_${runId}_${what.replace(/[^a-z0-9]+/gi, '').toLowerCase()}_${++seq}`.slice(0, 63);
  const url = await createDatabase(server.adminUrl, name);
  live.set(name, server.adminUrl);
  return {
    name,
    url,
    drop: async () => {
      await dropDatabase(server.adminUrl, name);
      live.delete(name);
    },
  };
}

export async function dropLeftovers(): Promise<void> {
  for (const [name, adminUrl] of live) await dropDatabase(adminUrl, name).catch(() => undefined);
  live.clear();
}
