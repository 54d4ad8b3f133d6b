/**
 * One PostgreSQL connection per invocation. The ledger lives in the connection's schema: a
 * Prisma-style `?schema=NAME` in the URL becomes the session's search_path, as Prisma does.
 */
import pg from 'pg';
import { ErrorCode, MigrateError, quoteIdent, redact, WORKER_ENV } from './contract/index.js';

export type Db = pg.Client;

export interface ConnectOptions {
  /** Shown in pg_stat_activity, so a waiting deployer can tell who holds the lock. */
  applicationName?: string;
}

/**
 * Splits Prisma's `schema` URL parameter off (pg would ignore it) into a search_path option.
 * `from`: where the URL was set, for the error a malformed one raises.
 */
export function clientConfigFromUrl(url: string, from: string = WORKER_ENV.migratorUrl): pg.ClientConfig {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new MigrateError(
      ErrorCode.ConfigMissing,
      `${from} is not a valid URL.`,
      `Set ${from} to postgresql://USER:PASSWORD@HOST:PORT/DATABASE.`,
    );
  }
  const schema = parsed.searchParams.get('schema');
  parsed.searchParams.delete('schema');
  const config: pg.ClientConfig = { connectionString: parsed.toString() };
  if (schema) config.options = `-c search_path=${quoteIdent(schema)}`;
  return config;
}

/**
 * The same login's settings for another database on the same server (drift's scratch database):
 * the URL's path or the `database` field replaced, everything else (host, TLS, password, the
 * search_path a `?schema=` gave) kept. pg reads a connectionString over `database`, so the URL is rewritten.
 */
export function withDatabaseName(config: pg.ClientConfig, database: string): pg.ClientConfig {
  if (config.connectionString === undefined) return { ...config, database };
  const url = new URL(config.connectionString);
  url.pathname = `/${encodeURIComponent(database)}`;
  return { ...config, connectionString: url.toString() };
}

export async function connect(config: pg.ClientConfig, options: ConnectOptions = {}): Promise<Db> {
  const client = new pg.Client({
    ...config,
    application_name: options.applicationName ?? 'vpc-migrate',
    connectionTimeoutMillis: config.connectionTimeoutMillis ?? 10_000,
  });
  // A dropped connection emits 'error' outside any query; without a listener it would crash the worker.
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (error) {
    await client.end().catch(() => undefined);
    throw connectionError(error);
  }
  return client;
}

export function connectionError(error: unknown): MigrateError {
  const e = error as { message?: string; code?: string };
  return new MigrateError(
    ErrorCode.ConnectionFailed,
    `Could not connect to PostgreSQL: ${redact(e.message ?? String(error))}`,
    'Check that the database is running and reachable from the worker (security group, subnet, credentials).',
    { cause: error, details: e.code ? { code: e.code } : {} },
  );
}

function isAuthFailure(error: unknown): boolean {
  const cause = (error as { cause?: { code?: string } }).cause;
  return cause?.code === '28P01' || (error as { code?: string }).code === '28P01';
}

/**
 * A login the server refused: a wrong password (28P01), or no such role (28000, from connect's
 * cause; on a server that trusts the host, the only sign).
 */
export function isLoginRefused(error: unknown): boolean {
  return isAuthFailure(error) || (error as { cause?: { code?: string } }).cause?.code === '28000';
}

export async function close(db: Db): Promise<void> {
  await db.end().catch(() => undefined);
}

/**
 * Runs a text of several statements as one simple-protocol query and, when it fails, says how
 * many statements completed before the failing one — PostgreSQL sends one CommandComplete per
 * statement that finished — so the failing statement is known without running the file again.
 */
export async function queryCounting(
  db: Db,
  text: string,
): Promise<{ error?: unknown; completed: number; results?: pg.QueryResult[] }> {
  let completed = 0;
  const onComplete = () => {
    completed++;
  };
  db.connection.on('commandComplete', onComplete);
  try {
    const value = (await db.query(text)) as pg.QueryResult | pg.QueryResult[];
    return { completed, results: Array.isArray(value) ? value : [value] };
  } catch (error) {
    return { error, completed };
  } finally {
    db.connection.off('commandComplete', onComplete);
  }
}
