/**
 * The worker's log lines (lambda/log.ts): Powertools' JSON with the invocation's request id and
 * cold start, the level from the environment, and no secret in any line.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createHandler } from '../../lambda/handler.js';
import { createLogger } from '../../lambda/log.js';

const SECRET = 's3cret-' + Math.random().toString(36).slice(2);
const saved = { ...process.env };

afterEach(() => {
  for (const key of ['AWS_LAMBDA_INITIALIZATION_TYPE', 'POWERTOOLS_LOG_LEVEL', 'AWS_LAMBDA_LOG_LEVEL']) {
    if (saved[key] === undefined) delete process.env[key];
    else process.env[key] = saved[key];
  }
});

const context = (id: string) => ({ awsRequestId: id, functionName: 'worker', getRemainingTimeInMillis: () => 60_000 });

describe('worker log', () => {
  it('masks passwords in messages, fields and errors', () => {
    const lines: string[] = [];
    const log = createLogger({ service: 't' }, (line) => lines.push(line), 'debug');
    const url = `postgresql://app:${SECRET}@db.internal:5432/app`;
    log.error(`connect to ${url} failed`, { url, password: SECRET, sql: `ALTER ROLE x PASSWORD '${SECRET}'` });
    log.warn('failed', new Error(`could not connect: password=${SECRET}`));
    log.info('nested', { error: { cause: { message: `host=db password=${SECRET}` } } });
    expect(lines).toHaveLength(3);
    for (const line of lines) {
      expect(line).not.toContain(SECRET);
      expect(() => JSON.parse(line)).not.toThrow();
    }
    const first: unknown = JSON.parse(lines[0]!);
    expect(first).toMatchObject({ level: 'ERROR', service: 't', url: expect.stringContaining('app:***@') });
  });

  it("names each invocation's request id, and the cold start only on the first", async () => {
    process.env.AWS_LAMBDA_INITIALIZATION_TYPE = 'on-demand';
    const lines: string[] = [];
    const logger = createLogger({}, (l) => lines.push(l));
    const handler = createHandler({ databaseUrl: 'postgresql://unused', logger });
    // An event the contract refuses: logged ("event rejected") without touching a database.
    await handler({ action: 'no-such-action' }, context('req-1'));
    await handler({ action: 'no-such-action' }, context('req-2'));
    const records = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(records).toHaveLength(2);
    expect(records[0]).toMatchObject({ function_request_id: 'req-1', cold_start: true, service: 'vpc-migrate-worker' });
    expect(records[1]).toMatchObject({ function_request_id: 'req-2', cold_start: false });
  });

  it('takes its level from POWERTOOLS_LOG_LEVEL', () => {
    process.env.POWERTOOLS_LOG_LEVEL = 'ERROR';
    const lines: string[] = [];
    const log = createLogger({}, (l) => lines.push(l));
    log.warn('not shown');
    log.error('shown');
    expect(lines.map((l) => (JSON.parse(l) as { message: string }).message)).toEqual(['shown']);
  });
});
