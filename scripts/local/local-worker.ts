/**
 * `--local`: the real worker code behind the local Invoke endpoint, against `DATABASE_URL` or
 * the embedded PostgreSQL. Never a fallback for a missing production target: only an explicit
 * `--local` (or a test) starts it.
 */
import {
  LAMBDA_MAX_TIMEOUT_SECONDS,
  MigrateError,
  parseDatabaseList,
  WORKER_ENV,
} from '../../lambda/contract/index.js';
import { clientConfigFromUrl, createHandler, createLogger } from '../../lambda/handler.js';
import { startLocalDatabase, type LocalDatabase } from './database.js';
import { startInvokeEndpoint, writeInvocationLog } from './endpoint.js';
import { DEFAULT_FUNCTION_NAME, readerFunctionNameOf } from './names.js';
import { ensureLocalReader, localReaderUrl } from './reader-login.js';

export { DEFAULT_FUNCTION_NAME };

/** As a deployed worker's default: Lambda's maximum function timeout. */
export const DEFAULT_TIMEOUT_MS = LAMBDA_MAX_TIMEOUT_SECONDS * 1000;

export interface LocalWorkerOptions {
  /** Default `process.env.DATABASE_URL`; without either, the embedded PostgreSQL. */
  databaseUrl?: string;
  /**
   * Named databases an event may select with `database` (name → connection URL), the allow-list
   * a deployed worker reads from VPCM_DATABASES; default: `process.env.VPCM_DATABASES` in the same
   * JSON form, else none.
   */
  databases?: Record<string, string>;
  functionName?: string;
  /** The function timeout the handler's context counts down from. */
  timeoutMs?: number;
  /**
   *  Data directory of the embedded PostgreSQL (default: `.vpc-migrate/pgdata` in the project; see resolveDataDir in
   *  database.ts).
   */
  dataDir?: string;
  /** Receives the embedded server's output and each invocation's log (START … REPORT). */
  log?: (text: string) => void;
}

export interface LocalWorker {
  /** For `new LambdaClient({ endpoint })`. */
  endpoint: string;
  /** The migrating worker. */
  functionName: string;
  /** The reader function beside it (`<functionName>-reader`), as the CDK stack deploys one. */
  readerFunctionName: string;
  databaseUrl: string;
  /** True when the embedded PostgreSQL serves `databaseUrl`. */
  embedded: boolean;
  /** The embedded PostgreSQL's data directory (embedded only). */
  dataDir?: string;
  /** Stops the endpoint, then the embedded server if this call started it. */
  close(): Promise<void>;
}

/** Starts the worker behind a local Invoke endpoint on 127.0.0.1. */
export async function startLocalWorker(opts: LocalWorkerOptions = {}): Promise<LocalWorker> {
  let databaseUrl = opts.databaseUrl || process.env.DATABASE_URL || undefined;
  let database: LocalDatabase | null = null;
  if (!databaseUrl) {
    database = await startLocalDatabase({
      ...(opts.dataDir ? { dataDir: opts.dataDir } : {}),
      ...(opts.log ? { log: opts.log } : {}),
    });
    databaseUrl = database.url;
  }
  const functionName = opts.functionName ?? DEFAULT_FUNCTION_NAME;
  const readerFunctionName = readerFunctionNameOf(functionName);
  // The worker's JSON log lines go where CloudWatch would have them, the invocation's log
  // (LogResult), not onto the CLI's stdout, where they would corrupt `--json` output.
  const logger = createLogger({ service: 'vpc-migrate-worker' }, writeInvocationLog);
  try {
    const readerDatabaseUrl = localReaderUrl(databaseUrl);
    const named = opts.databases ?? parseDatabaseList(process.env[WORKER_ENV.databases]);
    // As deployed: a malformed list refuses selectors, and the worker still serves its own database.
    const databases = named instanceof MigrateError ? { databasesInvalid: named } : { databases: named };
    // What the CDK stack's set-up does when the stack is deployed: the reader login, from the
    // reader's credentials, by the worker's own `setup` action. Here it runs when the login cannot
    // log in (the worker asks its source again, with `refresh`, after 28P01 or 28000): the first
    // read-only query on a server, or after the administrator's password changed. Never before the
    // endpoint starts, so a deploy (which never reads as the reader) and every later status skip
    // its connection and role statements. A failed set-up is tried again next time; the
    // connection then fails as the reader login it is (VPCM_READER_ROLE_MISSING).
    const setUp = createHandler({ databaseUrl, readerDatabaseUrl, logger, ...databases });
    const readerLogin = async (opts?: { refresh?: boolean }) => {
      if (opts?.refresh) await ensureLocalReader(databaseUrl, setUp, { again: true });
      return clientConfigFromUrl(readerDatabaseUrl);
    };
    const migrator = createHandler({ databaseUrl, readerConnectionConfig: readerLogin, logger, ...databases });
    const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const endpoint = await startInvokeEndpoint({
      functions: {
        [functionName]: { handler: migrator, timeoutMs },
        [readerFunctionName]: {
          handler: createHandler({ mode: 'reader', readerConnectionConfig: readerLogin, logger }),
          timeoutMs,
        },
      },
      ...(opts.log ? { log: opts.log } : {}),
    });
    return {
      endpoint: endpoint.url,
      functionName,
      readerFunctionName,
      databaseUrl,
      embedded: database !== null,
      ...(database ? { dataDir: database.dataDir } : {}),
      close: async () => {
        await endpoint.close();
        await database?.stop();
      },
    };
  } catch (error) {
    await database?.stop();
    throw error;
  }
}
