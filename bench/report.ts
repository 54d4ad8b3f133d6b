/**
 * bench/results.md from one run's figures: the machine and its load, the goals of issue 26, per
 * corpus the pairs (load, order, deploy, floor, ratio, status), medians and the median of the
 * per-pair ratios, Prisma beside them, the worker's own figures, and the time split of one deploy
 * (with an earlier split beside it when there is one). Pure: it formats, it measures nothing.
 */
import os from 'node:os';
import { BUNDLE_GOAL_BYTES } from '../scripts/bundle-size.js';
import type { Split } from '../scripts/core/timings.js';
import type { Corpus } from './corpus.js';
import type { BundleFigures } from './measure-worker.js';
import { ROLLOUT_GOAL, type RolloutFigures } from './rollout.js';
import type { Server } from './server.js';
import { describeSplit, renderSplitTable } from './split.js';
import { kb, median, ms, pairedRatios, ratio, stat } from './stats.js';

/** No-op `status --local` on the fully applied history, whole process (issue 26, acceptance 2). */
export const STATUS_GOAL_MS = 300;
/** Drift of the 820-migration history at most this many times its deploy (issue 28, acceptance 5). */
export const DRIFT_GOAL = 1.5;

export interface PairFigures {
  /** 1-min load average when the pair started. */
  load: number;
  deployFirst: boolean;
  deployMs: number;
  floorMs: number;
  statusMs: number;
  /** `drift --local` on deploy's database, whole process (issue 28: at most DRIFT_GOAL × the deploy). */
  driftMs: number;
  /** The same deploy with the parse cache off (VPC_MIGRATE_CACHE=0), after the pair. */
  coldDeployMs: number;
}

export interface CorpusFigures {
  corpus: Corpus;
  pairs: PairFigures[];
  prisma?: { ms: number; load: number };
  coldInitMs: number[];
  rss: { maxRssKB: number; applied: number }[];
}

export interface RunInfo {
  started: Date;
  durationMs: number;
  loadStart: number[];
  loadEnd: number[];
  server: Server;
  psql: string;
  nodeStartMs: number[];
  bundle: BundleFigures;
  rounds: number;
  warmup: number;
  all: CorpusFigures[];
  split: Split;
  splitFile: string;
  /** Issue 27's rollout benchmark, unless `--no-rollout`. */
  rollout?: RolloutFigures;
  before?: Split;
  beforeFile?: string;
}

const mark = (met: boolean) => (met ? '✅ met' : '❌ missed');
const loads = (xs: number[]) => xs.map((x) => x.toFixed(2)).join(' / ');

export function deployRatio(f: CorpusFigures): number {
  return pairedRatios(f.pairs.map((p) => ({ a: p.deployMs, b: p.floorMs, aFirst: p.deployFirst }))).median;
}

function goalRows(info: RunInfo): string[] {
  const rows = ['| goal | figure | |', '|---|---:|---|'];
  for (const f of info.all) {
    if (f.corpus.goal === undefined) continue;
    const r = deployRatio(f);
    rows.push(
      `| ${f.corpus.name} (${f.corpus.migrations}): deploy ≤ ${f.corpus.goal}× the psql floor ` +
        `(median of per-pair ratios) | ${ratio(r)} | ${mark(r <= f.corpus.goal)} |`,
    );
  }
  // The status goal is stated for the 820-migration history; the others are shown for scale.
  for (const f of info.all) {
    const s = median(f.pairs.map((p) => p.statusMs));
    rows.push(
      f.corpus.statusGoal
        ? `| ${f.corpus.name} (${f.corpus.migrations}): no-op status ≤ ${ms(STATUS_GOAL_MS)}, whole process ` +
            `| ${ms(s)} | ${mark(s <= STATUS_GOAL_MS)} |`
        : `| ${f.corpus.name} (${f.corpus.migrations}): no-op status, whole process (for scale) | ${ms(s)} | |`,
    );
  }
  // Drift rebuilds the history once more: judged against the same pair's deploy, on the status goal's corpus.
  for (const f of info.all) {
    const d = median(f.pairs.map((p) => p.driftMs / p.deployMs));
    rows.push(
      f.corpus.statusGoal
        ? `| ${f.corpus.name} (${f.corpus.migrations}): drift ≤ ${DRIFT_GOAL}× the deploy (median of per-pair ` +
            `ratios, issue 28) | ${ratio(d)} | ${mark(d <= DRIFT_GOAL)} |`
        : `| ${f.corpus.name} (${f.corpus.migrations}): drift ÷ deploy (for scale) | ${ratio(d)} | |`,
    );
  }
  rows.push(
    `| worker bundle ≤ ${kb(BUNDLE_GOAL_BYTES)} (minified) | ${kb(info.bundle.bytes)} | ` +
      `${mark(info.bundle.bytes <= BUNDLE_GOAL_BYTES)} |`,
  );
  if (info.rollout) {
    const r = rolloutRatio(info.rollout);
    rows.push(
      `| rollout of ${info.rollout.corpus} to ${info.rollout.databases} databases at concurrency ` +
        `${info.rollout.concurrency} ≤ ${ROLLOUT_GOAL}× ${info.rollout.concurrency} parallel psql sessions ` +
        '(issue 27) ' +
        `| ${ratio(r)} | ${mark(r <= ROLLOUT_GOAL)} |`,
    );
  }
  return rows;
}

const rolloutRatio = (f: RolloutFigures) =>
  pairedRatios(f.pairs.map((p) => ({ a: p.rolloutMs, b: p.floorMs, aFirst: p.rolloutFirst }))).median;

function rolloutSection(f: RolloutFigures): string[] {
  const L: string[] = [`## Rollout: ${f.corpus} to ${f.databases} databases (issue 27)`, ''];
  L.push(
    `\`deploy --targets FILE --local --concurrency ${f.concurrency}\` (${f.databases} fresh databases, ` +
      `${f.migrations} migrations each, one local worker selecting each database by name), whole process, ` +
      `paired with the floor: ${f.concurrency} psql sessions at once, each applying the same files to the ` +
      `next of ${f.databases} fresh databases (bench/rollout.ts). Every rollout ledger is checked afterwards.`,
    '',
  );
  L.push('| pair | order | load (1 min) | rollout | floor | rollout ÷ floor |', '|---:|---|---:|---:|---:|---:|');
  f.pairs.forEach((p, i) => {
    L.push(
      `| ${i + 1} | ${p.rolloutFirst ? 'rollout, floor' : 'floor, rollout'} | ${p.load.toFixed(2)} ` +
        `| ${ms(p.rolloutMs)} | ${ms(p.floorMs)} | ${ratio(p.rolloutMs / p.floorMs)} |`,
    );
  });
  const ro = stat(f.pairs.map((p) => p.rolloutMs));
  const fl = stat(f.pairs.map((p) => p.floorMs));
  L.push(
    `| **median** | | ${median(f.pairs.map((p) => p.load)).toFixed(2)} | **${ms(ro.median)}** ` +
      `| **${ms(fl.median)}** | **${ratio(rolloutRatio(f))}** (median of the ratios) |`,
    '',
  );
  return L;
}

function corpusSection(f: CorpusFigures): string[] {
  const c = f.corpus;
  const L: string[] = [`## ${c.name}`, ''];
  L.push(
    `${c.migrations} migrations, ${kb(c.sqlBytes)} of SQL; largest file ${c.largest.name} ` +
      `(${kb(c.largest.bytes)}); deploy sends ${c.batches} apply batch(es).`,
    '',
  );
  L.push(
    '| pair | order | load (1 min) | deploy | floor | deploy ÷ floor | no-op status | drift | ÷ deploy ' +
      '| deploy, cache off | ÷ floor |',
  );
  L.push('|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  f.pairs.forEach((p, i) => {
    L.push(
      `| ${i + 1} | ${p.deployFirst ? 'deploy, floor' : 'floor, deploy'} | ${p.load.toFixed(2)} | ${ms(p.deployMs)} ` +
        `| ${ms(p.floorMs)} | ${ratio(p.deployMs / p.floorMs)} | ${ms(p.statusMs)} | ${ms(p.driftMs)} ` +
        `| ${ratio(p.driftMs / p.deployMs)} | ${ms(p.coldDeployMs)} ` +
        `| ${ratio(p.coldDeployMs / p.floorMs)} |`,
    );
  });
  const d = stat(f.pairs.map((p) => p.deployMs));
  const fl = stat(f.pairs.map((p) => p.floorMs));
  const st = stat(f.pairs.map((p) => p.statusMs));
  const dr = stat(f.pairs.map((p) => p.driftMs));
  const drr = median(f.pairs.map((p) => p.driftMs / p.deployMs));
  const cd = stat(f.pairs.map((p) => p.coldDeployMs));
  const cr = median(f.pairs.map((p) => p.coldDeployMs / p.floorMs));
  const r = pairedRatios(f.pairs.map((p) => ({ a: p.deployMs, b: p.floorMs, aFirst: p.deployFirst })));
  L.push(
    `| **median** | | ${median(f.pairs.map((p) => p.load)).toFixed(2)} | **${ms(d.median)}** | **${ms(fl.median)}** ` +
      `| **${ratio(r.median)}** (median of the ratios; ratio of the medians ${ratio(d.median / fl.median)}) ` +
      `| **${ms(st.median)}** | **${ms(dr.median)}** | **${ratio(drr)}** | **${ms(cd.median)}** | **${ratio(cr)}** |`,
  );
  L.push(
    `| min – max | | | ${ms(d.min)} – ${ms(d.max)} | ${ms(fl.min)} – ${ms(fl.max)} ` +
      `| ${ratio(Math.min(...r.ratios))} – ${ratio(Math.max(...r.ratios))} | ${ms(st.min)} – ${ms(st.max)} ` +
      `| ${ms(dr.min)} – ${ms(dr.max)} | | ${ms(cd.min)} – ${ms(cd.max)} | |`,
  );
  L.push('');
  const extra: string[] = [];
  if (f.prisma)
    extra.push(
      `Prisma 6.19.3's own \`migrate deploy\` (once, load ${f.prisma.load.toFixed(2)}): ${ms(f.prisma.ms)}, ` +
        `${ratio(f.prisma.ms / fl.median)} the floor's median; vpc-migrate's deploy median is ` +
        `${ratio(d.median / f.prisma.ms)} of it.`,
    );
  const rss = f.rss[0];
  extra.push(
    `Worker on its own (the deployed bundle in a fresh \`node\`): cold init (import + first \`ledger\` event) ` +
      `median ${ms(median(f.coldInitMs))} of ${f.coldInitMs.length}; peak RSS ` +
      `${rss ? `${(rss.maxRssKB / 1024).toFixed(1)} MB applying ${rss.applied} migrations in one event` : '–'} ` +
      `(${kb(c.eventBytes)}).`,
  );
  L.push(...extra, '');
  return L;
}

export function render(info: RunInfo): string {
  const L: string[] = ['# vpc-migrate benchmarks', ''];
  L.push(
    `Generated by \`pnpm bench\` (bench/run.ts) on ${info.started.toISOString()} in ${ms(info.durationMs)}. ` +
      `The user's path: the bin (\`node scripts/run-cli.mjs deploy --local\`, DATABASE_URL = a fresh database) ` +
      `as a whole process, spawn to exit, paired with the floor (one psql session, \`\\i\` each file, ` +
      `autocommit) on a fresh database of its own; ${info.rounds} pair(s) per corpus after ${info.warmup} ` +
      `warm-up pair(s), the order alternating (deploy first, then floor first). The goals are judged on ` +
      `the median of the per-pair ratios. No-op status: \`status --local\` on deploy's database, applied, ` +
      `whole process. The deploy column runs with the parse cache (node_modules/.cache/vpc-migrate) as a ` +
      `user's repeated runs have it, filled by the warm-up; "cache off" is the same deploy with ` +
      `VPC_MIGRATE_CACHE=0, a fresh checkout's first run. Never asserted in tests.`,
    '',
  );
  const cpus = os.cpus();
  L.push('## Machine', '');
  L.push(
    `- CPU: ${cpus[0]?.model.trim() ?? 'unknown'}, ${cpus.length} logical core(s); RAM ` +
      `${(os.totalmem() / 2 ** 30).toFixed(1)} GiB; ${os.type()} ${os.release()}; Node ${process.version}`,
  );
  const pairLoads = stat(info.all.flatMap((f) => f.pairs.map((p) => p.load)));
  L.push(
    `- Load average (1/5/15 min): ${loads(info.loadStart)} at start, ${loads(info.loadEnd)} at end; ` +
      `1-min at the start of each pair: median ${pairLoads.median.toFixed(2)}, ` +
      `${pairLoads.min.toFixed(2)} – ${pairLoads.max.toFixed(2)} (per pair in the tables below)`,
  );
  L.push(`- PostgreSQL: ${info.server.version} (${info.server.source}); ${info.server.settings}`);
  L.push(`- Floor client: ${info.psql}`);
  L.push(`- \`node -e 0\` (Node's own start, for scale): median ${ms(median(info.nodeStartMs))}`, '');
  L.push('## Goals (issues 26, 27 and 28)', '', ...goalRows(info), '');
  for (const f of info.all) L.push(...corpusSection(f));
  if (info.rollout) L.push(...rolloutSection(info.rollout));
  L.push('## Time split of one deploy', '');
  L.push(
    `\`VPC_MIGRATE_TIMINGS=<file>\` (scripts/core/timings.ts, lambda/timings.ts) on the user's path: ` +
      `${describeSplit(info.split)}; of ${'`'}--split-runs${'`'} deploys, the one with the median total ` +
      `(${info.splitFile}). Each moment counts once, for one stage (Invokes first where stages overlap); ` +
      `the worker's parts come from its own clock (apply answers carry them when asked).`,
    '',
  );
  // Before and after side by side only for the same history; another corpus's split is no "before".
  if (info.before && info.before.corpus === info.split.corpus) {
    L.push(`Before: ${describeSplit(info.before)} (${info.beforeFile}). After: this run.`, '');
    L.push(...renderSplitTable(info.split, info.before), '');
  } else {
    L.push(...renderSplitTable(info.split), '');
    if (info.before)
      L.push(`(${info.beforeFile} is a split of ${info.before.corpus ?? 'another corpus'}: not compared.)`, '');
  }
  L.push('## Worker bundle', '');
  L.push(
    `infra/bundling.ts's esbuild options (as deployed): ${kb(info.bundle.bytes)} minified, ` +
      `${kb(info.bundle.gzipBytes)} gzipped (goal ≤ ${kb(BUNDLE_GOAL_BYTES)}). Largest contributors:`,
    '',
  );
  L.push('| bytes in bundle | input |', '|---:|---|');
  for (const t of info.bundle.topInputs) L.push(`| ${kb(t.bytes)} | ${t.input} |`);
  L.push('');
  return L.join('\n');
}
