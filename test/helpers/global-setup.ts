/**
 * Integration-test global setup: ONE embedded PostgreSQL for the whole run (tests take fresh
 * databases on it, see db.ts) plus a probe of a system PostgreSQL on 5432, which the tests use
 * as a target when it answers: in `pnpm test:system` and the long suites, not in `pnpm test`.
 */
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { startLocalDatabase } from '../../scripts/local/database.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Superuser URL of the run's embedded PostgreSQL. */
    embeddedUrl: string;
    /** Superuser URL of a system PostgreSQL on 127.0.0.1:5432, or null when none answered. */
    systemUrl: string | null;
    /**
     * Which servers `databaseTargets()` (db.ts) runs a suite on: `pnpm test`'s integration
     * project the embedded one only, the `system` project (`pnpm test:system`) the machine's own
     * only, the long suites both.
     */
    servers: 'embedded' | 'system' | 'both';
  }
}

export const SYSTEM_URL = 'postgresql://postgres@127.0.0.1:5432/postgres';

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  // Not the project's .vpc-migrate: tests must neither see nor leave state there.
  const root = await mkdtemp(path.join(tmpdir(), 'vpcm-test-'));
  // mkdtemp makes it 0700; as root the server runs as user postgres, which must traverse it.
  await chmod(root, 0o755);
  try {
    const [db, systemUrl] = await Promise.all([
      startLocalDatabase({ dataDir: path.join(root, 'pgdata'), durable: false }),
      probe(SYSTEM_URL),
    ]);
    project.provide('embeddedUrl', db.url);
    project.provide('systemUrl', systemUrl);
    const name = project.name;
    project.provide('servers', name === 'integration' ? 'embedded' : name === 'system' ? 'system' : 'both');
    if (name === 'system' && !systemUrl)
      console.warn(`No PostgreSQL answers at ${SYSTEM_URL} (as a user that may create databases): nothing to run.`);
    return async () => {
      await db.stop();
      await rm(root, { recursive: true, force: true });
    };
  } catch (error) {
    await rm(root, { recursive: true, force: true });
    throw error;
  }
}

/** The URL when a server answers there and its user may create databases, else null (bench/server.ts too). */
export async function probe(url: string): Promise<string | null> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1_500 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    const { rows } = await client.query<{ ok: boolean }>(
      'SELECT rolsuper OR rolcreatedb AS ok FROM pg_roles WHERE rolname = current_user',
    );
    return rows[0]?.ok ? url : null;
  } catch {
    return null;
  } finally {
    await client.end().catch(() => undefined);
  }
}
