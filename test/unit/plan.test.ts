import { describe, expect, it } from 'vitest';
import { ErrorCode, type LedgerRow } from '../../lambda/contract/index.js';
import { compareMigrationNames, plan, summarize, type LocalMigrationRef } from '../../scripts/core/plan.js';

// ---------------------------------------------------------------------------------------------
// Builders: a local folder's checksum is derived from its name so tests read as names only.

const sum = (name: string): string => `sum-${name}`;
const local = (...names: string[]): LocalMigrationRef[] => names.map((name) => ({ name, checksum: sum(name) }));

let nextId = 0;
const T0 = Date.parse('2024-01-01T00:00:00Z');
const at = (minutes: number): string => new Date(T0 + minutes * 60_000).toISOString();

function row(name: string, overrides: Partial<LedgerRow> = {}): LedgerRow {
  nextId++;
  return {
    id: `00000000-0000-4000-8000-${String(nextId).padStart(12, '0')}`,
    checksum: sum(name),
    finished_at: at(nextId),
    migration_name: name,
    logs: null,
    rolled_back_at: null,
    started_at: at(nextId),
    applied_steps_count: 1,
    ...overrides,
  };
}
const applied = (name: string, overrides: Partial<LedgerRow> = {}): LedgerRow => row(name, overrides);
const failed = (
  name: string,
  logs: string | null = 'ERROR: relation "x" already exists',
  overrides: Partial<LedgerRow> = {},
): LedgerRow => row(name, { finished_at: null, logs, applied_steps_count: 0, ...overrides });
const rolledBack = (name: string): LedgerRow =>
  row(name, { finished_at: null, logs: 'ERROR: boom', rolled_back_at: at(1000), applied_steps_count: 0 });

const A = '20240101000000_init';
const B = '20240102000000_users';
const C = '20240103000000_posts';
const D = '20240104000000_comments';

describe('plan', () => {
  it('empty database: everything is pending, in local order', () => {
    // Act
    const result = plan(local(A, B, C), []);

    // Assess
    expect(result.pending).toEqual([A, B, C]);
    expect(result.applied).toEqual([]);
    expect(result.problems).toEqual([]);
    expect(result.state).toBe('pending');
    expect(summarize(result)).toBe('3 local, 0 applied, 3 pending');
  });

  it('no local migrations and no rows: up to date', () => {
    const result = plan([], []);
    expect(result.state).toBe('up-to-date');
    expect(summarize(result)).toBe('0 local, 0 applied, 0 pending');
  });

  it('all applied: up to date, applied entries in local order with their rows', () => {
    // Prepare: ledger order differs from local order.
    const rows = [applied(B), applied(A), applied(C)];

    // Act
    const result = plan(local(A, B, C), rows);

    // Assess
    expect(result.state).toBe('up-to-date');
    expect(result.pending).toEqual([]);
    expect(result.applied.map((a) => a.name)).toEqual([A, B, C]);
    expect(result.applied[0]).toMatchObject({ name: A, checksum: sum(A), local: true, modified: false, attempts: 1 });
    expect(result.applied[0]!.finishedAt).toBe(rows[1]!.finished_at);
    expect(summarize(result)).toBe('3 local, 3 applied, 0 pending');
  });

  it('some pending: only the folders without a row, in local order', () => {
    // Act
    const result = plan(local(A, B, C, D), [applied(A), applied(B)]);

    // Assess
    expect(result.pending).toEqual([C, D]);
    expect(result.outOfOrder).toEqual([]);
    expect(result.state).toBe('pending');
    expect(summarize(result)).toBe('4 local, 2 applied, 2 pending');
  });

  it("keeps local order for pending even when it is not the names' sort order", () => {
    // Prepare: the caller's order is the contract (discover.ts sorts by bytes).
    const names = ['20240105000000_z', '20240105000000_a', '20240106000000_m'];

    // Act
    const result = plan(local(...names), []);

    // Assess
    expect(result.pending).toEqual(names);
  });

  it('failed row: P3009 problem, the migration is neither pending nor applied, deploy refuses', () => {
    // Act
    const result = plan(local(A, B, C), [applied(A), failed(B)]);

    // Assess
    expect(result.state).toBe('problem');
    expect(result.pending).toEqual([C]);
    expect(result.failed).toEqual([
      expect.objectContaining({ name: B, interrupted: false, local: true, logs: 'ERROR: relation "x" already exists' }),
    ]);
    expect(result.problems).toHaveLength(1);
    const [problem] = result.problems;
    expect(problem).toMatchObject({ code: ErrorCode.FailedMigrationInLedger, migration: B });
    expect(problem!.message).toContain('relation "x" already exists');
    expect(problem!.message).toContain('P3009');
    expect(problem!.remedy).toContain(`vpc-migrate resolve --rolled-back ${B}`);
    expect(problem!.remedy).toContain(`vpc-migrate resolve --applied ${B}`);
    expect(summarize(result)).toBe('3 local, 1 applied, 1 pending, 1 failed');
  });

  it('failed row whose logs end a sentence: one full stop before the P3009 sentence', () => {
    const result = plan(local(A), [failed(A, 'ERROR: relation "x" already exists DETAIL: Not reconciled: differs.')]);
    expect(result.problems[0]!.message).toContain('differs. Nothing is applied');
    expect(result.problems[0]!.message).not.toContain('..');
  });

  it('failed row without logs: says the worker was interrupted', () => {
    // Act
    const result = plan(local(A), [failed(A, null, { applied_steps_count: 3 })]);

    // Assess
    expect(result.failed[0]!.interrupted).toBe(true);
    expect(result.problems[0]!.message).toContain('the worker was interrupted');
    expect(result.problems[0]!.message).toContain('after 3 completed step(s)');
  });

  it('failed row whose folder is missing locally: only --rolled-back is offered (Prisma P3017)', () => {
    // Act
    const result = plan(local(A), [applied(A), failed(B)]);

    // Assess
    expect(result.failed[0]!.local).toBe(false);
    const [problem] = result.problems;
    expect(problem!.code).toBe(ErrorCode.FailedMigrationInLedger);
    expect(problem!.remedy).toContain(`--rolled-back ${B}`);
    expect(problem!.remedy).not.toContain('--applied');
    expect(result.missingLocally).toEqual([]);
  });

  it('rolled back then re-applied: applied, attempts counted, listed as rolled back, no problem', () => {
    // Act
    const result = plan(local(A, B), [applied(A), rolledBack(B), applied(B)]);

    // Assess
    expect(result.state).toBe('up-to-date');
    expect(result.pending).toEqual([]);
    expect(result.failed).toEqual([]);
    expect(result.rolledBack).toEqual([B]);
    expect(result.applied.find((a) => a.name === B)).toMatchObject({ attempts: 2, local: true });
  });

  it('rolled back only: pending again (Prisma re-applies it)', () => {
    // Act
    const result = plan(local(A, B), [applied(A), rolledBack(B), rolledBack(B)]);

    // Assess
    expect(result.pending).toEqual([B]);
    expect(result.rolledBack).toEqual([B]);
    expect(result.state).toBe('pending');
    expect(result.problems).toEqual([]);
  });

  it('modified: an applied migration whose file changed is a problem', () => {
    // Prepare
    const migrations: LocalMigrationRef[] = [
      { name: A, checksum: sum(A) },
      { name: B, checksum: 'edited', path: `prisma/migrations/${B}/migration.sql` },
    ];

    // Act
    const result = plan(migrations, [applied(A), applied(B)]);

    // Assess
    expect(result.state).toBe('problem');
    expect(result.modified).toEqual([{ name: B, recordedChecksum: sum(B), localChecksum: 'edited', allowed: false }]);
    expect(result.applied.find((a) => a.name === B)!.modified).toBe(true);
    const [problem] = result.problems;
    expect(problem).toMatchObject({ code: ErrorCode.ChecksumModified, migration: B });
    expect(problem!.remedy).toContain(`git checkout <commit> -- prisma/migrations/${B}/migration.sql`);
    expect(problem!.remedy).toContain('--allow-modified');
    expect(summarize(result)).toBe('2 local, 2 applied, 0 pending, 1 modified');
  });

  it('modified allowed: still reported, no problem', () => {
    // Act
    const result = plan([{ name: A, checksum: 'edited' }], [applied(A)], { allowModified: true });

    // Assess
    expect(result.state).toBe('up-to-date');
    expect(result.modified).toEqual([{ name: A, recordedChecksum: sum(A), localChecksum: 'edited', allowed: true }]);
    expect(result.problems).toEqual([]);
    expect(summarize(result)).toBe('1 local, 1 applied, 0 pending, 1 modified (allowed)');
  });

  it('uses the matches function when given (Prisma leniency lives in checksum.ts)', () => {
    // Prepare: strict equality would call this modified.
    const lenient: LocalMigrationRef = {
      name: A,
      checksum: 'crlf-variant',
      matches: (recorded) => recorded === sum(A),
    };
    const strict: LocalMigrationRef = { name: A, checksum: 'crlf-variant' };

    // Act / Assess
    expect(plan([lenient], [applied(A)]).modified).toEqual([]);
    expect(plan([strict], [applied(A)]).modified).toHaveLength(1);
  });

  it('compares again only a recorded checksum that differs from the local one (no rehash of an unchanged file)', () => {
    // Prepare: a matches function that counts its calls, as checksumMatches would hash the file.
    const asked: string[] = [];
    const ref = (name: string): LocalMigrationRef => ({
      name,
      checksum: sum(name),
      matches: (recorded) => {
        asked.push(recorded);
        return recorded === `crlf-${name}`;
      },
    });

    // Act
    const result = plan([ref(A), ref(B)], [applied(A), applied(B, { checksum: `crlf-${B}` })]);

    // Assess: A's recorded checksum is its own, so only B's other form is compared.
    expect(asked).toEqual([`crlf-${B}`]);
    expect(result.modified).toEqual([]);
    expect(result.state).toBe('up-to-date');
  });

  it('checks only successful rows: a rolled-back attempt with another checksum is not a modification', () => {
    // Act
    const result = plan(local(A), [row(A, { checksum: 'old', finished_at: null, rolled_back_at: at(5) }), applied(A)]);

    // Assess
    expect(result.modified).toEqual([]);
    expect(result.state).toBe('up-to-date');
  });

  it('missing locally: the database is ahead of the code', () => {
    // Act
    const result = plan(local(A), [applied(A), applied(B)]);

    // Assess
    expect(result.state).toBe('problem');
    expect(result.missingLocally).toEqual([B]);
    expect(result.applied.map((a) => [a.name, a.local])).toEqual([
      [A, true],
      [B, false],
    ]);
    expect(result.problems).toEqual([expect.objectContaining({ code: ErrorCode.MissingLocally, migration: B })]);
    expect(result.problems[0]!.remedy).toContain('git log --all');
    expect(summarize(result)).toBe('1 local, 2 applied, 0 pending, 1 missing locally');
  });

  it('a rolled-back row with no local folder is not "missing locally"', () => {
    const result = plan(local(A), [applied(A), rolledBack(B)]);
    expect(result.missingLocally).toEqual([]);
    expect(result.state).toBe('up-to-date');
    expect(result.rolledBack).toEqual([B]);
  });

  it('out of order: a pending folder older than the newest applied one is reported and refused', () => {
    // Act
    const result = plan(local(A, B, C, D), [applied(A), applied(C)]);

    // Assess
    expect(result.pending).toEqual([B, D]);
    expect(result.outOfOrder).toEqual([B]);
    expect(result.state).toBe('problem');
    const [problem] = result.problems;
    expect(problem).toMatchObject({ code: ErrorCode.OutOfOrder, migration: B });
    expect(problem!.message).toContain(C);
    expect(problem!.remedy).toContain('--allow-out-of-order');
    expect(summarize(result)).toBe('4 local, 2 applied, 2 pending, 1 out of order');
  });

  it('out of order allowed: still reported and still pending (never skipped), no problem', () => {
    // Act
    const result = plan(local(A, B, C, D), [applied(A), applied(C)], { allowOutOfOrder: true });

    // Assess
    expect(result.pending).toEqual([B, D]);
    expect(result.outOfOrder).toEqual([B]);
    expect(result.problems).toEqual([]);
    expect(result.state).toBe('pending');
    expect(summarize(result)).toBe('4 local, 2 applied, 2 pending, 1 out of order (allowed)');
  });

  it('out of order relative to an applied migration that is missing locally', () => {
    // Act
    const result = plan(local(A, B), [applied(A), applied(C)]);

    // Assess
    expect(result.outOfOrder).toEqual([B]);
    expect(result.problems.map((p) => p.code)).toEqual([ErrorCode.MissingLocally, ErrorCode.OutOfOrder]);
  });

  it('compares names by bytes: 8-digit prefixes and spaces are ordered, never split', () => {
    // Prepare: '_' (0x5F) sorts after '0' (0x30), ' ' (0x20) before both.
    const eight = '20240101_short';
    const fourteen = '20240101000000_long';
    const spaced = '20240101 spaced name';

    // Act
    const result = plan(local(spaced, fourteen, eight), [applied(eight)]);

    // Assess
    expect(result.pending).toEqual([spaced, fourteen]);
    expect(result.outOfOrder).toEqual([spaced, fourteen]);
  });

  it('quotes names with spaces in remedy commands', () => {
    // Act
    const result = plan(local('20240101 spaced name'), [failed('20240101 spaced name')]);

    // Assess
    expect(result.problems[0]!.remedy).toContain("vpc-migrate resolve --rolled-back '20240101 spaced name'");
  });

  it('multiple problems together, grouped failed, modified, missing, out of order', () => {
    // Prepare
    const migrations: LocalMigrationRef[] = [
      { name: A, checksum: 'edited' },
      { name: B, checksum: sum(B) },
      { name: C, checksum: sum(C) },
      { name: D, checksum: sum(D) },
    ];
    const rows = [applied(A), failed(C, null), applied(D), applied('20240109000000_elsewhere')];

    // Act
    const result = plan(migrations, rows);

    // Assess
    expect(result.state).toBe('problem');
    expect(result.problems.map((p) => [p.code, p.migration])).toEqual([
      [ErrorCode.FailedMigrationInLedger, C],
      [ErrorCode.ChecksumModified, A],
      [ErrorCode.MissingLocally, '20240109000000_elsewhere'],
      [ErrorCode.OutOfOrder, B],
    ]);
    expect(result.pending).toEqual([B]);
    expect(summarize(result)).toBe(
      '4 local, 3 applied, 1 pending, 1 failed, 1 modified, 1 missing locally, 1 out of order',
    );
  });

  it('several successful rows for one name: the latest is reported, any match means unmodified', () => {
    // Prepare
    const older = applied(A, { checksum: 'other', finished_at: at(1), started_at: at(1) });
    const newer = applied(A, { finished_at: at(50), started_at: at(50) });

    // Act
    const result = plan(local(A), [newer, older]);

    // Assess
    expect(result.applied).toHaveLength(1);
    expect(result.applied[0]).toMatchObject({ finishedAt: at(50), attempts: 2, modified: false });
  });

  it('is pure: inputs are not mutated', () => {
    // Prepare
    const migrations = local(A, B);
    const rows = [applied(B), applied(A)];
    const snapshot = structuredClone({ migrations, rows });

    // Act
    plan(migrations, rows);

    // Assess
    expect({ migrations, rows }).toEqual(snapshot);
  });
});

describe('compareMigrationNames', () => {
  it('orders like Buffer.compare on UTF-8, including astral characters', () => {
    // Prepare: U+FF5E (3 bytes) sorts before U+1F600 (4 bytes) in UTF-8, but after it in UTF-16.
    const names = ['b', 'a\u{1F600}', 'a\uFF5E', 'a b', 'a_b', 'a0', 'A'];

    // Act
    const ours = [...names].sort(compareMigrationNames);
    const bytes = [...names].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));

    // Assess
    expect(ours).toEqual(bytes);
    expect(compareMigrationNames('x', 'x')).toBe(0);
    expect(compareMigrationNames('x', 'xy')).toBe(-1);
  });

  it('agrees with Buffer.compare on every pair of names mixing ASCII, BMP and astral characters', () => {
    // Prepare: the fast path (UTF-16 units) must hand over wherever a surrogate is involved.
    const parts = ['', 'a', 'z', '_', '\u00e9', '\uD7FF', '\uE000', '\uFF5E', '\u{1F600}', '\u{10FFFF}'];
    const names = parts.flatMap((x) => parts.map((y) => `0${x}${y}`));

    // Act / Assess
    for (const x of names) {
      for (const y of names) {
        expect(Math.sign(compareMigrationNames(x, y)), `${x} vs ${y}`).toBe(
          Math.sign(Buffer.compare(Buffer.from(x), Buffer.from(y))),
        );
      }
    }
  });
});
