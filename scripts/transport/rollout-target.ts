/**
 * The one place a rollout target becomes a `Worker` (cli.ts hands `targetWorkers` to the commands).
 * Everything in scripts/rollout/ asks
 * `use(target, work)` and never sees how the target is reached: a deployed function or stack
 * (its own SDK client, the worker's `database` selector in every event when the entry names
 * one), or, with `--local`, a database the local worker serves.
 *
 * Local targets: one local worker per target, started when the target's turn comes and stopped
 * when it is done (so 1,000 entries never hold 1,000 endpoints). When the local endpoint can
 * serve several named databases (issue 27's selector), this becomes one local worker for all of
 * them and a `database` selector per target, here and nowhere else.
 */
import { ErrorCode, MigrateError } from '../../lambda/contract/index.js';
import { type TargetFlags, targetFor, type Worker, type WorkerTarget } from '../core/worker-client.js';
import type { DeployedTarget, TargetWorkerOptions, TargetWorkers } from '../rollout/targets.js';
import { resolveTarget } from './target.js';

export function targetWorkers(opts: TargetWorkerOptions): TargetWorkers {
  const open = new Set<Worker>();
  return {
    async use(target, work) {
      const reached =
        target.kind === 'local' ? await localWorker(target.databaseUrl, opts) : await deployed(target, opts);
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

async function localWorker(databaseUrl: string, opts: TargetWorkerOptions): Promise<Reached> {
  const flags: TargetFlags = {
    local: true,
    databaseUrl,
    ...(opts.functionTimeoutMs ? { functionTimeoutMs: opts.functionTimeoutMs } : {}),
  };
  const resolved = await resolveTarget(flags, {});
  try {
    return { worker: await connect(resolved.target, opts.command), close: () => resolved.close() };
  } catch (error) {
    await resolved.close();
    throw error;
  }
}

async function deployed(t: DeployedTarget, opts: TargetWorkerOptions): Promise<Reached> {
  const flags: TargetFlags = {
    ...(t.function ? { function: t.function } : {}),
    ...(t.stack ? { stack: t.stack } : {}),
    ...(t.readerFunction ? { readerFunction: t.readerFunction } : {}),
    ...(t.endpoint ? { endpoint: t.endpoint } : {}),
    ...(t.region ? { region: t.region } : {}),
    ...(t.profile ? { profile: t.profile } : {}),
    ...(opts.functionTimeoutMs ? { functionTimeoutMs: opts.functionTimeoutMs } : {}),
  };
  // The environment's VPC_MIGRATE_FUNCTION must not stand in for an entry's own worker.
  const resolved = await resolveTarget(flags, {});
  if (t.database !== undefined) {
    throw new MigrateError(
      ErrorCode.TargetsInvalid,
      `Target ${t.name} names the worker's database "${t.database}", and this build has no database selector yet.`,
      'Give each database its own entry with its own "function" or "stack" until the selector is released.',
    );
  }
  return { worker: await connect(resolved.target, opts.command), close: () => resolved.close() };
}
