/**
 * The one way the CLI reaches the worker: `@aws-sdk/client-lambda` Invoke, in production and
 * against the local endpoint alike. Writes are sent once (`maxAttempts: 1`): a timed-out apply
 * retried by the SDK would run again. The HTTP timeout sits above the function timeout and
 * throws, so the CLI never gives up on a migration that is still running. What answers is
 * lambda/handler.ts (deployed by infra/migration-worker.ts, served by scripts/local/ in --local).
 */
import { InvokeCommand, type InvokeCommandOutput, LambdaClient, type LambdaClientConfig } from '@aws-sdk/client-lambda';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { randomUUID } from 'node:crypto';
import * as v from 'valibot';
import {
  ApplyResultSchema,
  BackfillResultSchema,
  BaselineResultSchema,
  DriftResultSchema,
  ErrorBodySchema,
  ErrorCode,
  INVOKE_PAYLOAD_LIMIT_BYTES,
  LAMBDA_MAX_TIMEOUT_SECONDS,
  LedgerResultSchema,
  MigrateError,
  PROTOCOL_VERSION,
  RehearseResultSchema,
  remedyCommand,
  ResolveResultSchema,
  RunSqlResultSchema,
  type WorkerEvent,
  type WorkerTimings,
} from '../../lambda/contract/index.js';
import { formatBytes } from '../core/payloads.js';
import { type InvokeMarks, startInvoke, timingsEnabled } from '../core/timings.js';
import type { Worker, WorkerTarget } from '../core/worker-client.js';

/** Lambda's maximum; the deployed function's own timeout is at most this. */
export const DEFAULT_FUNCTION_TIMEOUT_MS = LAMBDA_MAX_TIMEOUT_SECONDS * 1000;

export function connectWorker(target: WorkerTarget): Worker {
  const make = (maxAttempts: number) => lambdaClientFor(target, maxAttempts);
  let writer: LambdaClient | undefined;
  let reader: LambdaClient | undefined;
  let invocations = 0;

  async function send(
    event: WorkerEvent | Record<string, unknown>,
    opts: { writes?: boolean } = {},
    marks?: InvokeMarks,
  ): Promise<unknown> {
    // The named database goes with every event (an event naming its own keeps it: protocol tests).
    const sent = target.database === undefined ? event : { database: target.database, ...event };
    const payload = Buffer.from(JSON.stringify(sent), 'utf8');
    marks?.encoded(payload.length);
    if (payload.length > INVOKE_PAYLOAD_LIMIT_BYTES) {
      throw new MigrateError(
        ErrorCode.PayloadTooLarge,
        `The request is ${formatBytes(payload.length)}, over ` +
          `Lambda's ${formatBytes(INVOKE_PAYLOAD_LIMIT_BYTES)} ` +
          `Invoke limit; nothing was sent.`,
        'Split the migration into smaller files (each file must fit on its own after compression).',
        { details: { bytes: payload.length, limit: INVOKE_PAYLOAD_LIMIT_BYTES } },
      );
    }
    // A read may be sent once more (a lost connection, a cold start gone wrong); anything that
    // writes is sent exactly once. Never more: each attempt may wait the whole function timeout.
    const client = opts.writes === false ? (reader ??= make(READ_ATTEMPTS)) : (writer ??= make(1));
    invocations++;
    let response: InvokeCommandOutput;
    const started = Date.now();
    try {
      response = await client.send(
        new InvokeCommand({ FunctionName: target.functionName, InvocationType: 'RequestResponse', Payload: payload }),
      );
    } catch (error) {
      throw invokeError(error, target, Date.now() - started);
    }
    marks?.answered();
    const text = response.Payload ? Buffer.from(response.Payload).toString('utf8') : '';
    if (response.FunctionError) throw functionError(response.FunctionError, text, target);
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw new MigrateError(
        ErrorCode.ProtocolMismatch,
        `The function ${target.functionName} answered something that is not JSON.`,
        'Check that --function names the vpc-migrate worker.',
      );
    }
    if (!isObject(body) || !('ok' in body)) {
      throw new MigrateError(
        ErrorCode.ProtocolMismatch,
        `The function ${target.functionName} does not speak the vpc-migrate protocol.`,
        'Check that --function names the vpc-migrate worker, or use --protocol run-sql for a plain run-sql worker.',
      );
    }
    if (body.protocol !== PROTOCOL_VERSION) {
      throw new MigrateError(
        ErrorCode.ProtocolMismatch,
        `The worker speaks protocol ${String(body.protocol)}, this CLI ${PROTOCOL_VERSION}.`,
        'Redeploy the worker from this version of the repository.',
      );
    }
    if (body.ok === false && v.is(ErrorBodySchema, body.error)) throw MigrateError.fromBody(body.error);
    if (body.ok !== true) throw malformed(event, text);
    return body.result;
  }

  function malformed(event: object, text: string, issue?: string): MigrateError {
    const action = 'action' in event ? String(event.action) : 'an event';
    return new MigrateError(
      ErrorCode.ProtocolMismatch,
      `The worker ${target.functionName} answered ${action} with a malformed result` +
        `${issue ? ` (${issue})` : ''}: ${text.slice(0, 200)}`,
      'Redeploy the worker from this version of the repository (a worker from another version, ' +
        'or not the vpc-migrate worker, answered).',
    );
  }

  /** One action: its answer checked against the action's schema, typed by it. */
  async function call<S extends v.GenericSchema>(
    schema: S,
    event: WorkerEvent,
    opts?: { writes?: boolean },
  ): Promise<v.InferOutput<S>> {
    // VPC_MIGRATE_TIMINGS (core/timings.ts): this Invoke's part of the time split.
    const marks = startInvoke(event.action, 'migrations' in event ? event.migrations?.length : undefined);
    const result = await send(event, opts, marks);
    const checked = v.safeParse(schema, result);
    if (checked.success) {
      marks?.done((checked.output as { timings?: WorkerTimings }).timings);
      return checked.output;
    }
    const [issue] = checked.issues;
    const at = issue ? v.getDotPath(issue) : null;
    throw malformed(event, JSON.stringify(result) ?? '', issue && `${at ?? 'result'}: ${issue.message}`);
  }

  return {
    target,
    get invocations() {
      return invocations;
    },
    ledger: (format) =>
      call(LedgerResultSchema, format && format !== 'prisma' ? { action: 'ledger', format } : { action: 'ledger' }, {
        writes: false,
      }),
    apply: (event) =>
      call(ApplyResultSchema, {
        action: 'apply',
        ...event,
        requestId: event.requestId ?? randomUUID(),
        // Asked for only when measuring: a worker of this protocol without the field stays compatible.
        ...(timingsEnabled ? { timings: true as const } : {}),
      }),
    runSql: (event) => call(RunSqlResultSchema, { action: 'run-sql', ...event }, { writes: event.write === true }),
    resolve: (event) => call(ResolveResultSchema, { action: 'resolve', ...event }),
    rehearse: (event) =>
      call(RehearseResultSchema, { action: 'rehearse', ...event, requestId: event.requestId ?? randomUUID() }),
    backfill: (event) => call(BackfillResultSchema, { action: 'backfill', ...event }),
    baseline: (event) =>
      call(BaselineResultSchema, { action: 'baseline', ...event, requestId: event.requestId ?? randomUUID() }),
    drift: (event) =>
      call(DriftResultSchema, { action: 'drift', ...event, requestId: event.requestId ?? randomUUID() }),
    send,
    close() {
      writer?.destroy();
      reader?.destroy();
    },
  };
}

/** Attempts for a read (one retry at most): a hanging worker costs two timeouts, not three. */
export const READ_ATTEMPTS = 2;

/**
 * How much longer than the function timeout the CLI waits: Lambda's own overhead (a cold
 * start's init, the network), but not so long that a hanging endpoint at a short timeout
 * keeps the user waiting for minutes.
 */
export function responseMarginMs(functionTimeoutMs: number): number {
  return Math.min(30_000, 10_000 + Math.round(functionTimeoutMs * 0.05));
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The SDK client for a target: `maxAttempts: 1` for anything that writes, and an HTTP timeout
 * above the function timeout that throws (docs/design.md §5). Also used by the run-sql compatibility
 * transport (scripts/compat/transport.ts).
 */
export function lambdaClientFor(target: WorkerTarget, maxAttempts: number): LambdaClient {
  const functionTimeout = target.functionTimeoutMs ?? DEFAULT_FUNCTION_TIMEOUT_MS;
  const timeout = functionTimeout + responseMarginMs(functionTimeout);
  const config: LambdaClientConfig = {
    maxAttempts,
    requestHandler: new NodeHttpHandler({
      connectionTimeout: 10_000,
      requestTimeout: timeout,
      throwOnRequestTimeout: true,
    }),
  };
  if (target.region) config.region = target.region;
  else if (target.endpoint && !process.env.AWS_REGION) config.region = 'us-east-1';
  if (target.endpoint) config.endpoint = target.endpoint;
  if (target.profile) config.profile = target.profile;
  if (target.localCredentials || isLoopback(target.endpoint))
    config.credentials = { accessKeyId: 'local', secretAccessKey: 'local' };
  return new LambdaClient(config);
}

export function invokeError(error: unknown, target: WorkerTarget, waitedMs?: number): MigrateError {
  const e = error as { name?: string; message?: string; code?: string };
  const where = target.endpoint ? ` at ${target.endpoint}` : '';
  const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  if (status === 413 || e.name === 'RequestTooLargeException' || e.name === 'RequestEntityTooLargeException') {
    return new MigrateError(
      ErrorCode.PayloadTooLarge,
      `Lambda refused the request as too large (over ${formatBytes(INVOKE_PAYLOAD_LIMIT_BYTES)}); nothing was run.`,
      'Split the largest migration into smaller files; each must fit one Invoke request after compression.',
      { cause: error },
    );
  }
  if (e.name === 'ResourceNotFoundException') {
    const check =
      target.role === 'reader'
        ? 'Check --reader-function / VPC_MIGRATE_READER_FUNCTION ' +
          "(or the stack's ReaderFunctionName output), the region " +
          'and the account.'
        : 'Check --function / VPC_MIGRATE_FUNCTION (or --stack), the region and the account.';
    return new MigrateError(
      ErrorCode.InvokeFailed,
      `No ${target.role === 'reader' ? 'reader ' : ''}function named ${target.functionName}${where}.`,
      check,
      { cause: error },
    );
  }
  // The SDK names a reset connection a TimeoutError too (ECONNRESET/EPIPE are "transient"): it
  // is not one. The endpoint closed the connection without answering, long before any timeout.
  if (e.code === 'ECONNRESET' || e.code === 'EPIPE' || /socket hang up/i.test(e.message ?? '')) {
    const attempts = (error as { $metadata?: { attempts?: number } }).$metadata?.attempts ?? 1;
    const after = waitedMs === undefined ? '' : ` after ${(waitedMs / 1000).toFixed(1)} s (${attempts} attempt(s))`;
    return new MigrateError(
      ErrorCode.InvokeDropped,
      `The connection to ${target.functionName}${where} dropped ` +
        `without an answer${after} (${e.code ?? e.message ?? e.name}): ` +
        `whether the request ran is unknown.`,
      `Run ${remedyCommand('status')} to see what was applied, ` +
        `then run deploy again: a re-run never applies a recorded ` +
        `migration twice.`,
      { cause: error },
    );
  }
  if (e.name === 'TimeoutError' || e.code === 'ETIMEDOUT' || /timed? ?out/i.test(e.message ?? '')) {
    const attempts = (error as { $metadata?: { attempts?: number } }).$metadata?.attempts ?? 1;
    const waited =
      waitedMs === undefined ? '' : ` (waited ${(waitedMs / 1000).toFixed(1)} s in all, ${attempts} attempt(s))`;
    return new MigrateError(
      ErrorCode.InvokeTimeout,
      `No answer from ${target.functionName} within the function timeout${waited}: the outcome is unknown.`,
      'Run `vpc-migrate status` to see what was applied; a re-run of deploy never applies a recorded migration twice.',
      { cause: error },
    );
  }
  if (
    e.name === 'AccessDeniedException' ||
    e.name === 'UnrecognizedClientException' ||
    e.name === 'CredentialsProviderError'
  ) {
    const readOnlyHint =
      target.role === 'migrator'
        ? ' Only status, lint and sql without --write may use the reader function instead.'
        : '';
    return new MigrateError(
      ErrorCode.InvokeFailed,
      `Not allowed to invoke ${target.functionName}: ${e.message ?? e.name}`,
      `Use credentials allowed lambda:InvokeFunction on this ` +
        `function (AWS_PROFILE / --profile, or your CI role).` +
        `${readOnlyHint}`,
      { cause: error },
    );
  }
  return new MigrateError(
    ErrorCode.InvokeFailed,
    `Invoking ${target.functionName}${where} failed: ${e.name ?? ''} ${e.message ?? String(error)}`.trim(),
    'Check the network path to Lambda, the region and your credentials, then run the command again.',
    { cause: error },
  );
}

/**
 * Lambda's answer when the function itself failed (`FunctionError` set): `{ errorType,
 * errorMessage }`, or plain text after a crash, cut to `messageChars`. `timedOut`: the
 * function hit its timeout, so what it was running may still roll back or finish on its own.
 * Also read by the run-sql compatibility transport (compat/transport.ts).
 */
/** The payload Lambda answers a function error with (an uncaught exception, a timeout). */
const FunctionErrorSchema = v.object({ errorType: v.optional(v.string()), errorMessage: v.optional(v.string()) });

export function lambdaFunctionError(
  kind: string,
  text: string,
  messageChars: number,
): { type: string; message: string; timedOut: boolean } {
  let parsed: v.InferOutput<typeof FunctionErrorSchema> = {};
  try {
    const checked = v.safeParse(FunctionErrorSchema, JSON.parse(text));
    if (checked.success) parsed = checked.output;
  } catch {
    // a crash may answer with plain text
  }
  const type = parsed.errorType ?? kind;
  const message = parsed.errorMessage ?? text.slice(0, messageChars);
  return { type, message, timedOut: type === 'Sandbox.Timedout' || /Task timed out/.test(message) };
}

function functionError(kind: string, text: string, target: WorkerTarget): MigrateError {
  const { type, message, timedOut } = lambdaFunctionError(kind, text, 500);
  if (timedOut) {
    return new MigrateError(
      ErrorCode.InvokeTimeout,
      `The worker ${target.functionName} hit its function timeout: ${message}`,
      'Run `vpc-migrate status`: a transactional migration ' +
        'running at that moment rolled back, a non-transactional ' +
        'one is recorded as interrupted and the next deploy ' +
        'resumes it. Raise the function timeout or split the ' +
        'migration.',
      { details: { errorType: type } },
    );
  }
  return new MigrateError(
    ErrorCode.WorkerCrashed,
    `The worker ${target.functionName} crashed (${type}): ${message}`,
    'See the function logs for this request; run `vpc-migrate status` before retrying.',
    { details: { errorType: type } },
  );
}

/** Emulators on this machine do not check signatures; the SDK still needs something to sign with. */
function isLoopback(endpoint: string | undefined): boolean {
  if (!endpoint) return false;
  try {
    return ['127.0.0.1', 'localhost', '[::1]'].includes(new URL(endpoint).hostname);
  } catch {
    return false;
  }
}
