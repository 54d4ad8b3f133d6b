/**
 * Issue 27's rollout benchmark: one history applied to many fresh databases at a concurrency cap,
 * as a whole process, paired (A B, B A …) with its floor in the same run.
 *
 *   rollout  the bin, `node scripts/run-cli.mjs deploy --targets FILE --local --concurrency C`,
 *            FILE listing the databases as `{ "name", "databaseUrl" }` (docs/many-databases.md);
 *   floor    C psql sessions at once, each taking the next database and applying the same files
 *            to it as the single-database floor does (`\i` each, autocommit; bench/floor.ts).
 *
 * Both sides get databases of their own, created before the clock starts and dropped after. The
 * rollout's ledgers are checked afterwards (every migration finished once on every database), so a
 * fast wrong answer cannot pass for a fast one.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import type { Corpus } from './corpus.js';
import { runFloor } from './floor.js';
import { type FreshDatabase, freshDatabase, type Server } from './server.js';
import { aFirstIn } from './stats.js';
import { BIN, expectSuccess, runProcess, userEnv } from './user-path.js';

/** Issue 27, acceptance 5: the rollout within 1.3× its floor. */
export const ROLLOUT_GOAL = 1.3;

export interface RolloutPair {
  load: number;
  rolloutFirst: boolean;
  rolloutMs: number;
  floorMs: number;
}

export interface RolloutFigures {
  corpus: string;
  migrations: number;
  databases: number;
  concurrency: number;
  pairs: RolloutPair[];
}

export interface RolloutOptions {
  databases: number;
  concurrency: number;
  rounds: number;
  warmup: number;
}

const load1 = () => Math.round(os.loadavg()[0]! * 100) / 100;

async function freshDatabases(server: Server, what: string, n: number): Promise<FreshDatabase[]> {
  const dbs: FreshDatabase[] = [];
  for (let i = 0; i < n; i++) dbs.push(await freshDatabase(server, what));
  return dbs;
}

/** Runs `work` on each item, at most `concurrency` at once, as a rollout schedules its targets. */
async function eachAtMost<T>(items: readonly T[], concurrency: number, work: (item: T) => Promise<void>) {
  let next = 0;
  const lane = async () => {
    while (next < items.length) await work(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, lane));
}

async function floorRun(psql: string, corpus: Corpus, dbs: FreshDatabase[], concurrency: number): Promise<number> {
  const started = performance.now();
  await eachAtMost(dbs, concurrency, async (db) => void (await runFloor(psql, db.url, corpus.floorScript)));
  return performance.now() - started;
}

async function rolloutRun(corpus: Corpus, dbs: FreshDatabase[], concurrency: number): Promise<number> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'vpcm-bench-rollout-'));
  try {
    const targets = path.join(dir, 'targets.json');
    await writeFile(targets, JSON.stringify({ targets: dbs.map((d) => ({ name: d.name, databaseUrl: d.url })) }));
    const run = await runProcess(
      process.execPath,
      [
        BIN,
        'deploy',
        '--local',
        '--targets',
        targets,
        '--concurrency',
        String(concurrency),
        '--migrations',
        corpus.dir,
        '--report',
        path.join(dir, 'report.json'),
      ],
      userEnv({ CI: 'true' }),
    );
    expectSuccess(run, `rollout of ${corpus.name} to ${dbs.length} databases`);
    await expectAllApplied(dbs, corpus.migrations);
    return run.wallMs;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Every database holds `migrations` finished ledger rows, one per name. */
async function expectAllApplied(dbs: FreshDatabase[], migrations: number): Promise<void> {
  for (const db of dbs) {
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      const { rows } = await client.query<{ rows: number; names: number }>(
        `SELECT count(*)::int AS rows, count(DISTINCT migration_name)::int AS names
           FROM _prisma_migrations WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL`,
      );
      const r = rows[0]!;
      if (r.rows !== migrations || r.names !== migrations)
        throw new Error(`${db.name}: ${r.rows} finished rows for ${r.names} names, expected ${migrations} each`);
    } finally {
      await client.end();
    }
  }
}

/** Warm-up pairs first (not recorded), then `rounds` pairs, the order alternating. */
export async function benchRollout(
  server: Server,
  corpus: Corpus,
  psql: string,
  opts: RolloutOptions,
  log: (s: string) => void,
): Promise<RolloutFigures> {
  const pairs: RolloutPair[] = [];
  for (let i = 0; i < opts.warmup + opts.rounds; i++) {
    const rolloutFirst = aFirstIn(Math.max(0, i - opts.warmup));
    const forRollout = await freshDatabases(server, 'rollout', opts.databases);
    const forFloor = await freshDatabases(server, 'rfloor', opts.databases);
    try {
      const load = load1();
      let rolloutMs = 0;
      let floorMs = 0;
      if (rolloutFirst) {
        rolloutMs = await rolloutRun(corpus, forRollout, opts.concurrency);
        floorMs = await floorRun(psql, corpus, forFloor, opts.concurrency);
      } else {
        floorMs = await floorRun(psql, corpus, forFloor, opts.concurrency);
        rolloutMs = await rolloutRun(corpus, forRollout, opts.concurrency);
      }
      const warm = i < opts.warmup;
      log(
        `  ${warm ? `warm-up ${i + 1}/${opts.warmup}` : `pair ${i - opts.warmup + 1}/${opts.rounds}`} ` +
          `(${rolloutFirst ? 'rollout' : 'floor'} first, load ${load.toFixed(2)}): rollout ` +
          `${(rolloutMs / 1000).toFixed(2)} s, floor ${(floorMs / 1000).toFixed(2)} s → ` +
          `${(rolloutMs / floorMs).toFixed(2)}×`,
      );
      if (!warm) pairs.push({ load, rolloutFirst, rolloutMs, floorMs });
    } finally {
      for (const db of [...forRollout, ...forFloor]) await db.drop();
    }
  }
  return {
    corpus: corpus.name,
    migrations: corpus.migrations,
    databases: opts.databases,
    concurrency: opts.concurrency,
    pairs,
  };
}
