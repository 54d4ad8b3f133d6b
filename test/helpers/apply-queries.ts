/**
 * Counts the queries the worker sends on the migration session of `apply` (not its lock session),
 * for tests of the apply path's round trips (issue 26). Patches pg's Client for the test's process;
 * `restore` undoes it.
 */
import pg from 'pg';
import { afterEach } from 'vitest';

/** For a describe block: each test's `start()` begins counting, undone after that test. */
export function useApplyQueryCounter(): { start: () => { count: () => number } } {
  let restore: (() => void) | undefined;
  afterEach(() => {
    restore?.();
    restore = undefined;
  });
  return {
    start: () => {
      const counter = countApplyQueries();
      restore = counter.restore;
      return counter;
    },
  };
}

function countApplyQueries(): { count: () => number; restore: () => void } {
  const original = pg.Client.prototype.query;
  let n = 0;
  pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
    const app = (this as unknown as { connectionParameters?: { application_name?: string } }).connectionParameters
      ?.application_name;
    if (app?.startsWith('vpc-migrate apply ') && !app.startsWith('vpc-migrate apply lock')) n++;
    return (original as (...a: unknown[]) => unknown).apply(this, args);
  } as typeof original;
  return { count: () => n, restore: () => void (pg.Client.prototype.query = original) };
}
