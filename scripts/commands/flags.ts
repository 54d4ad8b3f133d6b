/** Flag parsing shared by the operator commands (sql, resolve, rehearse, backfill). */
import { ErrorCode, MigrateError } from '../../lambda/errors.js';
import type { ApplyOptions } from '../../lambda/protocol.js';

export type Values = Record<string, string | boolean | string[] | undefined>;

export function usageError(message: string, remedy: string): MigrateError {
  return new MigrateError(ErrorCode.UsageError, message, remedy);
}

/** A non-negative integer flag (`scale` turns seconds into milliseconds), or undefined when absent. */
export function intFlag(values: Values, name: string, opts: { scale?: number; max?: number } = {}): number | undefined {
  const v = values[name];
  if (v === undefined) return undefined;
  const n = Number(v);
  const max = opts.max ?? Number.MAX_SAFE_INTEGER;
  if (typeof v !== 'string' || v.trim() === '' || !Number.isFinite(n) || n < 0 || n * (opts.scale ?? 1) > max) {
    throw usageError(`--${name} must be a number from 0 to ${max / (opts.scale ?? 1)}, got ${String(v)}.`, `Pass --${name} as a number.`);
  }
  return Math.round(n * (opts.scale ?? 1));
}

export function stringFlag(values: Values, name: string): string | undefined {
  const v = values[name];
  return typeof v === 'string' ? v : undefined;
}

/** `--lock-wait SEC`, `--lock-timeout MS`, `--statement-timeout MS`, `--no-reconcile`, as deploy takes them. */
export function applyOptionsFrom(values: Values): ApplyOptions {
  const options: ApplyOptions = {};
  const lockWait = intFlag(values, 'lock-wait', { scale: 1000, max: 3_600_000 });
  const lockTimeout = intFlag(values, 'lock-timeout', { max: 3_600_000 });
  const statementTimeout = intFlag(values, 'statement-timeout', { max: 3_600_000 });
  if (lockWait !== undefined) options.lockWaitMs = lockWait;
  if (lockTimeout !== undefined) options.lockTimeoutMs = lockTimeout;
  if (statementTimeout !== undefined) options.statementTimeoutMs = statementTimeout;
  if (values['no-reconcile'] === true) options.reconcileExisting = false;
  return options;
}
