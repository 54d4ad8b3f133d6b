/**
 * A worker that is still being set up (`--local` starts its endpoint while the command reads the
 * migrations folder): each call waits for it, then goes to it. Until it is ready, `target` is
 * the one it will have, without its endpoint; nothing is sent before it is.
 */
import type { Worker, WorkerTarget } from '../core/worker-client.js';

export function deferredWorker(ready: Promise<Worker>, planned: WorkerTarget): Worker {
  let current: Worker | undefined;
  let closed = false;
  void ready.then(
    (worker) => {
      current = worker;
      if (closed) worker.close();
    },
    () => undefined,
  );
  const later =
    <K extends 'ledger' | 'apply' | 'runSql' | 'resolve' | 'rehearse' | 'backfill' | 'baseline' | 'drift' | 'send'>(
      key: K,
    ) =>
    async (...args: Parameters<Worker[K]>): Promise<Awaited<ReturnType<Worker[K]>>> => {
      const worker = await ready;
      return (worker[key] as (...a: Parameters<Worker[K]>) => Promise<Awaited<ReturnType<Worker[K]>>>)(...args);
    };
  return {
    get target() {
      return current?.target ?? planned;
    },
    get invocations() {
      return current?.invocations ?? 0;
    },
    get limitations() {
      return current?.limitations;
    },
    ledger: later('ledger'),
    apply: later('apply'),
    runSql: later('runSql'),
    resolve: later('resolve'),
    rehearse: later('rehearse'),
    backfill: later('backfill'),
    baseline: later('baseline'),
    drift: later('drift'),
    send: later('send'),
    close() {
      closed = true;
      current?.close();
    },
  };
}
