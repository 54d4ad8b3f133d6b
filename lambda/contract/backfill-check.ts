/** A backfill file's `-- check:` query: the CLI shows it before running, the worker runs it before and after. */

/** Rows of the check query returned at most. */
export const CHECK_MAX_ROWS = 100;
/**
 * The sanity query from the file's leading comment block: `-- check: SELECT …`, continued on
 * the following comment lines that are indented by at least two spaces (`--   FROM …`).
 *
 * @example
 * parseBackfillCheck('-- check: SELECT count(*) AS left\n--   FROM "Order" WHERE "totalCents" = 0\nUPDATE …')
 * // → 'SELECT count(*) AS left FROM "Order" WHERE "totalCents" = 0'
 */
export function parseBackfillCheck(sql: string): string | undefined {
  const lines = sql.replace(/^\uFEFF/, '').split(/\r?\n/);
  let query: string[] | undefined;
  for (const line of lines) {
    const trimmed = line.trim();
    if (trimmed === '') {
      if (query) break;
      continue;
    }
    if (!trimmed.startsWith('--')) break;
    if (query) {
      const more = /^--(?: {2,}|\t)(.*)$/.exec(trimmed);
      if (!more) break;
      query.push((more[1] ?? '').trim());
      continue;
    }
    const start = /^--\s*check:\s*(.*)$/i.exec(trimmed);
    if (start) query = [(start[1] ?? '').trim()];
  }
  const text = query
    ?.join(' ')
    .trim()
    .replace(/;+\s*$/, '')
    .trim();
  return text ? text : undefined;
}
