/** Flag parsing shared by the operator commands (sql, resolve, rehearse, backfill). */
import { type ApplyOptions, ErrorCode, MigrateError } from '../../lambda/contract/index.js';

export type Values = Record<string, string | boolean | string[] | undefined>;

export function usageError(message: string, remedy: string): MigrateError {
  return new MigrateError(ErrorCode.UsageError, message, remedy);
}

/**
 * A bounded number flag (`scale` turns seconds into milliseconds), or undefined when absent.
 * Bounds are in the flag's own unit; `integer` refuses fractions (Lambda timeouts are whole seconds).
 */
export function intFlag(values: Values, name: string, opts: { scale?: number; min?: number; max?: number; integer?: boolean; unit?: string } = {}): number | undefined {
  const v = values[name];
  if (v === undefined) return undefined;
  const scale = opts.scale ?? 1;
  const min = opts.min ?? 0;
  const max = opts.max === undefined ? Number.MAX_SAFE_INTEGER : opts.max / scale;
  const n = Number(v);
  const unit = opts.unit ? ` ${opts.unit}` : '';
  if (typeof v !== 'string' || v.trim() === '' || !Number.isFinite(n) || n < min || n > max || (opts.integer && !Number.isInteger(n))) {
    throw usageError(
      `--${name} must be ${opts.integer ? 'a whole number' : 'a number'} from ${min} to ${max}${unit}, got ${String(v)}.`,
      `Pass --${name} between ${min} and ${max}${unit}.`,
    );
  }
  return Math.round(n * scale);
}

/** Lambda's own bounds for a function timeout (1–900 s): the CLI waits this long plus a margin. */
export function functionTimeoutFlag(values: Values): number | undefined {
  return intFlag(values, 'function-timeout', { scale: 1000, min: 1, max: 900_000, integer: true, unit: 's' });
}

export function stringFlag(values: Values, name: string): string | undefined {
  const v = values[name];
  return typeof v === 'string' ? v : undefined;
}

/** `--lock-wait SEC`, `--lock-timeout MS`, `--statement-timeout MS`, `--no-reconcile`, as deploy takes them. */
export function applyOptionsFrom(values: Values): ApplyOptions {
  const options: ApplyOptions = {};
  const lockWait = intFlag(values, 'lock-wait', { scale: 1000, max: 3_600_000, unit: 's' });
  const lockTimeout = intFlag(values, 'lock-timeout', { max: 3_600_000, unit: 'ms' });
  const statementTimeout = intFlag(values, 'statement-timeout', { max: 3_600_000, unit: 'ms' });
  if (lockWait !== undefined) options.lockWaitMs = lockWait;
  if (lockTimeout !== undefined) options.lockTimeoutMs = lockTimeout;
  if (statementTimeout !== undefined) options.statementTimeoutMs = statementTimeout;
  if (values['no-reconcile'] === true) options.reconcileExisting = false;
  return options;
}
