/**
 * The pure parts of running one migration, shared by the worker (lambda/prisma/apply.ts) and
 * compatibility mode (scripts/compat/apply.ts), which differ only in how statements reach the
 * database: a session of their own, or one DO block per call through a count-only worker.
 */
import { ErrorCode, MigrateError } from './errors.js';
import { redact } from './redact.js';
import { remedyCommand } from './remedy-command.js';
import { shorten } from './sql-error.js';
import { asPgError } from './sqlstate.js';
import type { DecodedMigration } from './validate.js';
import {
  type MigrationResult,
  PRISMA_LEDGER_TABLE,
  type SkippedStatement,
  type SqlErrorInfo,
  type StatementSpan,
} from './wire.js';

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

/** Adds to a failure's hint that the ledger could not take it, so no remedy asks to resolve it. */
export function noteUnrecorded(error: SqlErrorInfo, why: string): void {
  error.hint = [error.hint, `The failure could not be recorded in the ledger: ${why}`].filter(Boolean).join(' ');
}

export interface NonEmptySchema {
  /** Tables (and views) of the schema, the ledger aside. */
  count: number;
  schema?: string;
  /** The first few names, already quoted for the message. */
  shown?: string;
  /** What `baseline --up-to` would do here; unset where it cannot run (compatibility mode). */
  baselineStep?: string;
  upTo?: string | null;
}

/** Prisma's P3005: a deploy into a schema with tables but no ledger refuses (lambda/schema-not-empty.ts). */
export function schemaNotEmptyError(s: NonEmptySchema): MigrateError {
  const reconcile =
    `${remedyCommand('deploy', '--baseline')} applies every migration, ` +
    'skipping statements whose object already exists with the same definition';
  const remedy = s.baselineStep
    ? `If this is the database you meant, baseline it, either way: ${s.baselineStep}; or ${reconcile}.`
    : `If this is the database you meant, ${reconcile} (\`baseline --up-to\` needs the vpc-migrate worker).`;
  return new MigrateError(
    ErrorCode.SchemaNotEmpty,
    `P3005: The database schema${s.schema === undefined ? '' : ` "${s.schema}"`} is not empty: ` +
      `it holds ${s.count} table(s)${s.shown ? ` (${s.shown})` : ''} but no ${PRISMA_LEDGER_TABLE} table, ` +
      'so which migrations it already has is unknown. ' +
      'It may be a database migrated by other means, or not the one you meant. Nothing was changed.',
    `${remedy} Otherwise, point the command at the right database.`,
    {
      details: {
        prismaCode: 'P3005',
        ...(s.schema === undefined ? {} : { schema: s.schema }),
        tables: s.count,
        ...(s.upTo === undefined ? {} : { upTo: s.upTo }),
      },
    },
  );
}
