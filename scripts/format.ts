/**
 * Which migration format a folder holds, and the per-format hooks the shared commands call.
 * A folder with `meta/_journal.json` is Drizzle's, anything else Prisma's; `--format` forces it.
 */
import { ErrorCode, MigrateError, MIGRATION_FORMATS, type MigrationFormat } from '../lambda/contract/index.js';
import { hasJournal, JOURNAL_FILE } from './drizzle/discover.js';
import { isDrizzlePlan, verifyDrizzle } from './drizzle/plan.js';
import type { Plan } from './plan.js';

/** `--format prisma|drizzle`, or undefined to detect. */
export function formatFlag(value: unknown): MigrationFormat | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'string' && (MIGRATION_FORMATS as readonly string[]).includes(value)) return value as MigrationFormat;
  throw new MigrateError(ErrorCode.UsageError, `--format must be one of ${MIGRATION_FORMATS.join(', ')}, got ${String(value)}.`, `Pass --format prisma or --format drizzle, or leave it out to detect (${JOURNAL_FILE} present → drizzle).`);
}

/** The forced format, else `drizzle` when `dir/meta/_journal.json` exists, else `prisma`. */
export async function detectFormat(dir: string, forced?: MigrationFormat): Promise<MigrationFormat> {
  if (forced) return forced;
  return (await hasJournal(dir)) ? 'drizzle' : 'prisma';
}

/**
 * The after-deploy check in the format's own words, or undefined where the shared check says it
 * all (Prisma). Drizzle: the seed's "Verified: database has all N migrations." or "Migration
 * count mismatch: database has N but expected M".
 */
export function verificationOf(plan: Plan): { ok: boolean; message: string } | undefined {
  return isDrizzlePlan(plan) ? verifyDrizzle(plan) : undefined;
}
