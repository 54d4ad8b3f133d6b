/**
 * `vpc-migrate drift` (issue 28) end to end: the CLI through the SDK and the local Invoke endpoint,
 * the real worker, real PostgreSQL. The expected schema is built in a scratch database on the same
 * server; every test checks pg_database that no scratch database of the run is left.
 */
import { randomBytes } from 'node:crypto';
import { appendFile, cp, mkdtemp, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode } from '../../lambda/contract/index.js';
import { type LocalWorker, startLocalWorker } from '../../scripts/local/local-worker.js';
import { drift } from '../../scripts/commands/drift.js';
import { locateMigrations } from '../../scripts/project/migrations-dir.js';
import { connectWorker } from '../../scripts/transport/invoke.js';
import { runCli } from '../helpers/cli.js';
import { startFaultWorker } from '../helpers/fault-worker.js';
import { databaseTargets, freshDatabase, type FreshDatabase, query } from '../helpers/db.js';
import { addMigration, copyOfExample, migrationsDir } from '../helpers/migrations.js';

/** The scratch databases on the server, ours by prefix. */
async function scratchDatabases(adminUrl: string): Promise<string[]> {
  const rows = await query<{ datname: string }>(
    adminUrl,
    "SELECT datname FROM pg_database WHERE datname LIKE 'vpcm\\_drift\\_%' ORDER BY 1",
  );
  return rows.map((r) => r.datname);
}

/** A worker client of the local worker, for sending drift steps one by one. */
const workerOf = (lw: LocalWorker) =>
  connectWorker({
    functionName: lw.functionName,
    endpoint: lw.endpoint,
    localCredentials: true,
    region: 'us-east-1',
    functionTimeoutMs: 120_000,
  });

const [{ adminUrl }] = databaseTargets() as [ReturnType<typeof databaseTargets>[number]];

describe('drift', () => {
  let live: FreshDatabase;
  let dev: FreshDatabase;
  let lw: LocalWorker;
  let dir: string;
  const before = new Set<string>();
  const run = (...rest: string[]) =>
    runCli([
      'drift',
      ...['--endpoint', lw.endpoint, '--function', lw.functionName, '--function-timeout', '120'],
      ...['--migrations', dir, '--json'],
      ...rest,
    ]);
  /** No scratch database this file made is left on the server (other files' runs may have their own). */
  const noneLeft = async () => expect((await scratchDatabases(adminUrl)).filter((n) => !before.has(n))).toEqual([]);

  beforeAll(async () => {
    for (const n of await scratchDatabases(adminUrl)) before.add(n);
    live = await freshDatabase(adminUrl);
    dev = await freshDatabase(adminUrl);
    dir = await copyOfExample();
    lw = await startLocalWorker({
      databaseUrl: live.url,
      databases: { dev: dev.url },
      functionName: `drift-${randomBytes(3).toString('hex')}`,
      timeoutMs: 120_000,
    });
    const deployed = await runCli([
      'deploy',
      ...['--endpoint', lw.endpoint, '--function', lw.functionName, '--function-timeout', '120'],
      ...['--migrations', dir, '--json'],
    ]);
    expect(deployed.exitCode).toBe(0);
  });

  afterAll(async () => {
    await lw?.close();
    await live?.drop();
    await dev?.drop();
  });

  it('reports no drift after a deploy (exit 0), pending migrations are not drift, and drops the scratch', async () => {
    const pendingDir = await copyOfExample();
    await addMigration(pendingDir, '29990101000000_pending', 'CREATE TABLE not_yet (id int);');
    const r = await runCli([
      'drift',
      ...['--endpoint', lw.endpoint, '--function', lw.functionName, '--function-timeout', '120'],
      ...['--migrations', pendingDir, '--json'],
    ]);
    const report = JSON.parse(r.stdout);
    expect(report.differences).toEqual([]);
    expect(report.pending).toBe(1);
    expect(report.applied).toBeGreaterThan(0);
    expect(report.builtIn.kind).toBe('scratch');
    expect(report.cleanedUp).toBe(true);
    expect(r.exitCode).toBe(0);
    await noneLeft();
  });

  it('reports an out-of-band change with exit 3, and --exclude leaves it out', async () => {
    await query(live.url, 'ALTER TABLE "Customer" ADD COLUMN hotfix_note text');
    try {
      const r = await run();
      const report = JSON.parse(r.stdout);
      expect(r.exitCode).toBe(3);
      expect(report.differences).toEqual([
        expect.objectContaining({
          kind: 'column',
          change: 'only-in-live',
          object: expect.stringContaining('hotfix_note'),
        }),
      ]);
      await noneLeft();
      // --dev-database: the same answer, built in the named database, which is empty again afterwards.
      const viaDev = await run('--dev-database', 'dev');
      expect(viaDev.exitCode).toBe(3);
      expect(JSON.parse(viaDev.stdout).differences).toEqual(report.differences);
      expect(JSON.parse(viaDev.stdout).builtIn).toEqual({ kind: 'dev-database', name: 'dev' });
      expect(
        await query(
          dev.url,
          `SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')`,
        ),
      ).toEqual([]);
      const excluded = await run('--exclude', '*.Customer.hotfix_*');
      expect(JSON.parse(excluded.stdout).differences).toEqual([]);
      expect(excluded.exitCode).toBe(0);
      await noneLeft();
    } finally {
      await query(live.url, 'ALTER TABLE "Customer" DROP COLUMN hotfix_note');
    }
  });

  it('--dev-database gives no drift when there is none, and refuses a dev database that is not empty', async () => {
    const clean = await run('--dev-database', 'dev');
    expect(JSON.parse(clean.stdout).differences).toEqual([]);
    expect(clean.exitCode).toBe(0);
    await query(dev.url, 'CREATE TABLE users_own_table (id int)');
    try {
      const r = await run('--dev-database', 'dev');
      expect(r.exitCode).toBe(2);
      expect(JSON.parse(r.stdout).error.code).toBe(ErrorCode.DriftDevNotEmpty);
      // Never wiped: the user's table is still there.
      expect(await query(dev.url, 'SELECT count(*)::int AS n FROM users_own_table')).toEqual([{ n: 0 }]);
    } finally {
      await query(dev.url, 'DROP TABLE users_own_table');
    }
  });

  it('--dev-database URL with --local: served by a name, the same answer; refused without --local', async () => {
    await query(live.url, 'ALTER TABLE "Customer" ADD COLUMN hotfix_note text');
    try {
      const r = await runCli([
        'drift',
        ...['--local', '--database-url', live.url, '--dev-database', dev.url, '--migrations', dir, '--json'],
      ]);
      expect(r.exitCode, r.stderr).toBe(3);
      const report = JSON.parse(r.stdout);
      expect(report.builtIn).toEqual({ kind: 'dev-database', name: 'dev-database' });
      expect(report.cleanedUp).toBe(true);
      expect(report.differences).toEqual([
        expect.objectContaining({
          kind: 'column',
          change: 'only-in-live',
          object: expect.stringContaining('hotfix_note'),
        }),
      ]);
      await noneLeft();
    } finally {
      await query(live.url, 'ALTER TABLE "Customer" DROP COLUMN hotfix_note');
    }
    // A deployed worker is never sent a URL: refused before anything is invoked.
    const refused = await run('--dev-database', dev.url);
    expect(refused.exitCode).toBe(2);
    expect(JSON.parse(refused.stdout).error).toMatchObject({ code: ErrorCode.UsageError });
    expect(JSON.parse(refused.stdout).error.message).toContain('only with --local');
  });

  it('--dev-database URL with a password: the password is nowhere in what the CLI prints, text or --json', async () => {
    const own = await freshDatabase(adminUrl);
    const role = `drift_dev_${randomBytes(4).toString('hex')}`;
    const password = `pw-${randomBytes(8).toString('hex')}`;
    await query(adminUrl, `CREATE ROLE ${role} LOGIN PASSWORD '${password}'`);
    await query(adminUrl, `ALTER DATABASE ${new URL(own.url).pathname.slice(1)} OWNER TO ${role}`);
    await query(own.url, `ALTER SCHEMA public OWNER TO ${role}`);
    const devUrl = new URL(own.url);
    devUrl.username = role;
    devUrl.password = password;
    await query(live.url, 'ALTER TABLE "Customer" ADD COLUMN hotfix_note text');
    try {
      for (const output of [['--json'], []]) {
        const r = await runCli([
          'drift',
          ...['--local', '--database-url', live.url, '--dev-database', devUrl.toString(), '--migrations', dir],
          ...output,
        ]);
        expect(r.exitCode, r.stderr).toBe(3);
        expect(r.stdout + r.stderr).not.toContain(password);
      }
      // Refused without --local: the URL is not echoed either.
      const refused = await run('--dev-database', devUrl.toString());
      expect(refused.exitCode).toBe(2);
      expect(refused.stdout + refused.stderr).not.toContain(password);
    } finally {
      await query(live.url, 'ALTER TABLE "Customer" DROP COLUMN hotfix_note');
      await own.drop();
      await query(adminUrl, `DROP ROLE ${role}`);
    }
  });

  it('an applied file that changed since is its own finding (exit 2), the differences still listed', async () => {
    const edited = await copyOfExample();
    const [first] = (await readdir(edited)).filter((n) => /^\d/.test(n)).sort();
    await appendFile(path.join(edited, first!, 'migration.sql'), '\n-- edited after it was applied\n');
    const r = await runCli([
      'drift',
      ...['--endpoint', lw.endpoint, '--function', lw.functionName, '--migrations', edited, '--json'],
    ]);
    const report = JSON.parse(r.stdout);
    expect(r.exitCode).toBe(2);
    expect(report.findings).toEqual([expect.objectContaining({ code: ErrorCode.ChecksumModified, migration: first })]);
    expect(report.differences).toEqual([]);
    expect(report.cleanedUp).toBe(true);
    await noneLeft();
  });

  it('builds the expected schema over several invocations when the time budget runs out', async () => {
    // A short function: the worker stops a batch before its margin and the CLI sends the rest.
    const own = await freshDatabase(adminUrl);
    const files: Record<string, string> = {};
    for (let i = 0; i < 6; i++) files[`00${i}_slow`] = `CREATE TABLE t${i} (id int); SELECT pg_sleep(0.5);`;
    const d = await migrationsDir(files);
    const w = await startLocalWorker({
      databaseUrl: own.url,
      functionName: `drift-t-${randomBytes(3).toString('hex')}`,
      timeoutMs: 3_000,
    });
    try {
      const flags = ['--endpoint', w.endpoint, '--function', w.functionName, '--function-timeout', '3'];
      expect((await runCli(['deploy', ...flags, '--migrations', d, '--json'])).exitCode).toBe(0);
      const r = await runCli(['drift', ...flags, '--migrations', d, '--json']);
      const report = JSON.parse(r.stdout);
      expect(report.problems).toEqual([]);
      expect(r.exitCode).toBe(0);
      // begin, two or more applies, compare, and the ledger read.
      expect(report.invocations).toBeGreaterThanOrEqual(5);
      await noneLeft();
    } finally {
      await w.close();
      await own.drop();
    }
  });

  it("builds the expected schema in the connection's own schema (?schema=app)", async () => {
    const own = await freshDatabase(adminUrl);
    await query(own.url, 'CREATE SCHEMA app');
    const w = await startLocalWorker({
      databaseUrl: `${own.url}?schema=app`,
      functionName: `drift-s-${randomBytes(3).toString('hex')}`,
      timeoutMs: 120_000,
    });
    try {
      const flags = ['--endpoint', w.endpoint, '--function', w.functionName, '--migrations', dir, '--json'];
      expect((await runCli(['deploy', ...flags])).exitCode).toBe(0);
      const r = await runCli(['drift', ...flags]);
      expect(JSON.parse(r.stdout).differences).toEqual([]);
      expect(r.exitCode).toBe(0);
      await query(own.url, 'ALTER TABLE app."Customer" ADD COLUMN by_hand int');
      const drifted = await runCli(['drift', ...flags]);
      expect(JSON.parse(drifted.stdout).differences).toEqual([
        expect.objectContaining({ change: 'only-in-live', object: expect.stringContaining('by_hand') }),
      ]);
      await noneLeft();
    } finally {
      await w.close();
      await own.drop();
    }
  });

  it('a folder deployed out of order (--allow-out-of-order) is built in the order live ran it: no drift', async () => {
    const own = await freshDatabase(adminUrl);
    const order = await migrationsDir({
      '001_enum': "CREATE TYPE status AS ENUM ('a');\n",
      '003_d': "ALTER TYPE status ADD VALUE 'd';\nCREATE FUNCTION f() RETURNS int LANGUAGE sql AS 'SELECT 3';\n",
    });
    const w = await startLocalWorker({
      databaseUrl: own.url,
      functionName: `drift-o-${randomBytes(3).toString('hex')}`,
      timeoutMs: 120_000,
    });
    try {
      const flags = ['--endpoint', w.endpoint, '--function', w.functionName, '--migrations', order, '--json'];
      expect((await runCli(['deploy', ...flags])).exitCode).toBe(0);
      // A branch's older folder merged after 003 was deployed: it runs last on live.
      await addMigration(
        order,
        '002_c',
        "ALTER TYPE status ADD VALUE 'c';\nCREATE OR REPLACE FUNCTION f() RETURNS int LANGUAGE sql AS 'SELECT 2';\n",
      );
      expect((await runCli(['deploy', ...flags, '--allow-out-of-order'])).exitCode).toBe(0);
      expect(await query(own.url, 'SELECT enum_range(NULL::status)::text AS r, f() AS f')).toEqual([
        { r: '{a,d,c}', f: 2 },
      ]);

      const r = await runCli(['drift', ...flags]);

      // Built in folder order, 003's CREATE FUNCTION failed on 002's function (exit 2).
      expect(JSON.parse(r.stdout).problems).toEqual([]);
      expect(JSON.parse(r.stdout).differences).toEqual([]);
      expect(r.exitCode).toBe(0);
      await noneLeft();
    } finally {
      await w.close();
      await own.drop();
    }
  });

  it("the Prisma config's tables.external and enums.external are not drift", async () => {
    const project = await mkdtemp(path.join(tmpdir(), 'vpcm-drift-config-'));
    await cp(dir, path.join(project, 'prisma', 'migrations'), { recursive: true });
    await writeFile(
      path.join(project, 'prisma.config.ts'),
      `export default {
  schema: 'prisma/schema.prisma',
  migrations: { path: 'prisma/migrations' },
  experimental: { externalTables: true },
  tables: { external: ['public.audit_log'] },
  enums: { external: ['public.mood'] },
};\n`,
    );
    const worker = workerOf(lw);
    await query(live.url, "CREATE TABLE public.audit_log (id int); CREATE TYPE public.mood AS ENUM ('ok')");
    try {
      const location = await locateMigrations({ cwd: project, env: {} });
      expect(location.external).toEqual({ tables: ['public.audit_log'], enums: ['public.mood'] });
      const report = await drift(worker, { migrationsDir: location.dir, location });
      expect(report.excluded).toEqual(['public.audit_log', 'public.mood']);
      expect(report.differences).toEqual([]);
      expect(report.exitCode).toBe(0);
      // The same folder named directly: no config, so they are drift.
      const plain = await drift(worker, { migrationsDir: location.dir });
      expect(plain.differences).toEqual(
        expect.arrayContaining([expect.objectContaining({ object: expect.stringContaining('audit_log') })]),
      );
      expect(plain.exitCode).toBe(3);
      await noneLeft();
    } finally {
      worker.close();
      await query(live.url, 'DROP TABLE public.audit_log; DROP TYPE public.mood');
    }
  });

  it('drops the scratch database when a migration fails in it mid-way (exit 2)', async () => {
    // Applied on the target thanks to a function made there by hand: it cannot be built from the files alone.
    const own = await freshDatabase(adminUrl);
    const w = await startLocalWorker({
      databaseUrl: own.url,
      functionName: `drift-f-${randomBytes(3).toString('hex')}`,
      timeoutMs: 120_000,
    });
    const d = await migrationsDir({
      '001_users': 'CREATE TABLE users (id int PRIMARY KEY);',
      '002_view': 'CREATE VIEW v AS SELECT hand_made() AS x;',
      '003_more': 'CREATE TABLE more (id int);',
    });
    try {
      await query(own.url, 'CREATE FUNCTION hand_made() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$');
      const flags = ['--endpoint', w.endpoint, '--function', w.functionName, '--migrations', d, '--json'];
      expect((await runCli(['deploy', ...flags])).exitCode).toBe(0);
      const r = await runCli(['drift', ...flags]);
      const report = JSON.parse(r.stdout);
      expect(r.exitCode).toBe(2);
      expect(report.problems).toEqual([
        expect.objectContaining({ code: ErrorCode.DriftFailed, migration: '002_view' }),
      ]);
      expect(report.cleanedUp).toBe(true);
      await noneLeft();
    } finally {
      await w.close();
      await own.drop();
    }
  });

  it('a later run removes a scratch database a killed run left once its lease expired, and nothing else', async () => {
    const worker = workerOf(lw);
    // A run that died after `begin` (its worker and CLI killed): the scratch database stays behind.
    const killed = await worker.drift({ step: 'begin' });
    const alive = await worker.drift({ step: 'begin' });
    // Not ours: the prefix without the marker.
    const foreign = `vpcm_drift_${randomBytes(8).toString('hex')}`;
    await query(adminUrl, `CREATE DATABASE ${foreign}`);
    try {
      expect(await scratchDatabases(adminUrl)).toEqual(
        expect.arrayContaining([killed.scratch, alive.scratch, foreign]),
      );
      // Time passes for the killed one only: its lease ends in the past.
      const [mark] = await query<{ c: string }>(
        adminUrl,
        "SELECT shobj_description(oid, 'pg_database') AS c FROM pg_database WHERE datname = $1",
        [killed.scratch],
      );
      const lease = JSON.parse(mark!.c);
      lease.leaseUntil = new Date(Date.now() - 60_000).toISOString();
      await query(adminUrl, `COMMENT ON DATABASE ${killed.scratch!} IS '${JSON.stringify(lease)}'`);

      const r = await run();
      expect(r.exitCode).toBe(0);
      expect(JSON.parse(r.stdout).removedStale).toEqual([killed.scratch]);
      const left = await scratchDatabases(adminUrl);
      expect(left).not.toContain(killed.scratch);
      expect(left).toEqual(expect.arrayContaining([alive.scratch, foreign]));
      // The live run's own clean-up.
      expect((await worker.drift({ step: 'end', scratch: alive.scratch! })).cleanedUp).toBe(true);
      expect(await scratchDatabases(adminUrl)).not.toContain(alive.scratch);
    } finally {
      worker.close();
      await query(adminUrl, `DROP DATABASE IF EXISTS ${foreign}`);
    }
    await noneLeft();
  });

  it("a check whose dev database lease expired and was taken over never touches the other check's work", async () => {
    const worker = workerOf(lw);
    const marker = () =>
      query<{ c: string | null }>(
        dev.url,
        "SELECT obj_description(oid, 'pg_namespace') AS c FROM pg_namespace WHERE nspname = '_vpcm_drift_dev'",
      );
    try {
      // Check A begins, then stalls past its lease (its CLI paused): check B takes the dev database over.
      await worker.drift({ step: 'begin', devDatabase: 'dev', run: 'check-a' });
      const [a] = await marker();
      const lease = JSON.parse(a!.c!);
      expect(lease.run).toBe('check-a');
      lease.leaseUntil = new Date(Date.now() - 60_000).toISOString();
      await query(dev.url, `COMMENT ON SCHEMA _vpcm_drift_dev IS '${JSON.stringify(lease)}'`);
      await worker.drift({ step: 'begin', devDatabase: 'dev', run: 'check-b' });
      await query(dev.url, 'CREATE TABLE built_by_b (id int)');

      // A comes back: its next step is refused, and neither that step's clean-up nor its `end` touch B's work.
      await expect(worker.drift({ step: 'compare', devDatabase: 'dev', run: 'check-a' })).rejects.toMatchObject({
        code: ErrorCode.DriftScratchGone,
      });
      expect((await worker.drift({ step: 'end', devDatabase: 'dev', run: 'check-a' })).cleanedUp).toBe(false);
      expect(JSON.parse((await marker())[0]!.c!).run).toBe('check-b');
      expect(await query(dev.url, 'SELECT count(*)::int AS n FROM built_by_b')).toEqual([{ n: 0 }]);

      // B's own clean-up empties it.
      expect((await worker.drift({ step: 'end', devDatabase: 'dev', run: 'check-b' })).cleanedUp).toBe(true);
      expect(await marker()).toEqual([]);
    } finally {
      worker.close();
      await query(dev.url, 'DROP TABLE IF EXISTS built_by_b; DROP SCHEMA IF EXISTS _vpcm_drift_dev CASCADE');
    }
  });

  it('a clean-up that fails after the comparison keeps its differences (cleanedUp false); `end` drops it', async () => {
    const worker = workerOf(lw);
    const { scratch } = await worker.drift({ step: 'begin' });
    const inScratch = new URL(adminUrl);
    inScratch.pathname = `/${scratch!}`;
    // A subscription in a database makes DROP DATABASE fail, WITH (FORCE) too.
    await query(
      inScratch.toString(),
      "CREATE SUBSCRIPTION held CONNECTION 'dbname=x' PUBLICATION p WITH (connect = false)",
    );
    try {
      const compared = await worker.drift({ step: 'compare', scratch: scratch! });

      // Nothing applied: everything live is only in live.
      expect(compared.differences?.length).toBeGreaterThan(0);
      expect(compared.cleanedUp).toBe(false);
    } finally {
      await query(inScratch.toString(), 'ALTER SUBSCRIPTION held SET (slot_name = NONE); DROP SUBSCRIPTION held');
    }
    expect((await worker.drift({ step: 'end', scratch: scratch! })).cleanedUp).toBe(true);
    worker.close();
    await noneLeft();
  });

  it('a dev database another check holds is VPCM_DRIFT_IN_USE, and the worker carries on', async () => {
    const worker = workerOf(lw);
    try {
      await worker.drift({ step: 'begin', devDatabase: 'dev', run: 'holder' });
      await expect(worker.drift({ step: 'begin', devDatabase: 'dev', run: 'second' })).rejects.toMatchObject({
        code: ErrorCode.DriftInUse,
      });
      // The same worker still answers, and the holder's clean-up empties it.
      expect((await worker.drift({ step: 'end', devDatabase: 'dev', run: 'holder' })).cleanedUp).toBe(true);
    } finally {
      worker.close();
    }
  });

  it('drops the scratch database after the worker is killed mid-apply (the CLI asks a fresh sandbox to)', async () => {
    const fw = await startFaultWorker(live.url);
    try {
      let killedAt: string | undefined;
      fw.onQuery((q) => {
        if (q.phase === 'before' && q.action === 'drift' && !killedAt && /CREATE TABLE/.test(q.text)) {
          killedAt = q.text.slice(0, 60);
          return 'kill';
        }
        return 'continue';
      });
      const r = await runCli([
        'drift',
        '--endpoint',
        fw.endpoint,
        '--function',
        fw.functionName,
        '--migrations',
        dir,
        '--json',
      ]);
      expect(killedAt).toBeDefined();
      expect(fw.kills).toBe(1);
      expect(r.exitCode).toBe(2);
      const report = JSON.parse(r.stdout);
      expect(report.problems).toEqual([expect.objectContaining({ code: ErrorCode.WorkerCrashed })]);
      expect(report.cleanedUp).toBe(true);
      await noneLeft();
    } finally {
      await fw.close();
    }
  });

  it('--targets: a matrix of the targets, exit 3 when one of them drifted', async () => {
    const other = await freshDatabase(adminUrl);
    try {
      const local = ['--local', '--migrations', dir, '--json'];
      expect((await runCli(['deploy', ...local, '--database-url', other.url])).exitCode).toBe(0);
      await query(other.url, 'ALTER TABLE "Customer" ADD COLUMN by_hand int');
      const work = await mkdtemp(path.join(tmpdir(), 'vpcm-drift-'));
      const targetsFile = path.join(work, 'targets.json');
      const targets = [
        { name: 'clean', databaseUrl: live.url },
        { name: 'hotfixed', databaseUrl: other.url },
      ];
      await writeFile(targetsFile, JSON.stringify({ targets }));
      const r = await runCli(['drift', ...local, '--targets', targetsFile]);
      const report = JSON.parse(r.stdout);
      expect(report.rows.map((row: { name: string; state: string }) => [row.name, row.state])).toEqual([
        ['clean', 'no-drift'],
        ['hotfixed', 'drift'],
      ]);
      expect(r.exitCode).toBe(3);
      await noneLeft();
    } finally {
      await other.drop();
    }
  });

  it('worker and clean-up killed: the next run removes the scratch database once its lease ends', async () => {
    const fw = await startFaultWorker(live.url);
    let left: string | undefined;
    try {
      // Every sandbox that would drop the scratch database dies as well: nothing cleans up this run.
      fw.onQuery((q) =>
        q.phase === 'before' && q.action === 'drift' && (/CREATE TABLE/.test(q.text) || /DROP DATABASE/.test(q.text))
          ? 'kill'
          : 'continue',
      );
      const r = await runCli(['drift', '--endpoint', fw.endpoint, '--function', fw.functionName, '--migrations', dir]);
      expect(r.exitCode).toBe(2);
      expect(fw.kills).toBe(2);
      [left] = (await scratchDatabases(adminUrl)).filter((n) => !before.has(n));
      expect(left).toBeDefined();
    } finally {
      await fw.close();
    }
    // Still leased: the next run leaves it alone (its run might still come back).
    const early = JSON.parse((await run()).stdout);
    expect(early.removedStale).toEqual([]);
    expect(await scratchDatabases(adminUrl)).toContain(left);
    // The killed sandboxes' sessions are gone once the server has seen their sockets close.
    for (let i = 0; i < 200; i++) {
      const [busy] = await query<{ n: number }>(
        adminUrl,
        'SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1',
        [left],
      );
      if (busy!.n === 0) break;
      await query(adminUrl, 'SELECT pg_sleep(0.02)');
    }
    // Its lease runs out (the clock moved on, here by rewriting the lease).
    const [mark] = await query<{ c: string }>(
      adminUrl,
      "SELECT shobj_description(oid, 'pg_database') AS c FROM pg_database WHERE datname = $1",
      [left],
    );
    const lease = JSON.parse(mark!.c);
    lease.leaseUntil = new Date(Date.now() - 1000).toISOString();
    await query(adminUrl, `COMMENT ON DATABASE ${left!} IS '${JSON.stringify(lease)}'`);
    const next = await run();
    expect(JSON.parse(next.stdout).removedStale).toEqual([left]);
    expect(next.exitCode).toBe(0);
    await noneLeft();
  });

  it('a login without CREATEDB gets VPCM_DRIFT_NEEDS_CREATEDB naming both ways out', async () => {
    const role = `vpcm_nocdb_${randomBytes(4).toString('hex')}`;
    await query(adminUrl, `CREATE ROLE ${role} LOGIN PASSWORD 'nocdb' NOCREATEDB`);
    const url = new URL(live.url);
    url.username = role;
    url.password = 'nocdb';
    const w = await startLocalWorker({
      databaseUrl: url.toString(),
      functionName: `drift-n-${randomBytes(3).toString('hex')}`,
      timeoutMs: 120_000,
    });
    try {
      await query(live.url, `GRANT SELECT ON ALL TABLES IN SCHEMA public TO ${role}`);
      const r = await runCli([
        'drift',
        '--endpoint',
        w.endpoint,
        '--function',
        w.functionName,
        '--migrations',
        dir,
        '--json',
      ]);
      expect(r.exitCode).toBe(2);
      const error = JSON.parse(r.stdout).error;
      expect(error.code).toBe(ErrorCode.DriftNeedsCreatedb);
      expect(error.remedy).toContain(`ALTER ROLE "${role}" CREATEDB`);
      expect(error.remedy).toContain('--dev-database');
      await noneLeft();
    } finally {
      await w.close();
      await query(live.url, `REVOKE ALL ON ALL TABLES IN SCHEMA public FROM ${role}`);
      await query(adminUrl, `DROP ROLE ${role}`);
    }
  });
});
