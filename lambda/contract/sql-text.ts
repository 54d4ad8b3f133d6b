/**
 * SQL text with its values kept apart: the worker sends a statement parameterised, a caller that
 * can send no parameters (compatibility mode's run-sql worker, a DO block) inlines the same
 * statement's values as literals. One statement text, two ways to send it.
 */

import { sqlTokens } from './sql-lexer.js';

export type SqlValue = string | number | Date | null | readonly string[];

/** A statement whose placeholders `$1…$n` stand for `values[0…n-1]`. */
export interface SqlStatement {
  text: string;
  values: SqlValue[];
}

/** A PostgreSQL string literal that means the same whatever `standard_conforming_strings` says. */
export function literal(text: string): string {
  if (!text.includes('\\')) return `'${text.replaceAll("'", "''")}'`;
  return `E'${text.replaceAll('\\', '\\\\').replaceAll("'", "''")}'`;
}

/** A quoted identifier. */
export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** Collects values while a statement is written: `p(value)` returns its placeholder. */
export function placeholders(): { values: SqlValue[]; p: (value: SqlValue) => string } {
  const values: SqlValue[] = [];
  return {
    values,
    p: (value) => {
      values.push(value);
      return `$${values.length}`;
    },
  };
}

/** One value as SQL text. */
export function valueLiteral(value: SqlValue): string {
  if (value === null) return 'NULL';
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new Error(`not a finite number: ${value}`);
    return String(value);
  }
  if (value instanceof Date) return literal(value.toISOString());
  if (typeof value === 'string') return literal(value);
  return `ARRAY[${value.map(literal).join(', ')}]`;
}

/**
 * The statement with its values written in as literals. A `$n` is a placeholder only where
 * PostgreSQL would read one (sql-lexer.ts): not inside a string, a quoted identifier (a schema
 * named `a$1` is a name, not a parameter), a dollar-quoted body or a comment, nor within an
 * identifier.
 */
export function inline(statement: SqlStatement): string {
  const { text, values } = statement;
  let out = '';
  let copied = 0;
  for (const p of placeholdersIn(text)) {
    if (p.index < 1 || p.index > values.length) throw new Error(`no value for $${p.index} in: ${text}`);
    out += text.slice(copied, p.start) + valueLiteral(values[p.index - 1] as SqlValue);
    copied = p.end;
  }
  return out + text.slice(copied);
}

type Placeholder = { index: number; start: number; end: number };

/**
 * The placeholders of a statement's text, lexed once per text: the ledger's statements repeat
 * one text with other values (a row per migration), and lexing each again cost ~20 ms over 820.
 */
const placeholderMemo = new Map<string, readonly Placeholder[]>();
const PLACEHOLDER_MEMO_MAX = 64;

function placeholdersIn(text: string): readonly Placeholder[] {
  const known = placeholderMemo.get(text);
  if (known) return known;
  const found: Placeholder[] = [];
  for (const token of sqlTokens(text))
    if (token.kind === 'parameter') found.push({ index: token.index, start: token.start, end: token.end });
  if (placeholderMemo.size >= PLACEHOLDER_MEMO_MAX) placeholderMemo.clear();
  placeholderMemo.set(text, found);
  return found;
}
