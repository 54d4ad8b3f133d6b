/**
 * `startLocalWorker` (local-worker.ts) in a worker thread (thread.ts), for the CLI's `--local`
 * against a database URL: the same endpoint and functions, served from a second core. The
 * thread's entry is a file of the CLI bundle (`dist/cli-local-thread.mjs`), so only the bundled
 * CLI passes one; tests and the API start the worker in-process.
 */
import { Worker } from 'node:worker_threads';
import { MigrateError } from '../../lambda/contract/index.js';
import type { LocalWorker, LocalWorkerOptions } from './local-worker.js';
import type { ThreadError } from './thread.js';

type FromThread = { started: Omit<LocalWorker, 'close'> } | { failed: ThreadError } | { closed: true };

function errorOf(e: ThreadError): Error {
  if ('migrate' in e) return MigrateError.fromBody(e.migrate);
  const error = new Error(e.message);
  if (e.stack) error.stack = e.stack;
  return error;
}

/** Starts the local worker in a thread running `entry`; resolves once its endpoint listens. */
export function startLocalWorkerThread(entry: URL, opts: LocalWorkerOptions): Promise<LocalWorker> {
  // `log` is a function and cannot cross to the thread; the CLI passes none.
  const { log: _log, ...data } = opts;
  const thread = new Worker(entry, { workerData: data });
  return new Promise<LocalWorker>((resolve, reject) => {
    const stop = async (): Promise<void> => {
      const closed = new Promise<void>((done) => {
        thread.on('message', (m: FromThread) => 'closed' in m && done());
        thread.once('exit', () => done());
      });
      thread.postMessage('close');
      await closed;
      await thread.terminate();
    };
    thread.once('error', reject);
    thread.once('exit', (code) =>
      reject(new Error(`The local worker's thread exited (code ${code}) before it started.`)),
    );
    thread.once('message', (m: FromThread) => {
      if ('failed' in m) {
        void thread.terminate();
        return reject(errorOf(m.failed));
      }
      if (!('started' in m)) return;
      resolve({ ...m.started, close: stop });
    });
  });
}
