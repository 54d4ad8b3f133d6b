/**
 * `deploy --targets` on 20 real databases (issue 27's acceptance 1 and 2): the CLI reaches each
 * through the SDK and the local Invoke endpoint (`--local`, one target at a time as the file
 * names it). One database holds an object that makes 002 fail. The steps run in order on the
 * same databases: (a) that database as the canary, (b) another canary with the failure budget at
 * 0, (c) fix it and `--resume`, (d) kill the bundled CLI mid-rollout and `--resume`. Every
 * assertion about "touched" or "applied once" is made in the databases themselves.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalWorker } from '../../scripts/local/local-worker.js';
import type { RolloutReport } from '../../scripts/rollout/report.js';
import type { StatusMatrixReport } from '../../scripts/rollout/status-matrix.js';
import { plainShellEnv, runCli } from '../helpers/cli.js';
import { embeddedTarget, type FreshDatabase, freshDatabase, query } from '../helpers/db.js';
import { addMigration, migrationsDir, repoRoot } from '../helpers/migrations.js';

const COUNT = 20;
const FAILING = 't05';
const MIGRATIONS = {
  '001_init': 'CREATE TABLE accounts (id int PRIMARY KEY);\n',
  // On the failing database extra.notes already exists without "title": the CREATE TABLE is
  // reconciled as "already exists", the index then fails (42703), and 002 is rolled back.
  '002_notes':
    'CREATE SCHEMA IF NOT EXISTS extra;\nCREATE TABLE extra.notes (id int, title text);\n' +
    'CREATE INDEX notes_title ON extra.notes (title);\n',
  '003_more': 'ALTER TABLE accounts ADD COLUMN note text;\n',
};

/**
 * The bundled CLI as its own process, sent `signal` once the report it writes (atomically, so
 * every read is a whole file) shows at least `done` targets succeeded and one running.
 */
function signalMidRollout(
  args: string[],
  report: string,
  signal: NodeJS.Signals,
  done: number,
): Promise<{ seen: RolloutReport; code: number | null; signal: NodeJS.Signals | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child: ChildProcess = spawn(
      process.execPath,
      [path.join(repoRoot, 'scripts/run-cli.mjs'), ...args, '--report', report],
      {
        cwd: repoRoot,
        env: plainShellEnv({ VPC_MIGRATE_FUNCTION: '', DATABASE_URL: '' }),
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    const stderr: Buffer[] = [];
    child.stderr?.on('data', (b: Buffer) => stderr.push(b));
    let seen: RolloutReport | undefined;
    const watch = setInterval(() => {
      if (seen || !existsSync(report)) return;
      const r = JSON.parse(readFileSync(report, 'utf8')) as RolloutReport;
      if (r.counts.succeeded >= done && r.counts.running >= 1) {
        seen = r;
        child.kill(signal);
      }
    }, 10);
    child.on('exit', (code, got) => {
      clearInterval(watch);
      if (seen) resolve({ seen, code, signal: got, stderr: Buffer.concat(stderr).toString('utf8') });
      else reject(new Error(`the CLI exited (${String(got ?? code)}) before the report showed work in flight`));
    });
  });
}

const name = (i: number) => `t${String(i + 1).padStart(2, '0')}`;

/** The finished, not rolled-back ledger rows of a database, by name (none when it has no ledger). */
async function finishedRows(url: string): Promise<string[]> {
  const [row] = await query<{ exists: boolean }>(url, "SELECT to_regclass('_prisma_migrations') IS NOT NULL AS exists");
  if (!row?.exists) return [];
  const rows = await query<{ migration_name: string }>(
    url,
    'SELECT migration_name FROM _prisma_migrations WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL ' +
      'ORDER BY migration_name',
  );
  return rows.map((r) => r.migration_name);
}

async function touched(url: string): Promise<boolean> {
  const rows = await query<{ n: number }>(url, "SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = 'public'");
  return rows[0]!.n > 0;
}

describe('deploy --targets: 20 databases, a canary, a failure budget, --resume', () => {
  const { adminUrl } = embeddedTarget();
  const dbs: FreshDatabase[] = [];
  const urls = new Map<string, string>();
  let dir: string;
  let work: string;
  let targetsFile: string;

  beforeAll(async () => {
    for (let i = 0; i < COUNT; i++) {
      const db = await freshDatabase(adminUrl);
      dbs.push(db);
      urls.set(name(i), db.url);
    }
    await query(urls.get(FAILING)!, 'CREATE SCHEMA extra; CREATE TABLE extra.notes (id int)');
    dir = await migrationsDir(MIGRATIONS);
    work = await mkdtemp(path.join(tmpdir(), 'vpcm-rollout-'));
    targetsFile = path.join(work, 'targets.json');
    const targets = [...urls].map(([n, databaseUrl]) => ({ name: n, databaseUrl }));
    await writeFile(targetsFile, JSON.stringify({ targets }, null, 2));
  });

  afterAll(async () => {
    for (const db of dbs) await db.drop().catch(() => undefined);
  });

  const deploy = (...args: string[]) =>
    runCli(['deploy', '--local', '--migrations', dir, '--json', ...args]).then((run) => ({
      ...run,
      report: JSON.parse(run.stdout) as RolloutReport,
    }));
  const entry = (r: RolloutReport, n: string) => r.targets.find((t) => t.name === n)!;

  it('refuses before anything starts: local entries without --local, a single-target flag, a bad file', async () => {
    const refusal = async (args: string[]) => {
      const run = await runCli(['deploy', '--migrations', dir, '--json', ...args]);
      expect(run.exitCode, run.stdout).toBe(2);
      return (JSON.parse(run.stdout) as { error: { code: string; message: string } }).error;
    };
    expect((await refusal(['--targets', targetsFile])).message).toMatch(/only the local worker \(--local\)/);
    expect((await refusal(['--local', '--targets', targetsFile, '--database-url', urls.get('t01')!])).code).toBe(
      'VPCM_USAGE',
    );
    const bad = path.join(work, 'bad.json');
    await writeFile(bad, JSON.stringify({ targets: [{ name: 't01', databaseUrl: urls.get('t01') }, { name: 't01' }] }));
    const invalid = await refusal(['--local', '--targets', bad]);
    expect(invalid.code).toBe('VPCM_TARGETS_INVALID');
    expect(invalid.message).toContain('targets[1] ("t01"): the name is already used by targets[0]');
    for (const url of urls.values()) expect(await touched(url)).toBe(false);
  });

  it('(a) the canary fails: exit 2, no other database touched', async () => {
    const before = await runCli(['status', '--local', '--migrations', dir, '--json', '--targets', targetsFile]);
    expect(before.exitCode, before.stderr).toBe(1);
    expect((JSON.parse(before.stdout) as StatusMatrixReport).counts.pending).toBe(COUNT);
    const report = path.join(work, 'a.json');
    const run = await deploy('--targets', targetsFile, '--canary-target', FAILING, '--report', report);
    expect(run.exitCode, run.stderr).toBe(2);
    expect(run.report.state).toBe('stopped');
    expect(entry(run.report, FAILING)).toMatchObject({ status: 'failed', stage: 'canary' });
    expect(entry(run.report, FAILING).error).toMatchObject({ code: 'VPCM_SQL_FAILED' });
    expect(entry(run.report, FAILING).error?.message).toContain('002_notes');
    // Its remedy's commands name that target: they run as printed, against it alone.
    const dbName = new URL(urls.get(FAILING)!).pathname.slice(1);
    expect(entry(run.report, FAILING).error?.remedy).toMatch(
      new RegExp(`resolve --rolled-back 002_notes --local --database-url \\S*${dbName}\\S*`),
    );
    expect(entry(run.report, FAILING).error?.remedy).not.toMatch(/--local.*--local/);
    expect(run.report.counts).toMatchObject({ failed: 1, skipped: COUNT - 1, succeeded: 0 });
    // The file on disk is the final report (its remedies as written, without the CLI's rewriting).
    const onDisk = JSON.parse(readFileSync(report, 'utf8')) as RolloutReport;
    expect(onDisk.targets.map((t) => [t.name, t.status])).toEqual(run.report.targets.map((t) => [t.name, t.status]));
    expect(onDisk.state).toBe('stopped');
    // Its remedy reaches the target as written there too: a databaseUrl needs --local to find a worker.
    expect(entry(onDisk, FAILING).error?.remedy).toMatch(
      new RegExp(`\`vpc-migrate resolve --rolled-back 002_notes --local --database-url \\S*${dbName}\\S*\``),
    );
    for (const [n, url] of urls) if (n !== FAILING) expect(await touched(url), n).toBe(false);
    expect(await finishedRows(urls.get(FAILING)!)).toEqual(['001_init']);
  });

  let reportB: string;
  it('(b) another canary, --max-failures 0: failure stops scheduling; what did not start is untouched', async () => {
    reportB = path.join(work, 'b.json');
    const run = await deploy(
      '--targets',
      targetsFile,
      '--canary-target',
      't01',
      '--concurrency',
      '3',
      '--max-failures',
      '0',
      '--report',
      reportB,
    );
    expect(run.exitCode, run.stderr).toBe(2);
    const r = run.report;
    expect(entry(r, 't01')).toMatchObject({ status: 'succeeded', stage: 'canary', applied: Object.keys(MIGRATIONS) });
    // Its failed 002 from (a) is in its ledger: Prisma's P3009 refusal until it is resolved.
    expect(entry(r, FAILING)).toMatchObject({ status: 'failed' });
    expect(entry(r, FAILING).error?.code).toBe('VPCM_FAILED_MIGRATION');
    expect(r.counts.running + r.counts.pending).toBe(0);
    expect(r.counts.skipped).toBeGreaterThan(0);
    // Concurrency 3: targets started beside the failing one (before it in the file) ran to the end.
    expect(r.counts.succeeded).toBeGreaterThan(1);
    // Observed state: each succeeded target holds the whole history, each skipped one nothing.
    for (const t of r.targets) {
      const url = urls.get(t.name)!;
      if (t.status === 'succeeded') expect(await finishedRows(url), t.name).toEqual(Object.keys(MIGRATIONS));
      if (t.status === 'skipped') expect(await touched(url), t.name).toBe(false);
    }

    const status = await runCli(['status', '--local', '--migrations', dir, '--json', '--targets', targetsFile]);
    expect(status.exitCode, status.stderr).toBe(2);
    const matrix = JSON.parse(status.stdout) as StatusMatrixReport;
    expect(matrix.rows.find((row) => row.name === FAILING)).toMatchObject({ state: 'problem', failed: ['002_notes'] });
    expect(matrix.counts.pending).toBe(r.counts.skipped);
  });

  it('(c) fix the conflict, --resume: only what is missing is applied; every ledger ends identical', async () => {
    const failing = urls.get(FAILING)!;
    await query(failing, 'DROP TABLE extra.notes');
    const resolved = await runCli([
      'resolve',
      '--local',
      '--database-url',
      failing,
      '--migrations',
      dir,
      '--rolled-back',
      '002_notes',
    ]);
    expect(resolved.exitCode, resolved.stderr).toBe(0);
    const before = JSON.parse(readFileSync(reportB, 'utf8')) as RolloutReport;
    const run = await deploy('--resume', reportB);
    expect(run.exitCode, run.stderr).toBe(0);
    const r = run.report;
    expect(r.resumedFrom).toBe(reportB);
    for (const t of before.targets) {
      const now = entry(r, t.name);
      if (t.status === 'succeeded') expect(now, t.name).toMatchObject({ status: 'succeeded', carried: true });
      else expect(now.status, t.name).toBe('succeeded');
    }
    expect(entry(r, FAILING).applied).toEqual(['002_notes', '003_more']);
    for (const [n, url] of urls) expect(await finishedRows(url), n).toEqual(Object.keys(MIGRATIONS));
    // Identical ledgers: the same migrations with the same checksums, each finished once.
    const ledgers = await Promise.all(
      [...urls.values()].map((url) =>
        query<{ migration_name: string; checksum: string; n: number }>(
          url,
          'SELECT migration_name, checksum, count(*)::int AS n FROM _prisma_migrations ' +
            'WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL GROUP BY 1, 2 ORDER BY 1',
        ),
      ),
    );
    for (const ledger of ledgers) expect(ledger).toEqual(ledgers[0]);
    expect(ledgers[0]!.map((row) => row.n)).toEqual([1, 1, 1]);

    const status = await runCli(['status', '--local', '--migrations', dir, '--json', '--targets', targetsFile]);
    expect(status.exitCode, status.stderr).toBe(0);
    expect((JSON.parse(status.stdout) as StatusMatrixReport).counts.upToDate).toBe(COUNT);
  });

  it('(d) the CLI killed mid-rollout, then --resume: every target up to date, nothing applied twice', async () => {
    await addMigration(dir, '004_slow', 'SELECT pg_sleep(0.3);\nCREATE TABLE late (id int);\n');
    const report = path.join(work, 'd.json');
    const args = ['deploy', '--local', '--targets', targetsFile, '--migrations', dir, '--concurrency', '3'];
    const killed = await signalMidRollout(args, report, 'SIGKILL', 2);
    expect(killed.signal).toBe('SIGKILL');
    const left = JSON.parse(readFileSync(report, 'utf8')) as RolloutReport;
    expect(left.state).toBe('running');
    expect(left.counts.running).toBeGreaterThan(0);

    const run = await deploy('--resume', report);
    expect(run.exitCode, run.stderr).toBe(0);
    const all = [...Object.keys(MIGRATIONS), '004_slow'];
    for (const [n, url] of urls) {
      expect(await finishedRows(url), n).toEqual(all);
      const rows = await query<{ n: number }>(
        url,
        "SELECT count(*)::int AS n FROM _prisma_migrations WHERE migration_name = '004_slow'",
      );
      expect(rows[0]!.n, n).toBe(1);
    }
  });

  it('(e) Ctrl-C mid-rollout: running targets finish, nothing new starts, exit 130; --resume completes', async () => {
    await addMigration(dir, '005_slow', 'SELECT pg_sleep(0.3);\nCREATE TABLE later (id int);\n');
    const report = path.join(work, 'e.json');
    const args = ['deploy', '--local', '--targets', targetsFile, '--migrations', dir, '--concurrency', '2'];
    const run = await signalMidRollout(args, report, 'SIGINT', 1);
    expect(run.code).toBe(130);
    // The hint names the command as it was run (here the launcher, from the repository's root).
    expect(run.stderr).toContain(`Continue later with \`node scripts/run-cli.mjs deploy --resume ${report} --local`);
    const r = JSON.parse(readFileSync(report, 'utf8')) as RolloutReport;
    expect(r).toMatchObject({ state: 'stopped', interrupted: { signal: 'SIGINT', exitCode: 130 } });
    expect(r.counts.running + r.counts.pending).toBe(0);
    expect(r.counts.skipped).toBeGreaterThan(0);
    // What was running when the signal came finished: every target is either complete or untouched by 005.
    for (const t of r.targets) {
      const has005 = (await finishedRows(urls.get(t.name)!)).includes('005_slow');
      expect(has005, t.name).toBe(t.status === 'succeeded');
    }
    const resumed = await deploy('--resume', report);
    expect(resumed.exitCode, resumed.stderr).toBe(0);
    for (const [n, url] of urls)
      expect(
        (await finishedRows(url)).filter((m) => m === '005_slow'),
        n,
      ).toHaveLength(1);
  });

  it('(f) deployed entries (function, endpoint, database selector); a name off the allow-list is refused', async () => {
    // t01 and t02 are up to date after (e): a deployed worker that serves them by name finds nothing to apply.
    const worker = await startLocalWorker({
      databaseUrl: urls.get('t01')!,
      databases: { alpha: urls.get('t01')!, beta: urls.get('t02')! },
    });
    try {
      const file = path.join(work, 'deployed.json');
      const entry = (n: string, database: string) => ({
        name: n,
        function: worker.functionName,
        endpoint: worker.endpoint,
        database,
      });
      await writeFile(
        file,
        JSON.stringify({ targets: [entry('alpha', 'alpha'), entry('ghost', 'ghost'), entry('beta', 'beta')] }),
      );
      const status = await runCli(['status', '--migrations', dir, '--json', '--targets', file]);
      expect(status.exitCode, status.stderr).toBe(2);
      const matrix = JSON.parse(status.stdout) as StatusMatrixReport;
      expect(matrix.rows.map((r) => [r.name, r.state, r.problems.map((p) => p.code)])).toEqual([
        ['alpha', 'up-to-date', []],
        ['ghost', 'problem', ['VPCM_DATABASE_NOT_ALLOWED']],
        ['beta', 'up-to-date', []],
      ]);
      const run = await runCli(['deploy', '--migrations', dir, '--json', '--targets', file, '--max-failures', '1']);
      expect(run.exitCode, run.stderr).toBe(2);
      const r = JSON.parse(run.stdout) as RolloutReport;
      expect(r.targets.map((t) => [t.name, t.status, t.error?.code])).toEqual([
        ['alpha', 'succeeded', undefined],
        ['ghost', 'failed', 'VPCM_DATABASE_NOT_ALLOWED'],
        ['beta', 'succeeded', undefined],
      ]);
    } finally {
      await worker.close();
    }
  });
});
