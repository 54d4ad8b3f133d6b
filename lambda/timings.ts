/**
 * The worker's half of the time split (`VPC_MIGRATE_TIMINGS`, docs/benchmarks.md): where one
 * `apply` invocation spent its time. Only an event that asks (`timings: true`) is measured, and
 * only its answer carries the figures (an optional field of the apply answer, lambda/contract/wire.ts).
 *
 * Every query of the invocation's sessions is timed by wrapping the session's `query` method (no
 * call site changes). Sessions run side by side (the lock session polls while a file runs), so
 * the clock never adds overlapping time twice: each moment counts once, for the most specific
 * kind in flight (ledger write, then any other query, then connecting). What is left of the
 * handler's time is the worker's own work (`otherMs`). Sum of the parts = `totalMs`.
 */
import type { WorkerTimings } from './contract/index.js';
import type { Db } from './db.js';

/** What a moment of the invocation is spent waiting for, most specific first. */
type Kind = 'ledger' | 'postgres' | 'connect';
const KINDS: readonly Kind[] = ['ledger', 'postgres', 'connect'];

/**
 * A write to the ledger, by its text: a query that is an INSERT, UPDATE or DELETE naming Prisma's
 * or Drizzle's ledger table, after the guard's DO block if it has one. Heuristic on purpose (no
 * call site says what it runs). A migration file sent with its ledger row after it (one round trip,
 * lambda/prisma/apply.ts) starts with BEGIN, and a started row with the session reset: both count
 * as PostgreSQL's time, row and all.
 */
const GUARD_FIRST = String.raw`^\s*(?:DO\s+(\$\w*\$)[\s\S]*?\1\s*;\s*)?`;
const WRITE = String.raw`(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM)\b[^;]*?(?:_prisma_migrations|__drizzle_migrations)`;
const LEDGER_WRITE = new RegExp(GUARD_FIRST + WRITE, 'i');

export function isLedgerWrite(text: unknown): boolean {
  const sql = typeof text === 'string' ? text : (text as { text?: unknown } | null)?.text;
  return typeof sql === 'string' && LEDGER_WRITE.test(sql);
}

export interface WorkerClock {
  /** Times every query of `db` from now on (the same object, its `query` wrapped). */
  watch(db: Db): Db;
  /** Times a connection being opened. */
  connecting<T>(open: () => Promise<T>): Promise<T>;
  /** The figures so far; `totalMs` runs from the handler's start. */
  read(): WorkerTimings;
}

/**
 * A clock for one invocation. `startedAt` (performance.now()) is when the handler received the
 * event; `decodeMs` how long validating and decoding it took (measured before anyone knew the
 * event asked for timings).
 */
export function startWorkerClock(startedAt: number, decodeMs: number, now = () => performance.now()): WorkerClock {
  const inFlight: Record<Kind, number> = { ledger: 0, postgres: 0, connect: 0 };
  const spent: Record<Kind, number> = { ledger: 0, postgres: 0, connect: 0 };
  let queries = 0;
  let ledgerWrites = 0;
  let last = now();
  // Before any change of what is in flight: the time since the last change goes to the most
  // specific kind that was in flight during it.
  const settle = () => {
    const t = now();
    const kind = KINDS.find((k) => inFlight[k] > 0);
    if (kind) spent[kind] += t - last;
    last = t;
  };
  const begin = (kind: Kind): (() => void) => {
    settle();
    inFlight[kind]++;
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      settle();
      inFlight[kind]--;
    };
  };
  const timedPromise = <T>(kind: Kind, run: () => T): T => {
    const end = begin(kind);
    let result: T;
    try {
      result = run();
    } catch (error) {
      end();
      throw error;
    }
    if (result && typeof (result as { then?: unknown }).then === 'function') {
      (result as unknown as Promise<unknown>).then(end, end);
    } else end(); // a callback or a Submittable: counted as dispatched, not as awaited
    return result;
  };
  return {
    watch(db) {
      const query = db.query.bind(db) as (...args: unknown[]) => unknown;
      (db as { query: unknown }).query = (...args: unknown[]) => {
        const ledger = isLedgerWrite(args[0]);
        queries++;
        if (ledger) ledgerWrites++;
        return timedPromise(ledger ? 'ledger' : 'postgres', () => query(...args));
      };
      return db;
    },
    connecting: (open) => timedPromise('connect', open),
    read() {
      settle();
      const totalMs = now() - startedAt;
      const otherMs = Math.max(0, totalMs - decodeMs - spent.connect - spent.postgres - spent.ledger);
      return {
        totalMs,
        decodeMs,
        connectMs: spent.connect,
        postgresMs: spent.postgres,
        ledgerMs: spent.ledger,
        otherMs,
        queries,
        ledgerWrites,
      };
    },
  };
}
