/**
 * What read-only run-sql refuses before sending a statement: calls with effects that neither a
 * READ ONLY transaction nor the reader's privileges stop, because PostgreSQL grants them to
 * every login. The reader's rights and the transaction do the rest; this list only closes the
 * gaps they leave:
 *
 * - `pg_logical_emit_message` writes WAL at once (non-transactional), even in a READ ONLY
 *   transaction that is rolled back;
 * - advisory locks (`pg_advisory_*`, `pg_try_advisory_*`) would hold the migration lock and keep
 *   deploys waiting for as long as the statement runs;
 * - `pg_authid`, `pg_shadow`, `pg_user_mapping` hold password hashes and foreign servers'
 *   passwords, which `pg_read_all_data` would let the reader read;
 * - functions that run SQL given as text (`query_to_xml…`, `cursor_to_xml…`, `ts_stat`,
 *   `ts_rewrite`, `dblink…`) would hide any call in a string, out of this check's sight; so would
 *   a `DO` block, whose body is a string too; `table_to_xml` and its kin read a relation named
 *   by value (an OID, a string), so a catalog below would not be named either.
 *
 * NOTIFY and pg_notify need no entry: read-only run-sql always rolls back, and PostgreSQL
 * delivers notifications only on commit. Functions a database defines itself that call these
 * are outside this check (docs/commands.md says so).
 */
import { sqlTokens } from './contract/index.js';

const REFUSED_NAMES = new Set([
  'pg_logical_emit_message',
  'query_to_xml',
  'query_to_xmlschema',
  'query_to_xml_and_xmlschema',
  'cursor_to_xml',
  'cursor_to_xmlschema',
  'ts_stat',
  'ts_rewrite',
  // Read a table, schema or database named by value (`table_to_xml(1260, …)` is pg_authid).
  'table_to_xml',
  'table_to_xmlschema',
  'table_to_xml_and_xmlschema',
  'schema_to_xml',
  'schema_to_xmlschema',
  'schema_to_xml_and_xmlschema',
  'database_to_xml',
  'database_to_xmlschema',
  'database_to_xml_and_xmlschema',
  // Catalogs that hold credentials, readable with pg_read_all_data: password hashes, user mappings' options.
  'pg_authid',
  'pg_shadow',
  'pg_user_mapping',
  // `U&"…" UESCAPE '!'` names a function in an escape this check does not decode.
  'uescape',
]);
const REFUSED_PREFIXES = ['pg_advisory_', 'pg_try_advisory_', 'dblink'];

/**
 * The refused function or catalog `sql` names, if any: identifiers outside strings and comments
 * (lambda/contract/sql-lexer.ts: a `--` comment ends at a carriage return as at a newline, as
 * PostgreSQL's lexer has it), unquoted names folded to lower case, quoted names as written, a
 * Unicode-escaped name (`U&"…"`) decoded, so `U&"pg\005fnotify"` is seen. `do` for a DO block,
 * wherever it stands.
 */
export function refusedCall(sql: string): string | undefined {
  let refused: string | undefined;
  for (const token of sqlTokens(sql)) {
    let name: string;
    if (token.kind === 'word') {
      name = token.text.toLowerCase();
      // DO runs PL/pgSQL whose calls sit in a dollar-quoted body, out of this scan's sight. A
      // keyword (reserved), so only unquoted: a column named "do" is a name.
      if (name === 'do') return 'do';
    } else if (token.kind === 'quoted-identifier') {
      name = token.unicode ? decodeUnicodeEscapes(token.name) : token.name;
    } else continue;
    if (refused === undefined && (REFUSED_NAMES.has(name) || REFUSED_PREFIXES.some((p) => name.startsWith(p))))
      refused = name;
  }
  return refused;
}

/**
 *  `\XXXX` and `\+XXXXXX` with the default escape character (UESCAPE is refused by the caller's list: any other escape
 *  keeps the raw text).
 */
function decodeUnicodeEscapes(text: string): string {
  return text
    .replace(/\\\+([0-9a-fA-F]{6})|\\([0-9a-fA-F]{4})/g, (_, six: string | undefined, four: string | undefined) =>
      String.fromCodePoint(parseInt((six ?? four) as string, 16)),
    )
    .replace(/\\\\/g, '\\');
}
