/**
 * Rehearsals of real histories (../shared/corpora), each whole history in ONE transaction on an
 * empty database: nothing fails, the three enum values that trigger.dev adds in one migration and
 * uses in a later one are reported as artefacts of the shared transaction (not defects), the 71
 * CONCURRENTLY files are listed as not rehearsable, and the database is unchanged afterwards.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { rehearseMigrations } from '../../scripts/commands/rehearse.js';
import { databaseTargets } from '../helpers/db.js';
import { corporaDir } from '../helpers/migrations.js';
import { ledgerDump, schemaDump } from '../helpers/schema-dump.js';
import { useFreshWorker } from '../helpers/test-worker.js';

const trigger = path.join(corporaDir, 'triggerdotdev__trigger.dev', 'migrations');
const documenso = path.join(corporaDir, 'documenso__documenso', 'migrations');

describe.skipIf(!existsSync(trigger) || !existsSync(documenso)).each(databaseTargets())(
  'rehearsing real histories on the $name PostgreSQL',
  ({ adminUrl }) => {
    const { db, tw } = useFreshWorker(adminUrl, { timeoutMs: 600_000 });

    it('trigger.dev: 820 migrations in one transaction, rolled back', { timeout: 600_000 }, async () => {
      const before = [await schemaDump(db.url), await ledgerDump(db.url)];

      const report = await rehearseMigrations(tw.worker, { migrationsDir: trigger });

      expect([await schemaDump(db.url), await ledgerDump(db.url)]).toEqual(before);
      const results = report.result!.results;
      expect(results).toHaveLength(820);
      expect(report.counts).toMatchObject({
        failed: 0,
        'not-rehearsable': 71,
        'shared-transaction': 3,
        'not-started': 0,
      });
      expect(report.exitCode).toBe(0);
      const shared = results.filter((r) => r.status === 'shared-transaction');
      expect(shared.map((r) => [r.name, r.error?.code])).toEqual([
        ['20230105115145_remove_interruption_type', '55P04'],
        ['20230105115719_remove_interrupted_state_from_runs', '55P04'],
        ['20240815125616_migrate_alerts_from_attempt_to_run', '55P04'],
      ]);
      expect(shared[0]?.note).toContain('20230104160649_add_interruption_step adds the enum value "INTERRUPTION"');
      // Files with their own BEGIN/COMMIT run inside the rehearsal's transaction instead.
      const scripts = results.filter((r) => r.mode === 'script' && r.status === 'rehearsed').map((r) => r.name);
      expect(scripts.length).toBeGreaterThan(0);
      expect(
        results.filter((r) => r.notRehearsed.some((s) => s.reason === 'transaction-control')).map((r) => r.name),
      ).toEqual(scripts);
    });

    it('documenso: every migration rehearsed cleanly', { timeout: 300_000 }, async () => {
      const report = await rehearseMigrations(tw.worker, { migrationsDir: documenso });
      expect(report.counts).toMatchObject({ rehearsed: 163, failed: 0 });
      expect(report.exitCode).toBe(0);
      expect(await ledgerDump(db.url)).toBe('(no _prisma_migrations)');
    });
  },
);
