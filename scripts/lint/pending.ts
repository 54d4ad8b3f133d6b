/**
 * Deploy's lint of the pending migrations (both formats; Drizzle adds its chunk check in
 * formats/drizzle/pending-lint.ts): error findings become problems that refuse the deploy, warnings
 * become report lines, counted per rule beyond a handful so a large backlog stays readable.
 */
import { ErrorCode } from '../../lambda/contract/index.js';
import type { Problem } from '../core/plan.js';
import type { ParserSource } from '../core/sql-parser.js';
import type { LocalMigration } from '../formats/format.js';
import { historyKeys, lintKey, NO_PARSE_CACHE, type ParseCache } from '../project/parse-cache.js';
import { lint } from './linter.js';
import { SchemaModel } from './schema.js';
import type { Finding, LintInput } from './types.js';

/** Deploy lists at most this many lint warnings one by one; beyond, it counts them per rule. */
const MAX_LISTED_WARNINGS = 10;

export interface PendingLint {
  findings: Finding[];
  /** One per error finding: deploy refuses (`VPCM_LINT_FAILED`). */
  problems: Problem[];
  /** Lines for the deploy report's warnings. */
  warnings: string[];
}

/**
 * Lints the pending migrations for deploy: `local` in apply order, `pending` from the plan.
 * Errors become problems (deploy refuses), warnings become report lines. The findings depend on
 * every local file (the history teaches the schema model), so the parse cache keeps them under
 * the whole sequence of checksums; on a hit nothing is parsed and the parser is never loaded.
 */
export async function lintPending(
  parser: ParserSource,
  local: readonly LocalMigration[],
  pending: readonly string[],
  opts: { defaultSchema?: string; cache?: ParseCache } = {},
): Promise<PendingLint> {
  if (pending.length === 0) return { findings: [], problems: [], warnings: [] };
  const wanted = new Set(pending);
  const cache = opts.cache ?? NO_PARSE_CACHE;
  const key = lintKey(
    local.map((m) => ({ name: m.name, checksum: m.checksum, linted: wanted.has(m.name) })),
    { scope: 'batch', ...(opts.defaultSchema ? { defaultSchema: opts.defaultSchema } : {}) },
  );
  let findings = cache.lint(key);
  if (!findings) {
    // The history (what is applied) only teaches the model: the model the last deploy learned
    // is restored, and only the files applied since are parsed.
    const history = local.filter((m) => !wanted.has(m.name));
    const keys = historyKeys(history, opts.defaultSchema);
    const known = cache.model(keys);
    findings = lint(await parser(), local.filter((m) => wanted.has(m.name)).map(lintInput), history.map(lintInput), {
      ...(opts.defaultSchema ? { defaultSchema: opts.defaultSchema } : {}),
      ...(known ? { start: { model: SchemaModel.restore(known.snapshot), learned: known.learned } } : {}),
      onHistoryLearned: (model) => {
        const learnedMore = history.length > (known?.learned ?? 0);
        if (learnedMore && cache !== NO_PARSE_CACHE) cache.rememberModel(keys[history.length]!, model.snapshot());
      },
    }).findings;
    cache.rememberLint(key, findings);
  }
  const problems: Problem[] = findings
    .filter((f) => f.severity === 'error')
    .map((f) => ({
      code: ErrorCode.LintFailed,
      migration: f.migration,
      message: `${f.file}:${f.line} [${f.rule}] ${f.message}`,
      remedy: `${f.fix} Or deploy without these checks: \`vpc-migrate deploy --no-lint\`.`,
    }));
  const warned = findings.filter((f) => f.severity === 'warning');
  let warnings: string[];
  if (warned.length <= MAX_LISTED_WARNINGS) {
    warnings = warned.map((f) => `lint ${f.file}:${f.line} [${f.rule}] ${f.message}`);
  } else {
    const perRule = new Map<string, number>();
    for (const f of warned) perRule.set(f.rule, (perRule.get(f.rule) ?? 0) + 1);
    const files = new Set(warned.map((f) => f.migration)).size;
    warnings = [
      `lint: ${warned.length} warning(s) in ${files} pending ` +
        `migration(s) (${[...perRule].map(([r, n]) => `${r} ${n}`).join(', ')}); ` +
        `\`vpc-migrate lint\` lists them with the fix.`,
    ];
  }
  return { findings, problems, warnings };
}

/** A local migration as the linter reads it. */
export function lintInput(m: LocalMigration): LintInput {
  return { name: m.name, sql: m.sql, path: m.path };
}
