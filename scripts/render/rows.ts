/**
 * Rows for people and for spreadsheets: an aligned text table (psql's layout) and RFC 4180 CSV,
 * plus the psql-style pointer under the position of a PostgreSQL error.
 */
import { stringify } from 'csv-stringify/sync';
import type { SqlErrorInfo } from '../../lambda/contract/index.js';
import { visible } from './escape.js';

/** One cell as text: NULL spelled out, objects (json, arrays) as JSON, newlines made visible. */
export function cellText(value: unknown): string {
  if (value === null || value === undefined) return 'NULL';
  if (typeof value === 'string') return value;
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

const MAX_CELL = 200;

/**
 *  Text from the database made safe for a terminal (render/escape.ts); tabs and line breaks are kept for the caller to
 *  lay out.
 */
export function visibleText(text: string): string {
  return visible(text, { keepLines: true });
}

function displayCell(value: unknown): string {
  const text = visibleText(cellText(value).replace(/\r?\n/g, '↵').replace(/\t/g, ' '));
  return text.length > MAX_CELL ? `${text.slice(0, MAX_CELL - 1)}…` : text;
}

const width = (s: string): number => [...s].length;
const pad = (s: string, n: number): string => s + ' '.repeat(Math.max(0, n - width(s)));

/**
 * @example
 * renderTable(['id', 'name'], [{ id: 1, name: 'a' }])
 * // ' id | name\n----+------\n 1  | a'
 */
export function renderTable(columns: string[], rows: Record<string, unknown>[]): string {
  if (columns.length === 0) return '';
  const cells = rows.map((r) => columns.map((c) => displayCell(r[c])));
  const names = columns.map((c) => visibleText(c));
  const widths = names.map((c, i) => Math.max(width(c), ...cells.map((row) => width(row[i] ?? ''))));
  const line = (values: string[]) =>
    ' ' +
    values
      .map((v, i) => pad(v, widths[i] ?? 0))
      .join(' | ')
      .trimEnd();
  return [line(names), widths.map((w) => '-'.repeat(w + 2)).join('+'), ...cells.map(line)].join('\n');
}

/**
 * RFC 4180 through csv-stringify: CRLF line ends, fields quoted when they hold a comma, quote or
 * line break, or start or end with white space (a spreadsheet would trim it). NULL is
 * empty; json and arrays are JSON, booleans `true`/`false`, as in the table.
 */
export function renderCsv(columns: string[], rows: Record<string, unknown>[]): string {
  return stringify([columns, ...rows.map((r) => columns.map((c) => r[c]))], {
    record_delimiter: 'windows',
    eof: false,
    // csv-stringify quotes a lone LF only when it is the record delimiter; RFC 4180 readers need it quoted too.
    quoted_match: /^\s|\s$|[\r\n]/,
    cast: { boolean: (value) => String(value), date: (value) => value.toISOString() },
  });
}

/**
 * psql's `LINE n: …` with a caret under the error position, for an error located in `sql`
 * (1-based line and column, as lambda/sql-error.ts computes them).
 */
export function caretLines(sql: string, error: Pick<SqlErrorInfo, 'line' | 'column'>, prefix = 'LINE'): string[] {
  if (error.line === undefined || error.column === undefined) return [];
  const text = sql.split('\n')[error.line - 1]?.replace(/\r$/, '').replace(/\t/g, ' ');
  if (text === undefined) return [];
  let start = 0;
  let column = error.column;
  // Long lines: a window around the position, as psql does.
  if (text.length > 100 && column > 60) start = column - 50;
  let shown = text.slice(start, start + 100);
  if (start > 0) shown = `...${shown}`;
  if (start + 100 < text.length) shown = `${shown}...`;
  column = column - start + (start > 0 ? 3 : 0);
  const label = `${prefix} ${error.line}: `;
  return [`${label}${shown}`, `${' '.repeat(label.length + column - 1)}^`];
}
