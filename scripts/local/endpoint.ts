/**
 * A local Lambda Invoke endpoint on `node:http`. It speaks the real wire format, so the
 * unmodified `LambdaClient` (pointed at `url`) reaches an in-process handler: what the CLI does
 * against AWS is exactly what it does in tests and `--local` mode.
 *
 * Limits: a timed-out handler keeps running in this process (only its answer is replaced by
 * the `Sandbox.Timedout` error; real Lambda would freeze the sandbox), and the log tail holds
 * START/END/REPORT plus whatever the handler wrote through {@link writeInvocationLog}, not
 * captured stdout.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { INVOKE_PAYLOAD_LIMIT_BYTES, type LambdaContext, type WorkerHandler } from '../../lambda/contract/index.js';

/** Real Lambda lets a response be 100 bytes larger than a request (6,291,556 bytes). */
const RESPONSE_LIMIT_BYTES = INVOKE_PAYLOAD_LIMIT_BYTES + 100;
const LOG_TAIL_BYTES = 4096;
const INVOKE_PATH = /^\/2015-03-31\/functions\/([^/]+)\/invocations$/;
// A name, `name:qualifier`, `123456789012:function:name`, or a full ARN in any partition.
const FUNCTION_REF = /^(?:arn:[\w-]+:lambda:[\w-]+:\d{12}:function:|\d{12}:function:)?([\w-]{1,140})(?::[\w$-]+)?$/;

export interface LocalFunction {
  handler: WorkerHandler;
  /** The function's configured timeout; the handler's context counts down from it. */
  timeoutMs: number;
}

export interface InvokeEndpoint {
  /** `http://127.0.0.1:<port>`: the `endpoint` for `new LambdaClient(...)`. */
  url: string;
  close(): Promise<void>;
}

interface Outcome {
  payload: string;
  functionError?: 'Unhandled';
  /** Set when the function ran out of time; also the last line of its log, as in Lambda. */
  timeoutMessage?: string;
}

const invocationLog = new AsyncLocalStorage<string[]>();

/** Appends a line to the log of the invocation running in this async context (its `LogResult`). */
export function writeInvocationLog(line: string): void {
  invocationLog.getStore()?.push(line);
}

/**
 * Serves `POST /2015-03-31/functions/{FunctionName}/invocations` on 127.0.0.1 (port 0: a free
 * one) for the given functions. `log` receives each invocation's log once it has finished.
 */
export async function startInvokeEndpoint(opts: {
  functions: Record<string, LocalFunction>;
  port?: number;
  log?: (text: string) => void;
}): Promise<InvokeEndpoint> {
  const server = createServer((req, res) => {
    serve(req, res, opts).catch((error: unknown) => {
      if (!res.headersSent) sendError(res, 500, 'ServiceException', String(error));
      else res.destroy();
    });
  });
  // Node closes idle keep-alive sockets after 5 s; an SDK call sent just then fails with
  // ECONNRESET, and the CLI does not retry writes. Idle sockets end with close() instead.
  server.keepAliveTimeout = 15 * 60_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        // The SDK keeps connections alive; without this, close waits for them to time out.
        server.closeAllConnections();
      }),
  };
}

async function serve(
  req: IncomingMessage,
  res: ServerResponse,
  opts: Parameters<typeof startInvokeEndpoint>[0],
): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://local');
  const path = req.method === 'POST' ? INVOKE_PATH.exec(url.pathname) : null;
  const body = await readBody(req);
  if (!path?.[1]) return sendError(res, 404, 'UnknownOperationException', 'Only Invoke is served here.');
  // Real Lambda's wire name, although the SDK models it as `RequestTooLargeException`.
  if (!body)
    return sendError(
      res,
      413,
      'RequestEntityTooLargeException',
      `Request must be smaller than ${INVOKE_PAYLOAD_LIMIT_BYTES} bytes for the InvokeFunction operation`,
    );

  const ref = safeDecode(path[1]);
  const name = FUNCTION_REF.exec(ref)?.[1];
  const fn = name !== undefined && Object.hasOwn(opts.functions, name) ? opts.functions[name] : undefined;
  if (!fn || !name) {
    const arn = ref.startsWith('arn:') ? ref : `arn:aws:lambda:${regionOf(req)}:000000000000:function:${ref}`;
    return sendError(res, 404, 'ResourceNotFoundException', `Function not found: ${arn}`);
  }
  let event: unknown;
  try {
    event = body.length === 0 ? {} : JSON.parse(body.toString('utf8'));
  } catch (error) {
    return sendError(
      res,
      400,
      'InvalidRequestContentException',
      `Could not parse request body into json: ${(error as Error).message}`,
    );
  }

  const requestId = randomUUID();
  const headers = { 'Content-Type': 'application/json', 'x-amzn-RequestId': requestId };
  const type = req.headers['x-amz-invocation-type'] ?? 'RequestResponse';
  if (type === 'DryRun') return void res.writeHead(204, headers).end();
  if (type === 'Event') {
    res.writeHead(202, headers).end();
    const outcome = await invoke(fn, name, event, requestId);
    return opts.log?.(outcome.log.join('\n'));
  }
  if (type !== 'RequestResponse')
    return sendError(res, 400, 'InvalidParameterValueException', `Unsupported InvocationType: ${String(type)}`);

  const outcome = await invoke(fn, name, event, requestId);
  opts.log?.(outcome.log.join('\n'));
  const reply: Record<string, string> = { ...headers, 'X-Amz-Executed-Version': '$LATEST' };
  if (outcome.functionError) reply['X-Amz-Function-Error'] = outcome.functionError;
  if (req.headers['x-amz-log-type'] === 'Tail') {
    const text = Buffer.from(outcome.log.join('\n') + '\n', 'utf8');
    reply['X-Amz-Log-Result'] = text.subarray(Math.max(0, text.length - LOG_TAIL_BYTES)).toString('base64');
  }
  res.writeHead(200, reply).end(outcome.payload);
}

async function invoke(
  fn: LocalFunction,
  functionName: string,
  event: unknown,
  requestId: string,
): Promise<Outcome & { log: string[] }> {
  const log = [`START RequestId: ${requestId} Version: $LATEST`];
  const started = performance.now();
  const deadline = Date.now() + fn.timeoutMs;
  const context: LambdaContext = {
    awsRequestId: requestId,
    functionName,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
  };

  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<Outcome>((resolve) => {
    timer = setTimeout(() => {
      const errorMessage =
        `${new Date().toISOString()} ${requestId} Task timed ` +
        `out after ${(fn.timeoutMs / 1000).toFixed(2)} seconds`;
      const payload = JSON.stringify({ errorType: 'Sandbox.Timedout', errorMessage });
      resolve({ payload, functionError: 'Unhandled', timeoutMessage: errorMessage });
    }, fn.timeoutMs);
  });
  const ran = invocationLog.run(log, () =>
    Promise.resolve()
      .then(() => fn.handler(event, context))
      .then(serialize)
      .catch((error: unknown) => {
        const payload = errorPayload(error);
        log.push(`${new Date().toISOString()}\t${requestId}\tERROR\tInvoke Error \t${payload}`);
        return { payload, functionError: 'Unhandled' as const };
      }),
  );
  const outcome: Outcome = await Promise.race([ran, timedOut]);
  clearTimeout(timer);

  const ms = performance.now() - started;
  const memory = Math.round(process.memoryUsage().rss / 2 ** 20);
  // A copy: a timed-out handler is still running and may keep writing to `log`.
  const lines = [...log, `END RequestId: ${requestId}`];
  const status = outcome.timeoutMessage ? '\tStatus: timeout' : '';
  lines.push(
    `REPORT RequestId: ${requestId}\tDuration: ${ms.toFixed(2)} ` +
      `ms\tBilled Duration: ${Math.ceil(ms)} ms\tMax Memory ` +
      `Used: ${memory} MB${status}`,
  );
  if (outcome.timeoutMessage) lines.push(outcome.timeoutMessage);
  return { ...outcome, log: lines };
}

function serialize(result: unknown): Outcome {
  const payload = JSON.stringify(result) ?? 'null';
  const size = Buffer.byteLength(payload, 'utf8');
  if (size <= RESPONSE_LIMIT_BYTES) return { payload };
  const errorMessage =
    `Response payload size (${size} bytes) exceeded maximum ` + `allowed payload size (${RESPONSE_LIMIT_BYTES} bytes).`;
  return {
    payload: JSON.stringify({ errorType: 'Function.ResponseSizeTooLarge', errorMessage }),
    functionError: 'Unhandled',
  };
}

/** The Node.js runtime's shape for a thrown error. */
function errorPayload(error: unknown): string {
  if (!(error instanceof Error))
    return JSON.stringify({ errorType: typeof error, errorMessage: String(error), trace: [] });
  return JSON.stringify({ errorType: error.name, errorMessage: error.message, trace: error.stack?.split('\n') ?? [] });
}

/** Reads the body, or answers null once it exceeds the request limit (still draining the socket). */
function readBody(req: IncomingMessage): Promise<Buffer | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= INVOKE_PAYLOAD_LIMIT_BYTES) chunks.push(chunk);
    });
    req.on('end', () => resolve(size > INVOKE_PAYLOAD_LIMIT_BYTES ? null : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function sendError(res: ServerResponse, status: number, type: string, message: string): void {
  // The SDK's model spells this one member `Message`; every other Invoke error uses `message`.
  const key = type === 'ResourceNotFoundException' ? 'Message' : 'message';
  res
    .writeHead(status, {
      'Content-Type': 'application/json',
      'x-amzn-ErrorType': type,
      'x-amzn-RequestId': randomUUID(),
    })
    .end(JSON.stringify({ Type: 'User', [key]: message }));
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** The region the client signed for (SigV4 credential scope), so ARNs in errors look familiar. */
function regionOf(req: IncomingMessage): string {
  return /Credential=[^/]+\/\d{8}\/([^/]+)\//.exec(req.headers.authorization ?? '')?.[1] ?? 'us-east-1';
}
