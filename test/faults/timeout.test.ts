/**
 * Matrix: the function timeout. The worker runs in a sandbox with a 3 s function timeout that is
 * enforced (SIGKILL at the limit, as Lambda does), and a migration runs `SELECT pg_sleep(10)`.
 * statement_timeout, lowered to the remaining time minus a margin, must stop the statement
 * first: the worker answers in time, the result names the migration, the time budget and the
 * remedy, nothing of the file is applied, and following the remedy finishes the job.
 */
import { afterAll, beforeAll, describe, expect } from 'vitest';
import { ErrorCode } from '../../lambda/contract/index.js';
import { deploy } from '../../scripts/commands/deploy.js';
import { resolve } from '../../scripts/commands/resolve.js';
import { databaseTargets } from '../helpers/db.js';
import {
  fingerprint,
  ledgerRows,
  query,
  secretServer,
  waitFor,
  workerSessionsGone,
  type SecretServer,
} from '../helpers/fault-db.js';
import { cell } from '../helpers/fault-matrix.js';
import { auditSecrets, witness } from '../helpers/fault-secrets.js';
import { startFaultWorker, type FaultWorker, type Verdict } from '../helpers/fault-worker.js';
import { scenarioFixture } from '../helpers/fault-fixture.js';
import { assertConsistent, assertFinished, STEPWISE } from '../helpers/fault-scenario.js';
import { migrationsDir } from '../helpers/migrations.js';

const FILE = 'test/faults/timeout.test.ts';
const FUNCTION_TIMEOUT_MS = 3_000;

describe.each(databaseTargets())('function timeout on the $name PostgreSQL', ({ name: target, adminUrl }) => {
  let server: SecretServer;
  let short: FaultWorker;
  let long: FaultWorker;

  beforeAll(async () => {
    server = await secretServer(adminUrl);
    const bootstrap = await server.database();
    short = await startFaultWorker(bootstrap.url, { timeoutMs: FUNCTION_TIMEOUT_MS });
    long = await startFaultWorker(bootstrap.url, { timeoutMs: 30_000 });
  });

  afterAll(async () => {
    await short?.close();
    await long?.close();
    await server?.close();
    auditSecrets(FILE, server, short?.logs ?? [], short?.responses ?? [], long?.logs ?? [], long?.responses ?? []);
  });

  cell(
    'Function timeout · pg_sleep(10) under a 3 s function timeout',
    {
      target,
      file: FILE,
      invariant:
        'statement_timeout fires first; result names migration, budget, remedy; nothing applied; remedy finishes',
      timeout: 120_000,
    },
    async ({ ran }) => {
      const db = await server.database();
      const dir = await migrationsDir({
        '001_fast': 'CREATE TABLE fast (id int);\n',
        '002_slow': 'CREATE TABLE slow (id int);\nSELECT pg_sleep(10);\n',
        '003_later': 'CREATE TABLE later (id int);\n',
      });
      short.useDatabase(db.url);
      long.useDatabase(db.url);
      const report = await deploy(short.worker, { migrationsDir: dir });
      witness(report);
      ran();
      // The worker answered before its limit: the sandbox, killed at the limit, was not (no
      // clock of the test's, which a loaded machine would stretch).
      expect(short.kills).toBe(0);
      expect(report.exitCode).toBe(2);
      expect(report.results.map((r) => [r.name, r.status])).toEqual([
        ['001_fast', 'applied'],
        ['002_slow', 'failed'],
      ]);
      const slow = report.results[1]!;
      expect(slow.error?.code).toBe('57014');
      expect(slow.timeBudgetExhausted).toBe(true);
      expect(slow.statementTimeoutMs).toBeGreaterThan(0);
      expect(slow.statementTimeoutMs).toBeLessThan(FUNCTION_TIMEOUT_MS);
      const problem = report.problems.find((p) => p.migration === '002_slow');
      expect(problem?.code).toBe(ErrorCode.SqlFailed);
      expect(problem?.message).toContain('002_slow');
      expect(problem?.message).toMatch(/time budget/i);
      expect(problem?.message).toContain(`${slow.statementTimeoutMs} ms`);
      expect(problem?.remedy).toMatch(/function timeout/i);
      expect(problem?.remedy).toContain('--rolled-back 002_slow');
      // Nothing of 002 is applied, its failure is recorded (Prisma P3018), 003 did not start.
      expect(
        (await query(db.adminUrl, `SELECT to_regclass('slow')::text AS t, to_regclass('later')::text AS l`))[0],
      ).toEqual({ t: null, l: null });
      const rows = await ledgerRows(db.adminUrl);
      expect(rows.map((r) => [r.migration_name, r.finished_at !== null])).toEqual([
        ['001_fast', true],
        ['002_slow', false],
      ]);
      expect(rows[1]?.logs).toContain('57014');

      // The remedy, as the report states it: resolve --rolled-back, a longer function timeout, deploy.
      await workerSessionsGone(db.adminUrl, db.name);
      witness(await resolve(long.worker, { migrationsDir: dir, name: '002_slow', to: 'rolled-back' }));
      const again = await deploy(long.worker, { migrationsDir: dir });
      witness(again);
      ran();
      expect(again.exitCode, JSON.stringify(again.problems)).toBe(0);
      expect(again.results.map((r) => [r.name, r.status])).toEqual([
        ['002_slow', 'applied'],
        ['003_later', 'applied'],
      ]);
      expect(await fingerprint(db.adminUrl)).toContain('later:r');
      await db.drop();
    },
  );

  cell(
    'Function timeout · sandbox killed at its limit while the worker hangs mid-migration',
    {
      target,
      file: FILE,
      invariant:
        'the endpoint answers Sandbox.Timedout and the sandbox dies; ledger describes the schema; plain re-run resumes',
      timeout: 120_000,
    },
    async ({ ran }) => {
      // A hang no statement_timeout can stop: the worker stalls between two queries (a frozen
      // network, a stuck event loop) in the middle of the stepwise file, past the 3 s limit.
      const fx = await scenarioFixture(adminUrl, { timeoutMs: FUNCTION_TIMEOUT_MS });
      const db = await fx.server.clone(fx.scenario.template);
      try {
        fx.fw.useDatabase(db.url);
        fx.fw.onQuery(async (q): Promise<Verdict> => {
          // Held until the sandbox is observed killed at its limit, however long that takes.
          if (q.action === 'apply' && q.phase === 'after' && q.text === STEPWISE.statements[1])
            await waitFor('the sandbox to be killed at its function timeout', async () => fx.fw.kills > 0, 60_000);
          return 'continue';
        });
        const error = await fx.deployAll().then(
          () => null,
          (e: unknown) => e as { code?: string; message?: string; remedy?: string },
        );
        fx.fw.onQuery(null);
        witness(error);
        ran();
        expect(error?.code).toBe(ErrorCode.InvokeTimeout);
        expect(error?.message).toMatch(/hit its function timeout: .*Task timed out after 3\.00 seconds/);
        expect(error?.remedy).toMatch(/vpc-migrate status/);
        // The endpoint's answer and the sandbox's kill are two events: wait for the second.
        await waitFor('the sandbox to be killed at its function timeout', async () => fx.fw.kills > 0, 60_000);
        expect(fx.fw.kills).toBe(1);
        await workerSessionsGone(db.adminUrl, db.name);
        // Statement 2 ran but its transaction (with its progress) never committed.
        expect(await assertConsistent(db, fx.scenario)).toBe('003 interrupted after 1 statement(s)');
        const again = await fx.deployAll();
        witness(again);
        expect(again.exitCode, JSON.stringify(again.problems)).toBe(0);
        expect(again.results.find((r) => r.name === STEPWISE.name)?.resumedFrom).toBe(1);
        await assertFinished(db, fx.scenario);
      } finally {
        fx.fw.onQuery(null);
        auditSecrets(FILE, fx.server, fx.fw.logs, fx.fw.responses);
        await db.drop();
        await fx.close();
      }
    },
  );
});
