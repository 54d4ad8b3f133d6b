/**
 * The pure parts of running one migration, shared by the worker (lambda/prisma/apply.ts) and
 * compatibility mode (scripts/compat/apply.ts), which differ only in how statements reach the
 * database: a session of their own, or one DO block per call through a count-only worker.
 */
import { redact } from './redact.js';
import { shorten } from './sql-error.js';
import { asPgError } from './sqlstate.js';
import type { DecodedMigration } from './validate.js';
import type { MigrationResult, SkippedStatement, SqlErrorInfo, StatementSpan } from './wire.js';

/** The statements to run: the CLI's spans, or the whole text as one statement when it sent none. */
export function statementSpans(m: Pick<DecodedMigration, 'sql' | 'statements'>): StatementSpan[] {
  if (m.statements.length > 0) return m.statements;
  return m.sql.trim().length === 0 ? [] : [{ start: 0, end: m.sql.length, line: 1, kind: 'transactional' }];
}

/** A statement skipped because its object already exists, as reports and the ledger's logs list it. */
export function skippedEntry(
  m: Pick<DecodedMigration, 'sql'>,
  span: StatementSpan,
  index: number,
  error: unknown,
): SkippedStatement {
  const pg = asPgError(error);
  const statement = shorten(redact(m.sql.slice(span.start, span.end)), 200);
  return { index, line: span.line, code: pg.code ?? '', message: redact(pg.message), statement };
}

/** How one migration ended, before the executor adds what only it knows (time budget, resume). */
export interface MigrationOutcome {
  status: MigrationResult['status'];
  skipped?: SkippedStatement[];
  error?: SqlErrorInfo;
  appliedSteps?: number;
}

export function migrationResult(
  m: Pick<DecodedMigration, 'name' | 'mode'>,
  outcome: MigrationOutcome,
  durationMs: number,
): MigrationResult {
  const result: MigrationResult = { name: m.name, status: outcome.status, mode: m.mode, durationMs };
  if (outcome.skipped && outcome.skipped.length > 0) result.skipped = outcome.skipped;
  if (outcome.error) result.error = outcome.error;
  if (outcome.appliedSteps !== undefined) result.appliedSteps = outcome.appliedSteps;
  return result;
}
