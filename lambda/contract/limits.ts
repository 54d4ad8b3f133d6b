/**
 * Lambda's limits and ours that follow from them, defined once for the worker, the CLI and the
 * stack (docs/design.md §5).
 */

/** Lambda's hard limit for a function timeout; also the stack's default and what the CLI assumes. */
export const LAMBDA_MAX_TIMEOUT_SECONDS = 900;

/** Synchronous Invoke limits (request and response): 6 MB each. */
export const INVOKE_PAYLOAD_LIMIT_BYTES = 6 * 1024 * 1024;

/**
 * Lambda's limit on a function's environment variables, all together: the JSON of the map
 * (`{"KEY":"value",…}`) Lambda measures, in bytes.
 */
export const LAMBDA_ENVIRONMENT_LIMIT_BYTES = 4096;

/**
 * The most an apply answer spends on the ledger as the batch left it (`ledgerAfter`): a larger
 * ledger is left out, and the CLI reads it with an Invoke of its own, well inside the response limit.
 */
export const LEDGER_AFTER_MAX_BYTES = 1024 * 1024;

/** SQL longer than this travels gzip+base64 in the event. */
export const COMPRESS_THRESHOLD_BYTES = 64 * 1024;
