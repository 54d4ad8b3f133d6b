/**
 * Drizzle discovery and chunking, judged against drizzle-orm 0.45.4's own `readMigrationFiles`
 * (same entries, order, hashes, `when`, chunks). The Dokploy history in ../shared/corpora is
 * used as test data and skipped when absent.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { readMigrationFiles } from 'drizzle-orm/migrator';
import { beforeAll, describe, expect, it } from 'vitest';
import { drizzlePayload, splitDrizzle, STATEMENT_BREAKPOINT } from '../../scripts/formats/drizzle/chunks.js';
import { discoverDrizzle, parseJournal } from '../../scripts/formats/drizzle/discover.js';
import { lintDrizzlePending } from '../../scripts/formats/drizzle/pending-lint.js';
import { detectFormat } from '../../scripts/formats/select.js';
import { formatFlag } from '../../scripts/commands/flags.js';
import { type SqlParser, sqlParser } from '../../scripts/core/sql-parser.js';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const dokploy = path.resolve(repoRoot, '../shared/corpora/Dokploy__dokploy/migrations');
const BP = STATEMENT_BREAKPOINT;

async function folder(files: Record<string, string | Buffer>, journal: unknown): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'vpcm-drizzle-unit-'));
  await mkdir(path.join(dir, 'meta'));
  await writeFile(
    path.join(dir, 'meta', '_journal.json'),
    typeof journal === 'string' ? journal : JSON.stringify(journal),
  );
  for (const [name, content] of Object.entries(files)) await writeFile(path.join(dir, name), content);
  return dir;
}
const journalOf = (...entries: [string, number][]) => ({
  version: '7',
  dialect: 'postgresql',
  entries: entries.map(([tag, when], idx) => ({ idx, version: '7', when, tag, breakpoints: true })),
});

let parser: SqlParser;
beforeAll(async () => {
  parser = await sqlParser();
});

describe('discoverDrizzle', () => {
  it('hashes and orders exactly as drizzle-orm does, BOM, CRLF and invalid UTF-8 included', async () => {
    // Prepare
    const dir = await folder(
      {
        '0000_crlf.sql': 'CREATE TABLE a (id int);\r\n--> statement-breakpoint\r\nCREATE TABLE b (id int);\r\n',
        '0001_bom.sql': '\ufeffSELECT 1;',
        '0002_latin1.sql': Buffer.from([0x53, 0x45, 0x4c, 0x45, 0x43, 0x54, 0x20, 0x27, 0xe9, 0x27, 0x3b]),
        '0003_empty.sql': '',
      },
      journalOf(['0000_crlf', 10], ['0001_bom', 20], ['0002_latin1', 30], ['0003_empty', 40]),
    );

    // Act
    const ours = await discoverDrizzle(dir);
    const theirs = readMigrationFiles({ migrationsFolder: dir });

    // Assess
    expect(ours.migrations.map((m) => [m.checksum, m.createdAt])).toEqual(theirs.map((m) => [m.hash, m.folderMillis]));
    expect(ours.anomalies.map((a) => [a.kind, a.name])).toEqual([
      ['crlf', '0000_crlf'],
      ['bom', '0001_bom'],
      ['odd-name', '0002_latin1'],
      ['empty-file', '0003_empty'],
    ]);
  });

  it('a .sql the journal does not name and meta/_journal.json.backup are reported, never migrations', async () => {
    const dir = await folder(
      { '0000_a.sql': 'SELECT 1;', '0001_orphan.sql': 'DROP TABLE users;' },
      journalOf(['0000_a', 1]),
    );
    await writeFile(path.join(dir, 'meta', '_journal.json.backup'), '{}');
    await writeFile(path.join(dir, 'meta', '0000_snapshot.json'), '{}');

    const d = await discoverDrizzle(dir);

    expect(d.migrations.map((m) => m.name)).toEqual(['0000_a']);
    expect(d.anomalies.map((a) => [a.kind, a.name, a.severity])).toEqual([
      ['stray-file', '0001_orphan.sql', 'warning'],
      ['stray-file', 'meta/_journal.json.backup', 'warning'],
    ]);
  });

  it('a journal entry without its file is an error anomaly; a `when` going backwards is a warning', async () => {
    const dir = await folder(
      { '0000_a.sql': 'SELECT 1;', '0002_c.sql': 'SELECT 3;' },
      journalOf(['0000_a', 50], ['0001_b', 60], ['0002_c', 40]),
    );
    const d = await discoverDrizzle(dir);
    expect(d.anomalies.map((a) => [a.kind, a.name, a.severity])).toEqual([
      ['no-migration-sql', '0001_b', 'error'],
      ['odd-name', '0002_c', 'warning'],
    ]);
  });

  it('refuses a malformed journal with every problem, and a dialect other than PostgreSQL', () => {
    expect(() => parseJournal('{', 'j')).toThrow(expect.objectContaining({ code: 'VPCM_JOURNAL_INVALID' }));
    expect(() => parseJournal('{"entries": 3}', 'j')).toThrow(
      expect.objectContaining({ code: 'VPCM_JOURNAL_INVALID' }),
    );
    let problems: string[] = [];
    try {
      parseJournal(
        JSON.stringify({
          entries: [
            { tag: '../x', when: 1 },
            { tag: 'a', when: 'soon' },
            { tag: 'b', when: 2 },
            { tag: 'b', when: 3 },
          ],
        }),
        'j',
      );
    } catch (error) {
      problems = (error as { details: { problems: string[] } }).details.problems;
    }
    expect(problems).toHaveLength(3);
    expect(() => parseJournal(JSON.stringify({ dialect: 'mysql', entries: [] }), 'j')).toThrow(
      expect.objectContaining({ code: 'VPCM_PROVIDER_MISMATCH' }),
    );
    expect(parseJournal(JSON.stringify({ dialect: 'pg', entries: [] }), 'j').dialect).toBe('pg');
  });

  it('detects the format from meta/_journal.json; --format forces it', async () => {
    const dir = await folder({}, journalOf());
    expect(await detectFormat(dir)).toBe('drizzle');
    expect(await detectFormat(tmpdir())).toBe('prisma');
    expect(await detectFormat(dir, 'prisma')).toBe('prisma');
    expect(formatFlag(undefined)).toBeUndefined();
    expect(formatFlag('drizzle')).toBe('drizzle');
    expect(() => formatFlag('knex')).toThrow(expect.objectContaining({ code: 'VPCM_USAGE' }));
    await expect(discoverDrizzle(tmpdir())).rejects.toMatchObject({ code: 'VPCM_MIGRATIONS_DIR_MISSING' });
  });
});

describe('lintDrizzlePending', () => {
  it('names Drizzle files, replaces concurrently-mixed with the chunk check', async () => {
    // Prepare
    const dir = await folder(
      {
        '0000_create.sql': 'CREATE TABLE "users" ("id" integer, "sku" text);',
        '0001_drop.sql': 'DROP TABLE "users";',
        '0002_index.sql':
          `CREATE TABLE "t" ("id" integer);${BP}\nCOMMIT;${BP}\nCREATE ` + `INDEX CONCURRENTLY "t_idx" ON "t" ("id");`,
        '0003_bad.sql': `CREATE TABLE "u" ("id" integer);${BP}\nCREATE INDEX CONCURRENTLY "u_idx" ON "u" ("id");`,
      },
      journalOf(['0000_create', 1], ['0001_drop', 2], ['0002_index', 3], ['0003_bad', 4]),
    );
    const d = await discoverDrizzle(dir);

    // Act
    const { problems, warnings } = await lintDrizzlePending(async () => parser, d, [
      '0001_drop',
      '0002_index',
      '0003_bad',
    ]);

    // Assess
    expect(warnings.join('\n')).toContain('0001_drop.sql:1 [destructive-drop]');
    expect(warnings.join('\n')).not.toContain('migration.sql');
    expect(problems.map((p) => [p.migration, p.message.split(' ').slice(0, 2).join(' ')])).toEqual([
      ['0003_bad', '0003_bad.sql:2 [drizzle-chunk-transaction]'],
    ]);
  });
});

describe('splitDrizzle', () => {
  it('cuts on every breakpoint, whatever the journal says, and keeps file offsets and lines', () => {
    const sql =
      `-- header\nCREATE TABLE a (id int);\n${BP}\n\n${BP}\n/* ` +
      `c */ CREATE TABLE b (id int); INSERT INTO b VALUES ` +
      `(1);${BP}\nSELECT 'x';`;

    const s = splitDrizzle(parser, sql);

    expect(s.chunks.map((c) => [sql.slice(c.start, c.end), c.line, c.kind])).toEqual([
      ['CREATE TABLE a (id int)', 2, 'transactional'],
      ['CREATE TABLE b (id int); INSERT INTO b VALUES (1)', 6, 'transactional'],
      ["SELECT 'x'", 7, 'transactional'],
    ]);
    expect(s.statements.map((x) => [sql.slice(x.start, x.end), x.line])).toEqual([
      ['CREATE TABLE a (id int)', 2],
      ['CREATE TABLE b (id int)', 6],
      ['INSERT INTO b VALUES (1)', 6],
      ["SELECT 'x'", 7],
    ]);
    expect(s.mode).toBe('transactional');
    expect(s.refused).toEqual([]);
  });

  it('knows the file’s own COMMIT with PostgreSQL’s parser: CONCURRENTLY after it runs, before it is refused', () => {
    const ok = splitDrizzle(
      parser,
      `ALTER TABLE t ADD COLUMN c int;${BP}\nCOMMIT;${BP}\nCREATE ` +
        `INDEX CONCURRENTLY i ON t (c);${BP}\nBEGIN;${BP}\nUPDATE ` +
        `t SET c = 1;`,
    );
    expect(ok.chunks.map((c) => c.kind)).toEqual([
      'transactional',
      'commit',
      'non-transactional',
      'begin',
      'transactional',
    ]);
    expect(ok.mode).toBe('script');
    expect(ok.refused).toEqual([]);

    const inside = splitDrizzle(parser, `ALTER TABLE t ADD COLUMN c int;${BP}\nCREATE INDEX CONCURRENTLY i ON t (c);`);
    expect(inside.refused.map((r) => [r.chunk, r.line])).toEqual([[1, 2]]);
    const shared = splitDrizzle(parser, `COMMIT;${BP}\nSELECT 1; CREATE INDEX CONCURRENTLY i ON t (c);`);
    expect(shared.refused.map((r) => r.message)).toEqual([expect.stringContaining('shares its chunk')]);
    // A comment that merely mentions COMMIT is not one (no regex).
    expect(splitDrizzle(parser, `-- COMMIT;\nCREATE INDEX CONCURRENTLY i ON t (c);`).refused).toHaveLength(1);
  });

  it('a chunk the parser rejects is sent whole and reported', () => {
    const s = splitDrizzle(parser, `SELECT 1;${BP}\nSELEC oops;`);
    expect(s.chunks).toHaveLength(2);
    expect(s.parseErrors.map((e) => [e.chunk, e.line])).toEqual([[1, 2]]);
  });

  it.skipIf(!existsSync(dokploy))(
    'Dokploy (test data): 186 entries, the same hashes and chunks as drizzle-orm, nothing refused',
    async () => {
      // Prepare
      const started = performance.now();
      const d = await discoverDrizzle(dokploy);
      const theirs = readMigrationFiles({ migrationsFolder: dokploy });

      // Act
      const payloads = d.migrations.map((m) => drizzlePayload(parser, m));
      console.log(
        `Dokploy: discovered and split ${d.migrations.length} ` +
          `entries in ${(performance.now() - started).toFixed(0)} ` +
          `ms`,
      );

      // Assess
      expect(d.migrations).toHaveLength(186);
      expect(d.migrations.map((m) => [m.checksum, m.createdAt])).toEqual(theirs.map((m) => [m.hash, m.folderMillis]));
      expect(d.anomalies.map((a) => a.name)).toEqual(['0130_abandoned_dagger.sql', 'meta/_journal.json.backup']);
      payloads.forEach(({ payload, warnings }, i) => {
        expect(warnings).toEqual([]);
        // One chunk per drizzle-orm chunk that holds SQL, in order, each its SQL without leading comments.
        const pieces = theirs[i]!.sql.filter((piece) => piece.replace(/--[^\n]*/g, '').trim() !== '');
        const ours = payload.chunks!.map((c) => d.migrations[i]!.sql.slice(c.start, c.end));
        expect(ours).toHaveLength(pieces.length);
        for (const [k, text] of ours.entries()) {
          expect(pieces[k]!.trimEnd().replace(/\s*;$/, '').endsWith(text)).toBe(true);
        }
      });
    },
  );
});
