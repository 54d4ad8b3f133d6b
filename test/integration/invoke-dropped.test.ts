/**
 * An endpoint that closes the connection without answering (a crashed proxy, a reset) is not a
 * timeout: the CLI says the connection dropped, long before any function timeout, that whether
 * the request ran is unknown, and what to run next. A real timeout keeps VPCM_INVOKE_TIMEOUT
 * (cli-honesty.test.ts, "a hanging endpoint").
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode } from '../../lambda/contract/index.js';
import { runCli } from '../helpers/cli.js';
import { migrationsDir } from '../helpers/migrations.js';

describe('an endpoint that drops the connection', () => {
  let server: http.Server;
  let url: string;
  let requests = 0;

  beforeAll(async () => {
    // Reads the whole request, then destroys the socket: a socket hang-up for the client.
    server = http.createServer((req, res) => {
      requests++;
      req.resume();
      req.on('end', () => res.socket?.destroy());
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  it.each([
    ['status', []],
    ['deploy', []],
    ['sql', ['--write', '--yes', 'CREATE TABLE never (id int)']],
  ] as const)('%s: VPCM_INVOKE_DROPPED, not a timeout, with the next step', async (command, extra) => {
    const dir = await migrationsDir({ '001_base': 'CREATE TABLE t (id int);\n' });
    const before = requests;

    const run = await runCli([command, '--endpoint', url, '--function', 'drops', '--function-timeout', '600', '--migrations', dir, '--json', ...extra]);

    expect(run.exitCode, run.stdout + run.stderr).toBe(2);
    const body = JSON.parse(run.stdout) as { error: { code: string; message: string; remedy: string } };
    expect(body.error.code).toBe(ErrorCode.InvokeDropped);
    expect(body.error.message).toMatch(/dropped without an answer/);
    expect(body.error.message).toMatch(/unknown/);
    expect(body.error.message).not.toMatch(/function timeout/);
    expect(body.error.remedy).toMatch(/status .*--endpoint/);
    expect(body.error.remedy).toMatch(/never applies a recorded migration twice/);
    expect(requests).toBeGreaterThan(before);
  });
});
