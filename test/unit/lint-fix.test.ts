/**
 * `lint --fix`: removes the statements proven to be generated noise and the lines Prisma
 * generated with them, nothing else; checked on small files and on the team's fixture
 * (../shared/fixtures/prisma-generated-noise, test data) standing in for its migration in the
 * trigger.dev history (../shared/corpora, test data).
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { sqlParser } from '../../scripts/core/sql-parser.js';
import { discoverMigrations } from '../../scripts/formats/prisma/discover.js';
import { fixMigration } from '../../scripts/lint/fix.js';
import { lint } from '../../scripts/lint/linter.js';
import { parseMigration } from '../../scripts/lint/parse.js';
import type { LintInput } from '../../scripts/lint/types.js';
import { corporaDir, repoRoot } from '../helpers/migrations.js';

const parser = await sqlParser();

const JOIN =
  `CREATE TABLE "_AToB" ("A" TEXT NOT NULL, "B" TEXT NOT ` +
  `NULL);\nCREATE UNIQUE INDEX "_AToB_AB_unique" ON "_AToB"("A", ` +
  `"B");`;
const churn = (schema = '') => `-- AlterTable
ALTER TABLE ${schema}"_AToB" ADD CONSTRAINT "_AToB_AB_pkey" PRIMARY KEY ("A", "B");

-- DropIndex
DROP INDEX ${schema}"_AToB_AB_unique";`;

function fix(sql: string, history: string[] = []): string | null {
  const { files, findings } = lint(
    parser,
    [{ name: '900_pending', sql }],
    history.map((h, i) => ({ name: `${100 + i}_h`, sql: h })),
  );
  return fixMigration(parser, files[0]!, findings)?.sql ?? null;
}

/** Each statement's parse tree without positions: equal trees mean the same statement. */
function statementTrees(sql: string): string[] {
  const file = parseMigration(parser, { name: 'x', sql });
  expect(file.parseError).toBeUndefined();
  return file.statements.map((s) =>
    JSON.stringify(s.node, (key, value: unknown) => (key === 'location' ? undefined : value)),
  );
}

describe('fixMigration', () => {
  it(
    "removes the noise with Prisma's step comments and the " +
      'blank lines before them, and keeps the rest byte for ' +
      'byte',
    () => {
      const sql =
        `-- AlterTable\nALTER TABLE "Job" ADD COLUMN "x" TEXT;\n\n` +
        `${churn()}\n\n-- CreateIndex\nCREATE INDEX "Job_x_idx" ` +
        `ON "Job"("x");\n`;

      const fixed = fix(sql, [JOIN, 'CREATE TABLE "Job" ("id" int);']);

      expect(fixed).toBe(
        `-- AlterTable\nALTER TABLE "Job" ADD COLUMN "x" TEXT;\n\n-- ` +
          `CreateIndex\nCREATE INDEX "Job_x_idx" ON "Job"("x");\n`,
      );
    },
  );

  it('removes noise at the top of a file together with the blank lines after it', () => {
    const fixed = fix(`${churn()}\n\n-- AlterTable\nALTER TABLE "_AToB" ADD COLUMN "c" INT;\n`, [JOIN]);

    expect(fixed).toBe('-- AlterTable\nALTER TABLE "_AToB" ADD COLUMN "c" INT;\n');
  });

  it('keeps comments people wrote, CRLF line endings, and statements sharing a line with the noise', () => {
    const human = fix(`-- keep: the join table is hot\n${churn().replace('-- AlterTable\n', '')}\n`, [JOIN]);
    const crlf = fix(`ALTER TABLE "_AToB" ADD COLUMN "c" INT;\r\n\r\n${churn().replaceAll('\n', '\r\n')}\r\n`, [JOIN]);
    const sameLine = fix(
      `SELECT 1; DROP INDEX "_AToB_AB_unique"; ALTER TABLE ` +
        `"_AToB" ADD CONSTRAINT "_AToB_AB_pkey" PRIMARY KEY ` +
        `("A", "B"); SELECT 2;\n`,
      [JOIN],
    );

    expect(human).toBe('-- keep: the join table is hot\n');
    expect(crlf).toBe('ALTER TABLE "_AToB" ADD COLUMN "c" INT;\r\n');
    expect(sameLine).toBe('SELECT 1;   SELECT 2;\n');
  });

  it('drops a line that only noise statements held, and keeps the separation between what remains', () => {
    const bothOnOneLine = fix(
      `SELECT 1;\nDROP INDEX "_AToB_AB_unique"; ALTER TABLE ` +
        `"_AToB" ADD CONSTRAINT "_AToB_AB_pkey" PRIMARY KEY ` +
        `("A", "B");\n\nSELECT 2;\n`,
      [JOIN],
    );
    const noBlankBefore = fix(`SELECT 1;\n${churn()}\n\nSELECT 2;`, [JOIN]);

    expect(bothOnOneLine).toBe('SELECT 1;\n\nSELECT 2;\n');
    expect(noBlankBefore).toBe('SELECT 1;\n\nSELECT 2;');
  });

  it('changes nothing when nothing is proven noise', () => {
    expect(fix('CREATE INDEX "Job_x_idx" ON "Job"("x");\n', ['CREATE TABLE "Job" ("x" int);'])).toBeNull();
  });
});

const fixtureDir = path.resolve(repoRoot, '../shared/fixtures/prisma-generated-noise');
const triggerDir = path.join(corporaDir, 'triggerdotdev__trigger.dev', 'migrations');
const STAND_IN = '20251216225303_add_debounce_and_delayed_status';

describe.skipIf(!existsSync(fixtureDir) || !existsSync(triggerDir))(
  'the prisma-generated-noise fixture in the trigger.dev history (test data)',
  () => {
    let generated: string;
    let expected: string;
    let history: LintInput[];
    beforeAll(async () => {
      [generated, expected] = await Promise.all([
        readFile(path.join(fixtureDir, 'migration.sql'), 'utf8'),
        readFile(path.join(fixtureDir, 'expected.sql'), 'utf8'),
      ]);
      const { migrations } = await discoverMigrations(triggerDir);
      const at = migrations.findIndex((m) => m.name === STAND_IN);
      expect(at).toBeGreaterThan(0);
      history = migrations.slice(0, at).map((m) => ({ name: m.name, sql: m.sql }));
    });

    it('--fix turns the generated file into expected.sql, statement for statement (and byte for byte)', () => {
      const { files, findings } = lint(parser, [{ name: STAND_IN, sql: generated }], history);

      const fixed = fixMigration(parser, files[0]!, findings);

      expect(fixed).not.toBeNull();
      expect(statementTrees(fixed!.sql)).toEqual(statementTrees(expected));
      expect(fixed!.sql).toBe(expected);
      expect(fixed!.removed.map((r) => r.rule)).toEqual([
        ...Array(10).fill('prisma-m2m-churn'),
        ...Array(3).fill('index-recreation'),
      ]);
    });

    it('flags every statement of the difference with a reason, and nothing the team kept', () => {
      const { files, findings } = lint(parser, [{ name: STAND_IN, sql: generated }], history);
      const kept = new Set(statementTrees(expected));
      const trees = statementTrees(generated);
      const noise = files[0]!.statements.filter((s) => !kept.has(trees[s.index]!));

      expect(noise).toHaveLength(13);
      for (const s of noise) {
        const reasons = findings.filter((f) => f.statementIndex === s.index);
        expect(reasons.length, `line ${s.line}`).toBeGreaterThan(0);
        expect(reasons.every((f) => f.message.length > 20 && f.why.length > 20)).toBe(true);
      }
      const keptIndexes = files[0]!.statements.filter((s) => kept.has(trees[s.index]!)).map((s) => s.index);
      expect(findings.filter((f) => keptIndexes.includes(f.statementIndex))).toEqual([]);
    });

    it('without the history, removes the many-to-many churn by itself and only flags the index re-creations', () => {
      const { files, findings } = lint(parser, [{ name: STAND_IN, sql: generated }], []);

      const fixed = fixMigration(parser, files[0]!, findings)!;

      expect(fixed.removed.every((r) => r.rule === 'prisma-m2m-churn')).toBe(true);
      expect(fixed.removed).toHaveLength(10);
      const indexes = statementTrees(fixed.sql).length - statementTrees(expected).length;
      expect(indexes).toBe(3);
      expect(findings.filter((f) => f.rule === 'create-index-not-concurrently').map((f) => f.fixable)).toEqual([
        false,
        false,
        false,
      ]);
    });
  },
);
