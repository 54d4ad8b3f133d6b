/** SQLSTATE classes both sides branch on: the worker to reconcile, the compatibility mode to read a failure. */

/** SQLSTATEs meaning "the object is already there" (docs/design.md §3). */
const DUPLICATE_CODES = new Set(['42P07', '42710', '42701', '42P06', '42723']);

export interface PgErrorLike {
  code?: string;
  message: string;
  detail?: string;
  hint?: string;
  where?: string;
  position?: string;
}

export function asPgError(error: unknown): PgErrorLike {
  if (error && typeof error === 'object' && 'message' in error) return error as PgErrorLike;
  return { message: String(error) };
}

/**
 * Whether a failure means the object already exists. 42P16 counts only for "multiple primary
 * keys" (the key is there) and 42P17 only when PostgreSQL itself says "already exists".
 */
export function isAlreadyExists(error: PgErrorLike): boolean {
  if (!error.code) return false;
  if (DUPLICATE_CODES.has(error.code)) return true;
  if (error.code === '42P16') return /multiple primary keys/i.test(error.message);
  if (error.code === '42P17') return /already exists/i.test(error.message);
  return false;
}

/** Errors that re-running a file statement by statement cannot place on a line (timeouts, cancellation, a lost connection): it would only repeat them. */
export const NOT_RELOCATABLE: ReadonlySet<string> = new Set(['57014', '55P03', '40P01', '40001', '57P01', '57P02', '57P03', '08006', '08003']);
