/**
 * The real path for tests: the worker handler behind the local Invoke endpoint, reached through
 * `@aws-sdk/client-lambda` (connectWorker), exactly as the CLI reaches a deployed function.
 */
import { afterEach, beforeEach } from 'vitest';
import { createHandler } from '../../lambda/handler.js';
import { createLogger, type Logger } from '../../lambda/log.js';
import { startInvokeEndpoint } from '../../scripts/local/endpoint.js';
import { connectWorker } from '../../scripts/transport/invoke.js';
import type { Worker } from '../../scripts/core/worker.js';
import { freshDatabase, type FreshDatabase } from './db.js';

export interface TestWorker {
  worker: Worker;
  endpoint: string;
  functionName: string;
  /** Every log line the worker wrote (tests scan them for secrets). */
  logs: string[];
  /** A second SDK client on the same endpoint (concurrency tests). */
  another(): Worker;
  close(): Promise<void>;
}

export async function startTestWorker(databaseUrl: string, opts: { timeoutMs?: number; readerRole?: string } = {}): Promise<TestWorker> {
  const logs: string[] = [];
  const logger: Logger = createLogger({ service: 'test-worker' }, (line) => logs.push(line), 'debug');
  const handler = createHandler({ databaseUrl, logger, ...(opts.readerRole ? { readerRole: opts.readerRole } : {}) });
  const functionName = 'vpc-migrate-test';
  const timeoutMs = opts.timeoutMs ?? 120_000;
  const ep = await startInvokeEndpoint({ functions: { [functionName]: { handler, timeoutMs } } });
  const workers: Worker[] = [];
  const another = () => {
    const w = connectWorker({ functionName, endpoint: ep.url, localCredentials: true, region: 'us-east-1', functionTimeoutMs: timeoutMs });
    workers.push(w);
    return w;
  };
  const worker = another();
  return {
    worker,
    endpoint: ep.url,
    functionName,
    logs,
    another,
    async close() {
      for (const w of workers) w.close();
      await ep.close();
    },
  };
}

/**
 * A fresh database and a test worker on it for every test of the calling `describe`
 * (beforeEach/afterEach), the fixture most integration tests share.
 *
 * @example
 * const env = freshWorkerEachTest(adminUrl);
 * it('…', async () => { await deploy(env.tw.worker, …); await query(env.db.url, …); });
 */
export function freshWorkerEachTest(adminUrl: string): { readonly db: FreshDatabase; readonly tw: TestWorker } {
  let db: FreshDatabase | undefined;
  let tw: TestWorker | undefined;
  beforeEach(async () => {
    db = await freshDatabase(adminUrl);
    tw = await startTestWorker(db.url);
  });
  afterEach(async () => {
    await tw?.close();
    await db?.drop();
  });
  return {
    get db() {
      return db as FreshDatabase;
    },
    get tw() {
      return tw as TestWorker;
    },
  };
}
