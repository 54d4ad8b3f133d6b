/**
 * One worker, many databases (issue 27): the local worker serves three named databases besides
 * its own, and the CLI selects one with `--database`, through the SDK and the local Invoke
 * endpoint as against AWS. Each deploy lands in the selected database's ledger only; a name
 * outside the allow-list is refused with VPCM_DATABASE_NOT_ALLOWED before anything is dialled.
 */
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode } from '../../lambda/contract/index.js';
import { type LocalWorker, startLocalWorker } from '../../scripts/local/local-worker.js';
import { runCli } from '../helpers/cli.js';
import { databaseTargets, freshDatabase, type FreshDatabase, query } from '../helpers/db.js';
import { addMigration, migrationsDir } from '../helpers/migrations.js';

const NAMES = ['t1', 't2', 't3'] as const;

async function ledgerOf(url: string): Promise<string[]> {
  const [exists] = await query<{ t: string | null }>(url, "SELECT to_regclass('_prisma_migrations')::text AS t");
  if (!exists?.t) return [];
  const rows = await query<{ migration_name: string }>(
    url,
    'SELECT migration_name FROM _prisma_migrations WHERE finished_at IS NOT NULL ORDER BY migration_name',
  );
  return rows.map((r) => r.migration_name);
}

describe.each(databaseTargets())('one worker, three named databases ($name)', ({ adminUrl }) => {
  let own: FreshDatabase;
  const named: Record<string, FreshDatabase> = {};
  let lw: LocalWorker;
  let dir: string;
  const run = (command: string, name: string | undefined, ...rest: string[]) =>
    runCli([
      command,
      ...['--endpoint', lw.endpoint, '--function', lw.functionName, '--function-timeout', '120'],
      ...(name === undefined ? [] : ['--database', name]),
      ...['--migrations', dir, '--json'],
      ...rest,
    ]);

  beforeAll(async () => {
    own = await freshDatabase(adminUrl);
    for (const name of NAMES) named[name] = await freshDatabase(adminUrl);
    lw = await startLocalWorker({
      databaseUrl: own.url,
      databases: Object.fromEntries(NAMES.map((n) => [n, named[n]!.url])),
      functionName: `selector-${Math.random().toString(36).slice(2, 8)}`,
      timeoutMs: 120_000,
    });
    dir = await migrationsDir({
      '001_users': 'CREATE TABLE users (id int PRIMARY KEY);',
      '002_orders': 'CREATE TABLE orders (id int PRIMARY KEY, user_id int REFERENCES users);',
    });
  });

  afterAll(async () => {
    await lw?.close();
    for (const db of [own, ...Object.values(named)]) await db?.drop();
  });

  it('deploys to each selected database, each ledger its own', async () => {
    expect((await run('deploy', 't1')).exitCode).toBe(0);
    expect(await ledgerOf(named.t1!.url)).toEqual(['001_users', '002_orders']);
    for (const url of [own.url, named.t2!.url, named.t3!.url]) expect(await ledgerOf(url)).toEqual([]);

    await addMigration(dir, '003_items', 'CREATE TABLE items (id int PRIMARY KEY);');
    const t2 = await run('deploy', 't2');
    expect(t2.exitCode).toBe(0);
    expect(JSON.parse(t2.stdout).results.map((r: { name: string }) => r.name)).toEqual([
      '001_users',
      '002_orders',
      '003_items',
    ]);
    expect(await ledgerOf(named.t2!.url)).toEqual(['001_users', '002_orders', '003_items']);
    expect(await ledgerOf(named.t1!.url)).toEqual(['001_users', '002_orders']);

    // status through the migrator (the reader function serves only its own database): t1 lacks 003.
    const t1Status = await run('status', 't1');
    expect(t1Status.exitCode).toBe(1);
    expect(JSON.parse(t1Status.stdout).plan.pending).toEqual(['003_items']);
    expect((await run('status', 't2')).exitCode).toBe(0);

    // The worker's own database is still what no selector means.
    expect((await run('deploy', undefined)).exitCode).toBe(0);
    expect(await ledgerOf(own.url)).toEqual(['001_users', '002_orders', '003_items']);
    expect(await ledgerOf(named.t3!.url)).toEqual([]);
  });

  it('prints remedies that keep --database, so they act on the same database', async () => {
    await addMigration(dir, '004_broken', 'CREATE TABLE broken (id int REFERENCES no_such_table);');
    const failed = await run('deploy', 't3');
    expect(failed.exitCode).not.toBe(0);
    const text = failed.stdout + failed.stderr;
    expect(text).toMatch(/resolve --rolled-back 004_broken[^`]*--database t3/);
    const rows = await query<{ n: number }>(
      named.t3!.url,
      "SELECT count(*)::int AS n FROM _prisma_migrations WHERE migration_name = '004_broken'",
    );
    expect(rows[0]!.n).toBe(1);
    expect(await ledgerOf(named.t2!.url)).not.toContain('004_broken');
  });

  it('--local serves the named databases of VPCM_DATABASES, as the demo runs it', async () => {
    const saved = process.env.VPCM_DATABASES;
    process.env.VPCM_DATABASES = JSON.stringify({ t1: named.t1!.url });
    try {
      const local = ['--local', '--database-url', own.url, '--migrations', dir, '--json'];
      const t1 = await runCli(['status', ...local, '--database', 't1']);
      expect(t1.exitCode).toBe(1);
      expect(JSON.parse(t1.stdout).plan.pending).toContain('003_items');
      const t2 = await runCli(['status', ...local, '--database', 't2']);
      expect(JSON.parse(t2.stdout).error.code).toBe(ErrorCode.DatabaseNotAllowed);
      expect(JSON.parse(t2.stdout).error.message).toContain('1 named database(s): t1');
    } finally {
      if (saved === undefined) delete process.env.VPCM_DATABASES;
      else process.env.VPCM_DATABASES = saved;
    }
  });

  it('refuses a name outside the allow-list (VPCM_DATABASE_NOT_ALLOWED), a malformed one before sending', async () => {
    const refused = await run('status', 'ghost');
    expect(refused.exitCode).toBe(2);
    const error = JSON.parse(refused.stdout).error;
    expect(error.code).toBe(ErrorCode.DatabaseNotAllowed);
    expect(error.message).toContain('"ghost"');
    expect(error.message).toContain('3 named database(s): t1, t2, t3');
    const usage = await run('status', 'no/such');
    expect(usage.exitCode).toBe(2);
    expect(JSON.parse(usage.stdout).error.code).toBe(ErrorCode.UsageError);
  });
});

/** A TCP listener that counts who dials it and hangs up: a database URL whose every connection is seen. */
async function trap(): Promise<{ url: string; dials: () => number; close: () => Promise<void> }> {
  let dials = 0;
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    dials++;
    sockets.add(socket);
    socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `postgresql://nobody@127.0.0.1:${port}/trap`,
    dials: () => dials,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

describe('a refused selector dials nothing', () => {
  let traps: Awaited<ReturnType<typeof trap>>[];
  let lw: LocalWorker;
  const dials = () => traps.reduce((sum, t) => sum + t.dials(), 0);

  beforeAll(async () => {
    // The worker's own database and every named one are traps: a refusal that connected anywhere is counted.
    traps = await Promise.all([trap(), trap(), trap(), trap()]);
    lw = await startLocalWorker({
      databaseUrl: traps[0]!.url,
      databases: { t1: traps[1]!.url, t2: traps[2]!.url, t3: traps[3]!.url },
      functionName: `selector-trap-${Math.random().toString(36).slice(2, 8)}`,
      timeoutMs: 30_000,
    });
  });

  afterAll(async () => {
    await lw?.close();
    for (const t of traps ?? []) await t.close();
  });

  const status = (name: string) =>
    runCli([
      'status',
      ...['--endpoint', lw.endpoint, '--function', lw.functionName, '--function-timeout', '30'],
      ...['--database', name, '--migrations', 'prisma/migrations', '--json'],
    ]);

  it('answers VPCM_DATABASE_NOT_ALLOWED without a connection to any configured database', async () => {
    // The reader set-up at start dialled the worker's own database: count from here.
    const before = dials();
    const refused = await status('ghost');
    expect(JSON.parse(refused.stdout).error.code).toBe(ErrorCode.DatabaseNotAllowed);
    expect(dials()).toBe(before);

    // The control: a name in the list is dialled (and the trap hangs up), so the count above could have moved.
    const allowed = await status('t2');
    expect(JSON.parse(allowed.stdout).error.code).toBe(ErrorCode.ConnectionFailed);
    expect(traps[2]!.dials()).toBeGreaterThan(0);
    expect(dials()).toBeGreaterThan(before);
  });
});
