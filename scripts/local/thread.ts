/**
 * The local worker in a thread of its own (scripts/local/threaded-worker.ts starts it): the
 * worker's part of a `--local` run — PostgreSQL's protocol, the ledger's rows, its JSON answer —
 * runs on a second core while the CLI reads and hashes the migrations folder. It is still
 * reached only through the Invoke endpoint it serves, exactly as in-process.
 *
 * Messages: it posts `{ started }` or `{ failed }` once; on `'close'` it stops the endpoint and
 * posts `{ closed: true }`.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { MigrateError } from '../../lambda/contract/index.js';
import { type LocalWorkerOptions, startLocalWorker } from './local-worker.js';

/** An error as it crosses to the CLI's thread: a MigrateError by its body, anything else by its text. */
export type ThreadError = { migrate: ReturnType<MigrateError['toJSON']> } | { message: string; stack?: string };

export const threadError = (error: unknown): ThreadError =>
  error instanceof MigrateError
    ? { migrate: error.toJSON() }
    : {
        message: (error as Error)?.message ?? String(error),
        ...((error as Error)?.stack ? { stack: (error as Error).stack } : {}),
      };

async function serve(port: NonNullable<typeof parentPort>, opts: LocalWorkerOptions): Promise<void> {
  try {
    const local = await startLocalWorker(opts);
    const { close, ...started } = local;
    port.on('message', (message) => {
      if (message !== 'close') return;
      void close().finally(() => port.postMessage({ closed: true }));
    });
    port.postMessage({ started });
  } catch (error) {
    port.postMessage({ failed: threadError(error) });
  }
}

if (parentPort) void serve(parentPort, workerData as LocalWorkerOptions);
