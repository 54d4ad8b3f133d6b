/**
 * `pnpm bench`: issue 26's figures, measured on the user's path, in one run (docs/benchmarks.md).
 *
 * For each corpus (default trigger.dev and documenso, bench/corpus.ts), on the PostgreSQL of
 * 127.0.0.1:5432 (else the embedded one, bench/server.ts), `--rounds` pairs (default 5) after
 * `--warmup` unrecorded ones, each side on a fresh database, the order alternating A B, B A:
 *   deploy   the bin, `node scripts/run-cli.mjs deploy --local`, DATABASE_URL = the database,
 *            as a whole process (bench/user-path.ts);
 *   floor    one psql session applying the same files, `\i` each, autocommit (bench/floor.ts);
 * then a no-op `status --local` and `drift --local` (issue 28) on the database deploy filled, and a
 * deploy with the parse cache off (VPC_MIGRATE_CACHE=0: a fresh checkout's first run), set against
 * the same pair's floor. The
 * machine's load is recorded per pair. Medians, the median of the per-pair ratios (what the goals
 * are judged on), Prisma's own `migrate deploy` once per corpus (`--no-prisma` skips it), the
 * worker bundle's size and its cold init and peak RSS (bench/measure-worker.ts), and the time split
 * of one deploy (`--split`, bench/split.ts) beside an earlier one (`--before`). Writes
 * bench/results.md (bench/report.ts). Then issue 27's rollout benchmark (bench/rollout.ts) unless `--no-rollout`.
 * Timings are never asserted anywhere: this is a report.
 */
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { REPO_ROOT } from '../infra/bundling.js';
import { prismaAvailable, prismaMigrateDeploy } from '../test/helpers/prisma-judge.js';
import { type Corpus, corpusDirs, prepareCorpus } from './corpus.js';
import { findPsql, psqlVersion, runFloor } from './floor.js';
import { BENCH_DIR, buildWorkerBundle, probeWorker } from './measure-worker.js';
import { type CorpusFigures, type PairFigures, render } from './report.js';
import { benchRollout, type RolloutFigures } from './rollout.js';
import { dropLeftovers, freshDatabase, type Server, startServer } from './server.js';
import { measureSplit, readSplit, writeSplit } from './split.js';
import { aFirstIn, kb, ms, ratio } from './stats.js';
import { BIN, expectSuccess, nodeStartMs, runBin, runProcess, userEnv } from './user-path.js';

const HELP = `pnpm bench [--corpus NAME|DIR]... [--rounds N] [--warmup N] [--out FILE]
           [--split FILE] [--split-runs N] [--split-only] [--before FILE] [--no-prisma] [--embedded]
  --corpus X     trigger.dev, documenso, or a Prisma migrations folder; repeatable (default: the first two)
  --rounds N     measured deploy/floor pairs per corpus, order alternating (default 5)
  --warmup N     unrecorded pairs first (default 1)
  --out FILE     the report (default bench/results.md)
  --split FILE   where the time split of one deploy of the first corpus goes (default bench/split.json)
  --split-runs N deploys with VPC_MIGRATE_TIMINGS; the one with the median total is kept (default 3)
  --split-only   only the split: no pairs, no report
  --before FILE  an earlier split shown beside it (default bench/split-before.json when it exists)
  --no-prisma    skip Prisma's own migrate deploy
  --embedded     the embedded PostgreSQL even when 127.0.0.1:5432 answers
  --rollout-databases N  databases of the rollout benchmark (default 50; documenso's history)
  --rollout-concurrency N  its concurrency, and the floor's parallel psql sessions (default 4)
  --rollout-rounds N     its rollout/floor pairs, after one warm-up pair (default 3)
  --no-rollout   skip the rollout benchmark
`;

const { values } = parseArgs({
  options: {
    corpus: { type: 'string', multiple: true },
    rounds: { type: 'string', default: '5' },
    warmup: { type: 'string', default: '1' },
    out: { type: 'string', default: path.join(REPO_ROOT, 'bench', 'results.md') },
    split: { type: 'string', default: path.join(REPO_ROOT, 'bench', 'split.json') },
    'split-runs': { type: 'string', default: '3' },
    'split-only': { type: 'boolean' },
    before: { type: 'string' },
    'no-prisma': { type: 'boolean' },
    embedded: { type: 'boolean' },
    'rollout-databases': { type: 'string', default: '50' },
    'rollout-concurrency': { type: 'string', default: '4' },
    'rollout-rounds': { type: 'string', default: '3' },
    'no-rollout': { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  },
  strict: true,
});

function count(v: string | undefined, name: string, min: number): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer ≥ ${min}`);
  return n;
}

const log = (s: string) => process.stderr.write(`${s}\n`);
const load1 = () => Math.round(os.loadavg()[0]! * 100) / 100;

/** One pair: deploy and floor on fresh databases, in the order given; then status on deploy's database. */
async function pair(server: Server, corpus: Corpus, psql: string, deployFirst: boolean): Promise<PairFigures> {
  const load = load1();
  const dbDeploy = await freshDatabase(server, 'deploy');
  const dbFloor = await freshDatabase(server, 'floor');
  const dbCold = await freshDatabase(server, 'cold');
  try {
    let deployMs = Number.NaN;
    let floorMs = Number.NaN;
    const deploy = async () => {
      const run = await runBin('deploy', corpus.dir, dbDeploy.url);
      expectSuccess(run, `deploy of ${corpus.name}`);
      if (!/Applied \d+ migration\(s\)\. Verified/.test(run.stdout))
        throw new Error(`deploy of ${corpus.name} did not verify:\n${run.stdout.slice(-2000)}`);
      deployMs = run.wallMs;
    };
    const floor = async () => {
      floorMs = await runFloor(psql, dbFloor.url, corpus.floorScript);
    };
    if (deployFirst) {
      await deploy();
      await floor();
    } else {
      await floor();
      await deploy();
    }
    const status = await runBin('status', corpus.dir, dbDeploy.url);
    expectSuccess(status, `status on ${corpus.name}`);
    // Issue 28: drift rebuilds the applied history in a scratch database and compares; no drift expected.
    const drift = await runBin('drift', corpus.dir, dbDeploy.url);
    expectSuccess(drift, `drift on ${corpus.name}`);
    // A first deploy from a fresh checkout has no parse cache: the same deploy with it turned off.
    const cold = await runBin('deploy', corpus.dir, dbCold.url, { VPC_MIGRATE_CACHE: '0' });
    expectSuccess(cold, `deploy of ${corpus.name} without the parse cache`);
    return {
      load,
      deployFirst,
      deployMs,
      floorMs,
      statusMs: status.wallMs,
      driftMs: drift.wallMs,
      coldDeployMs: cold.wallMs,
    };
  } finally {
    await dbDeploy.drop();
    await dbFloor.drop();
    await dbCold.drop();
  }
}

async function benchCorpus(
  server: Server,
  corpus: Corpus,
  psql: string,
  bundleFile: string,
  rounds: number,
  warmup: number,
): Promise<CorpusFigures> {
  const pairs: PairFigures[] = [];
  for (let i = 0; i < warmup + rounds; i++) {
    const measured = i >= warmup;
    // A B A B: deploy first in even pairs, the floor first in odd ones.
    const p = await pair(server, corpus, psql, aFirstIn(i - warmup));
    if (measured) pairs.push(p);
    log(
      `  ${measured ? `pair ${i - warmup + 1}/${rounds}` : `warm-up ${i + 1}/${warmup}`} ` +
        `(${p.deployFirst ? 'deploy first' : 'floor first'}, load ${p.load.toFixed(2)}): deploy ${ms(p.deployMs)}, ` +
        `floor ${ms(p.floorMs)} → ${ratio(p.deployMs / p.floorMs)}; status ${ms(p.statusMs)}; ` +
        `drift ${ms(p.driftMs)} (${ratio(p.driftMs / p.deployMs)} the deploy); ` +
        `cache off ${ms(p.coldDeployMs)}`,
    );
  }
  const figures: CorpusFigures = { corpus, pairs, coldInitMs: [], rss: [] };
  if (!values['no-prisma'] && prismaAvailable()) {
    const db = await freshDatabase(server, 'prisma');
    try {
      const run = await prismaMigrateDeploy(db.url, corpus.dir, { timeoutMs: 900_000 });
      if (run.exitCode !== 0) throw new Error(`prisma migrate deploy failed: ${run.stderr.slice(-2000)}`);
      figures.prisma = { ms: run.durationMs, load: load1() };
      log(`  prisma migrate deploy ${ms(run.durationMs)}`);
    } finally {
      await db.drop();
    }
  }
  // The worker on its own: cold init (import + first `ledger` event) on an applied database, peak RSS.
  const applied = await freshDatabase(server, 'worker');
  try {
    expectSuccess(await runBin('deploy', corpus.dir, applied.url), `deploy of ${corpus.name} for the worker probes`);
    for (let i = 0; i < 3; i++) {
      const r = await probeWorker(bundleFile, applied.url);
      if (!r.ok) throw new Error(`cold-init probe: ${r.error}`);
      figures.coldInitMs.push(r.importMs + r.firstEventMs);
    }
  } finally {
    await applied.drop();
  }
  const rssDb = await freshDatabase(server, 'rss');
  try {
    const r = await probeWorker(bundleFile, rssDb.url, corpus.eventFile);
    if (!r.ok) throw new Error(`RSS probe: ${r.error}`);
    figures.rss.push({ maxRssKB: r.maxRssKB, applied: r.applied ?? 0 });
  } finally {
    await rssDb.drop();
  }
  return figures;
}

/** The rollout benchmark on documenso's history (or the last corpus given), issue 27. */
async function rolloutFigures(server: Server, corpora: Corpus[], psql: string): Promise<RolloutFigures> {
  const corpus = corpora.find((c) => c.name === 'documenso') ?? corpora[corpora.length - 1]!;
  const opts = {
    databases: count(values['rollout-databases'], 'rollout-databases', 1),
    concurrency: count(values['rollout-concurrency'], 'rollout-concurrency', 1),
    rounds: count(values['rollout-rounds'], 'rollout-rounds', 1),
    warmup: 1,
  };
  log(`bench: rollout of ${corpus.name} to ${opts.databases} databases at concurrency ${opts.concurrency}`);
  return benchRollout(server, corpus, psql, opts, log);
}

async function main(): Promise<void> {
  if (values.help) {
    process.stdout.write(HELP);
    return;
  }
  const rounds = count(values.rounds, 'rounds', 1);
  const warmup = count(values.warmup, 'warmup', 0);
  const splitRuns = count(values['split-runs'], 'split-runs', 1);
  const beforeFile = values.before ?? path.join(REPO_ROOT, 'bench', 'split-before.json');
  const started = new Date();
  const t0 = performance.now();
  const loadStart = os.loadavg();
  await mkdir(BENCH_DIR, { recursive: true });
  const server = await startServer({ embedded: values.embedded === true });
  log(`bench: ${server.version} (${server.source}); load ${loadStart.map((x) => x.toFixed(2)).join(' ')}`);
  try {
    const dirs = corpusDirs(values.corpus ?? []);
    // The launcher builds dist/cli.mjs when its sources changed: once here, outside every timing.
    const corpora: Corpus[] = [];
    for (const d of dirs) corpora.push(await prepareCorpus(d));
    expectSuccess(await runProcess(process.execPath, [BIN, '--help'], userEnv({})), 'a first --help (builds the CLI)');
    log(`bench: split of one deploy of ${corpora[0]!.name} (${splitRuns} run(s))`);
    const split = await measureSplit(server, corpora[0]!, splitRuns, log);
    await writeSplit(values.split!, split);
    log(`bench: wrote ${path.relative(process.cwd(), values.split!)}`);
    if (values['split-only']) return;
    const psql = findPsql();
    if (!psql) throw new Error('psql is not on the PATH: the floor cannot be measured');
    const bundle = await buildWorkerBundle();
    log(`bench: worker bundle ${kb(bundle.bytes)}`);
    const nodeStart = await nodeStartMs();
    const all: CorpusFigures[] = [];
    for (const corpus of corpora) {
      log(`bench: ${corpus.name}, ${corpus.migrations} migrations`);
      all.push(await benchCorpus(server, corpus, psql, bundle.file, rounds, warmup));
    }
    const rollout = values['no-rollout'] ? undefined : await rolloutFigures(server, corpora, psql);
    const before = existsSync(beforeFile) ? await readSplit(beforeFile) : undefined;
    const text = render({
      started,
      durationMs: performance.now() - t0,
      loadStart,
      loadEnd: os.loadavg(),
      server,
      psql: psqlVersion(psql),
      nodeStartMs: nodeStart,
      bundle,
      rounds,
      warmup,
      all,
      split,
      splitFile: path.relative(REPO_ROOT, values.split!),
      ...(rollout ? { rollout } : {}),
      ...(before ? { before, beforeFile: path.relative(REPO_ROOT, beforeFile) } : {}),
    });
    await writeFile(values.out!, text);
    log(`bench: wrote ${path.relative(process.cwd(), values.out!)}`);
    process.stdout.write(text);
  } finally {
    await dropLeftovers();
    await server.stop();
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`bench failed: ${(error as Error)?.stack ?? String(error)}\n`);
    process.exit(1);
  },
);
