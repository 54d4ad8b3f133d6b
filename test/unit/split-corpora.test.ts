/**
 * Splits real migration histories with scripts/split.ts. The corpora in ../shared/corpora
 * (next to the repository) are test data only, each with its own LICENSE and SOURCE.txt; they
 * are not part of the product. Without them this file is skipped.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import type { StatementSpan } from '../../lambda/contract/index.js';
import { type SqlParser, sqlParser } from '../../scripts/core/sql-parser.js';
import { splitMigration, type SplitResult } from '../../scripts/core/split.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const corporaDir = resolve(repoRoot, '../shared/corpora');
const exists = existsSync(corporaDir);

let parser: SqlParser;
/** Imported after sqlParser() so that the load is timed from nothing. */
let pg: typeof import('libpg-query');

interface Migration {
  name: string;
  sql: string;
}

interface SplitMigration extends Migration {
  result: SplitResult;
}

/** Every `<corpus>/migrations/<name>/migration.sql`, in folder-name byte order. */
function readCorpus(corpus: string): Migration[] {
  const dir = join(corporaDir, corpus, 'migrations');
  return readdirSync(dir)
    .filter((name) => existsSync(join(dir, name, 'migration.sql')))
    .sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)))
    .map((name) => ({ name, sql: readFileSync(join(dir, name, 'migration.sql'), 'utf8') }));
}

/** Split a whole corpus, timing only the splitting. */
function splitCorpus(corpus: string): { migrations: SplitMigration[]; ms: number; bytes: number } {
  const files = readCorpus(corpus);
  const started = performance.now();
  const results = files.map((file) => splitMigration(parser, file.sql));
  const ms = performance.now() - started;
  const bytes = files.reduce((sum, file) => sum + Buffer.byteLength(file.sql), 0);
  return { migrations: files.map((file, i) => ({ ...file, result: results[i] as SplitResult })), ms, bytes };
}

/** byte offset → string index, for checking against the scanner's byte offsets. */
function byteToIndex(sql: string): Int32Array {
  const table = new Int32Array(Buffer.byteLength(sql) + 1);
  let byte = 0;
  let index = 0;
  for (const char of sql) {
    const width = Buffer.byteLength(char);
    for (let b = 0; b < width; b++) table[byte + b] = index;
    byte += width;
    index += char.length;
  }
  table[byte] = index;
  return table;
}

function isPgSpace(char: string): boolean {
  return char === ' ' || char === '\t' || char === '\n' || char === '\r' || char === '\f' || char === '\v';
}

/** The first problem with a file's spans, checked against PostgreSQL's own scanner. */
function coverageProblem(sql: string, statements: StatementSpan[]): string | undefined {
  const toIndex = byteToIndex(sql);
  const tokens = pg.scanSync(sql).tokens.map((token) => ({
    start: toIndex[token.start] ?? -1,
    end: toIndex[token.end] ?? -1,
    skippable: token.tokenName === 'SQL_COMMENT' || token.tokenName === 'C_COMMENT' || token.text === ';',
  }));
  const covered = new Uint8Array(sql.length);
  for (const s of statements) covered.fill(1, s.start, s.end);
  const starts = new Set(tokens.filter((t) => !t.skippable).map((t) => t.start));
  const ends = new Set(tokens.filter((t) => !t.skippable).map((t) => t.end));
  for (const s of statements) {
    if (!starts.has(s.start)) return `statement at ${s.start} does not start at a token`;
    if (!ends.has(s.end)) return `statement ending at ${s.end} does not end at a token`;
  }
  for (const token of tokens) {
    const inside = statements.some((s) => s.start <= token.start && token.end <= s.end);
    if (token.skippable) {
      if (!inside) covered.fill(1, token.start, token.end);
    } else if (!inside) {
      return `token ${JSON.stringify(sql.slice(token.start, token.end))} at ${token.start} is in no statement`;
    }
  }
  for (let i = 0; i < sql.length; i++) {
    if (!covered[i] && !isPgSpace(sql[i] ?? ''))
      return `character ${JSON.stringify(sql[i])} at ${i} is in no statement`;
  }
  return undefined;
}

function nodeTypeOf(text: string): string {
  const stmt = pg.parseSync(text).stmts?.[0]?.stmt;
  return stmt ? (Object.keys(stmt)[0] ?? '') : '';
}

describe.skipIf(!exists)('splitting the corpora (test data in ../shared/corpora)', () => {
  const corpora = ['triggerdotdev__trigger.dev', 'documenso__documenso'] as const;
  const split = new Map<string, SplitMigration[]>();

  beforeAll(async () => {
    const started = performance.now();
    parser = await sqlParser();
    console.log(`WASM load (import + compile): ${(performance.now() - started).toFixed(1)} ms`);
    pg = await import('libpg-query');
    for (const corpus of corpora) {
      // The first corpus is split cold, as the CLI does on every deploy.
      const { migrations, ms, bytes } = splitCorpus(corpus);
      console.log(
        `${corpus}: split ${migrations.length} files (${(bytes / 1024).toFixed(0)} KB) in ${ms.toFixed(1)} ms`,
      );
      split.set(corpus, migrations);
      // Loose bound: a shared 2-core machine; quadratic work would blow far past it.
      expect(ms).toBeLessThan(3_000);
    }
  });

  describe.each(corpora)('%s', (corpus) => {
    const migrations = (): SplitMigration[] => split.get(corpus) ?? [];

    it('parses every file without an error', () => {
      // Act
      const failures = migrations()
        .filter((m) => m.result.parseError)
        .map((m) => `${m.name}: ${m.result.parseError?.message}`);

      // Assess
      expect(migrations().length).toBeGreaterThan(0);
      expect(failures).toEqual([]);
    });

    it(
      'covers every character that is not whitespace, a comment ' +
        'or a `;` with exactly the tokens of its statements',
      () => {
        // Act
        const problems = migrations()
          .map((m) => ({ name: m.name, problem: coverageProblem(m.sql, m.result.statements) }))
          .filter((p) => p.problem !== undefined);

        // Assess
        expect(problems).toEqual([]);
      },
    );

    it('gives slices that each parse alone as exactly one statement of the same kind', () => {
      // Act
      const problems: string[] = [];
      for (const m of migrations()) {
        m.result.statements.forEach((s, i) => {
          const slice = m.sql.slice(s.start, s.end);
          const count = pg.parseSync(slice).stmts?.length ?? 0;
          const again = splitMigration(parser, slice).statements;
          const same =
            again.length === 1 && again[0]?.start === 0 && again[0].end === slice.length && again[0].kind === s.kind;
          if (count !== 1 || !same) problems.push(`${m.name} #${i}: ${count} statements`);
        });
      }

      // Assess
      expect(problems).toEqual([]);
    });

    it('numbers each statement with the line its first token is on', () => {
      // Act
      const wrong = migrations().flatMap((m) =>
        m.result.statements
          .filter((s) => s.line !== m.sql.slice(0, s.start).split('\n').length)
          .map((s) => `${m.name}@${s.start}`),
      );

      // Assess
      expect(wrong).toEqual([]);
    });
  });

  it('finds in trigger.dev the files docs/design.md §4 lists', () => {
    // Prepare
    const migrations = split.get('triggerdotdev__trigger.dev') ?? [];
    const byMode = (mode: string) => migrations.filter((m) => m.result.mode === mode);
    const nodeTypes = (m: SplitMigration) => m.result.statements.map((s) => nodeTypeOf(m.sql.slice(s.start, s.end)));

    // Act
    const nonTransactional = byMode('non-transactional');
    const concurrentCreates = nonTransactional.filter((m) => nodeTypes(m)[0] === 'IndexStmt');
    const concurrentDrops = nonTransactional.filter((m) => nodeTypes(m)[0] === 'DropStmt');
    const scripts = byMode('script');
    const all = migrations.flatMap((m) =>
      m.result.statements.map((s) => ({ m, s, type: nodeTypeOf(m.sql.slice(s.start, s.end)) })),
    );
    const addValue = all.filter((x) => x.type === 'AlterEnumStmt');
    const topLevelSet = all.filter((x) => x.type === 'VariableSetStmt');

    // Assess
    expect(migrations).toHaveLength(820);
    expect(nonTransactional).toHaveLength(71);
    expect(concurrentCreates).toHaveLength(56);
    expect(concurrentDrops).toHaveLength(15);
    expect(nonTransactional.every((m) => m.result.statements.length === 1)).toBe(true); // each alone in its file
    expect(scripts).toHaveLength(13);
    for (const m of scripts) {
      const kinds = m.result.statements.map((s) => s.kind);
      expect(kinds.filter((k) => k === 'begin')).toHaveLength(1);
      expect(kinds.filter((k) => k === 'commit')).toHaveLength(1);
      expect(kinds).not.toContain('non-transactional');
    }
    expect(byMode('transactional')).toHaveLength(820 - 71 - 13);
    // DESIGN's "64 ALTER TYPE ADD VALUE" counts files: 71 statements in 64 files, all transactional.
    expect(addValue).toHaveLength(71);
    expect(new Set(addValue.map((x) => x.m.name)).size).toBe(64);
    expect(addValue.every((x) => x.s.kind === 'transactional')).toBe(true);
    expect(topLevelSet).toHaveLength(9);
  });

  it('finds documenso entirely transactional, its extensions and $$ function included', () => {
    // Prepare
    const migrations = split.get('documenso__documenso') ?? [];
    const all = migrations.flatMap((m) => m.result.statements.map((s) => ({ s, text: m.sql.slice(s.start, s.end) })));

    // Act
    const extensions = all.filter((x) => nodeTypeOf(x.text) === 'CreateExtensionStmt').map((x) => x.text);
    const dollarFunctions = all.filter((x) => nodeTypeOf(x.text) === 'CreateFunctionStmt' && x.text.includes('$$'));

    // Assess
    expect(migrations).toHaveLength(163);
    expect(migrations.every((m) => m.result.mode === 'transactional')).toBe(true);
    expect(extensions.some((t) => t.includes('pgcrypto'))).toBe(true);
    expect(extensions.some((t) => t.includes('pg_trgm'))).toBe(true);
    expect(dollarFunctions.length).toBeGreaterThan(0);
    expect(all.every((x) => x.s.kind === 'transactional')).toBe(true);
  });
});
