/**
 * Deploy's lint for a Drizzle journal: the shared rules (scripts/lint/pending.ts), except
 * `concurrently-mixed`, which judges a file as Prisma runs it (one implicit transaction). A
 * Drizzle file runs chunk by chunk and may end its transaction itself (`COMMIT;--> statement-
 * breakpoint` before `CREATE INDEX CONCURRENTLY`), so the chunk-aware check of chunks.ts takes
 * its place: a non-transactional statement still inside the file's transaction, or sharing
 * its chunk, is refused before anything is applied.
 */
import { ErrorCode } from '../../../lambda/contract/index.js';
import type { Problem } from '../../core/plan.js';
import type { ParserSource } from '../../core/sql-parser.js';
import { lintPending } from '../../lint/pending.js';
import type { ParseCache } from '../../project/parse-cache.js';
import { cachedDrizzleSplit, drizzleNeedsParser } from './chunks.js';
import type { DrizzleDiscovery } from './discover.js';

const REPLACED_RULE = '[concurrently-mixed]';

export async function lintDrizzlePending(
  parser: ParserSource,
  discovery: DrizzleDiscovery,
  pending: readonly string[],
  opts: { defaultSchema?: string; cache?: ParseCache } = {},
): Promise<{ problems: Problem[]; warnings: string[] }> {
  const linted = await lintPending(parser, discovery.migrations, pending, opts);
  // The shared linter names files Prisma's way (`NAME/migration.sql`); a Drizzle file is `NAME.sql`.
  const names = new Set(pending);
  const rename = (text: string) =>
    text.replace(/([^\s/]+)\/migration\.sql\b/g, (whole, name: string) => (names.has(name) ? `${name}.sql` : whole));
  const problems = linted.problems
    .filter((p) => !p.message.includes(REPLACED_RULE))
    .map((p) => ({ ...p, message: rename(p.message) }));
  const byName = new Map(discovery.migrations.map((m) => [m.name, m]));
  const chosen = pending.map((name) => byName.get(name));
  const loaded = opts.cache && !drizzleNeedsParser(opts.cache, chosen) ? undefined : await parser();
  for (const m of chosen) {
    if (!m) continue;
    const name = m.name;
    for (const issue of cachedDrizzleSplit(loaded, m, opts.cache).refused) {
      problems.push({
        code: ErrorCode.LintFailed,
        migration: name,
        message:
          `${name}.sql:${issue.line} [drizzle-chunk-transaction] ` +
          `PostgreSQL will refuse this statement (25001): ${issue.message}.`,
        remedy:
          'Fix the chunks as described (drizzle-orm fails on this ' +
          'file too), or deploy anyway: `vpc-migrate deploy --no-lint`.',
      });
    }
  }
  return { problems, warnings: linted.warnings.map(rename) };
}
