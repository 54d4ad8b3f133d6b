/**
 * The event fields of the second format (issue 7), checked at the worker's boundary next to
 * validate.ts: `format` on `ledger` and `apply` (absent = prisma), and on each Drizzle
 * migration its `createdAt` (the journal's `when`) and `chunks`.
 */
import { MIGRATION_FORMATS, type MigrationFormat } from './protocol.js';
import type { DecodedMigration } from './validate.js';

export function parseFormat(value: unknown, problems: string[]): MigrationFormat {
  if (value === undefined) return 'prisma';
  if (typeof value !== 'string' || !(MIGRATION_FORMATS as readonly string[]).includes(value)) {
    problems.push(`format: one of ${MIGRATION_FORMATS.join(', ')}`);
    return 'prisma';
  }
  return value as MigrationFormat;
}

/** A journal `when`: milliseconds since the epoch, a non-negative safe integer (the ledger's bigint). */
export function parseCreatedAt(value: unknown, at: string, problems: string[]): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    problems.push(`${at}.createdAt: a non-negative integer (the journal entry's when)`);
    return undefined;
  }
  return value;
}

/** Drizzle migrations need `createdAt` and `chunks`; Prisma ones must not carry them. */
export function formatFieldProblems(migrations: DecodedMigration[], format: MigrationFormat): string[] {
  const problems: string[] = [];
  migrations.forEach((m, i) => {
    const at = `migrations[${i}]`;
    if (format === 'drizzle') {
      if (m.createdAt === undefined) problems.push(`${at}.createdAt: required with format "drizzle"`);
      if (m.chunks === undefined) problems.push(`${at}.chunks: required with format "drizzle"`);
    } else {
      if (m.createdAt !== undefined) problems.push(`${at}.createdAt: only with format "drizzle"`);
      if (m.chunks !== undefined) problems.push(`${at}.chunks: only with format "drizzle"`);
    }
  });
  return problems;
}
