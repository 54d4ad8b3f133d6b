/**
 * The bench's small statistics and number formats: medians, paired ratios. Pure, unit-tested
 * (test/unit/bench-stats.test.ts); nothing here measures.
 */

export interface Stat {
  median: number;
  min: number;
  max: number;
  n: number;
}

/** Median of `xs` (the mean of the two middle values for an even count); NaN for none. */
export function median(xs: readonly number[]): number {
  const s = xs.filter(Number.isFinite).sort((a, b) => a - b);
  const n = s.length;
  if (n === 0) return Number.NaN;
  return n % 2 ? s[n >> 1]! : (s[n / 2 - 1]! + s[n / 2]!) / 2;
}

export function stat(xs: readonly number[]): Stat {
  const s = xs.filter(Number.isFinite).sort((a, b) => a - b);
  return { median: median(s), min: s[0] ?? Number.NaN, max: s[s.length - 1] ?? Number.NaN, n: s.length };
}

/** One A/B pair: the two measurements taken back to back, and the order they ran in. */
export interface Pair {
  a: number;
  b: number;
  /** True when A ran first. */
  aFirst: boolean;
}

/**
 * The pairs' ratios a/b, one per pair (a pair missing a side gives none), and their median:
 * the figure the goals are judged on, since load drifts far less within a pair than across pairs.
 */
export function pairedRatios(pairs: readonly Pair[]): { ratios: number[]; median: number } {
  const ratios = pairs.filter((p) => Number.isFinite(p.a) && Number.isFinite(p.b) && p.b > 0).map((p) => p.a / p.b);
  return { ratios, median: median(ratios) };
}

/** A B A B …: whether A runs first in pair `i` (0-based), so drift in load favours neither side. */
export const aFirstIn = (i: number): boolean => i % 2 === 0;

export const ms = (x: number): string =>
  Number.isFinite(x)
    ? x >= 10_000
      ? `${(x / 1000).toFixed(1)} s`
      : x >= 1000
        ? `${(x / 1000).toFixed(2)} s`
        : `${Math.round(x)} ms`
    : '–';
export const kb = (b: number): string => `${(b / 1024).toFixed(1)} KB`;
export const ratio = (x: number): string => (Number.isFinite(x) ? `${x.toFixed(2)}×` : '–');
