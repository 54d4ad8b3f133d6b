/** The typed error a call refuses with; fails the test when it resolves or throws something else. */
import { expect } from 'vitest';
import { MigrateError } from '../../lambda/contract/index.js';

export async function migrateErrorOf(promise: Promise<unknown>): Promise<MigrateError> {
  const outcome = await promise.then(
    (value: unknown) => ({ resolved: value }),
    (error: unknown) => ({ error }),
  );
  if (!('error' in outcome))
    throw new Error(
      `expected a MigrateError, but the call resolved with ${JSON.stringify(outcome.resolved)?.slice(0, 200)}`,
    );
  expect(outcome.error).toBeInstanceOf(MigrateError);
  return outcome.error as MigrateError;
}
