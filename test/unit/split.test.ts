import fc from 'fast-check';
import { parseSync } from 'libpg-query';
import { describe, expect, it, vi } from 'vitest';
import { LineCounter, lineOf, positionOf, type StatementKind } from '../../lambda/contract/index.js';
import { sqlParser } from '../../scripts/core/sql-parser.js';
import { executionModeOf, splitMigration } from '../../scripts/core/split.js';

const parser = await sqlParser();

/** The statements' texts, as the worker will run them. */
function texts(sql: string): string[] {
  return splitMigration(parser, sql).statements.map((s) => sql.slice(s.start, s.end));
}

function kindOf(sql: string): StatementKind | undefined {
  const { statements } = splitMigration(parser, sql);
  expect(statements).toHaveLength(1);
  return statements[0]?.kind;
}

describe('sqlParser', () => {
  it('is loaded once: every call shares the first load', async () => {
    // Prepare: a fresh module instance, nothing loaded yet
    vi.resetModules();
    const fresh = await import('../../scripts/core/sql-parser.js');

    // Act
    const first = fresh.sqlParser();
    const second = fresh.sqlParser();

    // Assess
    expect(second).toBe(first);
    expect(await second).toBe(await first);
    expect(splitMigration(await first, 'SELECT 1;').statements).toHaveLength(1);
  });
});

describe('splitMigration', () => {
  describe('boundaries', () => {
    it('starts at the first token and ends before the `;`, skipping whitespace and comments', () => {
      // Prepare
      const sql = '\n  -- CreateTable\n/* block /* nested */ comment */\tCREATE TABLE "A" ("id" INT)  ;\n\n';

      // Act
      const { statements, mode, parseError } = splitMigration(parser, sql);

      // Assess
      expect(parseError).toBeUndefined();
      expect(mode).toBe('transactional');
      expect(statements).toHaveLength(1);
      const [only] = statements;
      expect(sql.slice(only?.start, only?.end)).toBe('CREATE TABLE "A" ("id" INT)');
      expect(only?.line).toBe(3);
    });

    it('drops comments between the last token and the `;`, and after a final statement without `;`', () => {
      // Prepare
      const sql = 'SELECT 1 -- one;\n;\nSELECT 2 /* two; */ ;\nSELECT 3 -- three\n/* end */\n';

      // Act
      const result = texts(sql);

      // Assess
      expect(result).toEqual(['SELECT 1', 'SELECT 2', 'SELECT 3']);
    });

    it('keeps `--` and `*/` that sit inside literals at the end of a statement', () => {
      // Prepare
      const sql = "SELECT '--x';\nSELECT 'a*/';\nSELECT $$ -- $$";

      // Act
      const result = texts(sql);

      // Assess
      expect(result).toEqual(["SELECT '--x'", "SELECT 'a*/'", 'SELECT $$ -- $$']);
    });

    it('converts UTF-8 byte offsets to string indices (accents in comments, emoji in literals)', () => {
      // Prepare: é is 2 bytes and 1 code unit, 😀 is 4 bytes and 2 code units
      const sql =
        "-- Crée la table « déjà »\nINSERT INTO t VALUES ('😀; 👍🏽');\n/* ünïcödé */ SELECT 'ok' AS \"ñ\";\nSELECT 3;";

      // Act
      const { statements } = splitMigration(parser, sql);

      // Assess
      expect(statements.map((s) => sql.slice(s.start, s.end))).toEqual([
        "INSERT INTO t VALUES ('😀; 👍🏽')",
        'SELECT \'ok\' AS "ñ"',
        'SELECT 3',
      ]);
      expect(statements.map((s) => s.line)).toEqual([2, 3, 4]);
    });

    it('counts lines across CRLF line endings', () => {
      // Prepare
      const sql = '-- header\r\nSELECT 1;\r\n\r\nSELECT 2;\r\n';

      // Act
      const { statements } = splitMigration(parser, sql);

      // Assess
      expect(statements.map((s) => s.line)).toEqual([2, 4]);
      expect(statements.map((s) => sql.slice(s.start, s.end))).toEqual(['SELECT 1', 'SELECT 2']);
    });

    it('skips empty statements', () => {
      // Prepare
      const sql = ';;\nSELECT 1;;; ;\n;';

      // Act
      const result = texts(sql);

      // Assess
      expect(result).toEqual(['SELECT 1']);
    });

    it.each([
      ['empty', ''],
      ['whitespace only', '  \n\t\r\n'],
      ['comments only', '-- This is an empty migration.\n/* nothing; here */\n-- ;\n'],
      ['semicolons only', ';\n;;'],
    ])('returns no statements for a %s file, which Prisma accepts', (_name, sql) => {
      // Act
      const result = splitMigration(parser, sql);

      // Assess
      expect(result).toEqual({ statements: [], mode: 'transactional' });
    });

    it('keeps DO blocks, dollar-quoted bodies, E-strings and commented semicolons whole', () => {
      // Prepare
      const doBlock = "DO $$\nBEGIN\n  RAISE NOTICE 'a;b; commit later';\nEND\n$$";
      const fn =
        'CREATE OR REPLACE FUNCTION f() RETURNS trigger AS $body$\nBEGIN\n ' +
        ' NEW.x := $x$;$x$; -- ;\n  RETURN NEW;\nEND;\n$body$ ' +
        'LANGUAGE plpgsql';
      const eString = "SELECT E'it\\'s; fine', 'it''s; too'";
      const comment = 'SELECT /* ; */ 1';
      const sql = `${doBlock};\n${fn};\n${eString};\n${comment};\n`;

      // Act
      const { statements, mode } = splitMigration(parser, sql);

      // Assess
      expect(statements.map((s) => sql.slice(s.start, s.end))).toEqual([doBlock, fn, eString, comment]);
      expect(statements.map((s) => s.kind)).toEqual([
        'transactional',
        'transactional',
        'transactional',
        'transactional',
      ]);
      expect(mode).toBe('transactional');
    });

    it('returns slices that each parse alone as exactly one statement', () => {
      // Prepare
      const sql =
        "BEGIN;\nCREATE TYPE \"S\" AS ENUM ('a', 'b');\nALTER " +
        'TYPE "S" ADD VALUE \'c\';\nCOMMIT;\nSET lock_timeout ' +
        "= '5s';";

      // Act
      const slices = texts(sql);

      // Assess
      expect(slices).toHaveLength(5);
      for (const slice of slices) expect(parseSync(slice).stmts).toHaveLength(1);
    });

    it('recovers the exact statements of generated files (property)', () => {
      // Prepare
      const statement = fc.constantFrom(
        'SELECT 1',
        "INSERT INTO \"T\" VALUES ('😀;', 'ça')",
        'CREATE INDEX CONCURRENTLY "i" ON "t"("a")',
        'DO $$ BEGIN PERFORM 1; COMMIT; END $$',
        'CREATE FUNCTION f() RETURNS int AS $fn$ SELECT 1; $fn$ LANGUAGE sql',
        "SELECT E'\\';' /* inner; */ , 'x'",
        'BEGIN',
        'COMMIT',
      );
      const gap = fc.constantFrom('', ' ', '\n', '\r\n', '\n-- gap; é\n', ' /* gap; 👍 */ ', ';');
      const file = fc.array(fc.tuple(gap, statement, gap), { minLength: 1, maxLength: 8 });

      // Act & Assess
      fc.assert(
        fc.property(file, (parts) => {
          const sql = parts.map(([before, stmt, after]) => `${before}${stmt}${after};`).join('');
          expect(texts(sql)).toEqual(parts.map(([, stmt]) => stmt));
        }),
        { numRuns: 300 },
      );
    });
  });

  describe('classification and mode', () => {
    it('runs a file with its own BEGIN/COMMIT as a script', () => {
      // Prepare
      const sql = 'BEGIN;\nUPDATE "t" SET "a" = 1;\nCOMMIT;\nALTER TABLE "t" DROP COLUMN "b";';

      // Act
      const { statements, mode } = splitMigration(parser, sql);

      // Assess
      expect(mode).toBe('script');
      expect(statements.map((s) => s.kind)).toEqual(['begin', 'transactional', 'commit', 'transactional']);
    });

    it.each([
      ['BEGIN', 'begin'],
      ['BEGIN ISOLATION LEVEL SERIALIZABLE', 'begin'],
      ['START TRANSACTION', 'begin'],
      ['COMMIT', 'commit'],
      ['COMMIT AND CHAIN', 'commit'],
      ['END', 'commit'],
      ['ROLLBACK', 'commit'],
      ['ABORT', 'commit'],
      ["PREPARE TRANSACTION 'x'", 'commit'],
      ['SAVEPOINT a', 'transaction-control'],
      ['RELEASE SAVEPOINT a', 'transaction-control'],
      ['ROLLBACK TO SAVEPOINT a', 'transaction-control'],
      ['SET TRANSACTION ISOLATION LEVEL REPEATABLE READ', 'transaction-control'],
      ["SET TRANSACTION SNAPSHOT '00000003-0000001B-1'", 'transaction-control'],
      ['SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL SERIALIZABLE', 'transaction-control'],
      ['SET LOCAL statement_timeout = 0', 'timeout-setting'],
      ["SET statement_timeout TO '5s'", 'timeout-setting'],
      ['RESET statement_timeout', 'timeout-setting'],
      ['RESET ALL', 'timeout-setting'],
      ["SELECT set_config('statement_timeout', '0', false)", 'timeout-setting'],
      ["SELECT set_config('search_path', 'x', false)", 'transactional'],
      ["SET LOCAL lock_timeout = '5s'", 'transactional'],
      ['CALL p()', 'self-committing'],
      ['DO $$ BEGIN PERFORM 1; END $$', 'transactional'],
      ["DO $$ BEGIN RAISE NOTICE 'no commit here'; END $$", 'transactional'],
      ['DO $$ BEGIN INSERT INTO t VALUES (1); COMMIT; END $$', 'self-committing'],
      ['DO $$ BEGIN IF true THEN ROLLBACK; END IF; END $$', 'self-committing'],
      ['DO LANGUAGE plperl $$ spi_commit(); # commit $$', 'self-committing'],
    ] as const)('classifies %s as %s', (sql, expected) => {
      expect(kindOf(sql)).toBe(expected);
    });

    it('runs a file whose DO block or CALL commits outside a transaction, without making it a script', () => {
      // Prepare
      const sql =
        'DO $$ BEGIN COMMIT; END $$;\nCREATE PROCEDURE p() LANGUAGE plpgsql AS $$ BEGIN COMMIT; END $$;\nCALL p();';

      // Act
      const { statements, mode } = splitMigration(parser, sql);

      // Assess: a COMMIT in a body is not the file's own transaction control
      expect(statements.map((s) => s.kind)).toEqual(['self-committing', 'transactional', 'self-committing']);
      expect(mode).toBe('non-transactional');
    });

    it('runs a file holding CREATE INDEX CONCURRENTLY alone as non-transactional', () => {
      // Prepare
      const sql = '-- CreateIndex\nCREATE INDEX CONCURRENTLY IF NOT EXISTS "t_a_idx" ON "t"("a");\n';

      // Act
      const { statements, mode } = splitMigration(parser, sql);

      // Assess
      expect(mode).toBe('non-transactional');
      expect(statements).toEqual([
        {
          start: sql.indexOf('CREATE'),
          end: sql.indexOf(';'),
          line: 2,
          kind: 'non-transactional',
          creates: [{ kind: 'index', name: 't_a_idx', table: 't' }],
          // What the worker builds inside a transaction to compare with an index that exists.
          comparable: 'CREATE INDEX  IF NOT EXISTS "t_a_idx" ON "t"("a")',
        },
      ]);
    });

    it.each([
      ['CREATE TABLE "public"."User" (id int)', [{ kind: 'relation', name: 'User', schema: 'public' }]],
      [
        'CREATE UNIQUE INDEX "User_email_key" ON "User"("email")',
        [{ kind: 'index', name: 'User_email_key', table: 'User' }],
      ],
      ['CREATE INDEX ON "User"("email")', []],
      [
        `ALTER TABLE "User" ADD CONSTRAINT "User_team_fkey" ` +
          `FOREIGN KEY ("teamId") REFERENCES "Team"("id"), ADD ` +
          `COLUMN "b" TEXT`,
        [
          { kind: 'constraint', name: 'User_team_fkey', table: 'User' },
          { kind: 'column', name: 'b', table: 'User' },
        ],
      ],
      ['ALTER TABLE "t" ADD PRIMARY KEY ("id")', [{ kind: 'constraint', name: 't_pkey', table: 't' }]],
      [`CREATE TYPE "s"."Role" AS ENUM ('A')`, [{ kind: 'type', name: 'Role', schema: 's' }]],
      ['CREATE FUNCTION f() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$', [{ kind: 'routine', name: 'f' }]],
      ['CREATE OR REPLACE FUNCTION f() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$', []],
      ['CREATE EXTENSION pgcrypto', [{ kind: 'extension', name: 'pgcrypto' }]],
    ] as const)('names what %s creates, for the worker to compare with what exists', (sql, creates) => {
      expect(splitMigration(parser, sql).statements[0]?.creates ?? []).toEqual(creates);
    });

    it('makes the whole file non-transactional when any statement is', () => {
      // Prepare
      const sql = 'ALTER TABLE "t" ADD COLUMN "b" INT;\nDROP INDEX CONCURRENTLY "t_a_idx";';

      // Act
      const { statements, mode } = splitMigration(parser, sql);

      // Assess
      expect(statements.map((s) => s.kind)).toEqual(['transactional', 'non-transactional']);
      expect(mode).toBe('non-transactional');
    });

    it.each([
      'CREATE INDEX CONCURRENTLY i ON t (a)',
      'CREATE UNIQUE INDEX CONCURRENTLY i ON t (a)',
      'DROP INDEX CONCURRENTLY IF EXISTS i',
      'REINDEX INDEX CONCURRENTLY i',
      'REINDEX (CONCURRENTLY) TABLE t',
      'REINDEX (CONCURRENTLY true, VERBOSE) TABLE t',
      'REINDEX SCHEMA public',
      'REINDEX DATABASE d',
      'REINDEX SYSTEM',
      'VACUUM',
      'VACUUM FULL t',
      'VACUUM (ANALYZE, VERBOSE) t',
      'CLUSTER',
      'CREATE DATABASE d',
      'DROP DATABASE IF EXISTS d',
      'ALTER DATABASE d SET TABLESPACE ts',
      "CREATE TABLESPACE ts LOCATION '/x'",
      'DROP TABLESPACE ts',
      "ALTER SYSTEM SET work_mem = '64MB'",
      'ALTER SYSTEM RESET ALL',
      'DISCARD ALL',
      'ALTER TABLE t DETACH PARTITION p CONCURRENTLY',
      "COMMIT PREPARED 'x'",
      "ROLLBACK PREPARED 'x'",
      "CREATE SUBSCRIPTION s CONNECTION 'host=h' PUBLICATION p",
      "CREATE SUBSCRIPTION s CONNECTION 'host=h' PUBLICATION p WITH (create_slot = true)",
      'DROP SUBSCRIPTION s',
      'ALTER SUBSCRIPTION s REFRESH PUBLICATION',
      'ALTER SUBSCRIPTION s SET PUBLICATION p',
      'ALTER SUBSCRIPTION s ADD PUBLICATION p WITH (refresh = true)',
      'ALTER SUBSCRIPTION s DROP PUBLICATION p',
      'ALTER SUBSCRIPTION s SET (failover = true)',
      'ALTER SUBSCRIPTION s SET (two_phase = false)',
    ])('classifies %s as non-transactional', (sql) => {
      expect(kindOf(sql)).toBe('non-transactional');
    });

    it.each([
      'CREATE INDEX i ON t (a)',
      'DROP INDEX i',
      'DROP TABLE t',
      'REINDEX TABLE t',
      'REINDEX (CONCURRENTLY false) INDEX i',
      'ANALYZE t',
      'ANALYZE',
      'CLUSTER t',
      'CLUSTER t USING i',
      "ALTER DATABASE d SET work_mem = '1MB'",
      'ALTER DATABASE d WITH CONNECTION LIMIT 3',
      'ALTER TABLESPACE ts SET (seq_page_cost = 1)',
      'DISCARD TEMP',
      'DISCARD PLANS',
      'ALTER TABLE t DETACH PARTITION p',
      'ALTER TABLE t DETACH PARTITION p FINALIZE',
      "ALTER TYPE e ADD VALUE 'x'",
      "ALTER TYPE e ADD VALUE IF NOT EXISTS 'x' BEFORE 'y'",
      'REFRESH MATERIALIZED VIEW CONCURRENTLY mv',
      "CREATE SUBSCRIPTION s CONNECTION 'host=h' PUBLICATION p WITH (connect = false)",
      "CREATE SUBSCRIPTION s CONNECTION 'host=h' PUBLICATION p WITH (create_slot = false, slot_name = 'x')",
      'ALTER SUBSCRIPTION s SET PUBLICATION p WITH (refresh = false)',
      'ALTER SUBSCRIPTION s ADD PUBLICATION p WITH (refresh = off)',
      'ALTER SUBSCRIPTION s ENABLE',
      'ALTER SUBSCRIPTION s DISABLE',
      'ALTER SUBSCRIPTION s SET (two_phase = true)',
      "ALTER SUBSCRIPTION s CONNECTION 'host=other'",
      "SET lock_timeout = '5s'",
      'CREATE EXTENSION IF NOT EXISTS pg_trgm',
      "SELECT 'VACUUM; CREATE INDEX CONCURRENTLY i ON t (a)'",
    ])('classifies %s as transactional', (sql) => {
      expect(kindOf(sql)).toBe('transactional');
    });

    it('derives the mode with script winning over non-transactional', () => {
      // Act & Assess
      expect(executionModeOf([])).toBe('transactional');
      expect(executionModeOf(['transactional', 'transactional'])).toBe('transactional');
      expect(executionModeOf(['transactional', 'non-transactional'])).toBe('non-transactional');
      expect(executionModeOf(['non-transactional', 'begin', 'commit'])).toBe('script');
      expect(executionModeOf(['commit'])).toBe('script');
    });
  });

  describe('files the parser rejects', () => {
    it('returns the whole trimmed file as one transactional statement with the error position', () => {
      // Prepare
      const sql = '-- header ✓\n\nCREATE TABLE "A" ("id" INT);\nSELEC 1;\n\n';

      // Act
      const result = splitMigration(parser, sql);

      // Assess
      expect(result.mode).toBe('transactional');
      expect(result.statements).toEqual([
        { start: sql.indexOf('CREATE'), end: sql.length - 2, line: 3, kind: 'transactional' },
      ]);
      expect(sql.slice(result.statements[0]?.start, result.statements[0]?.end)).toBe(
        'CREATE TABLE "A" ("id" INT);\nSELEC 1;',
      );
      expect(result.parseError).toEqual({ message: 'syntax error at or near "SELEC"', line: 4, column: 1 });
    });

    it('places the error after emoji and accents (the cursor counts code points)', () => {
      // Prepare: 😀 is one code point but two code units
      const sql = "SELECT '😀é😀'\n  FROM\n x y z;";

      // Act
      const { parseError } = splitMigration(parser, sql);

      // Assess
      expect(parseError).toEqual({ message: 'syntax error at or near "z"', line: 3, column: 6 });
      expect(sql.split('\n')[2]?.[5]).toBe('z');
    });

    it.each([
      ['an unterminated string', "SELECT 'abc;\n", 'unterminated quoted string', 1, 8],
      ['an unterminated comment', 'SELECT 1;\n/* open', 'unterminated /* comment', 2, 1],
      ['an unterminated dollar quote', 'DO $$ BEGIN', 'unterminated dollar-quoted string', 1, 4],
      ['a NUL character', 'SELECT 1;\u0000SELECT 2;', 'NUL', 1, 10],
      ['a byte order mark', '\uFEFFSELECT 1;', 'syntax error', 1, 1],
    ])('does not throw for %s', (_name, sql, message, line, column) => {
      // Act
      const result = splitMigration(parser, sql);

      // Assess
      expect(result.mode).toBe('transactional');
      expect(result.statements).toHaveLength(1);
      expect(result.statements[0]?.kind).toBe('transactional');
      expect(result.parseError?.message).toContain(message);
      expect(result.parseError).toMatchObject({ line, column });
    });
  });

  it('stays linear on a large non-ASCII file', () => {
    // Prepare: ~1.3 MB, every statement preceded by multibyte text
    const sql = Array.from({ length: 20_000 }, (_, i) => `-- é ${i} 😀\nINSERT INTO t VALUES (${i}, 'ü😀');`).join(
      '\n',
    );

    // Act
    const started = performance.now();
    const { statements } = splitMigration(parser, sql);
    const elapsed = performance.now() - started;

    // Assess
    expect(statements).toHaveLength(20_000);
    expect(sql.slice(statements[19_999]?.start, statements[19_999]?.end)).toBe("INSERT INTO t VALUES (19999, 'ü😀')");
    expect(statements[19_999]?.line).toBe(40_000);
    expect(elapsed).toBeLessThan(10_000); // quadratic index conversion would take minutes
  });
});

describe('positions (lambda/contract/position.ts)', () => {
  it('give 1-based positions in UTF-16 code units', () => {
    // Prepare
    const sql = 'ab\n😀c\r\nd';
    const at = (i: number) => [positionOf(sql, i).line, positionOf(sql, i).column];

    // Act & Assess
    expect(at(0)).toEqual([1, 1]);
    expect(at(2)).toEqual([1, 3]);
    expect(at(3)).toEqual([2, 1]);
    expect(at(5)).toEqual([2, 3]);
    expect(at(8)).toEqual([3, 1]);
    expect(at(99)).toEqual([3, 2]);
    expect(at(-1)).toEqual([1, 1]);
  });

  it('count lines alike in the text and in its UTF-8 bytes, forward and after a step back', () => {
    // Prepare
    const sql = 'é\n😀\nx\n';
    const bytes = Buffer.from(sql);
    const counter = new LineCounter(bytes);

    // Act & Assess: byte offsets of 'é', '😀', 'x', the end
    expect([0, 3, 8, 10].map((o) => counter.lineAt(o))).toEqual([1, 2, 3, 4]);
    expect(counter.lineAt(3)).toBe(2);
    expect([0, 2, 5, 7].map((i) => lineOf(sql, i))).toEqual([1, 2, 3, 4]);
  });
});
