/**
 * The CLI tells the truth at its edges (issue 15): Ctrl-C / SIGTERM mid-deploy against a
 * long-lived endpoint, bounded numeric flags, a hanging endpoint, malformed worker answers and
 * terminal escape sequences in run-sql output. Each case has a stable code and exit 2 (or the
 * signal's 130/143).
 */
import type { ChildProcess } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ErrorCode, type LambdaContext } from '../../lambda/contract/index.js';
import { status } from '../../scripts/commands/status.js';
import { type ProcessRun, runCli, spawnCollect, targetFlags } from '../helpers/cli.js';
import { embeddedTarget, prismaLedger } from '../helpers/db.js';
import { migrationsDir, repoRoot } from '../helpers/migrations.js';
import { useFreshWorker, startTestWorker } from '../helpers/test-worker.js';

/** The CLI as its own process; `onStderr` sees each chunk (and may signal the process). */
function cliProcess(args: string[], onStderr?: (text: string, child: ChildProcess) => void): Promise<ProcessRun> {
  return spawnCollect(
    process.execPath,
    ['--import', 'tsx', path.join(repoRoot, 'scripts/cli.ts'), ...args],
    { cwd: repoRoot, env: { VPC_MIGRATE_FUNCTION: '', DATABASE_URL: '' } },
    onStderr,
  );
}

const SLOW = {
  '001_base': 'CREATE TABLE t (id int PRIMARY KEY);\n',
  '002_slow': 'SELECT pg_sleep(3);\nINSERT INTO t VALUES (1);\n',
  '003_after': 'INSERT INTO t VALUES (2);\n',
};

describe('Ctrl-C and SIGTERM during a deploy', () => {
  const { adminUrl } = embeddedTarget();
  const env = useFreshWorker(adminUrl);

  it(
    'the first Ctrl-C says what the worker may still do, ' +
      'waits for its answer and exits 130; status then shows ' +
      'the outcome',
    async () => {
      const dir = await migrationsDir(SLOW);
      let sent = false;

      const run = await cliProcess(['deploy', ...targetFlags(env.tw), '--migrations', dir], (text, child) => {
        if (!sent && text.includes('Applying')) {
          sent = true;
          setTimeout(() => child.kill('SIGINT'), 300);
        }
      });

      expect(run.code).toBe(130);
      expect(run.stderr).toContain('Interrupted (SIGINT). The worker may still be running what it was sent');
      expect(run.stderr).toContain('pg_advisory_lock 72707369');
      expect(run.stderr).toContain(
        `\`node scripts/run-cli.mjs status --function ${env.tw.functionName} ` +
          `--endpoint ${env.tw.endpoint} --function-timeout 120 ` +
          `--migrations ${dir}\``,
      );
      // It waited: the answer came back and was reported.
      expect(run.stdout).toContain('003_after');
      const st = await status(env.tw.worker, { migrationsDir: dir });
      expect(st.exitCode).toBe(0);
      expect((await prismaLedger(env.db.url)).map((r) => r.finished_at !== null)).toEqual([true, true, true]);
    },
  );

  it(
    'a second SIGTERM exits at once with 143 and, with --json, ' +
      'an object saying so; the worker finishes on its own',
    async () => {
      const dir = await migrationsDir(SLOW);
      let signals = 0;

      const run = await cliProcess(['deploy', ...targetFlags(env.tw), '--migrations', dir, '--json'], (text, child) => {
        if (signals === 0 && text.includes('Applying')) {
          signals = 1;
          setTimeout(() => child.kill('SIGTERM'), 200);
          setTimeout(() => child.kill('SIGTERM'), 600);
        }
      });

      expect(run.code).toBe(143);
      const body = JSON.parse(run.stdout) as {
        ok: boolean;
        interrupted: boolean;
        exitedAtOnce: boolean;
        signal: string;
        next: string;
      };
      expect(body).toMatchObject({ ok: false, interrupted: true, exitedAtOnce: true, signal: 'SIGTERM' });
      expect(body.next).toContain('`node scripts/run-cli.mjs status --function ');
      // The worker was not stopped by the CLI leaving: the lock let it finish.
      await expect
        .poll(async () => (await status(env.tw.worker, { migrationsDir: dir })).exitCode, {
          timeout: 15_000,
          interval: 250,
        })
        .toBe(0);
    },
  );
});

describe('bounded flags and protocol answers', () => {
  const { adminUrl } = embeddedTarget();
  const { db, tw } = useFreshWorker(adminUrl, { per: 'describe' });

  it.each([
    ['status', '--function-timeout', '1e9'],
    ['status', '--function-timeout', '99999'],
    ['status', '--function-timeout', '0'],
    ['status', '--function-timeout', '0.001'],
    ['status', '--function-timeout', '1.5'],
    ['deploy', '--lock-wait', '1e9'],
    ['deploy', '--statement-timeout', '5e7'],
    ['rehearse', '--lock-wait', '1e9'],
    ['sql', '--statement-timeout', '0'],
    ['sql', '--max-rows', '0'],
  ])('%s %s %s is refused with VPCM_USAGE and exit 2, before anything is invoked', async (command, flag, value) => {
    const before = tw.logs.length;
    const args = [
      command,
      ...targetFlags(tw).filter((a, i, all) => a !== '--function-timeout' && all[i - 1] !== '--function-timeout'),
      flag,
      value,
      '--json',
    ];
    if (command === 'sql') args.push('select 1');

    const run = await runCli(args);

    expect(run.exitCode).toBe(2);
    const body = JSON.parse(run.stdout) as { error: { code: string; message: string; remedy: string } };
    expect(body.error.code).toBe(ErrorCode.UsageError);
    expect(body.error.message).toContain(`--${flag.slice(2)} must be`);
    expect(tw.logs.length).toBe(before);
  });

  it('documents the bounds in --help: 1 to 900 s for the function timeout', async () => {
    const run = await runCli(['status', '--help']);
    expect(run.stdout).toMatch(/--function-timeout SEC .*1 to 900/);
  });

  it.each([
    ['status', 'result: null', 'ledger', { ok: true, protocol: 1, action: 'ledger', result: null }],
    ['status', 'an error without a code', 'ledger', { ok: false, protocol: 1, error: { message: 'x' } }],
    [
      'deploy',
      'an unknown status',
      'apply',
      { ok: true, protocol: 1, action: 'apply', result: { results: [{ name: '001_base', status: 'done' }] } },
    ],
    // Every action's answer is checked against its schema (wire.ts), not only ledger, apply and run-sql.
    ['rehearse', 'no results', 'rehearse', { ok: true, protocol: 1, action: 'rehearse', result: { rolledBack: true } }],
  ])(
    '%s: a malformed answer (%s) is VPCM_PROTOCOL_MISMATCH ' + 'with exit 2, not an internal error',
    async (command, _what, action, answer) => {
      const fake = await startTestWorker(db.url, {
        functionName: 'fake',
        timeoutMs: 5_000,
        wrap: (real) => async (event: unknown, context: LambdaContext) =>
          (event as { action?: string }).action === action ? answer : real(event, context),
      });
      try {
        const dir = await migrationsDir({ '001_base': 'CREATE TABLE u (id int);\n' });
        const run = await runCli([
          command,
          '--endpoint',
          fake.endpoint,
          '--function',
          'fake',
          '--function-timeout',
          '5',
          '--migrations',
          dir,
          '--json',
        ]);

        expect(run.exitCode, run.stdout).toBe(2);
        const body = JSON.parse(run.stdout) as { error: { code: string; message: string } };
        expect(body.error.code).toBe(ErrorCode.ProtocolMismatch);
        expect(body.error.message).not.toContain('    at ');
      } finally {
        await fake.close();
      }
    },
  );

  it('a hanging endpoint is asked at most twice for a read, and the error says how long it waited', async () => {
    const sockets = new Set<import('node:net').Socket>();
    const hang = http.createServer(() => undefined);
    hang.on('connection', (s) => sockets.add(s));
    await new Promise<void>((r) => hang.listen(0, '127.0.0.1', r));
    let requests = 0;
    hang.on('request', () => requests++);
    try {
      const url = `http://127.0.0.1:${(hang.address() as AddressInfo).port}`;
      const started = Date.now();
      const run = await runCli([
        'status',
        '--endpoint',
        url,
        '--function',
        'hangs',
        '--function-timeout',
        '1',
        '--json',
      ]);
      const took = Date.now() - started;

      expect(run.exitCode).toBe(2);
      const body = JSON.parse(run.stdout) as { error: { code: string; message: string } };
      expect(body.error.code).toBe(ErrorCode.InvokeTimeout);
      expect(body.error.message).toMatch(/waited \d+\.\d s in all, 2 attempt\(s\)/);
      expect(requests).toBe(2);
      // Two attempts of (1 s + the 10 s margin), not three of 31 s.
      expect(took).toBeLessThan(40_000);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise((r) => hang.close(r));
    }
  }, 60_000);

  it('run-sql escapes control characters from column names, values and notices in its table', async () => {
    const notice = `DO $$ BEGIN RAISE NOTICE E'\\x1b]0;owned\\x07'; END $$`;
    // A DO block is --write's: read-only sql refuses it.
    const run = await runCli(['sql', ...targetFlags(tw), '--write', '--yes', notice]);
    const table = await runCli(['sql', ...targetFlags(tw), `SELECT E'\\x1b[2Jgone' AS "x\u001b[31m"`]);

    expect(run.stdout + run.stderr).toContain('\\x1b]0;owned\\x07');
    expect(run.stdout + run.stderr).not.toContain('\u001b]0;');
    expect(table.stdout).toContain('\\x1b[2Jgone');
    expect(table.stdout).toContain('x\\x1b[31m');
    expect(table.stdout).not.toContain('\u001b[2J');
  });
});
