import { describe, expect, it } from 'vitest';
import { type DrizzleLedgerRow, ErrorCode } from '../../lambda/contract/index.js';
import { planDrizzle, verifyDrizzle, type DrizzleLocalRef } from '../../scripts/formats/drizzle/plan.js';
import { summarize } from '../../scripts/core/plan.js';
import { formatNamed } from '../../scripts/formats/select.js';

// Builders: entry i has tag `000i_x`, hash `h-000i_x`, when T + i.
const T = 1_700_000_000_000;
const entry = (i: number, overrides: Partial<DrizzleLocalRef> = {}): DrizzleLocalRef => {
  const name = `000${i}_x`;
  return { name, hash: `h-${name}`, createdAt: T + i, ...overrides };
};
const entries = (...ids: number[]) => ids.map((i) => entry(i));
let nextId = 0;
const row = (e: DrizzleLocalRef, overrides: Partial<DrizzleLedgerRow> = {}): DrizzleLedgerRow => ({
  id: ++nextId,
  hash: e.hash,
  created_at: e.createdAt,
  ...overrides,
});
const rows = (...es: DrizzleLocalRef[]) => es.map((e) => row(e));

describe('planDrizzle', () => {
  it('an empty database: everything pending, in journal order, with the seed’s line', () => {
    // Prepare
    const local = entries(0, 1, 2);

    // Act
    const p = planDrizzle(local, []);

    // Assess
    expect(p.pending).toEqual(['0000_x', '0001_x', '0002_x']);
    expect(p.state).toBe('pending');
    expect(p.counts).toEqual({ applied: 0, expected: 3, pending: 3 });
    expect(summarize(p)).toBe('Migration state: 0 applied, 3 expected, 3 pending');
  });

  it('the seed’s example: 8 applied, 10 expected, 2 pending', () => {
    const local = entries(0, 1, 2, 3, 4, 5, 6, 7, 8, 9);
    const p = planDrizzle(local, rows(...local.slice(0, 8)));
    expect(summarize(p)).toBe('Migration state: 8 applied, 10 expected, 2 pending');
    expect(p.pending).toEqual(['0008_x', '0009_x']);
    expect(p.problems).toEqual([]);
  });

  it('up to date, verified in the seed’s words', () => {
    const local = entries(0, 1);
    const p = planDrizzle(local, rows(...local));
    expect(p.state).toBe('up-to-date');
    expect(p.applied.map((a) => [a.name, a.local, a.modified])).toEqual([
      ['0000_x', true, false],
      ['0001_x', true, false],
    ]);
    expect(verifyDrizzle(p)).toEqual({ ok: true, message: 'Verified: database has all 2 migrations.' });
    expect(formatNamed('drizzle').verify(p)).toEqual(verifyDrizzle(p));
  });

  it(
    'pending is decided by hash, not by the newest created_at: ' +
      'an older unapplied entry is out of order, never skipped',
    () => {
      // Prepare: 0001 was merged late; the database has 0000 and 0002.
      const local = entries(0, 1, 2);
      const ledger = rows(local[0]!, local[2]!);

      // Act
      const p = planDrizzle(local, ledger);
      const allowed = planDrizzle(local, ledger, { allowOutOfOrder: true });

      // Assess
      expect(p.pending).toEqual(['0001_x']);
      expect(p.outOfOrder).toEqual(['0001_x']);
      expect(p.problems.map((x) => [x.code, x.migration])).toEqual([[ErrorCode.OutOfOrder, '0001_x']]);
      expect(p.problems[0]?.message).toContain('0002_x');
      expect(p.problems[0]?.remedy).toContain('--allow-out-of-order');
      expect(p.newestCreatedAt).toBe(T + 2);
      expect(allowed.state).toBe('pending');
      expect(allowed.outOfOrder).toEqual(['0001_x']);
      expect(summarize(allowed)).toBe('Migration state: 2 applied, 3 expected, 1 pending, 1 out of order (allowed)');
    },
  );

  it(
    'an entry with the same `when` as the newest row counts ' +
      'as out of order (drizzle-orm skips `when <= created_at`)',
    () => {
      const a = entry(0);
      const b = entry(1, { createdAt: T });
      const p = planDrizzle([a, b], rows(a));
      expect(p.outOfOrder).toEqual(['0001_x']);
    },
  );

  it('a changed file of an applied entry (hash mismatch at the same created_at) is modified, not pending', () => {
    const local = entries(0, 1);
    const ledger = [row(local[0]!, { hash: 'old-hash' }), row(local[1]!)];

    const p = planDrizzle(local, ledger);
    const allowed = planDrizzle(local, ledger, { allowModified: true });

    expect(p.pending).toEqual([]);
    expect(p.modified).toEqual([
      { name: '0000_x', recordedChecksum: 'old-hash', localChecksum: 'h-0000_x', allowed: false },
    ]);
    expect(p.problems.map((x) => x.code)).toEqual([ErrorCode.ChecksumModified]);
    expect(allowed.state).toBe('up-to-date');
    expect(summarize(allowed)).toBe('Migration state: 2 applied, 2 expected, 0 pending, 1 modified (allowed)');
  });

  it('a row matched by hash with another created_at (the journal’s `when` was edited) is applied, and noted', () => {
    const local = entries(0, 1);
    const p = planDrizzle(local, [row(local[0]!, { created_at: T - 5 }), row(local[1]!)]);
    expect(p.state).toBe('up-to-date');
    expect(p.whenChanged).toEqual(['0000_x']);
  });

  it('identical files (same hash) are told apart by created_at', () => {
    const a = entry(0, { hash: 'same' });
    const b = entry(1, { hash: 'same' });
    expect(planDrizzle([a, b], rows(a)).pending).toEqual(['0001_x']);
    expect(planDrizzle([a, b], rows(b)).pending).toEqual(['0000_x']);
    expect(planDrizzle([a, b], rows(a, b)).state).toBe('up-to-date');
  });

  it('a database ahead of the journal: the seed’s refusal, exactly', () => {
    const local = entries(0, 1, 2);
    const p = planDrizzle(local.slice(0, 2), rows(...local));

    expect(p.state).toBe('problem');
    expect(p.missingLocally).toEqual(['ledger row ' + nextId + ' (created_at ' + (T + 2) + ')']);
    expect(p.problems.map((x) => [x.code, x.message])).toEqual([
      [ErrorCode.MissingLocally, 'Database has 3 migrations but local journal only has 2'],
    ]);
    expect(p.problems[0]?.remedy).toContain('meta/_journal.json');
    expect(verifyDrizzle(p)).toEqual({ ok: false, message: 'Migration count mismatch: database has 3 but expected 2' });
  });

  it('a row no entry names, with no more rows than entries: one problem per row; a duplicate row says so', () => {
    const local = entries(0, 1, 2);
    const stranger: DrizzleLedgerRow = { id: 900, hash: 'unknown', created_at: T + 50 };
    const p = planDrizzle(local, [row(local[0]!), stranger]);
    expect(p.pending).toEqual(['0001_x', '0002_x']);
    expect(p.problems.map((x) => x.code)).toEqual([
      ErrorCode.MissingLocally,
      ErrorCode.OutOfOrder,
      ErrorCode.OutOfOrder,
    ]);
    expect(p.problems[0]?.message).toContain('does not name');

    const dup = planDrizzle(local, [
      row(local[0]!),
      { id: 901, hash: local[0]!.hash, created_at: local[0]!.createdAt },
    ]);
    expect(dup.problems[0]?.message).toBe(
      `The ledger records 0000_x twice: ledger row 901 (created_at ${T}) is a second row for it.`,
    );
    expect(dup.problems[0]?.remedy).toContain('WHERE id = 901');
  });

  it('rows with a NULL created_at still match by hash', () => {
    const local = entries(0);
    const p = planDrizzle(local, [row(local[0]!, { created_at: null })]);
    expect(p.state).toBe('up-to-date');
    expect(p.newestCreatedAt).toBeNull();
  });
});
