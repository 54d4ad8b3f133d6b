/**
 * Secrets never reach a log line or a report: every string the worker logs or answers with, and
 * every error the CLI prints, passes through `redact`, which masks passwords in connection
 * strings, `password=` pairs and SQL that sets one, whatever produced them (pg errors echo
 * connection strings).
 */

const URL_PASSWORD = /(\b[a-z][a-z0-9+.-]*:\/\/[^:\s/@]*:)([^@\s]+)(@)/gi;
const KEY_VALUE_PASSWORD = /\b(password|passwd|pwd)(\s*[=:]\s*)("[^"]*"|'[^']*'|[^\s,;&]+)/gi;
/**
 *  SQL that sets one: `CREATE ROLE … PASSWORD 'x'`, `ALTER USER … ENCRYPTED PASSWORD E'x'`, FDW `OPTIONS (password
 *  'x')`.
 */
const SQL_PASSWORD = /\b(password\s+)(E?'(?:[^'\\]|\\.|'')*')/gi;

export function redact(text: string): string {
  return text.replace(URL_PASSWORD, '$1***$3').replace(KEY_VALUE_PASSWORD, '$1$2***').replace(SQL_PASSWORD, "$1'***'");
}
