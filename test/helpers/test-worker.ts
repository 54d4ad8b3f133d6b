/**
 * The worker for tests, one fixture for every file: the real handler behind the local Invoke
 * endpoint, reached through `@aws-sdk/client-lambda` (connectWorker), exactly as the CLI reaches a
 * deployed function.
 *
 * - `serveFunction`: a handler on its own local endpoint, with SDK clients on it. Every test
 *   worker is built on it: `startTestWorker` here, the count-only worker (count-only-worker.ts)
 *   and the fault matrix's killable worker (fault-worker.ts).
 * - `startTestWorker`: our handler on a database URL (or a wrapper around it).
 * - `useFreshWorker`: a fresh database and a worker on it for every test (or every describe).
 */
import type { WorkerHandler } from '../../lambda/contract/index.js';
import { createHandler } from '../../lambda/handler.js';
import { createLogger, type Logger } from '../../lambda/log.js';
import { startInvokeEndpoint } from '../../scripts/local/endpoint.js';
import { ensureLocalReader, localReaderUrl } from '../../scripts/local/reader-login.js';
import { connectWorker } from '../../scripts/transport/invoke.js';
import type { Worker, WorkerTarget } from '../../scripts/core/worker-client.js';
import { databaseTargets, fixture, freshDatabase, live, orDrop, type FixtureScope, type FreshDatabase } from './db.js';

/** A function served by the local Invoke endpoint, and the SDK clients a test opened on it. */
export interface ServedFunction<O = never> {
  worker: Worker;
  endpoint: string;
  functionName: string;
  /** A second SDK client on the same endpoint (concurrency tests). */
  another(options?: O): Worker;
  close(): Promise<void>;
}

export interface ServeOptions<O> {
  functionName: string;
  timeoutMs: number;
  /** Where the endpoint writes its own lines (the fault worker keeps them). */
  log?: (text: string) => void;
  /** How a client reaches the function: our protocol (connectWorker) unless given. */
  connect?: (target: WorkerTarget, options?: O) => Worker;
  /** Runs once the clients and the endpoint are closed (a pool, child processes). */
  onClose?: () => Promise<void>;
}

export async function serveFunction<O = never>(
  handler: WorkerHandler,
  opts: ServeOptions<O>,
): Promise<ServedFunction<O>> {
  const { functionName, timeoutMs } = opts;
  const ep = await startInvokeEndpoint({
    functions: { [functionName]: { handler, timeoutMs } },
    ...(opts.log ? { log: opts.log } : {}),
  });
  const connect = opts.connect ?? ((target: WorkerTarget) => connectWorker(target));
  const workers: Worker[] = [];
  const another = (options?: O) => {
    const w = connect(
      { functionName, endpoint: ep.url, localCredentials: true, region: 'us-east-1', functionTimeoutMs: timeoutMs },
      options,
    );
    workers.push(w);
    return w;
  };
  return {
    worker: another(),
    endpoint: ep.url,
    functionName,
    another,
    async close() {
      for (const w of workers) w.close();
      await ep.close();
      await opts.onClose?.();
    },
  };
}

export interface TestWorker extends ServedFunction {
  /** Every log line the worker wrote (tests scan them for secrets). */
  logs: string[];
}

export interface TestWorkerOptions {
  /** The function timeout (120 s unless given). */
  timeoutMs?: number;
  /** The reader login's URL: the local one (set up once per server) unless given. */
  readerDatabaseUrl?: string;
  /** Named databases an event may select (name → URL), as `startLocalWorker({ databases })`. */
  databases?: Record<string, string>;
  /** Serve the reader function (mode `reader`) instead of the migrating worker. */
  mode?: 'migrator' | 'reader';
  functionName?: string;
  /** Serves this wrapper around the real handler instead (a test that fakes some answers). */
  wrap?: (real: WorkerHandler) => WorkerHandler;
}

export async function startTestWorker(databaseUrl: string, opts: TestWorkerOptions = {}): Promise<TestWorker> {
  const logs: string[] = [];
  const logger: Logger = createLogger({ service: 'test-worker' }, (line) => logs.push(line), 'debug');
  const readerDatabaseUrl = opts.readerDatabaseUrl ?? (await testReaderUrl(databaseUrl));
  const handler = createHandler({
    ...(opts.mode === 'reader' ? { mode: 'reader' as const } : { databaseUrl }),
    ...(opts.databases ? { databases: opts.databases } : {}),
    readerDatabaseUrl,
    logger,
  });
  const served = await serveFunction(opts.wrap ? opts.wrap(handler) : handler, {
    functionName: opts.functionName ?? 'vpc-migrate-test',
    timeoutMs: opts.timeoutMs ?? 120_000,
  });
  return { ...served, logs };
}

/**
 * The reader login's URL for a test database, set up (once per server) by the server's
 * superuser as the local worker would: tests also run workers as logins that may not create
 * roles (the fault matrix's), which must still have the reader beside them.
 */
export async function testReaderUrl(databaseUrl: string): Promise<string> {
  // Not a URL (a test of a malformed one): the reader's is malformed the same way.
  if (!URL.canParse(databaseUrl)) return databaseUrl;
  const url = new URL(databaseUrl);
  const target = databaseTargets().find((t) => new URL(t.adminUrl).host === url.host);
  // No server there (a test of an unreachable database): a reader URL that fails the same way.
  if (!target) return localReaderUrl(databaseUrl);
  // Roles belong to the server: set up from the superuser's own database, not the test's (whose
  // sessions and transactions some tests count).
  const setupError = await ensureLocalReader(
    target.adminUrl,
    createHandler({
      databaseUrl: target.adminUrl,
      readerDatabaseUrl: localReaderUrl(target.adminUrl),
      logger: createLogger({ service: 'test-reader-setup' }, () => undefined),
    }),
  );
  if (setupError) throw setupError;
  const reader = new URL(localReaderUrl(target.adminUrl));
  reader.pathname = url.pathname;
  reader.search = url.search;
  return reader.toString();
}

export interface FreshWorkerOptions<W> extends TestWorkerOptions {
  /** 'test' (default): a database and a worker for each test; 'describe': one pair for all of them. */
  per?: FixtureScope;
  /** Runs on the new database before the worker starts (tables the tests read). */
  prepare?: (url: string) => Promise<unknown>;
  /**
   *  Another kind of worker on the database (count-only, fault worker); startTestWorker with these options otherwise.
   */
  start?: (url: string) => Promise<W>;
}

export interface FreshWorker<W> {
  /** This test's database and worker (stand-ins that follow the current test: see `live` in db.ts). */
  readonly db: FreshDatabase;
  readonly tw: W;
  /** Closes this test's worker and starts another on the same database (closed after the test like the first). */
  restart(start: (url: string) => Promise<W>): Promise<W>;
}

/**
 * A fresh database and a worker on it for every test of the calling describe (beforeEach/
 * afterEach), or one for the describe (`per: 'describe'`): the fixture the integration tests share.
 *
 * @example
 * const { db, tw } = useFreshWorker(adminUrl);
 * it('…', async () => { await deploy(tw.worker, …); await query(db.url, …); });
 */
export function useFreshWorker<W extends { close(): Promise<void> } = TestWorker>(
  adminUrl: string,
  opts: FreshWorkerOptions<W> = {},
): FreshWorker<W> {
  const start = opts.start ?? ((url: string) => startTestWorker(url, opts) as unknown as Promise<W>);
  const current = fixture(
    opts.per ?? 'test',
    async () => {
      const db = await freshDatabase(adminUrl);
      return orDrop(db, async () => {
        await opts.prepare?.(db.url);
        return { db, tw: await start(db.url) };
      });
    },
    async (pair) => {
      await pair.tw.close();
      await pair.db.drop();
    },
  );
  return {
    db: live(() => current.db),
    tw: live(() => current.tw),
    async restart(next) {
      await current.tw.close();
      const tw = await next(current.db.url);
      current.tw = tw;
      return tw;
    },
  };
}
