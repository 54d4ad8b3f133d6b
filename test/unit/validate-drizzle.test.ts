import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { MigrateError, parseEvent } from '../../lambda/contract/index.js';

const sha = (s: string) => createHash('sha256').update(s, 'utf8').digest('hex');
const sql = 'CREATE TABLE a (id int);\n--> statement-breakpoint\nCOMMIT;';
const chunks = [
  { start: 0, end: 23, line: 1, kind: 'transactional' },
  { start: 50, end: 56, line: 3, kind: 'commit' },
];
const drizzleMigration = (extra: Record<string, unknown> = {}) => ({
  name: '0000_a',
  checksum: sha(sql),
  sql,
  mode: 'script',
  statements: chunks,
  chunks,
  createdAt: 1_700_000_000_000,
  ...extra,
});

function problemsOf(event: unknown): string[] {
  try {
    parseEvent(event);
  } catch (error) {
    expect(error).toBeInstanceOf(MigrateError);
    return ((error as MigrateError).details?.problems as string[] | undefined) ?? [(error as MigrateError).code];
  }
  return [];
}

describe('parseEvent: the Drizzle format', () => {
  it('accepts format on ledger and apply; absent means prisma and stays absent', () => {
    expect(parseEvent({ action: 'ledger', format: 'drizzle' })).toEqual({ action: 'ledger', format: 'drizzle' });
    expect(parseEvent({ action: 'ledger' })).toEqual({ action: 'ledger' });
    expect(parseEvent({ action: 'ledger', format: 'prisma' })).toEqual({ action: 'ledger' });
    const apply = parseEvent({ action: 'apply', requestId: 'r', format: 'drizzle', migrations: [drizzleMigration()] });
    expect(
      apply.action === 'apply' && [apply.format, apply.migrations[0]?.createdAt, apply.migrations[0]?.chunks?.length],
    ).toEqual(['drizzle', 1_700_000_000_000, 2]);
  });

  it('refuses an unknown format, and Drizzle fields missing or out of place', () => {
    expect(problemsOf({ action: 'ledger', format: 'knex' })).toEqual(['format: one of prisma, drizzle']);
    expect(
      problemsOf({
        action: 'apply',
        requestId: 'r',
        format: 'drizzle',
        migrations: [drizzleMigration({ createdAt: undefined, chunks: undefined })],
      }),
    ).toEqual([
      'migrations[0].createdAt: required with format "drizzle"',
      'migrations[0].chunks: required with format "drizzle"',
    ]);
    expect(problemsOf({ action: 'apply', requestId: 'r', migrations: [drizzleMigration()] })).toEqual([
      'migrations[0].createdAt: only with format "drizzle"',
      'migrations[0].chunks: only with format "drizzle"',
    ]);
    expect(problemsOf({ action: 'rehearse', migrations: [drizzleMigration()] })).toHaveLength(2);
    expect(
      problemsOf({
        action: 'apply',
        requestId: 'r',
        format: 'drizzle',
        migrations: [drizzleMigration({ createdAt: -1 })],
      }),
    ).toEqual(["migrations[0].createdAt: a non-negative integer (the journal entry's when)"]);
    expect(
      problemsOf({
        action: 'apply',
        requestId: 'r',
        format: 'drizzle',
        migrations: [drizzleMigration({ chunks: [{ start: 40, end: 900, line: 1, kind: 'commit' }] })],
      }),
    ).toEqual(['migrations[0].chunks[0]: spans must be in order, non-empty, non-overlapping and inside the text']);
  });
});
