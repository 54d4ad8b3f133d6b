import { describe, expect, it } from 'vitest';
import { ledgerLogFor, ledgerLogSummary } from '../../lambda/contract/sql-error.js';
import { plan } from '../../scripts/core/plan.js';
import type { LedgerRow } from '../../lambda/contract/index.js';

// Prisma's Debug rendering of the driver error, one line in the real log.
const DB_ERROR =
  'DbError { severity: "ERROR", parsed_severity: Some(Error), code: SqlState(E42P01), ' +
  'message: "relation \\"missing\\" does not exist", detail: None, hint: None, position: Some(Original(14)) }';
/** What `prisma migrate deploy` stores for a failed migration (P3018), from its engine. */
const PRISMA_LOG = `Migration name: 20240101000000_add_index

Database error code: 42P01

Database error:
ERROR: relation "missing" does not exist

${DB_ERROR}
`;

describe('the error a failed row’s logs hold, on one line', () => {
  it('reads our worker’s own log: code, message, position, detail', () => {
    const log = ledgerLogFor('001_x', {
      code: '23505',
      message: 'duplicate key value violates unique constraint "u"',
      detail: 'Key (id)=(1) already exists.',
      line: 4,
      column: 2,
      statement: 'INSERT …',
    });
    expect(ledgerLogSummary(log)).toBe(
      '23505: duplicate key value violates unique constraint ' +
        '"u" (at line 4, column 2) DETAIL: Key (id)=(1) already ' +
        'exists.',
    );
  });

  it('reads Prisma’s P3018 text: not "Migration name: …"', () => {
    expect(ledgerLogSummary(PRISMA_LOG)).toBe('42P01: relation "missing" does not exist');
  });

  it('reads a Database error: heading followed by a DbError dump', () => {
    expect(
      ledgerLogSummary(
        'Migration name: m\n\nDatabase error:\nDbError { severity: ' +
          '"ERROR", message: "division by zero", detail: None ' +
          '}',
      ),
    ).toBe('division by zero');
  });

  it('falls back to the first line that is not the name; long text is cut', () => {
    expect(ledgerLogSummary('Migration name: m\n\nsomething odd happened')).toBe('something odd happened');
    expect(ledgerLogSummary('ERROR: boom')).toBe('boom');
    expect(ledgerLogSummary(null)).toBe('');
    expect(ledgerLogSummary(`ERROR: ${'x'.repeat(400)}`)).toHaveLength(300);
  });

  it('the plan’s P3009 problem names the error, not the migration’s name', () => {
    const row: LedgerRow = {
      id: '1',
      checksum: 'a'.repeat(64),
      finished_at: null,
      migration_name: 'm1',
      logs: PRISMA_LOG,
      rolled_back_at: null,
      started_at: '2024-01-01T00:00:00.000Z',
      applied_steps_count: 0,
    };
    const result = plan([{ name: 'm1', checksum: 'a'.repeat(64), path: 'x', matches: () => true }], [row]);
    const problem = result.problems.find((p) => p.migration === 'm1')!;
    expect(problem.message).toContain('failed with: 42P01: relation "missing" does not exist.');
    expect(problem.message).not.toContain('Migration name');
  });
});
