/**
 * A worker that can die: the local Invoke endpoint (scripts/local/endpoint.ts, the real wire
 * format, reached through @aws-sdk/client-lambda) whose function forwards every event to a child
 * process running the real handler (fault-child.ts). One child per concurrent invocation, reused
 * while warm, like Lambda sandboxes.
 *
 * - `kill()` SIGKILLs the busy children: the sandbox dies mid-migration. The invocation then
 *   answers like Lambda does for a crashed runtime (`Runtime.ExitError`).
 * - At the function timeout the endpoint answers `Sandbox.Timedout` AND the child is SIGKILLed,
 *   as Lambda does (the plain local endpoint lets an in-process handler run on).
 * - `onQuery(fn)`: every query the worker sends is reported before it is sent and after it
 *   settled; `fn` answers 'continue' or 'kill' (and may take its time: the worker waits).
 */
import { testReaderUrl } from './test-worker.js';
import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { WorkerHandler } from '../../lambda/contract/index.js';
import { serveFunction, type ServedFunction } from './test-worker.js';

const CHILD = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fault-child.ts');
const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export interface QueryEvent {
  phase: 'before' | 'after';
  /** The SQL text as the worker sent it (at most 4000 characters). */
  text: string;
  /** The worker's backend pid. */
  pid: number | undefined;
  /** After: whether the query succeeded, and its SQLSTATE if not. */
  ok?: boolean;
  code?: string;
  /** 1-based number of the invocation this query belongs to. */
  invocation: number;
  /** The invocation's action (apply, ledger, …). */
  action: string | undefined;
}

export type Verdict = 'continue' | 'kill';
export type QueryHook = (q: QueryEvent) => Verdict | Promise<Verdict>;

/**
 * The shared test endpoint (test-worker.ts's serveFunction) with a function of its own: the real handler
 * runs in child processes that can be killed, which an in-process handler (startTestWorker) cannot be.
 */
export interface FaultWorker extends ServedFunction {
  /** Every log line the worker (and the endpoint) wrote: scanned for secrets. */
  logs: string[];
  /** Every answer the worker gave (JSON), errors included: scanned for secrets. */
  responses: string[];
  /** Points the following invocations at another database (same role, same sandboxes). */
  useDatabase(url: string): void;
  /** Hooks every query of the following invocations; `null` disarms. */
  onQuery(hook: QueryHook | null): void;
  /** SIGKILLs every child that is running an invocation; resolves once they are gone. */
  kill(): Promise<number>;
  /** Sandboxes killed so far (by `kill`, a hook, or the function timeout). */
  readonly kills: number;
  readonly invocations: number;
  close(): Promise<void>;
}

interface Child {
  process: ChildProcess;
  busy: boolean;
  exited: Promise<void>;
  onMessage?: (message: ChildMessage) => void;
}

type ChildMessage =
  | { type: 'ready' }
  | { type: 'log'; line: string }
  | { type: 'query'; seq: number; phase: 'before' | 'after'; text: string; pid?: number; ok?: boolean; code?: string }
  | { type: 'result'; id: number; value?: unknown; error?: { name: string; message: string } };

export async function startFaultWorker(databaseUrl: string, opts: { timeoutMs?: number } = {}): Promise<FaultWorker> {
  const logs: string[] = [];
  const responses: string[] = [];
  const timeoutMs = opts.timeoutMs ?? 120_000;
  const functionName = 'vpc-migrate-fault';
  const idle: Child[] = [];
  const all = new Set<Child>();
  let hook: QueryHook | null = null;
  let kills = 0;
  let invocations = 0;
  let spare: Promise<Child> | undefined;
  let closing = false;
  let currentUrl = databaseUrl;

  const spawnChild = (): Promise<Child> =>
    new Promise((resolve, reject) => {
      const proc = fork(CHILD, [], {
        cwd: REPO,
        execArgv: ['--import', 'tsx'],
        env: { ...process.env, FAULT_DATABASE_URL: databaseUrl, NODE_OPTIONS: '' },
        stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      });
      const child: Child = {
        process: proc,
        busy: false,
        exited: new Promise((done) => proc.once('exit', () => done())),
      };
      proc.on('error', () => undefined);
      all.add(child);
      const output = (chunk: Buffer) =>
        logs.push(
          ...chunk
            .toString('utf8')
            .split('\n')
            .filter((l) => l.trim() !== ''),
        );
      proc.stdout?.on('data', output);
      proc.stderr?.on('data', output);
      proc.on('message', (message: ChildMessage) => {
        if (message.type === 'ready') return resolve(child);
        if (message.type === 'log') return void logs.push(message.line);
        child.onMessage?.(message);
      });
      proc.once('exit', (code, signal) => {
        all.delete(child);
        const at = idle.indexOf(child);
        if (at >= 0) idle.splice(at, 1);
        reject(new Error(`fault child exited during startup (${signal ?? code})`));
      });
    });

  /** A warm spare, so a killed sandbox is replaced without a cold start in the measured path. */
  const prepareSpare = () => {
    if (closing || spare) return;
    spare = spawnChild();
    spare.catch(() => undefined);
  };
  const acquire = async (): Promise<Child> => {
    const warm = idle.pop();
    if (warm) return warm;
    if (spare) {
      const s = spare;
      spare = undefined;
      return s;
    }
    return spawnChild();
  };

  const killChild = (child: Child): Promise<void> => {
    if (child.process.exitCode === null && child.process.signalCode === null) {
      kills++;
      child.process.kill('SIGKILL');
    }
    return child.exited;
  };

  const handler: WorkerHandler = async (event, context) => {
    // The sandbox's deadline is fixed when the invocation starts, as the endpoint's own timer is.
    const deadline = Date.now() + context.getRemainingTimeInMillis();
    const child = await acquire();
    child.busy = true;
    const invocation = ++invocations;
    const action =
      typeof (event as { action?: unknown } | null)?.action === 'string'
        ? (event as { action: string }).action
        : undefined;
    const armed = hook;
    const readerDatabaseUrl = await testReaderUrl(currentUrl);
    try {
      return await new Promise<unknown>((resolve, reject) => {
        let settled = false;
        // Lambda freezes and discards a sandbox that outlived its timeout: so do we.
        const timer = setTimeout(() => void killChild(child), Math.max(0, deadline - Date.now()));
        child.exited.then(() => {
          clearTimeout(timer);
          if (settled) return;
          settled = true;
          const error = new Error(
            `RequestId: ${context.awsRequestId} Error: Runtime exited with error: signal: killed`,
          );
          error.name = 'Runtime.ExitError';
          reject(error);
        });
        child.onMessage = (message) => {
          if (message.type === 'query') {
            const q: QueryEvent = { phase: message.phase, text: message.text, pid: message.pid, invocation, action };
            if (message.ok !== undefined) q.ok = message.ok;
            if (message.code !== undefined) q.code = message.code;
            Promise.resolve(armed ? armed(q) : 'continue').then(
              (verdict) => {
                if (verdict === 'kill') void killChild(child);
                // A hook may answer after the sandbox died (function timeout): nobody to tell.
                else if (child.process.connected) child.process.send({ type: 'continue', seq: message.seq });
              },
              () => void killChild(child),
            );
            return;
          }
          if (message.type === 'result') {
            clearTimeout(timer);
            settled = true;
            responses.push(JSON.stringify(message.error ?? message.value) ?? '');
            if (message.error) {
              const error = new Error(message.error.message);
              error.name = message.error.name;
              reject(error);
            } else resolve(message.value);
          }
        };
        child.process.send({
          type: 'invoke',
          id: invocation,
          event,
          deadline,
          requestId: context.awsRequestId,
          functionName: context.functionName,
          hooks: armed !== null,
          databaseUrl: currentUrl,
          readerDatabaseUrl,
        });
      });
    } finally {
      child.busy = false;
      child.onMessage = undefined;
      if (child.process.exitCode === null && child.process.signalCode === null) idle.push(child);
      else prepareSpare();
    }
  };

  idle.push(await spawnChild());
  const served = await serveFunction(handler, {
    functionName,
    timeoutMs,
    log: (text) => logs.push(...text.split('\n')),
    onClose: async () => {
      const pending = spare;
      spare = undefined;
      const extra = await pending?.catch(() => undefined);
      if (extra) all.add(extra);
      await Promise.all(
        [...all].map((c) => {
          if (c.process.exitCode === null && c.process.signalCode === null) c.process.kill('SIGKILL');
          return c.exited;
        }),
      );
    },
  });
  return {
    ...served,
    logs,
    responses,
    useDatabase(url) {
      currentUrl = url;
    },
    onQuery(next) {
      hook = next;
    },
    async kill() {
      const busy = [...all].filter((c) => c.busy);
      await Promise.all(busy.map(killChild));
      return busy.length;
    },
    get kills() {
      return kills;
    },
    get invocations() {
      return invocations;
    },
    async close() {
      closing = true;
      await served.close();
    },
  };
}
