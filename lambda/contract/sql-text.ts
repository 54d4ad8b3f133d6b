/**
 * SQL text with its values kept apart: the worker sends a statement parameterised, a caller that
 * can send no parameters (compatibility mode's run-sql worker, a DO block) inlines the same
 * statement's values as literals. One statement text, two ways to send it.
 */

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
 * The statement with its values written in as literals. Placeholders are found by pattern: the
 * texts passed here are ours and hold no `$` other than their placeholders.
 */
export function inline(statement: SqlStatement): string {
  return statement.text.replace(/\$(\d+)/g, (_, n: string) => {
    const index = Number(n) - 1;
    if (index >= statement.values.length) throw new Error(`no value for $${n} in: ${statement.text}`);
    return valueLiteral(statement.values[index] as SqlValue);
  });
}
