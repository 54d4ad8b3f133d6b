/**
 * The time split's arithmetic (scripts/core/timings.ts, lambda/timings.ts) and the bench's
 * statistics (bench/stats.ts). Durations are made up here: nothing is timed, nothing asserted of
 * a real clock.
 */
import { describe, expect, it } from 'vitest';
import { aFirstIn, median, pairedRatios, stat } from '../../bench/stats.js';
import { isLedgerWrite, startWorkerClock } from '../../lambda/timings.js';
import {
  buildSplit,
  type InvokeTiming,
  renderSplit,
  type Split,
  shares,
  splitRows,
  STAGE_ORDER,
} from '../../scripts/core/timings.js';

describe('shares', () => {
  it('gives each moment to one stage, the first of the order in flight, and keeps each stage’s own wall time', () => {
    const got = shares(
      [
        { stage: 'discovery', start: 10, end: 40 },
        { stage: 'invoke', start: 20, end: 50 },
        { stage: 'lint', start: 60, end: 70 },
      ],
      STAGE_ORDER,
      0,
      100,
    );
    expect(got.get('invoke')).toEqual({ ms: 30, busyMs: 30 });
    expect(got.get('discovery')).toEqual({ ms: 10, busyMs: 30 });
    expect(got.get('lint')).toEqual({ ms: 10, busyMs: 10 });
  });

  it('counts a stage that ran twice once per moment', () => {
    const got = shares(
      [
        { stage: 'invoke', start: 0, end: 10 },
        { stage: 'invoke', start: 5, end: 15 },
      ],
      STAGE_ORDER,
      0,
      20,
    );
    expect(got.get('invoke')).toEqual({ ms: 15, busyMs: 15 });
  });
});

const applyInvoke: InvokeTiming = {
  n: 2,
  action: 'apply',
  migrations: 3,
  requestBytes: 100,
  encodeMs: 1,
  roundTripMs: 50,
  decodeMs: 2,
  wireMs: 10,
  worker: {
    totalMs: 40,
    decodeMs: 1,
    connectMs: 2,
    postgresMs: 30,
    ledgerMs: 5,
    otherMs: 2,
    queries: 9,
    ledgerWrites: 3,
  },
};

function sampleSplit(): Split {
  return buildSplit({
    command: 'deploy',
    at: new Date('2026-12-06T00:00:00Z'),
    mainAt: 100.04,
    endAt: 400.02,
    intervals: [
      { stage: 'endpoint', start: 101, end: 120 },
      { stage: 'discovery', start: 120, end: 160 },
      { stage: 'invoke', start: 125, end: 150 },
      { stage: 'lint', start: 160, end: 200 },
      { stage: 'split', start: 200, end: 205 },
      { stage: 'invoke', start: 205, end: 258 },
      { stage: 'verify', start: 260, end: 300 },
      { stage: 'invoke', start: 262, end: 290 },
    ],
    invokes: [
      { n: 1, action: 'ledger', requestBytes: 20, encodeMs: 0.1, roundTripMs: 24, decodeMs: 0.5 },
      applyInvoke,
      { n: 3, action: 'ledger', during: 'verify', requestBytes: 20, encodeMs: 0.1, roundTripMs: 27, decodeMs: 0.5 },
    ],
    cpu: { user: 150_000, system: 50_000 },
  });
}

describe('buildSplit', () => {
  it('adds up: start, the stages and other make the total, none counted twice', () => {
    const split = sampleSplit();
    const names = split.stages.map((s) => s.stage);
    expect(names).toEqual(['start', 'invoke', 'verify', 'lint', 'split', 'discovery', 'endpoint', 'other']);
    const sum = split.stages.reduce((n, s) => n + s.ms, 0);
    expect(sum).toBeLessThanOrEqual(split.totalMs);
    expect(split.totalMs - sum).toBeLessThan(0.5); // only rounding is lost
    expect(split.stages.find((s) => s.stage === 'discovery')).toMatchObject({ ms: 15, busyMs: 40 });
    expect(split.stages.find((s) => s.stage === 'verify')).toMatchObject({ ms: 12, busyMs: 40 });
    expect(split.cpu).toEqual({ userMs: 150, systemMs: 50 });
  });

  it('rows: stable keys whatever the number of Invokes, apply’s parts summed', () => {
    const split = sampleSplit();
    const rows = splitRows(split);
    const keys = rows.map((r) => r.key);
    expect(keys).toContain('invoke.ledger');
    expect(keys).toContain('invoke.apply.postgres');
    expect(keys.slice(-2)).toEqual(['total', 'cpu']);
    expect(rows.find((r) => r.key === 'invoke.ledger')?.ms).toBeCloseTo(52.2, 5);
    expect(rows.find((r) => r.key === 'invoke.apply.ledger')?.count).toBe(3);
    const twice = splitRows({ ...split, invokes: [...split.invokes, { ...applyInvoke, n: 4 }] });
    expect(twice.find((r) => r.key === 'invoke.apply.postgres')?.ms).toBe(60);
    expect(twice.map((r) => r.key)).toEqual(keys);
  });

  it('renders every stage, each Invoke and the total', () => {
    const text = renderSplit(sampleSplit());
    for (const s of ['process start', 'discovery', 'lint', 'Invoke 2: apply (3 migrations)', 'during verify', 'total'])
      expect(text).toContain(s);
  });
});

describe('worker clock', () => {
  it('counts overlapping queries once, ledger writes before other queries; the parts make the total', async () => {
    let t = 0;
    const clock = startWorkerClock(0, 1, () => t);
    const gates: (() => void)[] = [];
    const fakeDb = {
      query: (_text: string) => new Promise<void>((resolve) => gates.push(resolve)),
    };
    const db = clock.watch(fakeDb as never) as unknown as typeof fakeDb;
    t = 2;
    const a = db.query('SELECT 1');
    t = 4;
    const b = db.query('INSERT INTO "public"."_prisma_migrations" (id) VALUES (1)');
    t = 7;
    gates[1]!();
    await b;
    t = 10;
    gates[0]!();
    await a;
    t = 12;
    const read = clock.read();
    expect(read).toMatchObject({ totalMs: 12, decodeMs: 1, postgresMs: 5, ledgerMs: 3, connectMs: 0, otherMs: 3 });
    expect(read).toMatchObject({ queries: 2, ledgerWrites: 1 });
  });

  it('tells ledger writes by their text', () => {
    expect(isLedgerWrite('INSERT INTO "s"."_prisma_migrations" (id) VALUES ($1)')).toBe(true);
    expect(isLedgerWrite({ text: 'UPDATE "_prisma_migrations" SET finished_at = now()' })).toBe(true);
    expect(isLedgerWrite('INSERT INTO drizzle."__drizzle_migrations" (hash) VALUES ($1)')).toBe(true);
    expect(isLedgerWrite('SELECT * FROM "_prisma_migrations"')).toBe(false);
    expect(isLedgerWrite('INSERT INTO users (id) VALUES (1); SELECT 1 FROM "_prisma_migrations"')).toBe(false);
    const guard = "DO $vpcm_guard$ BEGIN IF true THEN RAISE EXCEPTION 'x'; END IF; END $vpcm_guard$";
    expect(isLedgerWrite(`${guard}; INSERT INTO "public"."_prisma_migrations" (id) SELECT 1; COMMIT`)).toBe(true);
    expect(isLedgerWrite(`${guard}; UPDATE "public"."_prisma_migrations" SET logs = NULL`)).toBe(true);
    // A migration file with its row after it, in one query: the file's time, not the ledger's.
    const file = 'BEGIN;\nCREATE TABLE a (id int);\n;';
    expect(isLedgerWrite(`${file}${guard}; INSERT INTO "public"."_prisma_migrations" (id) SELECT 1; COMMIT`)).toBe(
      false,
    );
  });
});

describe('bench statistics', () => {
  it('median of odd and even counts, NaN for none', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([])).toBeNaN();
    expect(stat([5, 1, 3])).toEqual({ median: 3, min: 1, max: 5, n: 3 });
  });

  it('the median of per-pair ratios is not the ratio of the medians', () => {
    const pairs = [
      { a: 10, b: 5, aFirst: true }, // 2.0
      { a: 12, b: 10, aFirst: false }, // 1.2
      { a: 6, b: 4, aFirst: true }, // 1.5
    ];
    const { ratios, median: m } = pairedRatios(pairs);
    expect(ratios).toEqual([2, 1.2, 1.5]);
    expect(m).toBe(1.5);
    expect(median(pairs.map((p) => p.a)) / median(pairs.map((p) => p.b))).toBe(2);
    expect(pairedRatios([{ a: 1, b: Number.NaN, aFirst: true }]).ratios).toEqual([]);
  });

  it('alternates the order A B, B A', () => {
    expect([0, 1, 2, 3].map(aFirstIn)).toEqual([true, false, true, false]);
  });
});
