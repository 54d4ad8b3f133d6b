/**
 * The one switch between formats: `--format` when given, else `drizzle` for a folder with
 * `meta/_journal.json` and `prisma` for anything else. Everything format-specific is reached
 * through the `Format` this returns.
 */
import type { MigrationFormat } from '../../lambda/contract/index.js';
import { hasJournal, JOURNAL_FILE } from './drizzle/discover.js';
import { drizzleFormat } from './drizzle/drizzle.js';
import type { Format } from './format.js';
import { prismaFormat } from './prisma/prisma.js';

const FORMATS: Record<MigrationFormat, Format> = { prisma: prismaFormat, drizzle: drizzleFormat };

/** How detection decides, for messages (`--format` remedies). */
export const DETECTION_RULE = `${JOURNAL_FILE} present → drizzle`;

/** The forced format, else `drizzle` when `dir/meta/_journal.json` exists, else `prisma`. */
export async function detectFormat(dir: string, forced?: MigrationFormat): Promise<MigrationFormat> {
  if (forced) return forced;
  return (await hasJournal(dir)) ? 'drizzle' : 'prisma';
}

/** The format of the migrations in `dir` (see {@link detectFormat}). */
export async function formatFor(dir: string, forced?: MigrationFormat): Promise<Format> {
  return FORMATS[await detectFormat(dir, forced)];
}

/** The format a report names (`format` absent: Prisma). */
export function formatNamed(name: MigrationFormat | undefined): Format {
  return FORMATS[name ?? 'prisma'];
}
