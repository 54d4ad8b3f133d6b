/**
 * The parse cache (scripts/project/parse-cache.ts): a warm run answers exactly as a cold one
 * without loading the parser; what it finds on disk is checked, never trusted; where it lives
 * and how it is turned off.
 */
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { MigrationPayload } from '../../lambda/contract/index.js';
import { type SqlParser, sqlParser } from '../../scripts/core/sql-parser.js';
import { drizzleFormat } from '../../scripts/formats/drizzle/drizzle.js';
import type { Discovery, Format, PendingLintResult } from '../../scripts/formats/format.js';
import { prismaFormat } from '../../scripts/formats/prisma/prisma.js';
import {
  NO_PARSE_CACHE,
  openParseCache,
  PARSE_CACHE_FILE,
  type ParseCache,
  parseCachePath,
} from '../../scripts/project/parse-cache.js';

let parser: SqlParser;
beforeAll(async () => {
  parser = await sqlParser();
});

/** A parser source that counts how often it is asked for. */
function countingParser(): { source: () => Promise<SqlParser>; asked: () => number } {
  let asked = 0;
  return {
    source: async () => {
      asked++;
      return parser;
    },
    asked: () => asked,
  };
}

const MIGRATIONS: Record<string, string> = {
  '20240101000000_init': 'CREATE TABLE "User" (id int PRIMARY KEY, name text);\nCREATE TYPE "Role" AS ENUM (\'a\');\n',
  '20240102000000_index':
    '-- an index\nCREATE INDEX CONCURRENTLY "User_name_idx" ON "User" (name);\n' +
    'ALTER TABLE "User" ADD COLUMN email text NOT NULL;\n',
  '20240103000000_drop': 'DROP TABLE "User";\nSET search_path = other;\n',
  '20240104000000_bad': 'CREATE TABLE (;\n',
  '20240105000000_script': 'BEGIN;\nALTER TYPE "Role" ADD VALUE \'b\';\nCOMMIT;\n',
};

async function prismaFolder(files: Record<string, string> = MIGRATIONS): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'vpcm-parse-cache-'));
  for (const [name, sql] of Object.entries(files)) {
    await mkdir(path.join(dir, name));
    await writeFile(path.join(dir, name, 'migration.sql'), sql);
  }
  return dir;
}

const cacheDir = () => mkdtemp(path.join(tmpdir(), 'vpcm-cache-dir-'));
const open = (dir: string) => openParseCache({ env: { CACHE_DIR: dir } });

interface Run {
  lint: PendingLintResult;
  payloads: MigrationPayload[];
  warnings: string[];
  asked: number;
}

/** What deploy computes before it applies: the lint of everything pending, then the payloads. */
async function deployParse(format: Format, migrationsDir: string, cache: ParseCache): Promise<Run> {
  const { discovery } = await format.loadLocal(migrationsDir);
  const pending = discovery.migrations.map((m) => m.name);
  const counting = countingParser();
  const lint = await format.lintPending(counting.source, discovery as Discovery, pending, {
    defaultSchema: 'public',
    cache,
  });
  const warnings: string[] = [];
  const payloads = await format.payloads(counting.source, discovery as Discovery, pending, warnings, cache);
  await cache.save();
  return { lint, payloads, warnings, asked: counting.asked() };
}

/** Everything a run answers, as bytes: a cached answer must be the very same. */
const answers = (run: Run) => JSON.stringify([run.lint, run.payloads, run.warnings]);

describe('parse cache', () => {
  it('answers a warm run exactly as a cold one, without loading the parser', async () => {
    // Prepare
    const migrations = await prismaFolder();
    const dir = await cacheDir();
    const uncached = await deployParse(prismaFormat, migrations, NO_PARSE_CACHE);

    // Act
    const cold = await deployParse(prismaFormat, migrations, await open(dir));
    const warm = await deployParse(prismaFormat, migrations, await open(dir));

    // Assess
    expect(answers(cold)).toBe(answers(uncached));
    expect(answers(warm)).toBe(answers(uncached));
    expect(uncached.lint.problems.length).toBeGreaterThan(0);
    expect(uncached.lint.warnings.length).toBeGreaterThan(0);
    expect(uncached.warnings.some((w) => w.includes('20240104000000_bad'))).toBe(true);
    expect(cold.asked).toBeGreaterThan(0);
    expect(warm.asked).toBe(0);
  });

  it('answers a warm Drizzle run exactly as a cold one, without loading the parser', async () => {
    // Prepare
    const migrations = await mkdtemp(path.join(tmpdir(), 'vpcm-parse-cache-drizzle-'));
    await mkdir(path.join(migrations, 'meta'));
    const files: [string, string][] = [
      ['0000_init', 'CREATE TABLE a (id int);\n--> statement-breakpoint\nCREATE TABLE b (id int);\n'],
      ['0001_index', 'COMMIT;\n--> statement-breakpoint\nCREATE INDEX CONCURRENTLY i ON a (id);\n'],
      ['0002_mixed', 'CREATE TABLE c (id int);\nCREATE INDEX CONCURRENTLY j ON c (id);\n'],
    ];
    for (const [tag, sql] of files) await writeFile(path.join(migrations, `${tag}.sql`), sql);
    const entries = files.map(([tag], idx) => ({ idx, version: '7', when: 1000 + idx, tag, breakpoints: true }));
    await writeFile(
      path.join(migrations, 'meta', '_journal.json'),
      JSON.stringify({ version: '7', dialect: 'postgresql', entries }),
    );
    const dir = await cacheDir();
    const uncached = await deployParse(drizzleFormat as Format, migrations, NO_PARSE_CACHE);

    // Act
    await deployParse(drizzleFormat as Format, migrations, await open(dir));
    const warm = await deployParse(drizzleFormat as Format, migrations, await open(dir));

    // Assess
    expect(answers(warm)).toBe(answers(uncached));
    expect(uncached.lint.problems.length).toBeGreaterThan(0);
    expect(warm.asked).toBe(0);
  });

  it('ignores a corrupt or foreign cache file and rewrites it', async () => {
    // Prepare
    const migrations = await prismaFolder();
    const uncached = await deployParse(prismaFormat, migrations, NO_PARSE_CACHE);
    const bodies = [
      '{"tool": "vpc-migrate parse cache", "format": 1, "build": "x", "spl',
      JSON.stringify({ tool: 'someone else', format: 1, build: 'x', splits: {}, drizzle: {}, lints: {} }),
      JSON.stringify({ tool: 'vpc-migrate parse cache', format: 1, build: 'old', splits: {}, drizzle: {}, lints: {} }),
      '\u0000\u0001 not json',
    ];
    for (const body of bodies) {
      const dir = await cacheDir();
      const file = path.join(dir, 'vpc-migrate', PARSE_CACHE_FILE);
      await mkdir(path.dirname(file), { recursive: true });
      await writeFile(file, body);

      // Act
      const run = await deployParse(prismaFormat, migrations, await open(dir));
      const again = await deployParse(prismaFormat, migrations, await open(dir));

      // Assess
      expect(answers(run)).toBe(answers(uncached));
      expect(run.asked).toBeGreaterThan(0);
      expect(JSON.parse(await readFile(file, 'utf8')).tool).toBe('vpc-migrate parse cache');
      expect(again.asked).toBe(0);
    }
  });

  it('parses again an entry that does not fit its file, and every entry of a tampered file', async () => {
    // Prepare
    const migrations = await prismaFolder();
    const uncached = await deployParse(prismaFormat, migrations, NO_PARSE_CACHE);
    const dir = await cacheDir();
    await deployParse(prismaFormat, migrations, await open(dir));
    const file = path.join(dir, 'vpc-migrate', PARSE_CACHE_FILE);
    const body = JSON.parse(await readFile(file, 'utf8'));
    const checksums = Object.keys(body.splits);
    // Spans past the end of the text, a span with an unknown key, an entry of the wrong shape.
    body.splits[checksums[0]!].statements[0].end = 1_000_000;
    body.splits[checksums[1]!].statements[0].extra = 'DROP TABLE x';
    body.splits[checksums[2]!] = { mode: 'sideways' };
    body.lints = Object.fromEntries(Object.keys(body.lints).map((k) => [k, [{ rule: 1 }]]));
    await writeFile(file, JSON.stringify(body));

    // Act
    const run = await deployParse(prismaFormat, migrations, await open(dir));

    // Assess
    expect(answers(run)).toBe(answers(uncached));
    expect(run.asked).toBeGreaterThan(0);
    expect((await deployParse(prismaFormat, migrations, await open(dir))).asked).toBe(0);
  });

  it('parses a changed file (new checksum) again, and only what the cache lacks', async () => {
    // Prepare
    const migrations = await prismaFolder();
    const dir = await cacheDir();
    await deployParse(prismaFormat, migrations, await open(dir));
    const changed = 'CREATE TABLE "Other" (id int);\nCREATE INDEX CONCURRENTLY o ON "Other" (id);\n';
    await writeFile(path.join(migrations, '20240103000000_drop', 'migration.sql'), changed);
    const uncached = await deployParse(prismaFormat, migrations, NO_PARSE_CACHE);

    // Act
    const run = await deployParse(prismaFormat, migrations, await open(dir));

    // Assess
    expect(run.asked).toBeGreaterThan(0);
    expect(answers(run)).toBe(answers(uncached));
    const payload = run.payloads.find((p) => p.name === '20240103000000_drop')!;
    expect(payload.mode).toBe('non-transactional');
    expect(payload.statements?.map((s) => s.kind)).toEqual(['transactional', 'non-transactional']);
  });

  it('learns only the history applied since the last deploy, with the findings of a cold run', async () => {
    // Prepare: the history creates an index (in a file with leading comments, so lines matter),
    // a later pending file creates it again (index-recreation names where the history made it).
    const files: Record<string, string> = {
      ...MIGRATIONS,
      '20240106000000_table': '-- a\n-- b\n\nCREATE TABLE t (id int, v text);\n\n\nCREATE INDEX t_v ON t (v);\n',
      '20240107000000_other': 'ALTER TABLE t ADD COLUMN w int;\n-- x\nCREATE INDEX t_w ON t (w);\n',
      '20240108000000_again': 'CREATE INDEX t_v ON t (v);\nCREATE INDEX t_w ON t (w);\nDROP TABLE t;\n',
    };
    const migrations = await prismaFolder(files);
    const { discovery } = await prismaFormat.loadLocal(migrations);
    const names = discovery.migrations.map((m) => m.name);
    const dir = await cacheDir();
    const lintRun = async (pending: string[], cache: ParseCache) => {
      const parses = { count: 0 };
      const counting: SqlParser = {
        ...parser,
        parse: (sql) => {
          parses.count++;
          return parser.parse(sql);
        },
      };
      const result = await prismaFormat.lintPending(async () => counting, discovery, pending, {
        defaultSchema: 'public',
        cache,
      });
      await cache.save();
      return { result, parses: parses.count };
    };
    // The first deploy: the last two pending (the model after the six before is kept).
    await lintRun(names.slice(6), await open(dir));

    // Act: the next deploy, after the first of them was applied.
    const cold = await lintRun(names.slice(7), NO_PARSE_CACHE);
    const warm = await lintRun(names.slice(7), await open(dir));

    // Assess
    expect(JSON.stringify(warm.result)).toBe(JSON.stringify(cold.result));
    expect(cold.result.warnings.some((w) => w.includes('index-recreation'))).toBe(true);
    // Cold: the seven history files and the pending one; warm: the one applied since and the pending one.
    expect({ cold: cold.parses, warm: warm.parses }).toEqual({ cold: 8, warm: 2 });
  });

  it('is off with VPC_MIGRATE_CACHE=0: nothing read, nothing written', async () => {
    // Prepare
    const dir = await cacheDir();
    const env = { CACHE_DIR: dir, VPC_MIGRATE_CACHE: '0' };

    // Act
    const cache = await openParseCache({ env });
    await deployParse(prismaFormat, await prismaFolder(), cache);

    // Assess
    expect(parseCachePath(env, dir)).toBeUndefined();
    expect(cache).toBe(NO_PARSE_CACHE);
    await expect(readFile(path.join(dir, 'vpc-migrate', PARSE_CACHE_FILE))).rejects.toThrow(/ENOENT/);
  });

  it('off, but asked for in memory (a rollout): a second deploy parses nothing; nothing is written', async () => {
    // Prepare
    const dir = await cacheDir();
    const env = { CACHE_DIR: dir, VPC_MIGRATE_CACHE: '0' };
    const folder = await prismaFolder();

    // Act
    const cache = await openParseCache({ env, inMemoryWhenOff: true });
    const first = await deployParse(prismaFormat, folder, cache);
    const second = await deployParse(prismaFormat, folder, cache);

    // Assess
    expect(first.asked).toBeGreaterThan(0);
    expect(second.asked).toBe(0);
    expect(answers(second)).toBe(answers(first));
    await expect(readFile(path.join(dir, 'vpc-migrate', PARSE_CACHE_FILE))).rejects.toThrow(/ENOENT/);
  });

  it('lives in CACHE_DIR when set, else in node_modules/.cache of the nearest package.json', async () => {
    // Prepare
    const project = await mkdtemp(path.join(tmpdir(), 'vpcm-project-'));
    await writeFile(path.join(project, 'package.json'), '{}');
    const nested = path.join(project, 'prisma', 'migrations');
    await mkdir(nested, { recursive: true });
    const bare = await mkdtemp(path.join(tmpdir(), 'vpcm-no-project-'));

    // Act
    const byDefault = parseCachePath({}, nested);
    const moved = parseCachePath({ CACHE_DIR: '/var/cache/ci' }, nested);
    const relative = parseCachePath({ CACHE_DIR: '.cache' }, project);

    // Assess
    expect(byDefault).toBe(path.join(project, 'node_modules', '.cache', 'vpc-migrate', 'parse.json'));
    expect(moved).toBe(path.join('/var/cache/ci', 'vpc-migrate', 'parse.json'));
    expect(relative).toBe(path.join(project, '.cache', 'vpc-migrate', 'parse.json'));
    // No package.json above: no project to keep a cache in (find-cache-dir's rule). tmpdir() has none.
    expect(parseCachePath({}, bare)).toBeUndefined();
  });

  it('never fails the run when the cache cannot be written', async () => {
    // Prepare: the cache directory's place is taken by a file.
    const dir = await cacheDir();
    await writeFile(path.join(dir, 'vpc-migrate'), 'in the way');
    const errors: unknown[] = [];
    const cache = await openParseCache({ env: { CACHE_DIR: dir }, onWriteError: (e) => errors.push(e) });

    // Act
    const run = await deployParse(prismaFormat, await prismaFolder(), cache);

    // Assess
    expect(run.payloads).toHaveLength(Object.keys(MIGRATIONS).length);
    expect(errors).toHaveLength(1);
  });
});
