/**
 * The CLI's half of the time split (docs/benchmarks.md): `VPC_MIGRATE_TIMINGS=1` prints where one
 * command's time went on stderr when it ends; `VPC_MIGRATE_TIMINGS=<path>` writes it there as JSON
 * (`pnpm bench --split` reads it). Unset, nothing is measured and nothing is printed.
 *
 * Call sites stay thin: `timed(stage, fn)` around a step, `noteInvoke` in the transport. Steps may
 * run side by side (discovery while the ledger is read), so the split gives each moment to ONE
 * stage, the first of STAGE_ORDER in flight: the stages' times then add up to at most the total,
 * and what no stage covers is `other` (argument parsing, rendering, the event loop). Each stage
 * also keeps its own wall time (`busyMs`), overlaps included.
 */
import { writeFileSync } from 'node:fs';
import type { WorkerTimings } from '../../lambda/contract/index.js';

/** Stages in the order they are shown; also who wins a moment when several are in flight (Invokes first). */
export const STAGE_ORDER = ['invoke', 'verify', 'lint', 'split', 'parser', 'discovery', 'endpoint'] as const;
export type Stage = (typeof STAGE_ORDER)[number];

export const STAGE_LABELS: Record<string, string> = {
  start: 'process start → CLI main (Node, launcher, bundle load)',
  endpoint: 'local worker: Invoke endpoint (and database) start',
  discovery: 'discovery + checksums',
  parser: 'SQL parser load (libpg-query WASM)',
  lint: 'lint of pending migrations',
  split: 'statement splitting → payloads',
  invoke: 'Invokes (see below)',
  verify: 'verification (the ledger after the last batch)',
  other: 'other (arguments, planning, rendering, exit)',
};

/** One Invoke as the client saw it; `worker` only for an apply that asked for timings. */
export interface InvokeTiming {
  n: number;
  action: string;
  /** Stage in flight when it was sent (`verify` for the ledger read after applying). */
  during?: string;
  migrations?: number;
  requestBytes: number;
  /** JSON.stringify of the event. */
  encodeMs: number;
  /** SDK send → answer (signing, HTTP, the endpoint, the worker). */
  roundTripMs: number;
  /** JSON.parse of the answer and its schema check. */
  decodeMs: number;
  /** Round trip minus the worker's handler time (with `worker`): SDK, HTTP, endpoint, JSON of the body. */
  wireMs?: number;
  worker?: WorkerTimings;
}

export interface StageTiming {
  stage: string;
  label: string;
  /** This stage's share of the wall time (no moment counted twice). */
  ms: number;
  /** Wall time while the stage was in flight, overlaps with other stages included. */
  busyMs: number;
}

/** What VPC_MIGRATE_TIMINGS=<path> writes (`version` changes when fields change meaning). */
export interface Split {
  version: 1;
  /** Added by `pnpm bench --split`: the corpus and the 1/5/15-min load average when it ran. */
  corpus?: string;
  load?: number[];
  command: string;
  at: string;
  /** Process start → the split was taken (end of the command). */
  totalMs: number;
  cpu: { userMs: number; systemMs: number };
  /** `start`, then STAGE_ORDER's stages that ran, then `other`: they add up to `totalMs`. */
  stages: StageTiming[];
  invokes: InvokeTiming[];
}

export interface Interval {
  stage: string;
  start: number;
  end: number;
}

/**
 * Each moment of [from, to] to the first stage of `order` in flight then. Returns each stage's
 * share and its own busy time (union of its intervals).
 */
export function shares(
  intervals: readonly Interval[],
  order: readonly string[],
  from: number,
  to: number,
): Map<string, { ms: number; busyMs: number }> {
  const points = [...new Set([from, to, ...intervals.flatMap((i) => [i.start, i.end])])]
    .filter((t) => t >= from && t <= to)
    .sort((a, b) => a - b);
  const out = new Map<string, { ms: number; busyMs: number }>();
  for (let i = 0; i + 1 < points.length; i++) {
    const a = points[i]!;
    const b = points[i + 1]!;
    const live = new Set(intervals.filter((x) => x.start <= a && x.end >= b).map((x) => x.stage));
    for (const stage of live) {
      const s = out.get(stage) ?? { ms: 0, busyMs: 0 };
      s.busyMs += b - a;
      out.set(stage, s);
    }
    const owner = order.find((s) => live.has(s));
    if (owner) out.get(owner)!.ms += b - a;
  }
  return out;
}

/** Down to 0.1 ms, so rounded parts never add up to more than the (rounded up) total. */
const floor1 = (x: number) => Math.floor(x * 10) / 10;
const ceil1 = (x: number) => Math.ceil(x * 10) / 10;

/** The split from what was recorded: times relative to process start (ms). */
export function buildSplit(rec: {
  command: string;
  at: Date;
  mainAt: number;
  endAt: number;
  intervals: readonly Interval[];
  invokes: readonly InvokeTiming[];
  cpu: NodeJS.CpuUsage;
}): Split {
  const got = shares(rec.intervals, STAGE_ORDER, rec.mainAt, rec.endAt);
  const stages: StageTiming[] = [{ stage: 'start', label: STAGE_LABELS.start!, ms: floor1(rec.mainAt), busyMs: 0 }];
  stages[0]!.busyMs = stages[0]!.ms;
  for (const stage of STAGE_ORDER) {
    const s = got.get(stage);
    if (s) stages.push({ stage, label: STAGE_LABELS[stage]!, ms: floor1(s.ms), busyMs: floor1(s.busyMs) });
  }
  const totalMs = ceil1(rec.endAt);
  const covered = stages.reduce((n, s) => n + s.ms, 0);
  const other = floor1(Math.max(0, totalMs - covered));
  stages.push({ stage: 'other', label: STAGE_LABELS.other!, ms: other, busyMs: other });
  return {
    version: 1,
    command: rec.command,
    at: rec.at.toISOString(),
    totalMs,
    cpu: { userMs: Math.round(rec.cpu.user / 1000), systemMs: Math.round(rec.cpu.system / 1000) },
    stages,
    invokes: rec.invokes.map((i) => ({ ...i })),
  };
}

const fmt = (ms: number | undefined) =>
  ms === undefined ? '–' : ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(1)} ms`;
const pct = (ms: number, total: number) => (total > 0 ? `${((100 * ms) / total).toFixed(0)}%` : '');

/** The parts of one Invoke, client and worker, as table rows [label, ms]. */
export function invokeParts(i: InvokeTiming): [string, number | undefined][] {
  const w = i.worker;
  return [
    ['client encode', i.encodeMs],
    // Without the worker's own figures (a ledger read) the round trip holds the worker's time too.
    w ? ['wire (SDK, HTTP, endpoint)', i.wireMs] : ['round trip (SDK, HTTP, endpoint, worker)', i.roundTripMs],
    ...(w
      ? ([
          ['worker decode (validate, checksums)', w.decodeMs],
          ['worker connect', w.connectMs],
          ['PostgreSQL (migration statements, lock, reads)', w.postgresMs],
          [`ledger writes of their own (${w.ledgerWrites}, with their COMMIT)`, w.ledgerMs],
          ['worker other', w.otherMs],
        ] as [string, number][])
      : []),
    ['client decode + check', i.decodeMs],
  ];
}

/** The order a deploy goes through its stages: how tables show them. */
export const DISPLAY_ORDER = ['start', 'endpoint', 'discovery', 'parser', 'lint', 'split', 'invoke', 'verify', 'other'];

/** The split as an aligned text table (stderr with VPC_MIGRATE_TIMINGS=1). */
export function renderSplit(split: Split): string {
  const rows: [string, string, string, string][] = [];
  const stages = [...split.stages].sort((a, b) => DISPLAY_ORDER.indexOf(a.stage) - DISPLAY_ORDER.indexOf(b.stage));
  for (const s of stages) {
    // Wall time of its own where other stages ran at the same time (discovery beside the ledger Invoke).
    const busy = s.busyMs > s.ms + 0.5 ? `(${fmt(s.busyMs)} wall)` : '';
    rows.push([s.label, fmt(s.ms), pct(s.ms, split.totalMs), busy]);
    if (s.stage === 'invoke') rows.push(...invokeRows(split.invokes));
  }
  rows.push(['total (process start → end of command)', fmt(split.totalMs), '100%', '']);
  rows.push([
    'CPU user + sys (this process; --local: the worker too)',
    fmt(split.cpu.userMs + split.cpu.systemMs),
    '',
    '',
  ]);
  const w = Math.max(...rows.map((r) => r[0].length));
  const v = Math.max(...rows.map((r) => r[1].length));
  return [
    `vpc-migrate timings: ${split.command}`,
    ...rows.map(([a, b, c, d]) => `  ${a.padEnd(w)}  ${b.padStart(v)}  ${c.padStart(4)}  ${d}`.trimEnd()),
  ].join('\n');
}

function invokeRows(invokes: readonly InvokeTiming[]): [string, string, string, string][] {
  const rows: [string, string, string, string][] = [];
  for (const i of invokes) {
    const what = `${i.action}${i.migrations !== undefined ? ` (${i.migrations} migrations)` : ''}`;
    const total = i.encodeMs + i.roundTripMs + i.decodeMs;
    rows.push([`  Invoke ${i.n}: ${what}${i.during ? `, during ${i.during}` : ''}`, fmt(total), '', '']);
    for (const [label, ms] of invokeParts(i)) if (ms !== undefined) rows.push([`    ${label}`, fmt(ms), '', '']);
  }
  return rows;
}

/** One line of a split reduced to stable keys (bench/split.ts compares a before and an after by them). */
export interface SplitRow {
  key: string;
  label: string;
  ms: number;
  /** A stage's own wall time where it ran beside others (only when more than its share). */
  busyMs?: number;
  /** Indented under the row before it: a part of it. */
  part?: boolean;
  /** How many of what it times (ledger writes). */
  count?: number;
}

/**
 * The split as stable rows: the stages in display order, the Invokes summed by action (apply's
 * parts, client and worker, summed over its batches), the total and the CPU time. Keys do not
 * depend on how many Invokes ran, so splits of different versions line up.
 */
export function splitRows(split: Split): SplitRow[] {
  const rows: SplitRow[] = [];
  const stages = [...split.stages].sort((a, b) => DISPLAY_ORDER.indexOf(a.stage) - DISPLAY_ORDER.indexOf(b.stage));
  const sum = (xs: readonly InvokeTiming[], f: (i: InvokeTiming) => number | undefined) =>
    xs.reduce((n, i) => n + (f(i) ?? 0), 0);
  for (const s of stages) {
    rows.push({ key: s.stage, label: s.label, ms: s.ms, ...(s.busyMs > s.ms + 0.5 ? { busyMs: s.busyMs } : {}) });
    if (s.stage !== 'invoke') continue;
    const actions = [...new Set(split.invokes.map((i) => i.action))];
    for (const action of actions) {
      const of = split.invokes.filter((i) => i.action === action);
      const measured = of.filter((i) => i.worker);
      rows.push({
        key: `invoke.${action}`,
        label: `${action}: ${of.length} Invoke(s), whole (client and worker)`,
        ms: sum(of, (i) => i.encodeMs + i.roundTripMs + i.decodeMs),
        part: true,
      });
      if (measured.length === 0) continue;
      const parts: [string, string, (i: InvokeTiming) => number | undefined][] = [
        ['encode', 'client encode', (i) => i.encodeMs],
        ['wire', 'wire (SDK, HTTP, endpoint)', (i) => i.wireMs],
        ['decode', 'worker decode (validate, checksums)', (i) => i.worker?.decodeMs],
        ['connect', 'worker connect', (i) => i.worker?.connectMs],
        ['postgres', 'PostgreSQL (statements, lock, reads)', (i) => i.worker?.postgresMs],
        ['ledger', 'ledger writes of their own, with their COMMIT (how many)', (i) => i.worker?.ledgerMs],
        ['other', 'worker other', (i) => i.worker?.otherMs],
        ['client-decode', 'client decode + check', (i) => i.decodeMs],
      ];
      for (const [key, label, f] of parts) {
        const row: SplitRow = {
          key: `invoke.${action}.${key}`,
          label: `${action}: ${label}`,
          ms: sum(measured, f),
          part: true,
        };
        if (key === 'ledger') row.count = sum(measured, (i) => i.worker?.ledgerWrites);
        rows.push(row);
      }
    }
  }
  rows.push({ key: 'total', label: 'total (process start → end of command)', ms: split.totalMs });
  rows.push({
    key: 'cpu',
    label: 'CPU user + sys (CLI process; --local: the worker too)',
    ms: split.cpu.userMs + split.cpu.systemMs,
  });
  return rows;
}

// ---------------------------------------------------------------------------------------------
// The recorder of this process

const setting = process.env.VPC_MIGRATE_TIMINGS;
/** Whether this process measures (VPC_MIGRATE_TIMINGS set to anything but '', '0'). */
export const timingsEnabled = setting !== undefined && setting !== '' && setting !== '0';

/** Process start on the performance.now() clock: timeOrigin lags the real start by Node's own bootstrap. */
const processStart = performance.now() - process.uptime() * 1000;
const since = () => performance.now() - processStart;

const intervals: Interval[] = [];
/** Stages started and not yet ended (an interval is recorded when its stage ends). */
const inFlight = new Map<string, number>();
const invokes: InvokeTiming[] = [];
let command: string | undefined;
let mainAt = 0;

/** Called first thing in the CLI's main: the end of `start`; from here the command's stages are recorded. */
export function beginTimings(name: string | undefined): void {
  if (!timingsEnabled || command !== undefined) return;
  command = name ?? '';
  mainAt = since();
  const at = new Date();
  // At exit: after the report is written and stdout flushed, wherever the command ended.
  process.once('exit', () => {
    const split = buildSplit({
      command: command!,
      at,
      mainAt,
      endAt: since(),
      intervals,
      invokes,
      cpu: process.cpuUsage(),
    });
    if (setting === '1') process.stderr.write(`${renderSplit(split)}\n`);
    else writeFileSync(setting!, `${JSON.stringify(split, null, 2)}\n`);
  });
}

/** Runs `fn` as `stage` of the split (a no-op wrapper without VPC_MIGRATE_TIMINGS). */
export function timed<T>(stage: Stage, fn: () => T): T {
  if (!timingsEnabled) return fn();
  const start = since();
  inFlight.set(stage, (inFlight.get(stage) ?? 0) + 1);
  const end = () => {
    inFlight.set(stage, inFlight.get(stage)! - 1);
    intervals.push({ stage, start, end: since() });
  };
  let result: T;
  try {
    result = fn();
  } catch (error) {
    end();
    throw error;
  }
  if (result && typeof (result as { then?: unknown }).then === 'function')
    (result as unknown as Promise<unknown>).then(end, end);
  else end();
  return result;
}

export interface InvokeMarks {
  /** The event is encoded (`bytes` long) and about to be sent. */
  encoded(bytes: number): void;
  /** The answer arrived. */
  answered(): void;
  /** The answer is decoded and checked; `worker`: the apply answer's own timings. */
  done(worker?: WorkerTimings): void;
}

/**
 * The transport's measurement of one Invoke: call `start` before encoding; it returns the marks to
 * call as the request is encoded, answered and decoded. Without VPC_MIGRATE_TIMINGS: undefined.
 */
export function startInvoke(action: string, migrations?: number): InvokeMarks | undefined {
  if (!timingsEnabled) return undefined;
  const t0 = since();
  // The ledger read after applying is verification's; the others' purpose shows from their action.
  const during = (inFlight.get('verify') ?? 0) > 0 ? 'verify' : undefined;
  let encoded = t0;
  let answered = t0;
  let requestBytes = 0;
  return {
    encoded(bytes: number) {
      encoded = since();
      requestBytes = bytes;
    },
    answered() {
      answered = since();
    },
    done(worker?: WorkerTimings) {
      const t = since();
      intervals.push({ stage: 'invoke', start: t0, end: t });
      const roundTripMs = answered - encoded;
      invokes.push({
        n: invokes.length + 1,
        action,
        ...(during ? { during } : {}),
        ...(migrations !== undefined ? { migrations } : {}),
        requestBytes,
        encodeMs: encoded - t0,
        roundTripMs,
        decodeMs: t - answered,
        ...(worker ? { wireMs: Math.max(0, roundTripMs - worker.totalMs), worker } : {}),
      });
    },
  };
}
