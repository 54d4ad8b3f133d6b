/** SQLSTATE classes both sides branch on: the worker to reconcile, the compatibility mode to read a failure. */

/** SQLSTATEs meaning "the object is already there" (docs/design.md §3). */
const DUPLICATE_CODES = new Set(['42P07', '42710', '42701', '42P06', '42723']);

/**
 * SQLSTATEs meaning it only with a message that says so (a pattern without quotes): 42P16 for
 * "multiple primary keys" (the key is there), 42P17 when PostgreSQL itself says "already exists".
 */
const DUPLICATE_IF_MESSAGE: Readonly<Record<string, string>> = {
  '42P16': 'multiple primary keys',
  '42P17': 'already exists',
};

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

/** Whether a failure means the object already exists. */
export function isAlreadyExists(error: PgErrorLike): boolean {
  if (!error.code) return false;
  if (DUPLICATE_CODES.has(error.code)) return true;
  const pattern = DUPLICATE_IF_MESSAGE[error.code];
  return pattern !== undefined && new RegExp(pattern, 'i').test(error.message);
}

/**
 * The same judgement in PL/pgSQL, for compatibility mode's DO blocks: `condition` for an
 * `EXCEPTION WHEN`, and `notReally`, true inside that handler when the message says otherwise.
 */
export const ALREADY_EXISTS_PLPGSQL = {
  condition: [...DUPLICATE_CODES, ...Object.keys(DUPLICATE_IF_MESSAGE)].map((c) => `SQLSTATE '${c}'`).join(' OR '),
  notReally: Object.entries(DUPLICATE_IF_MESSAGE)
    .map(([code, pattern]) => `(SQLSTATE = '${code}' AND SQLERRM !~* '${pattern}')`)
    .join(' OR '),
};

/**
 *  Errors that re-running a file statement by statement cannot place on a line (timeouts, cancellation, a lost
 *  connection): it would only repeat them.
 */
export const NOT_RELOCATABLE: ReadonlySet<string> = new Set([
  '57014',
  '55P03',
  '40P01',
  '40001',
  '57P01',
  '57P02',
  '57P03',
  '08006',
  '08003',
]);
