/** Text of `sql` (run-sql): rows as psql lays them out (or CSV), notices, the footer, and errors with a caret. */
import { type ErrorBody, type RunSqlResult, sqlErrorOf } from '../../lambda/contract/index.js';
import type { SqlReport } from '../commands/sql.js';
import { bold, dim, functionLines, red, yellow } from './common.js';
import { caretLines, renderCsv, renderTable, visibleText as visible } from './rows.js';

export { sqlErrorOf };

/** The footer psql would print, plus ours: command tag, row count, truncation, duration. */
export function sqlFooter(r: RunSqlResult): string {
  const tag = r.rowCount === null ? r.command : `${r.command} ${r.rowCount}`;
  const shown =
    r.fields.length > 0
      ? `(${r.rows.length} row${r.rows.length === 1 ? '' : 's'}` +
        `${r.truncated ? `, ${yellow('truncated')}: more rows exist, raise --max-rows or narrow the query` : ''}) `
      : '';
  return `${shown}${dim(`${tag} · ${r.durationMs} ms`)}`;
}

/** The failed statement as psql shows it: SQLSTATE and message, the caret, DETAIL, HINT, and the remedy. */
export function renderSqlError(sql: string, body: ErrorBody): string {
  const info = sqlErrorOf(body);
  const lines = [`${red('ERROR')}${info?.code ? ` ${info.code}` : ''}: ${visible(info?.message ?? body.message)}`];
  if (info) lines.push(...caretLines(sql, info).map(visible));
  if (info?.detail) lines.push(`DETAIL: ${visible(info.detail)}`);
  if (info?.hint) lines.push(`HINT: ${visible(info.hint)}`);
  if (info?.where) lines.push(`CONTEXT: ${visible(info.where)}`);
  if (info?.code === '42601' && /multiple commands/.test(info.message)) {
    lines.push(
      `${dim('next')} Read-only run-sql takes exactly one ` +
        `statement (so a COMMIT cannot end the read-only transaction). ` +
        `Run them one by one, or use --write.`,
    );
  } else {
    lines.push(`${dim('next')} ${body.remedy}`);
  }
  return lines.join('\n');
}

export function renderSql(r: SqlReport, format: 'table' | 'csv' = 'table'): string {
  if (r.cancelled) return 'Cancelled: nothing was run.';
  if (r.error) return renderSqlError(r.sql, r.error);
  const result = r.result;
  if (!result) return 'No result: the statement was not run.';
  const columns = result.fields.map((f) => f.name);
  if (format === 'csv') return renderCsv(columns, result.rows);
  const out: string[] = [];
  if (columns.length > 0) out.push(renderTable(columns, result.rows));
  for (const n of result.notices) out.push(dim(visible(n)));
  out.push(sqlFooter(result));
  if (r.write) out.push(bold(`Committed (--write).`));
  out.push(...functionLines(r.function));
  return out.join('\n');
}
