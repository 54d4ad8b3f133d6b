/** Deployed databases and their catalogs, for the drift tests (issue 28). */
import { randomBytes } from 'node:crypto';
import { dropDatabase } from '../../scripts/local/database.js';
import { deploy } from '../../scripts/commands/deploy.js';
import { type Catalog, type IntrospectOptions, introspect } from '../../lambda/drift/catalog.js';
import { type FreshDatabase, freshDatabase, orDrop, withClient } from './db.js';
import { startTestWorker } from './test-worker.js';

/** A fresh database with `dir` deployed through the real worker; fails unless every migration applied. */
export async function deployedDatabase(adminUrl: string, dir: string): Promise<FreshDatabase> {
  const db = await freshDatabase(adminUrl);
  return orDrop(db, async () => {
    const tw = await startTestWorker(db.url, { timeoutMs: 900_000 });
    try {
      const report = await deploy(tw.worker, { migrationsDir: dir });
      if (report.exitCode !== 0 || report.problems.length > 0) {
        throw new Error(`deploy of ${dir} failed: ${JSON.stringify(report.problems)}`);
      }
    } finally {
      await tw.close();
    }
    return db;
  });
}

/**
 * A copy of `source` (CREATE DATABASE … TEMPLATE): much faster than deploying the history again.
 * The source must have no session open.
 */
export async function copyOfDatabase(adminUrl: string, source: FreshDatabase): Promise<FreshDatabase> {
  const name = `vpcm_test_${randomBytes(8).toString('hex')}`;
  const sourceName = decodeURIComponent(new URL(source.url).pathname.slice(1));
  await withClient(adminUrl, (client) =>
    client.query(`CREATE DATABASE ${client.escapeIdentifier(name)} TEMPLATE ${client.escapeIdentifier(sourceName)}`),
  );
  const url = new URL(adminUrl);
  url.pathname = `/${encodeURIComponent(name)}`;
  return { url: url.toString(), drop: () => dropDatabase(adminUrl, name) };
}

export function catalogOf(url: string, opts?: IntrospectOptions): Promise<Catalog> {
  return withClient(url, (client) => introspect(client, opts));
}
