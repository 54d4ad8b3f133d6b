/**
 * The migration histories the bench applies: by default trigger.dev (820 Prisma migrations) and
 * documenso (163) from ../shared/corpora, or any Prisma migrations folder given with --corpus.
 * For each: the files in Prisma's order, the floor's `\i` script, and the apply event deploy
 * would send with the largest file in it (for the worker's RSS probe).
 */
import { existsSync, readdirSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { REPO_ROOT } from '../infra/bundling.js';
import type { MigrationPayload } from '../lambda/contract/index.js';
import { batchBySize, buildPayload } from '../scripts/core/payloads.js';
import { splitMigration } from '../scripts/core/split.js';
import { sqlParser } from '../scripts/core/sql-parser.js';
import { discoverMigrations } from '../scripts/formats/prisma/discover.js';
import { writeFloorScript } from './floor.js';
import { BENCH_DIR } from './measure-worker.js';

export const CORPORA_ROOT = path.resolve(REPO_ROOT, '..', 'shared', 'corpora');

/**
 * The corpora of issue 26's acceptance, by short name: their goal for deploy ÷ floor (median of
 * the pair ratios), and whether the no-op status goal (stated for the 820-migration history) is theirs.
 */
export const DEFAULT_CORPORA: Record<string, { folder: string; goal: number; statusGoal: boolean }> = {
  'trigger.dev': { folder: 'triggerdotdev__trigger.dev', goal: 1.2, statusGoal: true },
  documenso: { folder: 'documenso__documenso', goal: 1.3, statusGoal: false },
};

interface CorpusRef {
  name: string;
  dir: string;
  /** Goal for deploy ÷ floor; undefined for a corpus without one. */
  goal?: number;
  /** The no-op status goal applies (trigger.dev's 820 migrations). */
  statusGoal?: boolean;
}

export interface Corpus extends CorpusRef {
  migrations: number;
  sqlBytes: number;
  largest: { name: string; bytes: number };
  floorScript: string;
  /** Deploy's apply event holding the largest file (earlier batches first, so it applies on a fresh database). */
  eventFile: string;
  eventBytes: number;
  batches: number;
}

function isPrismaFolder(dir: string): boolean {
  try {
    return readdirSync(dir, { withFileTypes: true }).some(
      (e) => e.isDirectory() && existsSync(path.join(dir, e.name, 'migration.sql')),
    );
  } catch {
    return false;
  }
}

/** `--corpus` values (a short name above, a migrations folder, or a folder holding migrations/), or the defaults. */
export function corpusDirs(given: readonly string[] = []): CorpusRef[] {
  const wanted = given.length > 0 ? given : Object.keys(DEFAULT_CORPORA);
  return wanted.map((g) => {
    const known = DEFAULT_CORPORA[g];
    if (known)
      return {
        name: g,
        dir: path.join(CORPORA_ROOT, known.folder, 'migrations'),
        goal: known.goal,
        statusGoal: known.statusGoal,
      };
    const abs = path.resolve(g);
    const dir = isPrismaFolder(path.join(abs, 'migrations')) ? path.join(abs, 'migrations') : abs;
    if (!isPrismaFolder(dir)) throw new Error(`--corpus ${g}: not a Prisma migrations folder (nor a short name)`);
    const base = path.basename(dir) === 'migrations' ? path.basename(path.dirname(dir)) : path.basename(dir);
    const same = Object.values(DEFAULT_CORPORA).find((c) => base === c.folder);
    return { name: base, dir, ...(same ? { goal: same.goal, statusGoal: same.statusGoal } : {}) };
  });
}

export async function prepareCorpus(c: CorpusRef): Promise<Corpus> {
  if (!isPrismaFolder(c.dir)) throw new Error(`${c.dir} holds no migration folders`);
  const { migrations } = await discoverMigrations(c.dir);
  const slug = c.name.replace(/[^A-Za-z0-9]+/g, '_').toLowerCase();
  const largest = migrations.reduce((a, b) => (b.bytes.length > a.bytes.length ? b : a));
  const floorScript = path.join(BENCH_DIR, `floor-${slug}.sql`);
  await writeFloorScript(
    floorScript,
    migrations.map((m) => m.path),
  );
  const parser = await sqlParser();
  const payloads: MigrationPayload[] = migrations.map((m) => buildPayload(m, splitMigration(parser, m.sql)));
  const batches = batchBySize(payloads);
  const batch = batches.find((b) => b.some((p) => p.name === largest.name))!;
  const before = batches.slice(0, batches.indexOf(batch)).flat();
  const text = JSON.stringify({ action: 'apply', requestId: 'bench-rss', migrations: [...before, ...batch] });
  const eventFile = path.join(BENCH_DIR, `event-${slug}.json`);
  await writeFile(eventFile, text);
  return {
    ...c,
    migrations: migrations.length,
    sqlBytes: migrations.reduce((n, m) => n + m.bytes.length, 0),
    largest: { name: largest.name, bytes: largest.bytes.length },
    floorScript,
    eventFile,
    eventBytes: Buffer.byteLength(text),
    batches: batches.length,
  };
}
