/**
 * One worker, many databases: an event's `database` names one of the databases the worker is
 * configured for (its allow-list, WORKER_ENV.databases, set by the construct's `databases` prop).
 * The name's form, the refusal of a name outside the list and the reading of the list live here,
 * so the worker, the CLI and the stack agree on them.
 */
import { ErrorCode, MigrateError } from './errors.js';
import { WORKER_ENV } from './reader-role.js';
import { DATABASE_NAME_PATTERN, DATABASE_NAME_RULE } from './wire.js';

export function isDatabaseName(name: string): boolean {
  return DATABASE_NAME_PATTERN.test(name);
}

/** How many allowed names a refusal lists before it only counts the rest. */
const LISTED_NAMES = 20;

/**
 * The event's `database` is not in the worker's allow-list (or the worker has none): refused
 * before any secret is read or any connection opened. `reader`: the reader function, which
 * serves only its own database (docs/aws.md, "Many databases").
 */
export function databaseNotAllowed(selector: string, allowed: readonly string[], reader = false): MigrateError {
  const names = [...allowed].sort();
  const listed = names.slice(0, LISTED_NAMES).join(', ');
  const more = names.length > LISTED_NAMES ? ` and ${names.length - LISTED_NAMES} more` : '';
  const served = reader
    ? 'the reader function serves only its own database, never a named one'
    : names.length === 0
      ? 'this worker is configured for no named databases'
      : `this worker is configured for ${names.length} named database(s): ${listed}${more}`;
  // Never "leave out --database": that runs the command against another database than the one named.
  const remedy = reader
    ? 'Send the command to the migrating worker (--function NAME|ARN or --stack NAME), which serves the named ' +
      'databases: with --database, status and lint go to it.'
    : `Add {name: '${selector}', secret, securityGroup} to the MigrationWorker construct's \`databases\` prop and ` +
      `redeploy (it sets ${WORKER_ENV.databases}, grants its secret and opens its port); with --local, add it to ` +
      `${WORKER_ENV.databases} ('{"${selector}":"postgresql://…"}'); or check the name.`;
  return new MigrateError(ErrorCode.DatabaseNotAllowed, `Database "${selector}" is not allowed: ${served}.`, remedy, {
    details: { database: selector, allowed: names.slice(0, LISTED_NAMES), allowedCount: names.length },
  });
}

/** A named database given by connection URL (local use), not by its RDS credentials secret. */
export function isDatabaseUrl(target: string): boolean {
  return /^postgres(ql)?:\/\//i.test(target);
}

/**
 * What else a named database may be given by: a secret ARN, or a secret name (Secrets Manager's
 * characters, no `:`). Anything else (a mistyped URL scheme) is refused when the list is read, so
 * it never reaches Secrets Manager as a secret id, whose errors would quote it, password and all.
 */
const SECRET_ID = /^(arn:[\x21-\x7e]{1,2048}|[A-Za-z0-9/_+=.@-]{1,512})$/;

/**
 * The allow-list from WORKER_ENV.databases: name → secret ARN (or name), or a connection URL
 * locally. Absent or empty: no named databases. A malformed value is returned as the error to
 * raise when an event names a database, so a worker with a broken list still serves its own.
 */
export function parseDatabaseList(text: string | undefined): Record<string, string> | MigrateError {
  if (text === undefined || text.trim() === '') return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return unusableList('not JSON');
  }
  return checkDatabaseList(value);
}

/**
 * An allow-list however it was given (VPCM_DATABASES, `createHandler({ databases })`,
 * `startLocalWorker({ databases })`): names of {@link DATABASE_NAME_PATTERN}, each to a
 * postgresql:// URL or a secret ARN or name; else the error to raise when an event names a database.
 */
export function checkDatabaseList(value: unknown): Record<string, string> | MigrateError {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return unusableList('not a JSON object');
  const list: Record<string, string> = {};
  for (const [name, target] of Object.entries(value)) {
    if (!isDatabaseName(name)) {
      return unusableList(`the name ${JSON.stringify(name.slice(0, 64))} is not ${DATABASE_NAME_RULE}`);
    }
    if (typeof target !== 'string' || target === '') return unusableList(`"${name}" is not a non-empty string`);
    // The value is never quoted: it may be a URL with a password.
    if (!isDatabaseUrl(target) && !SECRET_ID.test(target)) {
      return unusableList(`"${name}" is neither a postgresql:// URL nor a secret ARN or name`);
    }
    list[name] = target;
  }
  return list;
}

function unusableList(why: string): MigrateError {
  return new MigrateError(
    ErrorCode.ConfigMissing,
    `${WORKER_ENV.databases} is not usable: ${why}.`,
    `Set ${WORKER_ENV.databases} to a JSON object {"<name>": "<secret ARN>"} with names of ${DATABASE_NAME_RULE} ` +
      '(the MigrationWorker construct\'s `databases` prop does; with --local, {"<name>": "postgresql://…"}).',
  );
}
