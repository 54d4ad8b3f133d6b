/**
 * Issue 28, acceptance 1 for the comparison core (lambda/drift), on the long histories of
 * ../shared/corpora used as TEST DATA: trigger.dev (820 Prisma migrations) and Dokploy (186
 * Drizzle journal entries), each deployed through the real worker into two databases, read the
 * same (zero false positives), and the ledgers are not part of what is read. Also prints how long
 * introspect() takes on each (bench/results.md quotes trigger.dev's).
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Catalog, introspect } from '../../lambda/drift/catalog.js';
import { diffCatalogs } from '../../lambda/drift/diff.js';
import { embeddedTarget, type FreshDatabase, withClient } from '../helpers/db.js';
import { catalogOf, deployedDatabase } from '../helpers/drift.js';
import { corporaDir } from '../helpers/migrations.js';

const corpora = [
  { name: 'triggerdotdev__trigger.dev', ledger: /_prisma_migrations/ },
  { name: 'Dokploy__dokploy', ledger: /__drizzle_migrations/ },
].map((c) => ({ ...c, dir: path.join(corporaDir, c.name, 'migrations') }));

const embedded = embeddedTarget();

describe.skipIf(!existsSync(corporaDir))('drift catalog: real histories read the same twice', () => {
  describe.each(corpora)('$name', ({ name, dir, ledger }) => {
    let deployed: FreshDatabase[] = [];
    let expected: Catalog;

    beforeAll(async () => {
      deployed = await Promise.all([
        deployedDatabase(embedded.adminUrl, dir),
        deployedDatabase(embedded.adminUrl, dir),
      ]);
      expected = await catalogOf(deployed[0]!.url);
    });

    afterAll(async () => {
      for (const db of deployed) await db.drop();
    });

    it('no differences between two deploys of the history, and no ledger in what is read', async () => {
      const live = await catalogOf(deployed[1]!.url);
      expect(expected.objects.length).toBeGreaterThan(100);
      expect(diffCatalogs(expected, live)).toEqual([]);
      expect(expected.objects.filter((o) => ledger.test(o.name) || ledger.test(o.definition))).toEqual([]);
    });

    it('introspect() time (printed)', async () => {
      const ms = await withClient(deployed[1]!.url, async (client) => {
        const runs: number[] = [];
        for (let i = 0; i < 3; i++) {
          const started = performance.now();
          await introspect(client);
          runs.push(performance.now() - started);
        }
        return runs.sort((a, b) => a - b)[1]!;
      });
      console.log(`introspect() on ${name}: ${expected.objects.length} objects, median of 3 runs ${Math.round(ms)} ms`);
      expect(ms).toBeGreaterThan(0);
    });
  });
});
