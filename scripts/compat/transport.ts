/**
 * The wire of a plain `run-sql` worker: the kind many teams already run in their VPC, which
 * takes `{"action": "run-sql", "sql": "…"}`, runs it with Prisma's `$executeRawUnsafe` and
 * answers only a count of affected rows, or fails.
 *
 * The payload shape and where the count and the error sit in the answer are configurable; the
 * defaults are that seed worker's: a thrown error reaches us as a Lambda function error
 * (`FunctionError: Unhandled`, `errorMessage` holding Prisma's
 * ``Raw query failed. Code: `42P07`. Message: `relation "x" already exists` ``).
 */
import { InvokeCommand, type InvokeCommandOutput, type LambdaClient } from '@aws-sdk/client-lambda';
import { ErrorCode, INVOKE_PAYLOAD_LIMIT_BYTES, isAlreadyExists, MigrateError } from '../../lambda/contract/index.js';
import { formatBytes } from '../core/payloads.js';
import type { WorkerTarget } from '../core/worker-client.js';
import { invokeError, lambdaClientFor, lambdaFunctionError } from '../transport/invoke.js';

export const DEFAULT_PAYLOAD_TEMPLATE = '{"action":"run-sql","sql":"{{sql}}"}';
export const DEFAULT_COUNT_PATH = 'count';
const SQL_PLACEHOLDER = '{{sql}}';

export interface RunSqlProtocolOptions {
  /** JSON with `{{sql}}` inside one of its strings; default {@link DEFAULT_PAYLOAD_TEMPLATE}. */
  payloadTemplate?: string;
  /**
   * Where a failure sits in an answer that is not a Lambda function error (dot path, e.g.
   * `error` or `body.error.message`; a string holding JSON is entered). Unset: only
   * `FunctionError` marks a failure.
   */
  errorPath?: string;
  /** Where the affected-row count sits in a successful answer; default `count`. */
  countPath?: string;
}

/** A failed `run-sql` call as the worker reported it. */
export interface RunSqlFailure {
  /** The database's message, unwrapped from Prisma's text where it is recognisable. */
  message: string;
  /** SQLSTATE, when the worker passed it or its message names it. */
  code?: string;
  /** Lambda's `errorType` for function errors. */
  errorType?: string;
  /** Everything the worker said about the failure (markers are searched here). */
  text: string;
}

export type RunSqlOutcome = { ok: true; count: number | null } | { ok: false; failure: RunSqlFailure };

/** One `run-sql` round trip; `writes: false` lets the SDK retry (reads only). */
export interface RunSqlTransport {
  readonly target: WorkerTarget;
  readonly invocations: number;
  call(sql: string, opts?: { writes?: boolean }): Promise<RunSqlOutcome>;
  /** Sends a payload as is and returns the parsed answer (the `send` escape hatch). */
  sendRaw(payload: unknown, opts?: { writes?: boolean }): Promise<unknown>;
  close(): void;
}

// ---------------------------------------------------------------------------------------------
// Payload template

export type PayloadTemplate = unknown;

/** Parses and checks a payload template; a problem is a usage error naming the fix. */
export function parsePayloadTemplate(text: string = DEFAULT_PAYLOAD_TEMPLATE): PayloadTemplate {
  let template: unknown;
  try {
    template = JSON.parse(text);
  } catch (error) {
    throw new MigrateError(
      ErrorCode.UsageError,
      `--payload-template is not JSON: ${(error as Error).message}`,
      `Pass the event your worker expects with "{{sql}}" where the SQL goes, e.g. '${DEFAULT_PAYLOAD_TEMPLATE}'.`,
    );
  }
  if (!containsPlaceholder(template)) {
    throw new MigrateError(
      ErrorCode.UsageError,
      '--payload-template has no "{{sql}}" in any of its strings.',
      `Put "{{sql}}" where the SQL goes, e.g. '${DEFAULT_PAYLOAD_TEMPLATE}'.`,
    );
  }
  return template;
}

function containsPlaceholder(value: unknown): boolean {
  if (typeof value === 'string') return value.includes(SQL_PLACEHOLDER);
  if (Array.isArray(value)) return value.some(containsPlaceholder);
  if (value && typeof value === 'object') return Object.values(value).some(containsPlaceholder);
  return false;
}

/** The template with every `{{sql}}` replaced; substitution happens on parsed JSON, so nothing needs escaping. */
export function renderPayload(template: PayloadTemplate, sql: string): unknown {
  if (typeof template === 'string') return template.split(SQL_PLACEHOLDER).join(sql);
  if (Array.isArray(template)) return template.map((v) => renderPayload(v, sql));
  if (template && typeof template === 'object') {
    return Object.fromEntries(Object.entries(template).map(([k, v]) => [k, renderPayload(v, sql)]));
  }
  return template;
}

// ---------------------------------------------------------------------------------------------
// Answers

/** An object or array, indexed by key (`0` for an array's first item). */
const isIndexable = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null;

/** Follows a dot path (`a.b.0.c`); a string met on the way that holds JSON is entered. */
export function readPath(value: unknown, path: string): unknown {
  let current = value;
  for (const key of path.split('.').filter((k) => k !== '')) {
    if (typeof current === 'string') {
      try {
        current = JSON.parse(current);
      } catch {
        return undefined;
      }
    }
    if (!isIndexable(current)) return undefined;
    current = current[key];
  }
  return current;
}

const SQLSTATE = /^[0-9A-Z]{5}$/;

/**
 * A failure from what the worker said. The SQLSTATE comes from a `code` the worker passed, else
 * from Prisma's ``Code: `XXXXX` `` or a `SQLSTATE XXXXX` in the text; the message is unwrapped
 * from Prisma's ``Message: `…` `` and PostgreSQL's `ERROR:` prefix.
 */
export function failureFrom(detail: unknown, text: string, errorType?: string): RunSqlFailure {
  let message = typeof detail === 'string' ? detail : text;
  let code: string | undefined;
  if (isIndexable(detail)) {
    const d = detail;
    const m = d.message ?? d.errorMessage ?? d.error;
    if (typeof m === 'string') message = m;
    for (const c of [d.code, d.sqlState, d.sqlstate, isIndexable(d.meta) ? d.meta.code : undefined]) {
      if (typeof c === 'string' && SQLSTATE.test(c) && !/^P2\d{3}$/.test(c)) code ??= c;
    }
  }
  code ??= /Code: `([0-9A-Z]{5})`/.exec(message)?.[1] ?? /SQLSTATE[ =:]*([0-9A-Z]{5})\b/.exec(message)?.[1];
  // `42P07: relation "x" already exists` (our own worker's run-sql); every SQLSTATE has a digit, "ERROR" does not.
  const leading = /^\s*([0-9A-Z]{5}): /.exec(message)?.[1];
  if (!code && leading && /\d/.test(leading)) {
    code = leading;
    message = message.replace(/^\s*[0-9A-Z]{5}: /, '');
  }
  const prisma = /Message: `([\s\S]*)`\s*$/.exec(message);
  if (prisma?.[1] !== undefined) message = prisma[1];
  message = message.replace(/^\s*(db error:\s*)?(ERROR:\s*)?/, '');
  const failure: RunSqlFailure = { message, text };
  if (code) failure.code = code;
  if (errorType) failure.errorType = errorType;
  return failure;
}

/**
 * Whether a failure means "the object is already there": by SQLSTATE when known (the same set
 * as our worker, lambda/sql-error.ts), else by PostgreSQL's English message.
 */
export function isDuplicateFailure(f: RunSqlFailure): boolean {
  if (f.code) return isAlreadyExists({ code: f.code, message: f.message });
  if (/duplicate key value/i.test(f.message)) return false;
  return /\balready exists\b/i.test(f.message) || /multiple primary keys .* are not allowed/i.test(f.message);
}

// ---------------------------------------------------------------------------------------------
// The Lambda transport

export function lambdaTransport(target: WorkerTarget, options: RunSqlProtocolOptions = {}): RunSqlTransport {
  const template = parsePayloadTemplate(options.payloadTemplate);
  const countPath = options.countPath ?? DEFAULT_COUNT_PATH;
  let writer: LambdaClient | undefined;
  let reader: LambdaClient | undefined;
  let invocations = 0;

  async function invoke(payloadValue: unknown, writes: boolean): Promise<{ text: string; functionError?: string }> {
    const payload = Buffer.from(JSON.stringify(payloadValue), 'utf8');
    if (payload.length > INVOKE_PAYLOAD_LIMIT_BYTES) {
      throw new MigrateError(
        ErrorCode.PayloadTooLarge,
        `The run-sql request is ${formatBytes(payload.length)}, ` +
          `over Lambda's ${formatBytes(INVOKE_PAYLOAD_LIMIT_BYTES)} ` +
          `Invoke limit; nothing was sent.`,
        'A plain run-sql worker takes the SQL uncompressed: ' +
          'split the migration into smaller files, or deploy the ' +
          'vpc-migrate worker (it accepts gzip).',
        { details: { bytes: payload.length, limit: INVOKE_PAYLOAD_LIMIT_BYTES } },
      );
    }
    const client = writes ? (writer ??= lambdaClientFor(target, 1)) : (reader ??= lambdaClientFor(target, 3));
    invocations++;
    let response: InvokeCommandOutput;
    try {
      response = await client.send(
        new InvokeCommand({ FunctionName: target.functionName, InvocationType: 'RequestResponse', Payload: payload }),
      );
    } catch (error) {
      throw invokeError(error, target);
    }
    const text = response.Payload ? Buffer.from(response.Payload).toString('utf8') : '';
    return response.FunctionError ? { text, functionError: response.FunctionError } : { text };
  }

  return {
    target,
    get invocations() {
      return invocations;
    },
    async call(sql, opts = {}) {
      const { text, functionError } = await invoke(renderPayload(template, sql), opts.writes !== false);
      const body = parseJson(text);
      if (functionError) {
        const { type, message, timedOut } = lambdaFunctionError(functionError, text, 2000);
        if (timedOut) {
          throw new MigrateError(
            ErrorCode.InvokeTimeout,
            `The run-sql worker ${target.functionName} hit its function timeout: ${message}`,
            'The statement running then may still finish or roll ' +
              'back on its own. Run status to see what is recorded; ' +
              'raise the function timeout or split the migration.',
            { details: { errorType: type } },
          );
        }
        if (type.startsWith('Runtime.')) {
          throw new MigrateError(
            ErrorCode.WorkerCrashed,
            `The run-sql worker ${target.functionName} crashed (${type}): ${message}`,
            'See the function logs for this request; run status before retrying.',
            { details: { errorType: type } },
          );
        }
        const detail = options.errorPath ? (readPath(body, options.errorPath) ?? message) : message;
        return { ok: false, failure: failureFrom(detail, text, type) };
      }
      if (options.errorPath) {
        const detail = readPath(body, options.errorPath);
        if (detail !== undefined && detail !== null && detail !== '' && detail !== false)
          return { ok: false, failure: failureFrom(detail, text) };
      }
      return { ok: true, count: countFrom(body, countPath) };
    },
    async sendRaw(payloadValue, opts = {}) {
      const { text, functionError } = await invoke(payloadValue, opts.writes !== false);
      const body = parseJson(text);
      if (functionError) {
        const { type, message } = lambdaFunctionError(functionError, text, 500);
        throw new MigrateError(
          ErrorCode.WorkerCrashed,
          `The run-sql worker ${target.functionName} failed (${type}): ${message}`,
          'See the function logs for this request.',
        );
      }
      return body ?? text;
    },
    close() {
      writer?.destroy();
      reader?.destroy();
    },
  };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function countFrom(body: unknown, path: string): number | null {
  const value = typeof body === 'number' ? body : readPath(body, path);
  const n = typeof value === 'number' ? value : typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : NaN;
  return Number.isFinite(n) ? n : null;
}
