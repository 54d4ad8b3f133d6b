/**
 * Matrix: Lambda's 6 MB payload limits (docs/design.md §5).
 * - A migration that is over the limit after compression (incompressible random text in a
 *   comment) is refused by the CLI before anything is invoked, with its name, size and the
 *   limit; one just under the limit goes through the real endpoint and is applied.
 * - A result set over the limit comes back truncated and flagged, never as an error, whatever
 *   the rows hold: wide ASCII, multi-byte and astral characters, JSON escapes, bytea, many rows,
 *   and a flood of notices.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect } from 'vitest';
import {
  ErrorCode,
  INVOKE_PAYLOAD_LIMIT_BYTES,
  type MigrateError,
  type RunSqlResult,
} from '../../lambda/contract/index.js';
import { BATCH_BYTES } from '../../scripts/core/payloads.js';
import { deploy } from '../../scripts/commands/deploy.js';
import { formatBytes } from '../../scripts/core/payloads.js';
import { databaseTargets } from '../helpers/db.js';
import { ledgerRows, query } from '../helpers/fault-db.js';
import { useFaultServer } from '../helpers/fault-fixture.js';
import { cell } from '../helpers/fault-matrix.js';
import { witness } from '../helpers/fault-secrets.js';
import { migrationsDir } from '../helpers/migrations.js';

const FILE = 'test/faults/payload.test.ts';

/** `bytes` of random base64 as 76-character comment lines: gzip cannot shrink it below ~75%. */
function noise(bytes: number): string {
  const b64 = randomBytes(Math.ceil((bytes * 3) / 4)).toString('base64');
  const lines: string[] = [];
  for (let i = 0; i < b64.length; i += 76) lines.push(`-- ${b64.slice(i, i + 76)}`);
  return lines.join('\n') + '\n';
}

describe.each(databaseTargets())('payload limits on the $name PostgreSQL', ({ name: target, adminUrl }) => {
  const { server, worker } = useFaultServer(adminUrl, FILE);

  cell(
    'Payload limits · migration over 6 MB after compression refused before invoking',
    {
      target,
      file: FILE,
      invariant: 'refused by the CLI with name, size and limit, nothing invoked or applied; 5 MB goes through',
      timeout: 120_000,
    },
    async ({ ran }) => {
      const db = await server.database();
      const tw = await worker(db.url);
      const dir = await migrationsDir({
        '001_small': 'CREATE TABLE small (id int);\n',
        '002_huge':
          `-- A data dump that does not belong in a migration.\n` +
          `${noise(7 * 1024 * 1024)}CREATE TABLE huge (id int);\n`,
      });
      const error = await deploy(tw.worker, { migrationsDir: dir }).then(
        () => null,
        (e: unknown) => e as MigrateError,
      );
      witness(error);
      ran();
      expect(error?.code).toBe(ErrorCode.PayloadTooLarge);
      expect(error?.message).toContain('002_huge');
      expect(error?.message).toMatch(/is \d+\.\d\d MB after compression/);
      expect(error?.message).toContain(formatBytes(BATCH_BYTES));
      const details = error?.details as { bytes: number; limit: number };
      expect(details.bytes).toBeGreaterThan(INVOKE_PAYLOAD_LIMIT_BYTES);
      expect(details.limit).toBe(BATCH_BYTES);
      expect(error?.remedy).toMatch(/Split/);
      // Refused before any apply was sent: the only invocation is the ledger read.
      expect(tw.worker.invocations).toBe(1);
      expect(await ledgerRows(db.adminUrl)).toEqual([]);

      // Just under the limit: through the SDK, the endpoint's 6 MB check and the worker.
      const near = await migrationsDir({ '003_big': `${noise(5 * 1024 * 1024)}CREATE TABLE big (id int);\n` });
      const report = await deploy(tw.worker, { migrationsDir: near });
      witness(report);
      ran();
      expect(report.exitCode, JSON.stringify(report.problems)).toBe(0);
      expect(report.results.map((r) => [r.name, r.status])).toEqual([['003_big', 'applied']]);
      expect((await query(db.adminUrl, `SELECT to_regclass('big')::text AS t`))[0]).toEqual({ t: 'big' });
      await db.drop();
    },
  );

  cell(
    'Payload limits · result set over the 6 MB response limit truncated and flagged',
    {
      target,
      file: FILE,
      invariant: 'every shape answers ok with truncated=true, at most 6 MB, never an error',
      timeout: 120_000,
    },
    async ({ ran }) => {
      const db = await server.database();
      const tw = await worker(db.url);
      const shapes: Record<string, { sql: string; maxRows?: number; write?: boolean }> = {
        // Rows of 300,000 characters: several fit in every encoding, 40 of them never do.
        'wide ASCII rows': { sql: `SELECT repeat('x', 300000) AS v FROM generate_series(1, 40)` },
        'two-byte characters': { sql: `SELECT repeat('é', 300000) AS v FROM generate_series(1, 40)` },
        'astral characters': { sql: `SELECT repeat('😀', 150000) AS v FROM generate_series(1, 40)` },
        'control characters (JSON \\u escapes)': {
          sql: `SELECT repeat(chr(1), 300000) AS v FROM generate_series(1, 40)`,
        },
        'quotes and backslashes': { sql: `SELECT repeat('"\\', 150000) AS v FROM generate_series(1, 40)` },
        bytea: { sql: `SELECT decode(repeat('ff', 300000), 'hex') AS v FROM generate_series(1, 40)` },
        json: { sql: `SELECT json_build_object('k', repeat('x', 300000)) AS v FROM generate_series(1, 40)` },
        'many rows': {
          sql: `SELECT g, md5(g::text) AS h, repeat('y', 40) AS pad FROM generate_series(1, 100000) g`,
          maxRows: 100_000,
        },
        'one row larger than the limit': { sql: `SELECT repeat('z', 7000000) AS v` },
        // A DO block is --write's: read-only sql refuses it.
        'a flood of notices': {
          sql: `DO $$ BEGIN FOR i IN 1..200 LOOP RAISE NOTICE '%', repeat('n', 100000); END LOOP; END $$`,
          write: true,
        },
      };
      for (const [shape, { sql, maxRows, write }] of Object.entries(shapes)) {
        const result = await tw.worker
          .runSql({ sql, ...(maxRows ? { maxRows } : {}), ...(write ? { write } : {}) })
          .then(
            (r) => r,
            (e: unknown) => {
              throw new Error(`${shape}: run-sql failed instead of truncating: ${(e as Error).message}`);
            },
          );
        ran();
        const size = Buffer.byteLength(JSON.stringify(result), 'utf8');
        expect(size, shape).toBeLessThanOrEqual(INVOKE_PAYLOAD_LIMIT_BYTES);
        if (shape === 'a flood of notices') expect(result.notices.at(-1), shape).toMatch(/more notice\(s\) not shown/);
        else expect(result.truncated, shape).toBe(true);
        if (shape !== 'a flood of notices' && shape !== 'one row larger than the limit')
          expect(result.rows.length, shape).toBeGreaterThan(0);
        witness({ shape, size, rows: result.rows.length, notices: (result as RunSqlResult).notices.length });
      }
      await db.drop();
    },
  );
});
