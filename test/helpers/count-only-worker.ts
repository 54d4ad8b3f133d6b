/**
 * The seed's worker, for tests: a Lambda with ONE action, `run-sql`, that runs the SQL the way
 * Prisma's `$executeRawUnsafe` does and answers only `{ count }`. A database error is thrown, so
 * it reaches the caller as Lambda reports an unhandled error: `FunctionError: Unhandled` and
 * `{ errorType: 'PrismaClientKnownRequestError', errorMessage: '…Raw query failed. Code:
 * `42P07`. Message: `relation "x" already exists`' }`. Served by the local Invoke endpoint and
 * reached through `@aws-sdk/client-lambda`, like the real one.
 *
 * - `multiStatement: false` (default): Prisma's native engine prepares every raw query, so
 *   the extended protocol refuses a second statement (42601 "cannot insert multiple commands
 *   into a prepared statement"). `true`: @prisma/adapter-pg with no parameters, which sends
 *   the simple protocol and accepts several.
 * - `connections: 'per-call'` (default): a new connection per invocation, so nothing a call
 *   leaves in its session (a transaction, a lock, a temp table) reaches the next one;
 *   `'pooled'`: one pooled connection reused, as Prisma's pool would mostly do.
 */
import pg from 'pg';
import type { WorkerHandler } from '../../lambda/contract/index.js';
import type { Worker } from '../../scripts/core/worker-client.js';
import { connectRunSqlWorker, type RunSqlWorkerOptions } from '../../scripts/compat/run-sql-worker.js';
import { serveFunction, type ServedFunction } from './test-worker.js';

export interface CountOnlyWorkerOptions {
  multiStatement?: boolean;
  connections?: 'per-call' | 'pooled';
  timeoutMs?: number;
  /** Cut error messages to this many characters, as some workers do before rethrowing. */
  maxErrorChars?: number;
  /** Throw `new Error(pgError.message)`: no SQLSTATE anywhere, only PostgreSQL's words. */
  messageOnly?: boolean;
  /**
   *  Awaited before each call runs: a test changes the database between two calls of a deploy, in order, by what is
   *  sent.
   */
  beforeCall?: (sql: string) => Promise<void>;
}

/** The shape of Prisma's P2010 as a Lambda runtime serialises it (name, message). */
class PrismaClientKnownRequestError extends Error {
  readonly code = 'P2010';
  constructor(
    message: string,
    readonly meta: { code: string; message: string },
  ) {
    super(message);
    this.name = 'PrismaClientKnownRequestError';
  }
}

export function countOnlyHandler(
  databaseUrl: string,
  opts: CountOnlyWorkerOptions = {},
): { handler: WorkerHandler; calls: string[]; close(): Promise<void> } {
  const calls: string[] = [];
  const pool = opts.connections === 'pooled' ? new pg.Pool({ connectionString: databaseUrl, max: 1 }) : undefined;
  pool?.on('error', () => undefined);
  const handler: WorkerHandler = async (event) => {
    const e = event as { action?: unknown; sql?: unknown };
    if (!e || e.action !== 'run-sql' || typeof e.sql !== 'string')
      throw new Error(`Unknown action ${JSON.stringify(e?.action)}`);
    calls.push(e.sql);
    await opts.beforeCall?.(e.sql);
    const client = pool ? await pool.connect() : new pg.Client({ connectionString: databaseUrl });
    if (!pool) {
      (client as pg.Client).on('error', () => undefined);
      await (client as pg.Client).connect();
    }
    try {
      const config = opts.multiStatement ? { text: e.sql } : ({ text: e.sql, queryMode: 'extended' } as pg.QueryConfig);
      const result = (await client.query(config)) as pg.QueryResult | pg.QueryResult[];
      const last = Array.isArray(result) ? result[result.length - 1] : result;
      return { count: last?.rowCount ?? 0 };
    } catch (error) {
      const pgError = error as { code?: string; message?: string };
      if (!pgError.code) throw error;
      const message = (pgError.message ?? '').slice(0, opts.maxErrorChars);
      if (opts.messageOnly) throw new Error(message);
      throw new PrismaClientKnownRequestError(
        `\nInvalid \`prisma.$executeRawUnsafe()\` invocation:\n\n\nRaw ` +
          `query failed. Code: \`${pgError.code}\`. Message: \`` +
          `${message}\``,
        { code: pgError.code, message },
      );
    } finally {
      if (pool) (client as pg.PoolClient).release();
      else await (client as pg.Client).end().catch(() => undefined);
    }
  };
  return { handler, calls, close: async () => void (await pool?.end()) };
}

/**
 * The count-only function on the shared test endpoint (test-worker.ts's serveFunction): it differs from
 * startTestWorker only in the handler (a foreign worker's, not ours) and in how a client speaks to
 * it (`--protocol run-sql`, connectRunSqlWorker).
 */
export interface CountOnlyTestWorker extends ServedFunction<RunSqlWorkerOptions> {
  /** Our CLI side: the Worker interface over `--protocol run-sql`. */
  worker: Worker;
  /** Every SQL text the worker received, in order. */
  calls: string[];
}

export async function startCountOnlyWorker(
  databaseUrl: string,
  opts: CountOnlyWorkerOptions & { client?: RunSqlWorkerOptions } = {},
): Promise<CountOnlyTestWorker> {
  const fn = countOnlyHandler(databaseUrl, opts);
  const served = await serveFunction(fn.handler, {
    functionName: 'legacy-run-sql',
    timeoutMs: opts.timeoutMs ?? 120_000,
    connect: (target, options: RunSqlWorkerOptions = opts.client ?? {}) => connectRunSqlWorker(target, options),
    onClose: fn.close,
  });
  return { ...served, calls: fn.calls };
}
