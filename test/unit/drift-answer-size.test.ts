import { describe, expect, it } from 'vitest';
import type { DriftDifference } from '../../lambda/contract/index.js';
import { fitDifferences, SHORTENED_DEFINITION_CHARS } from '../../lambda/drift/answer-size.js';

const diff = (i: number, size: number): DriftDifference => ({
  kind: 'table',
  object: `public.t${i}`,
  change: 'only-in-live',
  live: `CREATE TABLE public.t${i} (${'x'.repeat(size)})`,
});
const jsonBytes = (ds: DriftDifference[]) => Buffer.byteLength(JSON.stringify(ds));

describe("a drift answer within Lambda's response limit", () => {
  it('leaves an answer that fits as it is', () => {
    const ds = [diff(1, 100), diff(2, 100)];
    expect(fitDifferences(ds, 10_000)).toEqual({ differences: ds, shortened: 0, omitted: 0 });
  });

  it('cuts long definitions first, keeping their start and saying how much was cut', () => {
    const ds = [diff(1, 50_000), diff(2, 100)];
    const fitted = fitDifferences(ds, 20_000);
    expect(fitted.omitted).toBe(0);
    expect(fitted.shortened).toBe(1);
    expect(fitted.differences[0]!.live).toMatch(/^CREATE TABLE public\.t1 \(x+… \(\d+ more characters\)$/);
    expect(fitted.differences[0]!.live!.startsWith(ds[0]!.live!.slice(0, SHORTENED_DEFINITION_CHARS))).toBe(true);
    expect(fitted.differences[1]).toEqual(ds[1]);
    expect(jsonBytes(fitted.differences)).toBeLessThanOrEqual(20_000);
  });

  it('then leaves out the last differences, and counts them', () => {
    const ds = Array.from({ length: 40 }, (_, i) => diff(i, 10_000));
    const fitted = fitDifferences(ds, 50_000);
    expect(fitted.shortened).toBe(40);
    expect(fitted.differences.length).toBeGreaterThan(0);
    expect(fitted.differences.length + fitted.omitted).toBe(40);
    expect(fitted.differences.map((d) => d.object)).toEqual(
      ds.slice(0, fitted.differences.length).map((d) => d.object),
    );
    expect(jsonBytes(fitted.differences)).toBeLessThanOrEqual(50_000);
  });
});
