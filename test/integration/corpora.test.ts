/**
 * Issue 2, acceptance 3 and 4, on real migration histories used as TEST DATA
 * (../shared/corpora: trigger.dev 820 migrations, documenso 163). Skipped when that folder is
 * absent; it is present in CI. Each history is deployed through the real path (SDK → local
 * Invoke endpoint → worker → embedded PostgreSQL), then Prisma 6.19.3's own CLI judges the
 * ledger: `migrate status` must find it up to date and `migrate deploy` must have nothing to do.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { deploy } from '../../scripts/commands/deploy.js';
import { status } from '../../scripts/commands/status.js';
import { embeddedTarget, prismaLedger } from '../helpers/db.js';
import { corporaDir } from '../helpers/migrations.js';
import { expectPrismaAgrees } from '../helpers/prisma-agrees.js';
import { prismaAvailable } from '../helpers/prisma-judge.js';
import { useFreshWorker } from '../helpers/test-worker.js';

const corpora = [
  { name: 'triggerdotdev__trigger.dev', count: 820 },
  { name: 'documenso__documenso', count: 163 },
].map((c) => ({ ...c, dir: path.join(corporaDir, c.name, 'migrations') }));

const embedded = embeddedTarget();

describe.skipIf(!existsSync(corporaDir))('real histories (corpora as test data)', () => {
  describe.each(corpora)('$name', ({ dir, count }) => {
    const { db, tw } = useFreshWorker(embedded.adminUrl, { per: 'describe', timeoutMs: 900_000 });

    it(`applies every migration with 0 failures in at most 5 invocations`, async () => {
      const report = await deploy(tw.worker, { migrationsDir: dir });

      expect(report.problems).toEqual([]);
      expect(report.exitCode).toBe(0);
      expect(report.results).toHaveLength(count);
      expect(report.results.filter((r) => r.status !== 'applied')).toEqual([]);
      expect(report.verified).toBe(true);
      expect(report.invocations).toBeLessThanOrEqual(5);
      const finished = (await prismaLedger(db.url)).filter((r) => r.finished_at !== null && r.rolled_back_at === null);
      expect(finished.length).toBe(count);
      expect((await status(tw.worker, { migrationsDir: dir })).exitCode).toBe(0);
    });

    it.skipIf(!prismaAvailable())(
      "is accepted by Prisma's own CLI: status up to date, deploy has nothing to apply",
      async () => {
        await expectPrismaAgrees(db.url, dir, { timeoutMs: 180_000 });
      },
    );
  });
});
