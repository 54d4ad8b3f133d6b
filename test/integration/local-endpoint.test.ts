import {
  InvokeCommand,
  LambdaClient,
  ResourceNotFoundException,
  type InvokeCommandOutput,
} from '@aws-sdk/client-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { INVOKE_PAYLOAD_LIMIT_BYTES, type LambdaContext } from '../../lambda/contract/index.js';
import { startInvokeEndpoint, writeInvocationLog, type InvokeEndpoint } from '../../scripts/local/endpoint.js';

const seen: { event: unknown; functionName: string; remainingMs: number }[] = [];
let backgroundDone: (value: unknown) => void = () => undefined;

const functions = {
  echo: {
    timeoutMs: 60_000,
    handler: async (event: unknown, context: LambdaContext) => {
      writeInvocationLog(`echo saw ${JSON.stringify(event).length} characters`);
      seen.push({ event, functionName: context.functionName, remainingMs: context.getRemainingTimeInMillis() });
      return { event, requestId: context.awsRequestId };
    },
  },
  thrower: {
    timeoutMs: 60_000,
    handler: async () => {
      throw new TypeError('boom');
    },
  },
  huge: {
    timeoutMs: 60_000,
    handler: async () => 'x'.repeat(INVOKE_PAYLOAD_LIMIT_BYTES + 200),
  },
  slow: {
    timeoutMs: 300,
    handler: async (_event: unknown, context: LambdaContext) => {
      await new Promise((resolve) => setTimeout(resolve, 2_000));
      return { remainingMs: context.getRemainingTimeInMillis() };
    },
  },
  background: {
    timeoutMs: 60_000,
    handler: async (event: unknown) => {
      backgroundDone(event);
      return null;
    },
  },
};

let endpoint: InvokeEndpoint;
let lambda: LambdaClient;

beforeAll(async () => {
  endpoint = await startInvokeEndpoint({ functions });
  lambda = new LambdaClient({
    endpoint: endpoint.url,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    maxAttempts: 1,
  });
});

afterAll(async () => {
  lambda.destroy();
  await endpoint.close();
});

const json = (out: InvokeCommandOutput): unknown => JSON.parse(Buffer.from(out.Payload ?? []).toString('utf8'));
const payload = (value: unknown): Uint8Array => Buffer.from(JSON.stringify(value));

describe('local Invoke endpoint, through the unmodified LambdaClient', () => {
  it('round-trips a RequestResponse invocation', async () => {
    const out = await lambda.send(
      new InvokeCommand({ FunctionName: 'echo', Payload: payload({ action: 'ledger', n: 1 }) }),
    );

    expect(out.StatusCode).toBe(200);
    expect(out.FunctionError).toBeUndefined();
    expect(out.ExecutedVersion).toBe('$LATEST');
    expect(json(out)).toMatchObject({ event: { action: 'ledger', n: 1 } });
    expect(seen.at(-1)?.functionName).toBe('echo');
    expect(seen.at(-1)?.remainingMs).toBeGreaterThan(50_000);
  });

  it('accepts an ARN, a qualifier and an empty payload', async () => {
    const arn = 'arn:aws:lambda:eu-west-1:123456789012:function:echo';
    const byArn = await lambda.send(new InvokeCommand({ FunctionName: arn, Qualifier: '$LATEST' }));
    const partial = await lambda.send(new InvokeCommand({ FunctionName: '123456789012:function:echo:live' }));

    expect(json(byArn)).toMatchObject({ event: {} });
    expect(partial.StatusCode).toBe(200);
  });

  it('reports a thrown error as an Unhandled function error', async () => {
    const out = await lambda.send(new InvokeCommand({ FunctionName: 'thrower', Payload: payload({}) }));

    expect(out.StatusCode).toBe(200);
    expect(out.FunctionError).toBe('Unhandled');
    expect(json(out)).toMatchObject({ errorType: 'TypeError', errorMessage: 'boom', trace: expect.any(Array) });
  });

  it('raises ResourceNotFoundException for an unknown function', async () => {
    const call = lambda.send(new InvokeCommand({ FunctionName: 'nope', Payload: payload({}) }));

    await expect(call).rejects.toBeInstanceOf(ResourceNotFoundException);
    await expect(call).rejects.toMatchObject({
      name: 'ResourceNotFoundException',
      message: 'Function not found: arn:aws:lambda:us-east-1:000000000000:function:nope',
      $metadata: { httpStatusCode: 404 },
    });
  });

  it('takes a request of exactly 6 MB and rejects one byte more with 413', async () => {
    const atLimit = Buffer.from(`"${'a'.repeat(INVOKE_PAYLOAD_LIMIT_BYTES - 2)}"`);
    const ok = await lambda.send(new InvokeCommand({ FunctionName: 'background', Payload: atLimit }));
    const call = lambda.send(
      new InvokeCommand({ FunctionName: 'echo', Payload: Buffer.concat([atLimit, Buffer.from(' ')]) }),
    );

    expect(ok.StatusCode).toBe(200);
    await expect(call).rejects.toMatchObject({
      name: 'RequestEntityTooLargeException',
      $metadata: { httpStatusCode: 413 },
    });
  });

  it('turns an oversize response into Function.ResponseSizeTooLarge', async () => {
    const out = await lambda.send(new InvokeCommand({ FunctionName: 'huge' }));

    expect(out.FunctionError).toBe('Unhandled');
    expect(json(out)).toMatchObject({ errorType: 'Function.ResponseSizeTooLarge' });
  });

  it('rejects a body that is not JSON', async () => {
    const call = lambda.send(new InvokeCommand({ FunctionName: 'echo', Payload: Buffer.from('{not json') }));

    await expect(call).rejects.toMatchObject({
      name: 'InvalidRequestContentException',
      $metadata: { httpStatusCode: 400 },
    });
  });

  it('answers an Event invocation with 202 and runs the handler in the background', async () => {
    const ran = new Promise((resolve) => (backgroundDone = resolve));
    const out = await lambda.send(
      new InvokeCommand({ FunctionName: 'background', InvocationType: 'Event', Payload: payload({ id: 7 }) }),
    );

    expect(out.StatusCode).toBe(202);
    await expect(ran).resolves.toEqual({ id: 7 });
  });

  it('answers DryRun with 204 without running the handler', async () => {
    const before = seen.length;
    const out = await lambda.send(new InvokeCommand({ FunctionName: 'echo', InvocationType: 'DryRun' }));

    expect(out.StatusCode).toBe(204);
    expect(seen.length).toBe(before);
  });

  it('times the function out like Lambda', async () => {
    const started = Date.now();
    const out = await lambda.send(new InvokeCommand({ FunctionName: 'slow', LogType: 'Tail' }));
    const log = Buffer.from(out.LogResult ?? '', 'base64').toString('utf8');

    expect(Date.now() - started).toBeLessThan(1_500);
    expect(out.FunctionError).toBe('Unhandled');
    expect(json(out)).toMatchObject({
      errorType: 'Sandbox.Timedout',
      errorMessage: expect.stringMatching(/ Task timed out after 0\.30 seconds$/),
    });
    expect(log).toMatch(/Status: timeout/);
  });

  it('returns the log tail for LogType Tail', async () => {
    const out = await lambda.send(
      new InvokeCommand({ FunctionName: 'echo', Payload: payload({ x: 1 }), LogType: 'Tail' }),
    );
    const log = Buffer.from(out.LogResult ?? '', 'base64').toString('utf8');
    const { requestId } = json(out) as { requestId: string };

    expect(log).toContain(`START RequestId: ${requestId} Version: $LATEST`);
    expect(log).toContain('echo saw 7 characters');
    expect(log).toContain(`END RequestId: ${requestId}`);
    expect(log).toMatch(new RegExp(`REPORT RequestId: ${requestId}\\tDuration: [\\d.]+ ms`));
  });
});
