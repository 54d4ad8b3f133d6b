/**
 * The time split end to end (VPC_MIGRATE_TIMINGS, docs/benchmarks.md): the bin's deploy writes a
 * split whose stages are all there and add up to no more than the total, with the worker's own
 * parts for the apply Invoke; without the flag the worker's apply answer carries no timings (the
 * wire stays as it was). No duration is asserted.
 */
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ApplyResult, WorkerResponse } from '../../lambda/contract/index.js';
import { createHandler, createLogger } from '../../lambda/handler.js';
import { buildPayload } from '../../scripts/core/payloads.js';
import { splitMigration } from '../../scripts/core/split.js';
import { sqlParser } from '../../scripts/core/sql-parser.js';
import type { Split } from '../../scripts/core/timings.js';
import { discoverMigrations } from '../../scripts/formats/prisma/discover.js';
import { spawnCollect } from '../helpers/cli.js';
import { embeddedTarget, freshDatabase } from '../helpers/db.js';
import { exampleMigrations, migrationsDir, repoRoot } from '../helpers/migrations.js';

const target = embeddedTarget();

describe('time split', () => {
  it('deploy with VPC_MIGRATE_TIMINGS=<file> writes every stage, adding up to at most the total', async () => {
    const db = await freshDatabase(target.adminUrl);
    try {
      const file = path.join(await mkdtemp(path.join(tmpdir(), 'vpcm-timings-')), 'split.json');
      const run = await spawnCollect(
        process.execPath,
        ['scripts/run-cli.mjs', 'deploy', '--local', '--migrations', exampleMigrations],
        { cwd: repoRoot, env: { DATABASE_URL: db.url, VPC_MIGRATE_TIMINGS: file } },
      );
      expect(run.code, run.stderr).toBe(0);
      expect(run.stderr).not.toContain('vpc-migrate timings'); // a path: JSON there, no table
      const split = JSON.parse(await readFile(file, 'utf8')) as Split;
      expect(split).toMatchObject({ version: 1, command: 'deploy' });
      const stages = split.stages.map((s) => s.stage);
      for (const stage of ['start', 'endpoint', 'discovery', 'parser', 'lint', 'split', 'invoke', 'verify', 'other'])
        expect(stages).toContain(stage);
      const sum = split.stages.reduce((n, s) => n + s.ms, 0);
      expect(sum).toBeLessThanOrEqual(split.totalMs);
      for (const s of split.stages) expect(s.ms).toBeGreaterThanOrEqual(0);
      // The verification reads the ledger from the apply answer (ledgerAfter): no third Invoke.
      expect(split.invokes.map((i) => i.action)).toEqual(['ledger', 'apply']);
      const { migrations } = await discoverMigrations(exampleMigrations);
      const apply = split.invokes[1]!;
      expect(apply.migrations).toBe(migrations.length);
      const w = apply.worker!;
      // The transactional files carry their row in their own query (lambda/prisma/apply.ts) and
      // the CONCURRENTLY migration's started row goes with the session reset (startRow): the one
      // write of its own is that migration's finished row.
      expect(w.ledgerWrites).toBe(1);
      expect(w.queries).toBeGreaterThanOrEqual(migrations.length);
      expect(w.decodeMs + w.connectMs + w.postgresMs + w.ledgerMs + w.otherMs).toBeCloseTo(w.totalMs, 6);
      expect(apply.wireMs).toBeGreaterThanOrEqual(0);
      expect(split.cpu.userMs + split.cpu.systemMs).toBeGreaterThan(0);

      // =1: the table on stderr at the end (status: no apply, so no worker parts).
      const status = await spawnCollect(
        process.execPath,
        ['scripts/run-cli.mjs', 'status', '--local', '--migrations', exampleMigrations],
        { cwd: repoRoot, env: { DATABASE_URL: db.url, VPC_MIGRATE_TIMINGS: '1' } },
      );
      expect(status.code, status.stderr).toBe(0);
      expect(status.stderr).toMatch(/vpc-migrate timings: status[\s\S]*Invoke 1: ledger[\s\S]*total/);
    } finally {
      await db.drop();
    }
  });

  it('the worker answers apply with timings only when the event asks for them', async () => {
    const db = await freshDatabase(target.adminUrl);
    try {
      const handler = createHandler({ databaseUrl: db.url, logger: createLogger({}, undefined, 'ERROR') });
      const context = { awsRequestId: 'r', functionName: 'f', getRemainingTimeInMillis: () => 60_000 };
      const dir = await migrationsDir({
        '001_a': 'CREATE TABLE a (id int);\n',
        '002_b': 'CREATE TABLE b (id int);\n',
        '003_c': 'CREATE INDEX CONCURRENTLY b_id ON b (id);\n',
      });
      const parser = await sqlParser();
      const payloads = (await discoverMigrations(dir)).migrations.map((m) =>
        buildPayload(m, splitMigration(parser, m.sql)),
      );
      const plain = (await handler(
        { action: 'apply', requestId: 'plain', migrations: payloads.slice(0, 1) },
        context,
      )) as WorkerResponse<ApplyResult>;
      expect(plain.ok).toBe(true);
      expect(plain.ok && Object.keys(plain.result)).not.toContain('timings');

      const asked = (await handler(
        { action: 'apply', requestId: 'asked', migrations: payloads, timings: true },
        context,
      )) as WorkerResponse<ApplyResult>;
      expect(asked.ok).toBe(true);
      const timings = asked.ok ? asked.result.timings : undefined;
      expect(timings).toBeDefined();
      expect(timings!.ledgerWrites).toBeGreaterThanOrEqual(1);
      const parts = timings!.decodeMs + timings!.connectMs + timings!.postgresMs + timings!.ledgerMs + timings!.otherMs;
      expect(parts).toBeCloseTo(timings!.totalMs, 6);
    } finally {
      await db.drop();
    }
  });
});
