/**
 * The "Lambda sandbox" of the fault suite: a child process running the REAL worker handler
 * (lambda/handler.ts) against FAULT_DATABASE_URL. The parent (fault-worker.ts) forwards each
 * invocation over IPC and can SIGKILL this process at any moment, which is exactly what happens
 * to a Lambda sandbox that dies or hits its timeout.
 *
 * Instrumentation, test-only: when an invocation is sent with `hooks: true`, every promise-style
 * `pg.Client#query` of the worker reports to the parent before it is sent and after it settled,
 * and waits for the parent's go-ahead. The parent can therefore stop the worker right after any
 * statement (and kill it there), or hold it while it changes the database underneath.
 */
import pg from 'pg';
import { createHandler } from '../../lambda/handler.js';
import { createLogger } from '../../lambda/log.js';

type ParentMessage =
  | {
      type: 'invoke';
      id: number;
      event: unknown;
      deadline: number;
      requestId: string;
      functionName: string;
      hooks: boolean;
      databaseUrl?: string;
      readerDatabaseUrl?: string;
    }
  | { type: 'continue'; seq: number };

const send = (message: unknown): void => {
  process.send?.(message);
};

const databaseUrl = process.env.FAULT_DATABASE_URL;
if (!databaseUrl) throw new Error('fault-child: FAULT_DATABASE_URL is not set');

let hooks = false;
let seq = 0;
const waiting = new Map<number, () => void>();

function gate(info: {
  phase: 'before' | 'after';
  text: string;
  pid: number | undefined;
  ok?: boolean;
  code?: string;
}): Promise<void> {
  const s = ++seq;
  return new Promise((resolve) => {
    waiting.set(s, resolve);
    send({ type: 'query', seq: s, ...info, text: info.text.slice(0, 4000) });
  });
}

type QueryFn = (...args: unknown[]) => unknown;
const proto = pg.Client.prototype as unknown as { query: QueryFn };
const original = proto.query;
proto.query = function instrumented(this: pg.Client, ...args: unknown[]): unknown {
  const first = args[0] as { submit?: unknown; text?: unknown } | string | undefined;
  const submittable = typeof first === 'object' && first !== null && typeof first.submit === 'function';
  if (!hooks || submittable || typeof args[args.length - 1] === 'function') return original.apply(this, args);
  const text = typeof first === 'string' ? first : String((first as { text?: unknown } | undefined)?.text ?? '');
  // The lock session's watchers poll on a timer while a file runs: how many polls a run makes
  // depends on how long its statements take, so hooking them would shift every fault point of a
  // trace (query #n of one run is not query #n of the next under load). They pass unhooked.
  if (text.includes('pg_blocking_pids')) return original.apply(this, args);
  const pid = (this as unknown as { processID?: number }).processID;
  return (async () => {
    await gate({ phase: 'before', text, pid });
    try {
      const result = await (original.apply(this, args) as Promise<unknown>);
      await gate({ phase: 'after', text, pid, ok: true });
      return result;
    } catch (error) {
      await gate({ phase: 'after', text, pid, ok: false, code: (error as { code?: string }).code });
      throw error;
    }
  })();
};

const logger = createLogger({ service: 'vpc-migrate-worker' }, (line) => send({ type: 'log', line }), 'debug');
// One handler per database: the parent may point the same warm sandboxes at a fresh database.
const handlers = new Map<string, ReturnType<typeof createHandler>>();
const handlerFor = (url: string, readerDatabaseUrl: string | undefined) => {
  let h = handlers.get(url);
  if (!h)
    handlers.set(
      url,
      (h = createHandler({ databaseUrl: url, ...(readerDatabaseUrl ? { readerDatabaseUrl } : {}), logger })),
    );
  return h;
};

process.on('message', (message: ParentMessage) => {
  if (message.type === 'continue') {
    const resume = waiting.get(message.seq);
    waiting.delete(message.seq);
    resume?.();
    return;
  }
  if (message.type !== 'invoke') return;
  hooks = message.hooks;
  const context = {
    awsRequestId: message.requestId,
    functionName: message.functionName,
    getRemainingTimeInMillis: () => Math.max(0, message.deadline - Date.now()),
  };
  Promise.resolve()
    .then(() => handlerFor(message.databaseUrl ?? databaseUrl, message.readerDatabaseUrl)(message.event, context))
    .then(
      (value) => send({ type: 'result', id: message.id, value: value === undefined ? null : value }),
      (error: unknown) => {
        const e = error as Error;
        send({
          type: 'result',
          id: message.id,
          error: { name: e?.name ?? 'Error', message: e?.message ?? String(error) },
        });
      },
    )
    .finally(() => {
      hooks = false;
    });
});

send({ type: 'ready' });
