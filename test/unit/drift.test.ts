/** Drift's pure parts: what marks a database ours, when its lease ends, what a step needs, the report's text. */
import { describe, expect, it } from 'vitest';
import { ErrorCode, type MigrateError, parseEvent } from '../../lambda/contract/index.js';
import { type DriftReport, externalPatterns, inLedgerOrder } from '../../scripts/commands/drift.js';
import { clientConfigFromUrl, withDatabaseName } from '../../lambda/db.js';
import { renderDrift } from '../../scripts/render/drift.js';
import { visibleReport } from '../../scripts/render/escape.js';
import {
  DRIFT_MARKER,
  LEASE_GRACE_MS,
  leaseExpired,
  leaseFrom,
  leaseHeldBy,
  leaseLiteral,
  parseLease,
} from '../../lambda/drift/lease.js';

function problemsOf(event: unknown): string[] {
  try {
    parseEvent(event);
  } catch (error) {
    const e = error as MigrateError;
    return e.code === ErrorCode.InvalidEvent ? ((e.details?.problems as string[]) ?? []) : [e.code];
  }
  return [];
}

describe('the drift lease', () => {
  it('lasts the invocation plus the grace, and only our own marker parses', () => {
    const now = new Date('2026-12-06T20:00:00Z');
    const lease = leaseFrom(now, 60_000);
    expect(Date.parse(lease.leaseUntil) - now.getTime()).toBe(60_000 + LEASE_GRACE_MS);
    expect(parseLease(JSON.stringify(lease))).toEqual(lease);
    expect(leaseExpired(lease, now)).toBe(false);
    expect(leaseExpired(lease, new Date(Date.parse(lease.leaseUntil) + 1))).toBe(true);
    // The check holding it: another check may not act on it; a lease of no check (an older worker's), any.
    const held = leaseFrom(now, 60_000, undefined, 'check-a');
    expect(parseLease(JSON.stringify(held))).toEqual(held);
    expect([leaseHeldBy(held, 'check-a'), leaseHeldBy(held, 'check-b'), leaseHeldBy(lease, 'check-b')]).toEqual([
      true,
      false,
      true,
    ]);
    // A renewal keeps when it was created.
    expect(leaseFrom(new Date(now.getTime() + 5000), 0, lease.createdAt).createdAt).toBe(lease.createdAt);
    for (const foreign of [null, '', 'scratch db', '{"marker":"other"}', JSON.stringify({ ...lease, leaseUntil: 'x' })])
      expect(parseLease(foreign)).toBeUndefined();
    expect(
      JSON.parse(
        leaseLiteral({ ...lease, createdAt: "it's" })
          .slice(1, -1)
          .replace(/''/g, "'"),
      ).marker,
    ).toBe(DRIFT_MARKER);
  });
});

describe('the drift event', () => {
  it('begin creates the scratch database; every later step names it or the dev database', () => {
    expect(problemsOf({ action: 'drift', requestId: 'r', step: 'begin' })).toEqual([]);
    expect(problemsOf({ action: 'drift', requestId: 'r', step: 'compare' })).toEqual([
      'scratch: required with step "compare" (or devDatabase)',
    ]);
    expect(problemsOf({ action: 'drift', requestId: 'r', step: 'end', scratch: 'postgres' })).toEqual([
      'scratch: a scratch database name vpcm_drift_ and 16 hex digits',
    ]);
    expect(
      problemsOf({ action: 'drift', requestId: 'r', step: 'apply', scratch: 'vpcm_drift_0123456789abcdef' }),
    ).toEqual(['migrations: required with step "apply"']);
    expect(problemsOf({ action: 'drift', requestId: 'r', step: 'end', devDatabase: 'dev', exclude: ['x'] })).toEqual([
      'exclude: only with step "compare"',
    ]);
  });
});

describe("the Prisma config's external objects", () => {
  it('become exclude patterns, an unqualified name in any schema', () => {
    const location = { dir: '/x', kind: 'prisma-config' as const, source: 'prisma.config.ts' };
    expect(externalPatterns(location)).toEqual([]);
    expect(
      externalPatterns({ ...location, external: { tables: ['auth.users', 'audit'], enums: ['public.role'] } }),
    ).toEqual(['auth.users', 'audit', '*.audit', 'public.role']);
  });
});

describe('the drift report as text', () => {
  it('lists each difference with both definitions, and the verdict of its exit code', () => {
    const report: DriftReport = {
      command: 'drift',
      migrationsDir: '/p/prisma/migrations',
      migrations: { dir: '/p/prisma/migrations', kind: 'default', source: 'default prisma/migrations' },
      server: { version: 'PostgreSQL 18.1', database: 'app', schema: 'public', user: 'migrator', lockHolder: null },
      builtIn: { kind: 'scratch', name: 'vpcm_drift_0123456789abcdef' },
      applied: 6,
      pending: 1,
      differences: [
        { kind: 'column', object: 'public."User".name', change: 'changed', expected: 'text NOT NULL', live: 'text' },
        { kind: 'index', object: 'public.by_hand', change: 'only-in-live', live: 'CREATE INDEX by_hand …' },
        {
          kind: 'function',
          object: 'public.f()',
          change: 'changed',
          expected: 'CREATE FUNCTION public.f()\n AS $$ select 1 $$',
          live: 'CREATE FUNCTION public.f()\n AS $$ select 2 $$',
        },
      ],
      excluded: [],
      findings: [],
      problems: [],
      warnings: [],
      removedStale: [],
      cleanedUp: true,
      invocations: 4,
      durationMs: 1200,
      exitCode: 3,
    };
    const text = renderDrift(report).replace(/\x1b\[[0-9;]*m/g, '');
    expect(text).toContain('6 applied migration(s) in the scratch database vpcm_drift_0123456789abcdef (dropped)');
    expect(text).toContain('1 pending migration(s) not part of it');
    expect(text).toContain('column public."User".name: changed\n      expected: text NOT NULL\n      live:     text');
    expect(text).toContain('index public.by_hand: only in live\n      live:     CREATE INDEX by_hand …');
    expect(text).toContain('Drift: the live schema differs from its applied migrations.');
    // A definition over several lines stays under its label, through the CLI's escaping too.
    const body = '      expected: CREATE FUNCTION public.f()\n                 AS $$ select 1 $$';
    expect(text).toContain(body);
    expect(renderDrift(visibleReport(report)).replace(/\x1b\[[0-9;]*m/g, '')).toContain(body);

    // Only a ledger finding (an edited applied file): the comparison ran, so it is not "could not be completed".
    const plain = (r: DriftReport) => renderDrift(r).replace(/\x1b\[[0-9;]*m/g, '');
    const modified = { code: ErrorCode.ChecksumModified, migration: '001', message: 'edited', remedy: 'restore it' };
    const edited = { ...report, differences: [], findings: [modified], objects: { expected: 1, live: 1 }, exitCode: 2 };
    expect(plain(edited as DriftReport)).toContain('Not verified: compared with the local files (no drift)');
    // The database ahead of the code: nothing built, and the line says so in words.
    const ahead = { ...report, builtIn: undefined, applied: 0, pending: 0, differences: [], exitCode: 2 };
    const aheadText = plain({ ...ahead, problems: [modified] } as DriftReport);
    expect(aheadText).toContain('Expected schema: not built\n');
    expect(aheadText).toContain('The drift check could not be completed.');
  });
});

describe('the scratch database connection (withDatabaseName)', () => {
  it("is the target's in everything but the database: TLS, login, password, the ?schema= search_path", () => {
    const password = () => 'from-the-secret';
    const ssl = { rejectUnauthorized: true, ca: 'RDS CA' };
    const secret = { host: 'db.internal', port: 5433, user: 'app', password, database: 'app', ssl };

    expect(withDatabaseName(secret, 'vpcm_drift_0123456789abcdef')).toEqual({
      ...secret,
      database: 'vpcm_drift_0123456789abcdef',
    });

    const url = clientConfigFromUrl('postgresql://app:p%40ss@db.internal:5433/app?sslmode=verify-full&schema=app');
    const scratch = withDatabaseName(url, 'vpcm_drift_0123456789abcdef');
    expect(scratch.options).toBe(url.options);
    expect(scratch.connectionString).toBe(
      'postgresql://app:p%40ss@db.internal:5433/vpcm_drift_0123456789abcdef?sslmode=verify-full',
    );
  });
});

describe('the order the expected schema is built in (inLedgerOrder)', () => {
  const row = (name: string, finishedAt: string, appliedStepsCount = 1) => ({ name, finishedAt, appliedStepsCount });
  const names = (rows: { name: string }[]) => rows.map((r) => r.name);

  it('is the order live ran them: a folder deployed out of order goes after the newer ones it followed', () => {
    const rows = [
      row('001', '2026-01-01T00:00:00Z'),
      row('002', '2026-03-01T00:00:00Z'),
      row('003', '2026-02-01T00:00:00Z'),
    ];
    expect(names(inLedgerOrder(rows))).toEqual(['001', '003', '002']);
  });

  it('keeps folder order for the rows of one transaction, and for rows that record what no tool ran', () => {
    const same = '2026-01-01T00:00:00Z';
    expect(names(inLedgerOrder([row('001', same, 0), row('002', same, 0), row('003', same, 0)]))).toEqual([
      '001',
      '002',
      '003',
    ]);
    // Resolved in another order than their folders' (resolve --applied, steps 0), then a deploy.
    const resolved = [
      row('001', '2026-01-03T00:00:00Z', 0),
      row('002', '2026-01-01T00:00:00Z', 0),
      row('003', '2026-01-02T00:00:00Z', 0),
      row('004', '2026-01-04T00:00:00Z'),
    ];
    expect(names(inLedgerOrder(resolved))).toEqual(['001', '002', '003', '004']);
  });
});
