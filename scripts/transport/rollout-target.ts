/**
 * The one place a rollout target becomes a `Worker` (cli.ts hands `targetWorkers` to the
 * commands). Everything in scripts/rollout/ asks `use(target, work)` and never sees how the
 * target is reached:
 *
 * - a deployed function or stack: its own SDK client, with the worker's `database` selector in
 *   every event when the entry names one;
 * - with `--local`, one local worker for the whole file, serving every entry's `databaseUrl` as a
 *   named database, and each target selecting its own by name: the same selector path a deployed
 *   worker with the construct's `databases` prop takes (started at the first target, stopped by
 *   `close`).
 */
import { targetFor, type TargetFlags, type Worker, type WorkerTarget } from '../core/worker-client.js';
import type { LocalWorker } from '../local/local-worker.js';
import type { DeployedTarget, LocalTarget, TargetWorkerOptions, TargetWorkers } from '../rollout/targets.js';
import { plannedLocalTarget, resolveTarget } from './target.js';

export function targetWorkers(opts: TargetWorkerOptions): TargetWorkers {
  const open = new Set<Worker>();
  let local: Promise<LocalWorker> | undefined;
  const localWorker = () => (local ??= startSharedLocalWorker(opts));
  return {
    async use(target, work) {
      const reached =
        target.kind === 'local' ? await selectLocal(target, await localWorker(), opts) : await deployed(target, opts);
      open.add(reached.worker);
      try {
        return await work(reached.worker);
      } finally {
        open.delete(reached.worker);
        reached.worker.close();
        await reached.close();
      }
    },
    async close() {
      for (const w of open) w.close();
      await (await local?.catch(() => undefined))?.close();
    },
  };
}

interface Reached {
  worker: Worker;
  close(): Promise<void>;
}

async function connect(target: WorkerTarget, command: string): Promise<Worker> {
  return (await import('./invoke.js')).connectWorker(targetFor(command, target));
}

/**
 * The local worker of a file's `databaseUrl` entries: each entry a named database. Its own
 * database (which no event of the rollout selects) is the first entry's, so nothing else starts.
 */
async function startSharedLocalWorker(opts: TargetWorkerOptions): Promise<LocalWorker> {
  const entries = opts.targets.filter((t): t is LocalTarget => t.kind === 'local');
  const databases = Object.fromEntries(entries.map((t) => [t.name, t.databaseUrl]));
  const { startLocalWorker } = await import('../local/local-worker.js');
  return startLocalWorker({
    ...(entries[0] ? { databaseUrl: entries[0].databaseUrl } : {}),
    databases,
    ...(opts.functionTimeoutMs ? { timeoutMs: opts.functionTimeoutMs } : {}),
  });
}

async function selectLocal(t: LocalTarget, local: LocalWorker, opts: TargetWorkerOptions): Promise<Reached> {
  const planned = plannedLocalTarget({
    database: t.name,
    ...(opts.functionTimeoutMs ? { functionTimeoutMs: opts.functionTimeoutMs } : {}),
  });
  const target = { ...planned, functionName: local.functionName, endpoint: local.endpoint };
  return { worker: await connect(target, opts.command), close: async () => undefined };
}

async function deployed(t: DeployedTarget, opts: TargetWorkerOptions): Promise<Reached> {
  const flags: TargetFlags = {
    ...(t.function ? { function: t.function } : {}),
    ...(t.stack ? { stack: t.stack } : {}),
    ...(t.readerFunction ? { readerFunction: t.readerFunction } : {}),
    ...(t.endpoint ? { endpoint: t.endpoint } : {}),
    ...(t.region ? { region: t.region } : {}),
    ...(t.profile ? { profile: t.profile } : {}),
    ...(t.database !== undefined ? { database: t.database } : {}),
    ...(opts.functionTimeoutMs ? { functionTimeoutMs: opts.functionTimeoutMs } : {}),
  };
  // The environment's VPC_MIGRATE_FUNCTION must not stand in for an entry's own worker.
  const resolved = await resolveTarget(flags, {});
  return { worker: await connect(resolved.target, opts.command), close: () => resolved.close() };
}
