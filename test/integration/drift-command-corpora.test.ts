/**
 * The drift command on real histories (issue 28, acceptance 1: zero false positives), the corpora as TEST
 * DATA (../shared/corpora; skipped when absent, present in CI): each history is deployed through
 * the real path, then `drift` must report no difference and leave no scratch database. The
 * durations of both are printed: drift rebuilds the whole applied history once more, so it is
 * compared with the deploy of the same history (the goal: at most 1.5×).
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { deploy } from '../../scripts/commands/deploy.js';
import { drift } from '../../scripts/commands/drift.js';
import { embeddedTarget, query } from '../helpers/db.js';
import { corporaDir } from '../helpers/migrations.js';
import { useFreshWorker } from '../helpers/test-worker.js';

const corpora = [
  { name: 'triggerdotdev__trigger.dev', format: 'prisma' as const },
  { name: 'documenso__documenso', format: 'prisma' as const },
  { name: 'Dokploy__dokploy', format: 'drizzle' as const },
].map((c) => ({ ...c, dir: path.join(corporaDir, c.name, 'migrations') }));

const embedded = embeddedTarget();

describe.skipIf(!existsSync(corporaDir))('drift on real histories (corpora as test data)', () => {
  describe.each(corpora)('$name', ({ name, dir, format }) => {
    const { tw } = useFreshWorker(embedded.adminUrl, { per: 'describe', timeoutMs: 900_000 });

    it('reports no drift after a deploy, and leaves no scratch database', async () => {
      const deployStarted = performance.now();
      const deployed = await deploy(tw.worker, { migrationsDir: dir, format });
      const deployMs = performance.now() - deployStarted;
      expect(deployed.problems).toEqual([]);
      const driftStarted = performance.now();
      const report = await drift(tw.worker, { migrationsDir: dir, format });
      const driftMs = performance.now() - driftStarted;
      process.stdout.write(
        `drift ${name}: ${report.applied} applied, ${report.objects?.expected ?? '?'} objects; ` +
          `deploy ${Math.round(deployMs)} ms, drift ${Math.round(driftMs)} ms (${(driftMs / deployMs).toFixed(2)}×)\n`,
      );
      expect(report.problems).toEqual([]);
      expect(report.findings).toEqual([]);
      expect(report.differences).toEqual([]);
      expect(report.exitCode).toBe(0);
      expect(report.cleanedUp).toBe(true);
      const scratch = await query<{ datname: string }>(
        embedded.adminUrl,
        'SELECT datname FROM pg_database WHERE datname = $1',
        [report.builtIn?.name ?? ''],
      );
      expect(scratch).toEqual([]);
    });
  });

  // Acceptance 2 through the whole command: the expected side built in the scratch database by the apply path.
  describe.skipIf(!existsSync(corpora[1]!.dir))('documenso, changed out of band', () => {
    const { db, tw } = useFreshWorker(embedded.adminUrl, { per: 'describe', timeoutMs: 900_000 });

    it('reports each change exactly once, with the object and both definitions (exit 3)', async () => {
      const dir = corpora[1]!.dir;
      expect((await deploy(tw.worker, { migrationsDir: dir })).problems).toEqual([]);
      await query(
        db.url,
        `ALTER TABLE "User" ADD COLUMN nickname varchar(40) DEFAULT 'x';
         ALTER TABLE "User" ALTER COLUMN disabled SET DEFAULT true;
         DROP INDEX "User_email_idx";
         DROP INDEX "Team_url_key"; CREATE INDEX "Team_url_key" ON "Team" (url);
         CREATE OR REPLACE FUNCTION generate_id() RETURNS TEXT AS $$
         BEGIN
           RETURN nanoid(21, 'abcdefhiklmnorstuvwxyz');
         END;
         $$ LANGUAGE plpgsql VOLATILE;
         CREATE TRIGGER "User_no_op_update" BEFORE UPDATE ON "User"
           FOR EACH ROW EXECUTE FUNCTION suppress_redundant_updates_trigger();
         CREATE TABLE "Note" (id serial PRIMARY KEY, body text NOT NULL)`,
      );
      // ADD VALUE cannot share a transaction with the type's use; its own statement.
      await query(db.url, `ALTER TYPE "Role" ADD VALUE 'AUDITOR' BEFORE 'USER'`);
      const report = await drift(tw.worker, { migrationsDir: dir });
      const seen = report.differences.map((d) => [
        d.kind,
        d.object,
        d.change,
        d.expected !== undefined,
        d.live !== undefined,
      ]);
      expect(seen.sort()).toEqual(
        [
          ['column', 'public."User".nickname', 'only-in-live', false, true],
          ['column', 'public."User".disabled', 'changed', true, true],
          ['index', 'public."User_email_idx"', 'missing', true, false],
          ['index', 'public."Team_url_key"', 'changed', true, true],
          ['enum', 'public."Role"', 'changed', true, true],
          ['function', 'public.generate_id()', 'changed', true, true],
          ['trigger', 'public."User"."User_no_op_update"', 'only-in-live', false, true],
          ['table', 'public."Note"', 'only-in-live', false, true],
        ].sort(),
      );
      expect(report.differences.find((d) => d.kind === 'enum')).toMatchObject({
        expected: "ENUM ('ADMIN', 'USER')",
        live: "ENUM ('ADMIN', 'AUDITOR', 'USER')",
      });
      expect(report.exitCode).toBe(3);
      expect(report.cleanedUp).toBe(true);
    });
  });
});
