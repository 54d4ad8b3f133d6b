/**
 * Discovery against real migration histories. Uses `../shared/corpora` (relative to the repo
 * root) as test data — copies of public projects' migration folders, each with its LICENSE and
 * SOURCE.txt — and is skipped when that folder is absent.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { discoverMigrations } from '../../scripts/formats/prisma/discover.js';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const corpora = path.resolve(repoRoot, '../shared/corpora');

// Dokploy's history is Drizzle's format (flat files plus a journal), not Prisma folders: it
// belongs to the Drizzle work (docs/design.md §4), so it is left out here.
const cases = [
  { corpus: 'triggerdotdev__trigger.dev', migrations: 820 },
  { corpus: 'documenso__documenso', migrations: 163 },
];

describe.skipIf(!existsSync(corpora))('discoverMigrations on real histories (test data: ../shared/corpora)', () => {
  it.each(cases)('$corpus: $migrations migrations, no error anomalies', async ({ corpus, migrations }) => {
    // Prepare
    const dir = path.join(corpora, corpus, 'migrations');

    // Act
    const started = performance.now();
    const discovery = await discoverMigrations(dir);
    const coldMs = performance.now() - started;
    const again = performance.now();
    await discoverMigrations(dir);
    const warmMs = performance.now() - again;
    console.log(
      `${corpus}: discovered ${discovery.migrations.length} ` +
        `migrations in ${coldMs.toFixed(1)} ms (again: ${warmMs.toFixed(1)} ` +
        `ms)`,
    );

    // Assess
    expect(discovery.migrations).toHaveLength(migrations);
    expect(discovery.anomalies.filter((a) => a.severity === 'error')).toEqual([]);
    expect(discovery.provider).toBe('postgresql');
    const names = discovery.migrations.map((m) => m.name);
    expect(names).toEqual([...names].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))));
    for (const m of discovery.migrations) expect(m.checksum).toMatch(/^[0-9a-f]{64}$/);
    // A generous bound so a busy machine does not fail the run; the log line shows the real figure.
    expect(coldMs).toBeLessThan(2_000);
  });
});
