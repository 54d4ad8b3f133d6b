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
 * The statement with its values written in as literals. A `$n` is a placeholder only where
 * PostgreSQL would read one: not inside a string, a quoted identifier (a schema named `a$1`
 * is a name, not a parameter), a dollar-quoted body or a comment, nor within an identifier.
 */
export function inline(statement: SqlStatement): string {
  const { text, values } = statement;
  let out = '';
  let copied = 0;
  for (let i = 0; i < text.length; ) {
    const c = text[i] as string;
    let end: number;
    if (c === "'") end = stringEnd(text, i, isEscapeStringStart(text, i));
    else if (c === '"') end = quotedEnd(text, i, '"');
    else if (c === '-' && text[i + 1] === '-') end = lineEnd(text, i);
    else if (c === '/' && text[i + 1] === '*') end = blockCommentEnd(text, i);
    else if (c === '$' && !IDENT_PART.test(text[i - 1] ?? '')) {
      const param = /^\$(\d+)/.exec(text.slice(i, i + 12));
      if (param) {
        const index = Number(param[1]) - 1;
        if (index >= values.length) throw new Error(`no value for $${param[1]} in: ${text}`);
        out += text.slice(copied, i) + valueLiteral(values[index] as SqlValue);
        i += param[0].length;
        copied = i;
        continue;
      }
      end = dollarQuoteEnd(text, i);
    } else end = i + 1;
    i = end;
  }
  return out + text.slice(copied);
}

/** A character that continues an identifier (PostgreSQL allows `$` after the first). */
const IDENT_PART = /[\w$\u0080-\uffff]/;

/** `E'…'` (or `e'…'`), the prefix not the end of a longer identifier: backslash escapes apply. */
function isEscapeStringStart(text: string, quote: number): boolean {
  const prefix = text[quote - 1];
  return (prefix === 'E' || prefix === 'e') && !IDENT_PART.test(text[quote - 2] ?? '');
}

/** Past the string starting at `at`: `''` is a quote inside it, and with `escapes` so is `\'`. */
function stringEnd(text: string, at: number, escapes: boolean): number {
  for (let i = at + 1; i < text.length; i++) {
    if (escapes && text[i] === '\\') i++;
    else if (text[i] === "'") {
      if (text[i + 1] === "'") i++;
      else return i + 1;
    }
  }
  return text.length;
}

/** Past the quoted text starting at `at`, where a doubled quote stands for itself. */
function quotedEnd(text: string, at: number, quote: string): number {
  for (let i = at + 1; i < text.length; i++) {
    if (text[i] === quote) {
      if (text[i + 1] === quote) i++;
      else return i + 1;
    }
  }
  return text.length;
}

function lineEnd(text: string, at: number): number {
  const nl = text.indexOf('\n', at);
  return nl === -1 ? text.length : nl + 1;
}

/** Past a block comment; PostgreSQL's nest. */
function blockCommentEnd(text: string, at: number): number {
  let depth = 0;
  for (let i = at; i < text.length - 1; i++) {
    if (text[i] === '/' && text[i + 1] === '*') {
      depth++;
      i++;
    } else if (text[i] === '*' && text[i + 1] === '/') {
      depth--;
      i++;
      if (depth === 0) return i + 1;
    }
  }
  return text.length;
}

/** Past a dollar-quoted body `$tag$…$tag$` starting at `at`; a lone `$` is one character. */
function dollarQuoteEnd(text: string, at: number): number {
  const open = /^\$([A-Za-z_\u0080-\uffff][\w\u0080-\uffff]*)?\$/.exec(text.slice(at, at + 64));
  if (!open) return at + 1;
  const close = text.indexOf(open[0], at + open[0].length);
  return close === -1 ? text.length : close + open[0].length;
}
