/**
 * An endpoint that closes the connection without answering (a crashed proxy, a reset) is not a
 * timeout: the CLI says the connection dropped, long before any function timeout, that whether
 * the request ran is unknown, and what to run next. A real timeout keeps VPCM_INVOKE_TIMEOUT
 * (cli-honesty.test.ts, "a hanging endpoint").
 */
import { httpStub, type HttpStub } from '../helpers/http-stub.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode } from '../../lambda/contract/index.js';
import { runCli } from '../helpers/cli.js';
import { migrationsDir } from '../helpers/migrations.js';

describe('an endpoint that drops the connection', () => {
  let stub: HttpStub;

  // Reads the whole request, then destroys the socket: a socket hang-up for the client.
  beforeAll(async () => {
    stub = await httpStub((req, res) => req.on('end', () => res.socket?.destroy()));
  });
  afterAll(() => stub.close());

  it.each([
    ['status', []],
    ['deploy', []],
    ['sql', ['--write', '--yes', 'CREATE TABLE never (id int)']],
  ] as const)('%s: VPCM_INVOKE_DROPPED, not a timeout, with the next step', async (command, extra) => {
    const dir = await migrationsDir({ '001_base': 'CREATE TABLE t (id int);\n' });
    const before = stub.requests();

    const run = await runCli([
      command,
      '--endpoint',
      stub.url,
      '--function',
      'drops',
      '--function-timeout',
      '600',
      '--migrations',
      dir,
      '--json',
      ...extra,
    ]);

    expect(run.exitCode, run.stdout + run.stderr).toBe(2);
    const body = JSON.parse(run.stdout) as { error: { code: string; message: string; remedy: string } };
    expect(body.error.code).toBe(ErrorCode.InvokeDropped);
    expect(body.error.message).toMatch(/dropped without an answer/);
    expect(body.error.message).toMatch(/unknown/);
    expect(body.error.message).not.toMatch(/function timeout/);
    expect(body.error.remedy).toMatch(/status .*--endpoint/);
    expect(body.error.remedy).toMatch(/never applies a recorded migration twice/);
    expect(stub.requests()).toBeGreaterThan(before);
  });
});
