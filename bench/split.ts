/**
 * `pnpm bench --split FILE`: the time split of one deploy on the user's path (the bin, --local,
 * a fresh database), as `VPC_MIGRATE_TIMINGS=<file>` writes it (scripts/core/timings.ts). Taken
 * `runs` times; the run with the median total is kept, so one disturbed run does not stand for
 * the version. `--before FILE` puts an earlier split (bench/split-before.json: main before the
 * speed work) beside it in bench/results.md.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { type Split, type SplitRow, splitRows } from '../scripts/core/timings.js';
import type { Corpus } from './corpus.js';
import { freshDatabase, type Server } from './server.js';
import { ms } from './stats.js';
import { expectSuccess, runBin } from './user-path.js';

/** Deploys `corpus` `runs` times with VPC_MIGRATE_TIMINGS and returns the split of the median run. */
export async function measureSplit(
  server: Server,
  corpus: Corpus,
  runs: number,
  log: (s: string) => void,
): Promise<Split> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'vpcm-split-'));
  const splits: Split[] = [];
  try {
    for (let i = 0; i < runs; i++) {
      const file = path.join(dir, `split-${i}.json`);
      const db = await freshDatabase(server, 'split');
      try {
        const load = os.loadavg();
        const run = await runBin('deploy', corpus.dir, db.url, { VPC_MIGRATE_TIMINGS: file });
        expectSuccess(run, `deploy of ${corpus.name} with VPC_MIGRATE_TIMINGS`);
        const split = JSON.parse(await readFile(file, 'utf8')) as Split;
        splits.push({ ...split, corpus: corpus.name, load: load.map((x) => Math.round(x * 100) / 100) });
        log(`  split ${i + 1}/${runs}: total ${ms(split.totalMs)} (load ${load[0]!.toFixed(2)})`);
      } finally {
        await db.drop();
      }
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  const sorted = [...splits].sort((a, b) => a.totalMs - b.totalMs);
  return sorted[(sorted.length - 1) >> 1]!;
}

export async function writeSplit(file: string, split: Split): Promise<void> {
  await writeFile(file, `${JSON.stringify(split, null, 2)}\n`);
}

export async function readSplit(file: string): Promise<Split> {
  const split = JSON.parse(await readFile(file, 'utf8')) as Split;
  if (split.version !== 1 || !Array.isArray(split.stages)) throw new Error(`${file} is not a split (version 1)`);
  return split;
}

/** A time, and the stage's own wall time where it overlapped others (discovery beside the ledger Invoke). */
function cell(r: SplitRow | undefined): string {
  if (r === undefined) return '–';
  const wall = r.busyMs !== undefined ? ` (${ms(r.busyMs)} wall)` : '';
  return `${ms(r.ms)}${wall}${r.count !== undefined ? ` (${r.count})` : ''}`;
}

/** The split as a markdown table; with `before`, side by side with the change. */
export function renderSplitTable(after: Split, before?: Split): string[] {
  const a = splitRows(after);
  const b = before ? splitRows(before) : [];
  const keys = [...new Set([...b.map((r) => r.key), ...a.map((r) => r.key)])];
  const order = (k: string) => {
    const i = a.findIndex((r) => r.key === k);
    return i >= 0 ? i : b.findIndex((r) => r.key === k) + 0.5;
  };
  keys.sort((x, y) => order(x) - order(y));
  const lines: string[] = [];
  if (before) lines.push('| stage | before | after | change |', '|---|---:|---:|---:|');
  else lines.push('| stage | time | share |', '|---|---:|---:|');
  for (const key of keys) {
    const ra = a.find((r) => r.key === key);
    const rb = b.find((r) => r.key === key);
    const row = ra ?? rb!;
    const label = (row.part ? '— ' : '') + row.label.trim().replace(/\|/g, '\\|');
    const strong = key === 'total' ? (s: string) => `**${s}**` : (s: string) => s;
    if (before) {
      const d = ra && rb ? ra.ms - rb.ms : undefined;
      const change = d === undefined ? '' : `${d > 0 ? '+' : d < 0 ? '−' : ''}${ms(Math.abs(d))}`;
      lines.push(`| ${strong(label)} | ${cell(rb)} | ${strong(cell(ra))} | ${change} |`);
    } else {
      const share = key === 'cpu' || row.part ? '' : `${((100 * row.ms) / after.totalMs).toFixed(0)}%`;
      lines.push(`| ${strong(label)} | ${strong(cell(row))} | ${share} |`);
    }
  }
  return lines;
}

/** One line on where and when a split was taken. */
export function describeSplit(s: Split): string {
  return (
    `${s.corpus ?? 'deploy'} on ${s.at.slice(0, 16).replace('T', ' ')} UTC` +
    `${s.load ? `, load ${s.load.map((x) => x.toFixed(2)).join(' / ')}` : ''}`
  );
}
