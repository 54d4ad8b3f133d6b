/**
 * Matrix: bad input.
 * - 10,000 generated malformed events (fast-check) through the real handler in-process, and 300
 *   more through the SDK and the local Invoke endpoint: each is rejected with a typed error
 *   (code, message, remedy) and NO SQL reaches the database. The proof is PostgreSQL's own
 *   statistics for a dedicated database: `pg_stat_database.sessions` (connections made) and
 *   `xact_commit + xact_rollback` (every statement runs in a transaction) do not move, while one
 *   valid event afterwards moves them (the meter works).
 * - Folder anomalies each give a clear result; a migration.sql that is not UTF-8 is refused
 *   with its name before anything is applied.
 */
import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { describe, expect } from 'vitest';
import {
  ErrorCode,
  type MigrateError,
  parseEvent,
  WORKER_ACTIONS,
  type WorkerResponse,
} from '../../lambda/contract/index.js';
import { createHandler } from '../../lambda/handler.js';
import { createLogger } from '../../lambda/log.js';
import { deploy } from '../../scripts/commands/deploy.js';
import { status } from '../../scripts/commands/status.js';
import { databaseTargets } from '../helpers/db.js';
import { ledgerRows, query, waitFor, type SecretDatabase, type SecretServer } from '../helpers/fault-db.js';
import { useFaultServer } from '../helpers/fault-fixture.js';
import { cell } from '../helpers/fault-matrix.js';
import { witness } from '../helpers/fault-secrets.js';
import { migrationsDir } from '../helpers/migrations.js';

const FILE = 'test/faults/input.test.ts';
const IN_PROCESS_RUNS = 10_000;
const SDK_RUNS = 300;
const TYPED = new Set<string>([
  ErrorCode.InvalidEvent,
  ErrorCode.UnknownAction,
  ErrorCode.ChecksumInTransit,
  ErrorCode.PayloadTooLarge,
]);

// ---------------------------------------------------------------------------------------------
// Malformed events: valid bases, each broken in a way that makes it invalid by construction.

const sha = (s: string) => createHash('sha256').update(s, 'utf8').digest('hex');
const SQL = 'SELECT 1';
const migration = () => ({
  name: '001_x',
  checksum: sha(SQL),
  sql: SQL,
  mode: 'transactional',
  statements: [{ start: 0, end: SQL.length, line: 1, kind: 'transactional' }],
});
const BACKFILL_SQL = 'UPDATE t SET a = 1';
type Event = Record<string, unknown>;
const BASES: Record<string, () => Event> = {
  ledger: () => ({ action: 'ledger' }),
  apply: () => ({ action: 'apply', requestId: 'req-1', migrations: [migration()], options: { lockWaitMs: 1000 } }),
  'run-sql': () => ({ action: 'run-sql', sql: 'SELECT 1', write: false, maxRows: 10 }),
  resolve: () => ({ action: 'resolve', name: '001_x', to: 'rolled-back' }),
  rehearse: () => ({ action: 'rehearse', migrations: [migration()] }),
  backfill: () => ({ action: 'backfill', name: 'b1', checksum: sha(BACKFILL_SQL), sql: BACKFILL_SQL }),
};

const json = fc.jsonValue({ maxDepth: 2 });
const notString = json.filter((v) => typeof v !== 'string');
const badRequestId = fc.oneof(notString, fc.constant(''), fc.string({ minLength: 129, maxLength: 300 }));
const badName = fc.oneof(
  notString,
  fc.constant(''),
  fc.string({ minLength: 256, maxLength: 400 }),
  fc
    .tuple(fc.string({ maxLength: 20 }), fc.constantFrom('/', '\\', '\0'), fc.string({ maxLength: 20 }))
    .map(([a, sep, b]) => `${a}${sep}${b}`),
);
const outOfRange = (max: number) =>
  fc.oneof(
    fc.integer({ max: -1 }),
    fc.integer({ min: max + 1 }),
    fc.double({ noInteger: true }),
    notString.filter((v) => typeof v !== 'number' && v !== null),
    fc.string(),
  );
const notBoolean = json.filter((v) => typeof v !== 'boolean');
const notArray = json.filter((v) => !Array.isArray(v));
const blankSql = fc.oneof(notString, fc.constantFrom('', ' ', '\n\t  '));
const badHex = fc.oneof(
  notString,
  fc.string({ maxLength: 70 }).filter((s) => !/^[0-9a-f]{64}$/.test(s)),
  fc.constant('A'.repeat(64)),
);
const wrongHex = fc.stringMatching(/^[0-9a-f]{64}$/).filter((h) => h !== sha(SQL) && h !== sha(BACKFILL_SQL));

/** A broken migration inside apply/rehearse. */
const badMigration: fc.Arbitrary<unknown> = fc.oneof(
  notString.filter((v) => typeof v !== 'object' || v === null || Array.isArray(v)),
  badName.map((name) => ({ ...migration(), name })),
  badHex.map((checksum) => ({ ...migration(), checksum })),
  wrongHex.map((checksum) => ({ ...migration(), checksum })),
  json
    .filter((m) => !['transactional', 'non-transactional', 'script'].includes(m as string))
    .map((mode) => ({ ...migration(), mode })),
  fc.constant({ ...migration(), sql: undefined }),
  fc.constant({ ...migration(), sqlGzipBase64: gzipSync(Buffer.from(SQL)).toString('base64') }),
  fc
    .string({ minLength: 1, maxLength: 40 })
    .map((b64) => ({ ...migration(), sql: undefined, sqlGzipBase64: `${b64}!!` })),
  notArray.filter((v) => v !== null).map((statements) => ({ ...migration(), statements })),
  fc
    .record({
      start: fc.integer({ min: -5, max: 20 }),
      end: fc.integer({ min: -5, max: 20 }),
      line: fc.integer({ min: -2, max: 3 }),
      kind: json,
    })
    .filter(
      (s) =>
        !(
          s.start >= 0 &&
          s.end > s.start &&
          s.end <= SQL.length &&
          s.line >= 1 &&
          ['transactional', 'non-transactional', 'begin', 'commit'].includes(s.kind as string)
        ),
    )
    .map((span) => ({ ...migration(), statements: [span] })),
  fc.string({ minLength: 1, maxLength: 10 }).map((k) => ({ ...migration(), [`zz_${k}`]: 1 })),
);

const badOptions: fc.Arbitrary<unknown> = fc.oneof(
  notString.filter((v) => typeof v !== 'object' || v === null || Array.isArray(v)),
  fc
    .constantFrom('statementTimeoutMs', 'lockTimeoutMs', 'lockWaitMs')
    .chain((k) => outOfRange(3_600_000).map((v) => ({ [k]: v }))),
  notBoolean.map((v) => ({ reconcileExisting: v })),
  fc.string({ minLength: 1, maxLength: 10 }).map((k) => ({ [`zz_${k}`]: true })),
);

/** Per action: field → values that are invalid there (`undefined` = the required field is missing). */
const BREAKERS: Record<string, Record<string, fc.Arbitrary<unknown>>> = {
  ledger: { requestId: badRequestId },
  apply: {
    requestId: fc.oneof(badRequestId, fc.constant(undefined)),
    migrations: fc.oneof(
      fc.constant(undefined),
      notArray,
      fc.constant([]),
      badMigration.map((m) => [m]),
      badMigration.map((m) => [migration(), m]),
      fc.constant([migration(), migration()]),
    ),
    options: badOptions,
  },
  'run-sql': {
    requestId: badRequestId,
    sql: fc.oneof(fc.constant(undefined), blankSql),
    write: notBoolean,
    params: notArray.filter((v) => v !== null),
    maxRows: outOfRange(100_000),
    statementTimeoutMs: outOfRange(3_600_000),
  },
  resolve: {
    requestId: badRequestId,
    name: fc.oneof(fc.constant(undefined), badName),
    to: fc.oneof(
      fc.constant(undefined),
      json.filter((v) => v !== 'applied' && v !== 'rolled-back'),
    ),
    checksum: badHex,
    lockWaitMs: outOfRange(3_600_000),
  },
  rehearse: {
    requestId: badRequestId,
    migrations: fc.oneof(
      fc.constant(undefined),
      notArray,
      fc.constant([]),
      badMigration.map((m) => [m]),
    ),
    options: badOptions,
  },
  backfill: {
    requestId: badRequestId,
    name: fc.oneof(fc.constant(undefined), badName),
    checksum: fc.oneof(fc.constant(undefined), badHex, wrongHex),
    sql: fc.oneof(fc.constant(undefined), blankSql),
    again: notBoolean,
    runBy: badRequestId.filter((v) => typeof v !== 'string' || v.length > 200 || v.length === 0),
    statementTimeoutMs: outOfRange(3_600_000),
    lockTimeoutMs: outOfRange(3_600_000),
  },
};

const broken = (action: string): fc.Arbitrary<Event> => {
  const fields = BREAKERS[action]!;
  return fc.constantFrom(...Object.keys(fields)).chain((field) =>
    fields[field]!.map((value) => {
      const event = BASES[action]!();
      if (value === undefined) delete event[field];
      else event[field] = value;
      return event;
    }),
  );
};

const known = Object.keys(BASES);
/** Every shape of malformed event. */
const malformed: fc.Arbitrary<unknown> = fc.oneof(
  {
    weight: 1,
    arbitrary: fc.oneof(fc.constant(null), fc.boolean(), fc.double(), fc.string(), fc.array(json, { maxLength: 4 })),
  },
  {
    weight: 1,
    arbitrary: fc.record(
      { action: json.filter((a) => !(WORKER_ACTIONS as readonly unknown[]).includes(a)) },
      { requiredKeys: [] },
    ),
  },
  {
    weight: 1,
    arbitrary: fc.dictionary(
      fc.string({ maxLength: 12 }).filter((k) => k !== 'action'),
      json,
      { maxKeys: 4 },
    ),
  },
  // A valid event of each action plus a field nobody knows.
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.constantFrom(...WORKER_ACTIONS), fc.string({ minLength: 1, maxLength: 12 }), json)
      .map(([action, k, v]) => ({ ...(BASES[action]?.() ?? { action }), [`zz_${k}`]: v })),
  },
  { weight: 6, arbitrary: fc.constantFrom(...known).chain(broken) },
);

interface Meter {
  sessions: number;
  xacts: number;
}

async function meter(server: SecretServer, db: SecretDatabase): Promise<Meter> {
  const rows = await query<{ sessions: string; xacts: string }>(
    server.adminUrl,
    'SELECT sessions, xact_commit + xact_rollback AS xacts FROM pg_stat_database WHERE datname = $1',
    [db.name],
  );
  return { sessions: Number(rows[0]?.sessions ?? 0), xacts: Number(rows[0]?.xacts ?? 0) };
}

describe.each(databaseTargets())('bad input on the $name PostgreSQL', ({ name: target, adminUrl }) => {
  const { server, worker, logs } = useFaultServer(adminUrl, FILE);

  cell(
    `Bad input · ${IN_PROCESS_RUNS.toLocaleString('en')} ` +
      `generated malformed events in-process + ${SDK_RUNS} ` +
      `through the SDK endpoint`,
    {
      target,
      file: FILE,
      invariant:
        'each rejected with a typed error (code, message, remedy); pg_stat_database: no session, no transaction',
      timeout: 300_000,
    },
    async ({ ran }) => {
      for (const [action, base] of Object.entries(BASES))
        expect(() => parseEvent(base()), `base ${action} must be valid`).not.toThrow();
      const db = await server.database('vpcm_fault_fuzz');
      const handler = createHandler({
        databaseUrl: db.url,
        logger: createLogger({ service: 'fuzz' }, (line) => logs.length < 50_000 && logs.push(line), 'debug'),
      });
      const context = { awsRequestId: 'fuzz', functionName: 'fuzz', getRemainingTimeInMillis: () => 60_000 };
      const before = await meter(server, db);

      const check = (response: WorkerResponse<unknown>, event: unknown) => {
        if (response.ok) throw new Error(`accepted a malformed event: ${JSON.stringify(event)?.slice(0, 300)}`);
        expect(
          TYPED.has(response.error.code),
          `untyped ${response.error.code} for ${JSON.stringify(event)?.slice(0, 200)}`,
        ).toBe(true);
        expect(response.error.message.length).toBeGreaterThan(0);
        expect(response.error.remedy.length).toBeGreaterThan(0);
      };
      await fc.assert(
        fc.asyncProperty(malformed, async (event) => {
          check((await handler(event, context)) as WorkerResponse<unknown>, event);
          ran();
        }),
        { numRuns: IN_PROCESS_RUNS },
      );
      // A few events no generator makes: a gzip bomb, too many migrations, an oversized request.
      const bomb = gzipSync(Buffer.alloc(80 * 1024 * 1024)).toString('base64');
      const specials: unknown[] = [
        { ...BASES.apply!(), migrations: [{ ...migration(), sql: undefined, sqlGzipBase64: bomb }] },
        { ...BASES.apply!(), migrations: Array.from({ length: 5001 }, (_, i) => ({ ...migration(), name: `m${i}` })) },
        { action: 'run-sql', sql: 'x'.repeat(65 * 1024 * 1024) },
      ];
      for (const event of specials) {
        check((await handler(event, context)) as WorkerResponse<unknown>, event);
        ran();
      }

      // The same kinds of events through the real path: SDK → local Invoke endpoint → handler.
      const tw = await worker(db.url);
      for (const event of fc.sample(malformed, SDK_RUNS)) {
        const error = await tw.worker.send(event as Record<string, unknown>).then(
          (result) => {
            throw new Error(
              `the SDK path accepted ${JSON.stringify(event)?.slice(0, 200)}: ${JSON.stringify(result)?.slice(0, 200)}`,
            );
          },
          (e: unknown) => e as MigrateError,
        );
        expect(TYPED.has(error.code), `${error.code}: ${error.message}`).toBe(true);
        expect(error.remedy.length).toBeGreaterThan(0);
        ran();
      }

      // No SQL reached the database: not one session, not one transaction.
      expect(await meter(server, db)).toEqual(before);
      // The meter works: one valid event is one session.
      expect(((await handler({ action: 'ledger' }, context)) as WorkerResponse<unknown>).ok).toBe(true);
      await waitFor(
        'the valid event to show in pg_stat_database',
        async () => (await meter(server, db)).sessions === before.sessions + 1,
        15_000,
      );
      await db.drop();
    },
  );

  cell(
    'Bad input · folder anomalies (no migration.sql, empty, BOM, CRLF, duplicate names, spaces, 8-digit prefixes)',
    {
      target,
      file: FILE,
      invariant: 'each gives a clear result: refused naming the folder, or applied exactly as named with a warning',
      timeout: 180_000,
    },
    async ({ ran }) => {
      const db = await server.database();
      const tw = await worker(db.url);
      const fresh = async () => {
        await query(db.adminUrl, 'DROP SCHEMA public CASCADE; CREATE SCHEMA public AUTHORIZATION ' + server.role);
      };
      const run = async (files: Record<string, string | Buffer | null>) => {
        await fresh();
        const dir = await migrationsDir({});
        for (const [name, content] of Object.entries(files)) {
          await mkdir(path.join(dir, name), { recursive: true });
          if (content !== null) await writeFile(path.join(dir, name, 'migration.sql'), content);
        }
        const report = await deploy(tw.worker, { migrationsDir: dir, lint: false }).then(
          (r) => ({ report: r, error: null }),
          (e: unknown) => ({ report: null, error: e as MigrateError }),
        );
        witness(report.report ?? report.error);
        ran();
        return { ...report, dir };
      };

      // No migration.sql: refused (Prisma P3015), naming the folder, nothing applied.
      let r = await run({ '20240101000000_init': 'CREATE TABLE a (id int);\n', '20240102000000_missing': null });
      expect(r.error?.code).toBe(ErrorCode.MigrationFileMissing);
      expect(r.error?.message).toContain('20240102000000_missing');
      expect(await ledgerRows(db.adminUrl)).toEqual([]);

      // Empty and whitespace-only files: applied (Prisma does), each with a warning.
      r = await run({ '20240101000000_empty': '', '20240102000000_blank': '\n  \n' });
      expect(r.report?.exitCode).toBe(0);
      expect(r.report?.results.map((x) => [x.name, x.status])).toEqual([
        ['20240101000000_empty', 'applied'],
        ['20240102000000_blank', 'applied'],
      ]);
      expect(r.report?.warnings.join('\n')).toMatch(/20240101000000_empty\/migration\.sql is empty/);
      expect(r.report?.warnings.join('\n')).toMatch(/20240102000000_blank\/migration\.sql holds only whitespace/);

      // BOM: sent as part of the text (as Prisma does): a warning before, and either applied or a
      // failure placed on line 1 of that file — never a silent change of the checksum.
      const bomSql = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('CREATE TABLE bom (id int);\n')]);
      r = await run({ '20240101000000_bom': bomSql });
      expect(r.report?.warnings.join('\n')).toMatch(
        /20240101000000_bom\/migration\.sql starts with a UTF-8 byte order mark/,
      );
      const bomRow = (await ledgerRows(db.adminUrl))[0];
      expect(bomRow?.checksum).toBe(createHash('sha256').update(bomSql).digest('hex'));
      const bomResult = r.report?.results[0];
      if (bomResult?.status === 'failed') {
        expect(bomResult.error?.line).toBe(1);
        expect(r.report?.problems[0]?.migration).toBe('20240101000000_bom');
      } else {
        expect(bomResult?.status).toBe('applied');
      }

      // CRLF: applied as is; an LF copy of the file still matches (Prisma's leniency).
      r = await run({ '20240101000000_crlf': 'CREATE TABLE crlf (id int);\r\nCREATE TABLE crlf2 (id int);\r\n' });
      expect(r.report?.exitCode).toBe(0);
      expect(r.report?.warnings.join('\n')).toMatch(/CRLF line endings/);
      await writeFile(
        path.join(r.dir, '20240101000000_crlf', 'migration.sql'),
        'CREATE TABLE crlf (id int);\nCREATE TABLE crlf2 (id int);\n',
      );
      expect((await status(tw.worker, { migrationsDir: r.dir })).exitCode).toBe(0);

      // Duplicate-looking names: same timestamp, case variants, NFC vs NFD. All distinct folders:
      // each applied once under its exact name, in byte order.
      const nfc = '20240103000000_caf\u00e9';
      const nfd = '20240103000000_cafe\u0301';
      r = await run({
        '20240101000000_init': 'CREATE TABLE d1 (id int);\n',
        '20240101000000_Init': 'CREATE TABLE d2 (id int);\n',
        '20240101000000_other': 'CREATE TABLE d3 (id int);\n',
        [nfc]: 'CREATE TABLE d4 (id int);\n',
        [nfd]: 'CREATE TABLE d5 (id int);\n',
      });
      const dupNames = ['20240101000000_Init', '20240101000000_init', '20240101000000_other', nfd, nfc];
      expect(r.report?.exitCode).toBe(0);
      expect(r.report?.results.map((x) => x.name)).toEqual(dupNames);
      expect((await ledgerRows(db.adminUrl)).map((x) => x.migration_name).sort()).toEqual([...dupNames].sort());

      // Spaces and 8-digit prefixes: names kept whole, applied in byte order.
      r = await run({
        '20240101000000_add users': 'CREATE TABLE s1 (id int);\n',
        '20240101_init': 'CREATE TABLE s2 (id int);\n',
        '20240102 hotfix': 'CREATE TABLE s3 (id int);\n',
      });
      expect(r.report?.exitCode).toBe(0);
      expect(r.report?.results.map((x) => x.name)).toEqual([
        '20240101000000_add users',
        '20240101_init',
        '20240102 hotfix',
      ]);
      expect((await ledgerRows(db.adminUrl)).map((x) => x.migration_name)).toEqual([
        '20240101000000_add users',
        '20240101_init',
        '20240102 hotfix',
      ]);
      expect((await status(tw.worker, { migrationsDir: r.dir })).exitCode).toBe(0);
      await db.drop();
    },
  );

  cell(
    'Bad input · a migration.sql that is not UTF-8 is refused with its name',
    {
      target,
      file: FILE,
      invariant: 'refused before anything is applied, naming the file and the byte offset',
      timeout: 60_000,
    },
    async ({ ran }) => {
      const db = await server.database();
      const tw = await worker(db.url);
      const dir = await migrationsDir({ '20240101000000_ok': 'CREATE TABLE ok (id int);\n' });
      await mkdir(path.join(dir, '20240102000000_latin1'));
      // "café" in Windows-1252: 0xE9 alone is not UTF-8.
      await writeFile(
        path.join(dir, '20240102000000_latin1', 'migration.sql'),
        Buffer.from('-- caf\xe9\nCREATE TABLE l (id int);\n', 'latin1'),
      );
      for (const command of ['deploy', 'status'] as const) {
        const error = await (command === 'deploy'
          ? deploy(tw.worker, { migrationsDir: dir })
          : status(tw.worker, { migrationsDir: dir })
        ).then(
          () => null,
          (e: unknown) => e as MigrateError,
        );
        witness(error);
        ran();
        expect(error?.code, command).toBe(ErrorCode.NotUtf8);
        expect(error?.message).toContain(path.join('20240102000000_latin1', 'migration.sql'));
        expect(error?.message).toMatch(/byte 6 \(line 1\)/);
        expect(error?.remedy).toMatch(/UTF-8/);
      }
      expect(await ledgerRows(db.adminUrl)).toEqual([]);
      await db.drop();
    },
  );
});
