import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { MigrateError, parseEvent } from '../../lambda/contract/index.js';

const sha = (s: string) => createHash('sha256').update(s, 'utf8').digest('hex');
const migration = (sql: string, extra: Record<string, unknown> = {}) => ({
  name: '001_a',
  checksum: sha(sql),
  sql,
  mode: 'transactional',
  ...extra,
});

function codeOf(event: unknown): string {
  try {
    parseEvent(event);
  } catch (error) {
    expect(error).toBeInstanceOf(MigrateError);
    return (error as MigrateError).code;
  }
  return 'accepted';
}

describe('parseEvent', () => {
  it('accepts a well-formed apply and verifies the checksum', () => {
    const parsed = parseEvent({ action: 'apply', requestId: 'r', migrations: [migration('SELECT 1')] });
    expect(parsed.action).toBe('apply');
  });

  it('decodes gzip+base64 SQL', () => {
    const sql = 'CREATE TABLE t (id int);\n'.repeat(5000);
    const parsed = parseEvent({
      action: 'apply',
      requestId: 'r',
      migrations: [
        { name: 'big', checksum: sha(sql), mode: 'transactional', sqlGzipBase64: gzipSync(sql).toString('base64') },
      ],
    });
    expect(parsed.action === 'apply' && parsed.migrations[0]?.sql).toBe(sql);
  });

  it('rejects unknown actions and malformed events with typed codes', () => {
    expect(codeOf({ action: 'drop-everything' })).toBe('VPCM_UNKNOWN_ACTION');
    expect(codeOf(null)).toBe('VPCM_INVALID_EVENT');
    expect(codeOf('apply')).toBe('VPCM_INVALID_EVENT');
    expect(codeOf({ action: 'apply', migrations: [migration('SELECT 1')] })).toBe('VPCM_INVALID_EVENT');
    expect(codeOf({ action: 'apply', requestId: 'r', migrations: [] })).toBe('VPCM_INVALID_EVENT');
    expect(codeOf({ action: 'apply', requestId: 'r', migrations: [migration('SELECT 1', { mode: 'yolo' })] })).toBe(
      'VPCM_INVALID_EVENT',
    );
    expect(codeOf({ action: 'apply', requestId: 'r', migrations: [migration('SELECT 1', { extra: 1 })] })).toBe(
      'VPCM_INVALID_EVENT',
    );
    expect(
      codeOf({
        action: 'apply',
        requestId: 'r',
        migrations: [migration('SELECT 1', { statements: [{ start: 5, end: 2, line: 1, kind: 'transactional' }] })],
      }),
    ).toBe('VPCM_INVALID_EVENT');
    expect(
      codeOf({ action: 'apply', requestId: 'r', migrations: [{ ...migration('SELECT 1'), name: '../etc' }] }),
    ).toBe('VPCM_INVALID_EVENT');
    expect(codeOf({ action: 'run-sql', sql: '' })).toBe('VPCM_INVALID_EVENT');
    expect(codeOf({ action: 'run-sql', sql: 'select 1', maxRows: -1 })).toBe('VPCM_INVALID_EVENT');
    expect(codeOf({ action: 'ledger', surprise: true })).toBe('VPCM_INVALID_EVENT');
    // An array is not an object, even where every field is optional.
    expect(codeOf({ action: 'rehearse', migrations: [migration('SELECT 1')], options: [] })).toBe('VPCM_INVALID_EVENT');
  });

  it('refuses SQL whose checksum does not match what the CLI computed', () => {
    expect(
      codeOf({ action: 'apply', requestId: 'r', migrations: [{ ...migration('SELECT 1'), sql: 'DROP TABLE users' }] }),
    ).toBe('VPCM_CHECKSUM_IN_TRANSIT');
  });

  it('refuses an oversized batch by its length alone, before looking at each migration', () => {
    try {
      parseEvent({ action: 'apply', requestId: 'r', migrations: Array.from({ length: 5001 }, () => ({})) });
      expect.unreachable();
    } catch (error) {
      expect((error as MigrateError).details?.problems).toEqual(['migrations: at most 5000 per batch, got 5001']);
    }
  });

  it('lists every problem at once', () => {
    try {
      parseEvent({ action: 'apply', migrations: [{ name: '', checksum: 'x', mode: 'm' }] });
      expect.unreachable();
    } catch (error) {
      const problems = (error as MigrateError).details?.problems as string[];
      expect(problems.length).toBeGreaterThanOrEqual(4);
    }
  });
});
