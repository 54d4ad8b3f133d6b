/**
 * Prisma 6.19.3's own `migrate deploy` (the judge in test/helpers/prisma-judge.ts) on real
 * migration histories: the peer our worker is benchmarked against. The corpora in
 * ../shared/corpora (next to the repository) are TEST DATA only, each with its own LICENSE and
 * SOURCE.txt; they are not part of the product. Without them this file is skipped.
 *
 * Durations are logged, never asserted.
 */
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { databaseTargets, useFreshDatabase, prismaLedger } from '../helpers/db.js';
import { expectPrismaUpToDate, shown } from '../helpers/prisma-agrees.js';
import { prismaAvailable, prismaMigrateDeploy } from '../helpers/prisma-judge.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const corporaDir = resolve(repoRoot, '../shared/corpora');

/** Prisma-format histories (`<name>/migration.sql`); Dokploy's Drizzle journal is not one. */
const CORPORA = [
  { corpus: 'documenso__documenso', migrations: 163, everyServer: true },
  // 14–17 s for Prisma's deploy here (measured), so it stays in the suite, on one server only.
  { corpus: 'triggerdotdev__trigger.dev', migrations: 820, everyServer: false },
];

function folders(dir: string): string[] {
  return readdirSync(dir).filter((name) => existsSync(join(dir, name, 'migration.sql')));
}

describe.skipIf(!existsSync(corporaDir) || !prismaAvailable())(
  'Prisma 6.19.3 deploys the real histories (corpora as test data)',
  () => {
    describe.each(databaseTargets().map((t, i) => ({ ...t, first: i === 0 })))('on the $name server', ({
      name: server,
      adminUrl,
      first,
    }) => {
      const db = useFreshDatabase(adminUrl);

      it.each(
        CORPORA.filter((c) => first || c.everyServer),
      )('$corpus ($migrations migrations) on a fresh database', async ({ corpus, migrations }) => {
        const dir = join(corporaDir, corpus, 'migrations');
        expect(folders(dir)).toHaveLength(migrations);

        const deploy = await prismaMigrateDeploy(db.url, dir, { timeoutMs: 600_000 });
        expect(deploy.exitCode, shown(deploy)).toBe(0);
        expect(deploy.stdout).toContain(`${migrations} migrations found in prisma/migrations`);
        expect(deploy.stdout).toContain('All migrations have been successfully applied.');

        const status = await expectPrismaUpToDate(db.url, dir, { timeoutMs: 300_000 });

        const rows = await prismaLedger(db.url);
        const done = rows.filter((r) => r.finished_at !== null && r.applied_steps_count === 1);
        expect({ n: rows.length, done: done.length }).toEqual({ n: migrations, done: migrations });

        console.log(
          `[prisma-judge] ${server}: Prisma 6.19.3 migrate deploy of ${corpus} (${migrations} migrations): ` +
            `${deploy.durationMs} ms; migrate status: ${status.durationMs} ms (CLI startup ≈ 1 s of each)`,
        );
      }, 900_000);
    });
  },
);
