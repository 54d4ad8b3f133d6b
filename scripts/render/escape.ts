/**
 * Text for a terminal: control characters (C0, DEL, C1) shown as `\xNN`. ESC starts the
 * sequences that recolour, retitle or rewrite a terminal; a carriage return rewrites the line;
 * a newline in a folder name fakes a line of the report. Folder names, ledger text and the
 * database's messages are anyone's bytes: every text output goes through here. JSON output is
 * escaped by JSON itself.
 */

const ALL = /[\u0000-\u001f\u007f-\u009f]/g;
/** Keeps line breaks (`\n`, `\r\n`) and tabs, for text that is laid out over lines (a DETAIL). */
const BUT_LAYOUT = /\r(?!\n)|[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]/g;
/** Any control character at all: most strings hold none and are returned as they are. */
const ANY = /[\u0000-\u001f\u007f-\u009f]/;

const hex = (c: string) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`;

/**
 * `text` with every control character as `\xNN`; `keepLines` keeps newlines and tabs.
 *
 * @example visible('001_\u001b[31mx') // '001_\\x1b[31mx'
 */
export function visible(text: string, opts: { keepLines?: boolean } = {}): string {
  if (!ANY.test(text)) return text;
  return text.replace(opts.keepLines ? BUT_LAYOUT : ALL, hex);
}

/** Report fields that hold text laid out over lines (drift's definitions too); every other string is one line. */
const MULTILINE_KEYS = new Set(['detail', 'hint', 'where', 'statement', 'logs', 'sql', 'expected', 'live']);

/** The database's rows: rendered cell by cell (render/rows.ts), and CSV needs them as they are. */
const DATA_KEYS = new Set(['rows', 'fields', 'columns', 'notices']);

/**
 * A report (or error body) with every string made {@link visible}, for the text renderers: one
 * place, so no renderer can forget. Fields that are laid out over lines keep their line breaks;
 * rows are left to render/rows.ts.
 */
export function visibleReport<T extends object>(value: T): T {
  const keepLines = (key: string | undefined) => key !== undefined && MULTILINE_KEYS.has(key);
  return mapStrings(value, (text, key) => visible(text, { keepLines: keepLines(key) }), DATA_KEYS);
}

/**
 * A copy of a report (or error body) with `f` applied to every string in its plain objects and
 * arrays, except under the keys in `skip`. `key`: the property the string is under (an array's
 * items are under the array's). A copy, so the report printed as JSON keeps its own strings.
 */
type StringMap = (text: string, key: string | undefined) => string;

export function mapStrings<T extends object>(value: T, f: StringMap, skip: ReadonlySet<string>): T {
  return mapped(value, undefined, f, skip) as T;
}

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && Object.getPrototypeOf(value) === Object.prototype;

/**
 * The copy, made in the same walk that maps its strings (a report of 820 applied migrations is
 * walked once, not cloned and then walked). Skipped keys and anything that is not a plain object
 * or array are copied as structuredClone copies them.
 */
function mapped(value: unknown, key: string | undefined, f: StringMap, skip: ReadonlySet<string>): unknown {
  if (typeof value === 'string') return f(value, key);
  if (typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) {
    const out = new Array<unknown>(value.length);
    for (let i = 0; i < value.length; i++) out[i] = mapped(value[i], key, f, skip);
    return out;
  }
  if (!isPlainObject(value)) return structuredClone(value);
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(value)) {
    const item = value[k];
    out[k] = skip.has(k)
      ? typeof item === 'object' && item !== null
        ? structuredClone(item)
        : item
      : mapped(item, k, f, skip);
  }
  return out;
}
