/** The schema model the linter learns from the history: which indexes, tables and enums exist. */
import { describe, expect, it } from 'vitest';
import { sqlParser } from '../../scripts/core/sql-parser.js';
import { objectKey } from '../../scripts/lint/ast.js';
import { parseHistoryFile } from '../../scripts/lint/parse.js';
import { SchemaModel } from '../../scripts/lint/schema.js';

const parser = await sqlParser();

function learn(...files: string[]): SchemaModel {
  const model = new SchemaModel();
  files.forEach((sql, i) => {
    const statements = parseHistoryFile(parser, sql);
    if (statements === null) model.addOpaque(sql);
    else for (const s of statements) model.apply(s.node, { migration: `m${i}`, line: s.line });
  });
  return model;
}

const pub = (name: string) => objectKey('public', name);
const indexNames = (model: SchemaModel) =>
  [...model.indexes.values()].map((i) => i.key.split('\u0000').join('.')).sort();

describe('SchemaModel', () => {
  it(
    'learns indexes from CREATE TABLE constraints, CREATE ' + 'INDEX and ADD CONSTRAINT, with PostgreSQL default names',
    () => {
      const model = learn(
        'CREATE TABLE "T" ("id" int PRIMARY KEY, "a" int UNIQUE, ' +
          '"b" int, CONSTRAINT "T_b_c" UNIQUE ("b"));\nCREATE ' +
          'INDEX "T_a_idx" ON "T" ("a");\nALTER TABLE "T" ADD ' +
          'UNIQUE ("a", "b");',
      );

      expect(indexNames(model)).toEqual([
        'public.T_a_b_key',
        'public.T_a_idx',
        'public.T_a_key',
        'public.T_b_c',
        'public.T_pkey',
      ]);
      expect(model.indexes.get(pub('T_a_idx'))?.origin).toEqual({ migration: 'm0', line: 2 });
    },
  );

  it('follows renames, ADD CONSTRAINT … USING INDEX, SET SCHEMA and drops', () => {
    const model = learn(
      'CREATE TABLE "T" ("id" int, "a" int);\nCREATE UNIQUE ' +
        'INDEX "T_tmp" ON "T" ("id");\nCREATE INDEX "T_a_idx" ' +
        'ON "T" ("a");',
      'ALTER TABLE "T" ADD CONSTRAINT "T_pkey" PRIMARY KEY USING INDEX "T_tmp";',
      'ALTER TABLE "T" RENAME COLUMN "a" TO "b";\nALTER INDEX "T_a_idx" RENAME TO "T_b_idx";',
      'CREATE SCHEMA "archive";\nALTER TABLE "T" SET SCHEMA "archive";',
    );

    expect(indexNames(model)).toEqual(['archive.T_b_idx', 'archive.T_pkey']);
    expect(model.indexes.get(objectKey('archive', 'T_b_idx'))?.columns.has('b')).toBe(true);

    const dropped = learn(
      'CREATE TABLE "T" ("id" int PRIMARY KEY);\nCREATE INDEX "T_id_idx" ON "T" ("id");',
      'DROP TABLE "T";',
    );
    expect(indexNames(dropped)).toEqual([]);
  });

  it('tracks enum values and the columns of each enum type, through DROP TYPE … CASCADE', () => {
    const model = learn(
      `CREATE TYPE "S" AS ENUM ('A');\nCREATE TABLE "J" ("s" "S", "t" text);\nCREATE INDEX "J_s_idx" ON "J" ("s");`,
      `ALTER TYPE "S" ADD VALUE 'B';\nALTER TYPE "S" RENAME VALUE 'A' TO 'C';`,
    );

    expect([...(model.enums.get(pub('S'))?.values ?? [])].sort()).toEqual(['B', 'C']);
    expect([...model.columnsOfType(pub('S'))]).toEqual([[pub('J'), ['s']]]);

    const cascade = learn(
      `CREATE TYPE "S" AS ENUM ('A');\nCREATE TABLE "J" ("s" "S", "t" text);\nCREATE INDEX "J_s_idx" ON "J" ("s");`,
      'DROP TYPE "S" CASCADE;',
    );
    expect(indexNames(cascade)).toEqual([]);
    expect([...(cascade.tables.get(pub('J'))?.columns.keys() ?? [])]).toEqual(['t']);
  });

  it('keeps what it cannot read as opaque text, so a later check can refuse to call it proven', () => {
    const model = learn(
      'CREATE TABLE "T" ("id" int);\nCREATE INDEX "T_id_idx" ON "T" ("id");',
      `DO $$ BEGIN EXECUTE 'DROP INDEX "T_id_idx"'; END $$;`,
      'THIS IS NOT SQL;',
    );
    const index = model.indexes.get(pub('T_id_idx'))!;

    expect(model.touchedOpaquely(index.step, 'T_id_idx')).toBe(true);
    expect(model.touchedOpaquely(index.step, 'Unrelated_idx')).toBe(false);
  });
});
