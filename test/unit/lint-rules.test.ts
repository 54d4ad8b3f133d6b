/**
 * Each lint rule on small SQL: what it flags, what it must not flag, and when a finding is
 * proven noise (`fixable`). Prepare / Act / Assess.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { sqlParser } from '../../scripts/core/sql-parser.js';
import { lint, lintHistory, ruleInfo } from '../../scripts/lint/linter.js';
import type { Finding, RuleId } from '../../scripts/lint/types.js';
import { repoRoot } from '../helpers/migrations.js';

const parser = await sqlParser();

/** Lints `sql` as the pending migration `900_pending` after the `history` files. */
function check(sql: string, ...history: string[]): Finding[] {
  const applied = history.map((h, i) => ({ name: `${String(i + 100)}_history`, sql: h }));
  return lint(parser, [{ name: '900_pending', sql }], applied).findings;
}

const of = (findings: Finding[], rule: RuleId) => findings.filter((f) => f.rule === rule);
const brief = (findings: Finding[]) => findings.map((f) => [f.rule, f.severity, f.line, f.fixable]);

const JOIN_TABLE = `CREATE TABLE "_RoleToUser" ("A" TEXT NOT NULL, "B" TEXT NOT NULL);
CREATE UNIQUE INDEX "_RoleToUser_AB_unique" ON "_RoleToUser"("A", "B");
CREATE INDEX "_RoleToUser_B_index" ON "_RoleToUser"("B");`;

const CHURN = `-- AlterTable
ALTER TABLE "public"."_RoleToUser" ADD CONSTRAINT "_RoleToUser_AB_pkey" PRIMARY KEY ("A", "B");

-- DropIndex
DROP INDEX "public"."_RoleToUser_AB_unique";
`;

describe('parse-error', () => {
  it('reports a file PostgreSQL cannot parse as an error at the position', () => {
    const findings = check('CREATE TABLE a (id int);\nCREATE TABLE (;\n');

    expect(brief(findings)).toEqual([['parse-error', 'error', 2, false]]);
    expect(findings[0]?.message).toContain('line 2');
  });
});

describe('concurrently-mixed', () => {
  it('flags CREATE INDEX CONCURRENTLY sharing its file, as an error', () => {
    const findings = check('CREATE TABLE a (id int);\nCREATE INDEX CONCURRENTLY "a_id_idx" ON a (id);\n');

    expect(brief(of(findings, 'concurrently-mixed'))).toEqual([['concurrently-mixed', 'error', 2, false]]);
  });

  it('flags every non-transactional statement when two share a file, and says when BEGIN/COMMIT surrounds one', () => {
    const two = check(
      'CREATE INDEX CONCURRENTLY i1 ON a (x);\nDROP INDEX CONCURRENTLY i0;\n',
      'CREATE TABLE a (x int);',
    );
    const script = check('BEGIN;\nCREATE INDEX CONCURRENTLY i1 ON a (x);\nCOMMIT;\n', 'CREATE TABLE a (x int);');

    expect(of(two, 'concurrently-mixed').map((f) => f.line)).toEqual([1, 2]);
    expect(of(script, 'concurrently-mixed')[0]?.message).toContain('BEGIN');
  });

  it('accepts CONCURRENTLY alone in its file, comments around it included', () => {
    const findings = check(
      '-- build without blocking writes\nCREATE INDEX CONCURRENTLY IF NOT EXISTS "a_id_idx" ON a (id);\n',
      'CREATE TABLE a (id int);',
    );

    expect(findings).toEqual([]);
  });
});

describe('enum-value-same-transaction', () => {
  const history =
    `CREATE TYPE "Status" AS ENUM ('OPEN');\nCREATE TABLE ` +
    `"Job" ("id" int, "status" "Status" NOT NULL DEFAULT ` +
    `'OPEN');`;

  it('flags a default, an UPDATE and a cast that use the value the file adds', () => {
    const findings = check(
      `ALTER TYPE "Status" ADD VALUE 'DONE';
ALTER TABLE "Job" ALTER COLUMN "status" SET DEFAULT 'DONE';
UPDATE "Job" SET "status" = 'DONE' WHERE "id" = 1;
SELECT 'DONE'::"Status";
`,
      history,
    );

    expect(brief(of(findings, 'enum-value-same-transaction'))).toEqual([
      ['enum-value-same-transaction', 'error', 2, false],
      ['enum-value-same-transaction', 'error', 3, false],
      ['enum-value-same-transaction', 'error', 4, false],
    ]);
    expect(findings[0]?.message).toContain('line 1');
  });

  it(
    'accepts the value used in the next file, after a COMMIT, ' +
      'in a type created in the same file, or as an unrelated ' +
      'string',
    () => {
      const nextFile = check(`UPDATE "Job" SET "status" = 'DONE';`, history, `ALTER TYPE "Status" ADD VALUE 'DONE';`);
      const afterCommit = check(
        `BEGIN;\nALTER TYPE "Status" ADD VALUE 'DONE';\nCOMMIT;\nUPDATE "Job" SET "status" = 'DONE';\n`,
        history,
      );
      const newType = check(
        `CREATE TYPE "Kind" AS ENUM ('A');\nALTER TYPE "Kind" ` +
          `ADD VALUE 'B';\nCREATE TABLE "K" ("k" "Kind" DEFAULT ` +
          `'B');\n`,
      );
      const unrelated = check(
        `ALTER TYPE "Status" ADD VALUE 'DONE';\nCREATE TABLE "Note" ("text" TEXT DEFAULT 'DONE');\n`,
        history,
      );

      for (const findings of [nextFile, afterCommit, newType, unrelated])
        expect(of(findings, 'enum-value-same-transaction')).toEqual([]);
    },
  );
});

describe('prisma-m2m-churn', () => {
  it('flags the pair as fixable when the history has the unique index it replaces', () => {
    const findings = check(CHURN, JOIN_TABLE);

    expect(brief(findings)).toEqual([
      ['prisma-m2m-churn', 'warning', 2, true],
      ['prisma-m2m-churn', 'warning', 5, true],
    ]);
    expect(findings[0]?.message).toContain('line 5');
  });

  it('flags the pair as fixable by itself, without any history', () => {
    expect(check(CHURN).map((f) => f.fixable)).toEqual([true, true]);
  });

  it('only flags what it cannot prove: half a pair, or a history without the unique index', () => {
    const half = check(
      `ALTER TABLE "_RoleToUser" ADD CONSTRAINT "_RoleToUser_AB_pkey" PRIMARY KEY ("A", "B");`,
      JOIN_TABLE,
    );
    const lone = check(`DROP INDEX "_RoleToUser_AB_unique";`, JOIN_TABLE);
    const noUnique = check(CHURN, `CREATE TABLE "_RoleToUser" ("A" TEXT NOT NULL, "B" TEXT NOT NULL);`);

    expect(brief(half)).toEqual([['prisma-m2m-churn', 'warning', 1, false]]);
    expect(brief(lone)).toEqual([['prisma-m2m-churn', 'warning', 1, false]]);
    expect(noUnique.filter((f) => f.rule === 'prisma-m2m-churn').map((f) => f.fixable)).toEqual([false, false]);
  });

  it('leaves other primary keys alone', () => {
    const findings = check(
      `ALTER TABLE "_RoleToUser" ADD CONSTRAINT "_RoleToUser_pkey" PRIMARY KEY ("A");`,
      JOIN_TABLE,
    );

    expect(of(findings, 'prisma-m2m-churn')).toEqual([]);
  });
});

describe('index-recreation', () => {
  const table = 'CREATE TABLE "Run" ("id" TEXT, "env" TEXT, "createdAt" TIMESTAMP(3));';
  const index =
    'CREATE INDEX CONCURRENTLY IF NOT EXISTS "Run_env_createdAt_idx" ' +
    'ON "Run"("env", "createdAt" DESC) INCLUDE ("id") WITH ' +
    '(fillfactor = 90);';
  const generated =
    '-- CreateIndex\nCREATE INDEX "Run_env_createdAt_idx" ON "public"."Run"("env", "createdAt" DESC);\n';

  it('flags a CREATE INDEX of an index the history creates as fixable, naming where', () => {
    const findings = check(generated, table, index);

    expect(brief(findings)).toEqual([['index-recreation', 'warning', 2, true]]);
    expect(findings[0]?.message).toContain('101_history/migration.sql line 1');
  });

  it('is no re-creation when the history dropped it, or dropped the column it was on, or renamed it', () => {
    const dropped = check(
      generated,
      table,
      index,
      'DROP INDEX CONCURRENTLY IF EXISTS "public"."Run_env_createdAt_idx";',
    );
    const columnGone = check(generated, table, index, 'ALTER TABLE "Run" DROP COLUMN "createdAt";');
    const renamed = check(generated, table, index, 'ALTER INDEX "Run_env_createdAt_idx" RENAME TO "Run_old_idx";');
    const droppedHere = check(`DROP INDEX "Run_env_createdAt_idx";\n${generated}`, table, index);

    for (const findings of [dropped, columnGone, renamed, droppedHere])
      expect(of(findings, 'index-recreation')).toEqual([]);
  });

  it('only flags when it cannot prove: another table has the name, or a DO block may have touched it', () => {
    const otherTable = check(
      'CREATE INDEX "Run_env_createdAt_idx" ON "Other"("x");',
      table,
      index,
      'CREATE TABLE "Other" ("x" int);',
    );
    const opaque = check(generated, table, index, `DO $$ BEGIN EXECUTE 'DROP INDEX "Run_env_createdAt_idx"'; END $$;`);

    expect(brief(of(otherTable, 'index-recreation'))).toEqual([['index-recreation', 'warning', 1, false]]);
    expect(brief(of(opaque, 'index-recreation'))).toEqual([['index-recreation', 'warning', 2, false]]);
  });

  it('sees indexes behind constraints, renamed constraints and tables moved by RENAME', () => {
    const viaConstraint = check(
      'CREATE UNIQUE INDEX "T_pkey" ON "T"("id");',
      'CREATE TABLE "T" ("id" int, CONSTRAINT "T_pkey" PRIMARY KEY ("id"));',
    );
    const viaRename = check(
      'CREATE UNIQUE INDEX "U_a_key" ON "U"("a");',
      'CREATE TABLE "T" ("a" int UNIQUE);',
      'ALTER TABLE "T" RENAME TO "U";',
      'ALTER TABLE "U" RENAME CONSTRAINT "T_a_key" TO "U_a_key";',
    );

    expect(brief(viaConstraint)).toEqual([['index-recreation', 'warning', 1, true]]);
    expect(brief(viaRename)).toEqual([['index-recreation', 'warning', 1, true]]);
  });
});

describe('create-index-not-concurrently', () => {
  it('flags a plain CREATE INDEX on a table the history created', () => {
    const findings = check('CREATE INDEX "Job_status_idx" ON "Job"("status");', 'CREATE TABLE "Job" ("status" text);');

    expect(brief(findings)).toEqual([['create-index-not-concurrently', 'warning', 1, false]]);
  });

  it('accepts tables created by the same file or an earlier pending file, and CONCURRENTLY', () => {
    const sameFile = check('CREATE TABLE "New" ("a" int);\nCREATE INDEX "New_a_idx" ON "New"("a");');
    const earlierPending = lint(
      parser,
      [
        { name: '001_table', sql: 'CREATE TABLE "New" ("a" int);' },
        { name: '002_index', sql: 'CREATE INDEX "New_a_idx" ON "New"("a");' },
      ],
      [],
    ).findings;
    const concurrently = check(
      'CREATE INDEX CONCURRENTLY "Job_status_idx" ON "Job"("status");',
      'CREATE TABLE "Job" ("status" text);',
    );

    expect([...sameFile, ...earlierPending, ...concurrently]).toEqual([]);
  });

  it('with --all each file stands alone: a table from an earlier file exists', () => {
    const findings = lintHistory(parser, [
      { name: '001_table', sql: 'CREATE TABLE "New" ("a" int);' },
      { name: '002_index', sql: 'CREATE INDEX "New_a_idx" ON "New"("a");' },
    ]).findings;

    expect(findings.map((f) => [f.migration, f.rule])).toEqual([['002_index', 'create-index-not-concurrently']]);
  });
});

describe('add-column-not-null-no-default', () => {
  const history = 'CREATE TABLE "Job" ("id" int);';

  it('flags a required column without a default on an existing table', () => {
    const findings = check('ALTER TABLE "Job" ADD COLUMN "owner" TEXT NOT NULL, ADD COLUMN "note" TEXT;', history);

    expect(brief(findings)).toEqual([['add-column-not-null-no-default', 'warning', 1, false]]);
    expect(findings[0]?.message).toContain('"owner"');
    expect(findings[0]?.message).not.toContain('"note"');
  });

  it('accepts a default, identity, generated or serial column, a nullable one, and a new table', () => {
    const findings = check(
      `ALTER TABLE "Job" ADD COLUMN "a" TEXT NOT NULL DEFAULT '',
  ADD COLUMN "b" INT GENERATED ALWAYS AS IDENTITY NOT NULL,
  ADD COLUMN "c" INT NOT NULL GENERATED ALWAYS AS (1) STORED,
  ADD COLUMN "d" SERIAL NOT NULL,
  ADD COLUMN "e" TEXT;
CREATE TABLE "New" ("id" int);
ALTER TABLE "New" ADD COLUMN "f" TEXT NOT NULL;`,
      history,
    );

    expect(findings).toEqual([]);
  });
});

describe('destructive-drop', () => {
  it('flags DROP TABLE, DROP COLUMN, DROP TYPE and TRUNCATE of existing objects', () => {
    const findings = check(
      'DROP TABLE "Job";\nALTER TABLE "Run" DROP COLUMN "legacy";\nDROP TYPE "Status";\nTRUNCATE "Run";\n',
      `CREATE TYPE "Status" AS ENUM ('A');\nCREATE TABLE "Job" ("id" int);\nCREATE TABLE "Run" ("legacy" int);`,
    );

    expect(brief(findings)).toEqual([1, 2, 3, 4].map((line) => ['destructive-drop', 'warning', line, false]));
    expect(findings[1]?.message).toContain('column "Run"."legacy"');
  });

  it('accepts dropping what the same deploy created, and DROP INDEX', () => {
    const findings = check(
      'CREATE TABLE "Tmp" ("id" int);\nDROP TABLE "Tmp";\nDROP INDEX "Job_idx";\n',
      'CREATE TABLE "Job" ("id" int);\nCREATE INDEX "Job_idx" ON "Job"("id");',
    );

    expect(findings).toEqual([]);
  });
});

describe('session-set-leak', () => {
  it('flags a session-level SET and set_config(…, false) that the file never resets', () => {
    const findings = check(
      `SET lock_timeout = '5s';\nSELECT set_config('search_path', ` +
        `'app', false);\nALTER TABLE "Job" DROP CONSTRAINT "Job_fkey";\n`,
    );

    expect(brief(findings)).toEqual([
      ['session-set-leak', 'warning', 1, false],
      ['session-set-leak', 'warning', 2, false],
    ]);
  });

  it('accepts SET LOCAL, set_config(…, true), SET TRANSACTION and a SET that the file resets', () => {
    const findings = check(
      `SET LOCAL lock_timeout = '5s';
SELECT set_config('search_path', 'app', true);
SET TRANSACTION ISOLATION LEVEL SERIALIZABLE;
SET statement_timeout = '1min';
RESET statement_timeout;
`,
    );

    expect(findings).toEqual([]);
  });
});

describe('session-reset', () => {
  it(
    'flags DISCARD, RESET ALL, SET/RESET ROLE, SET SESSION ' +
      'AUTHORIZATION and pg_advisory_unlock* anywhere in a ' +
      'statement, as warnings',
    () => {
      const findings = check(`DISCARD ALL;
DISCARD PLANS;
DISCARD SEQUENCES;
DISCARD TEMP;
RESET ALL;
SET ROLE app_owner;
RESET ROLE;
SET SESSION AUTHORIZATION app_owner;
SELECT pg_advisory_unlock_all();
SELECT 1 WHERE pg_catalog.pg_advisory_unlock(72707369);
DO $$ BEGIN PERFORM pg_advisory_unlock_shared(1); END $$;
`);

      expect(brief(of(findings, 'session-reset'))).toEqual(
        [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11].map((line) => ['session-reset', 'warning', line, false]),
      );
      const messages = of(findings, 'session-reset').map((f) => f.message);
      expect(messages[0]).toMatch(/DISCARD ALL releases every session-level advisory lock/);
      expect(messages[9]).toContain('pg_advisory_unlock releases');
      expect(messages[10]).toContain('pg_advisory_unlock_shared');
    },
  );

  it(
    'accepts transaction-scoped changes and locks: SET LOCAL ' +
      "ROLE, pg_advisory_xact_lock, other SETs (session-set-leak's)",
    () => {
      const findings = check(`SET LOCAL ROLE app_owner;
SELECT pg_advisory_xact_lock(1);
SELECT pg_advisory_lock(2);
SET LOCAL search_path TO app;
`);

      expect(of(findings, 'session-reset')).toEqual([]);
    },
  );

  it('is the only rule that reports SET ROLE (session-set-leak leaves who the session runs as to it)', () => {
    const findings = check('SET ROLE app_owner;\nSET SESSION AUTHORIZATION app_owner;\n');

    expect(brief(findings)).toEqual([
      ['session-reset', 'warning', 1, false],
      ['session-reset', 'warning', 2, false],
    ]);
  });
});

describe('own-transaction-shape', () => {
  it("refuses SET TRANSACTION SNAPSHOT and a committing DO block inside the file's own block, at their lines", () => {
    const findings = check(`BEGIN;
SET TRANSACTION SNAPSHOT '00000003-0000001B-1';
DO $$ BEGIN INSERT INTO t VALUES (1); COMMIT; END $$;
COMMIT;
`);

    expect(brief(findings)).toEqual([
      ['own-transaction-shape', 'error', 2, false],
      ['own-transaction-shape', 'error', 3, false],
    ]);
  });

  it(
    'accepts the shapes PostgreSQL runs: SET TRANSACTION ' +
      'first in a block, savepoints, a committing DO block ' +
      'or CALL outside a block',
    () => {
      const findings = check(`BEGIN;
SET TRANSACTION ISOLATION LEVEL REPEATABLE READ;
SET LOCAL lock_timeout = '5s';
SAVEPOINT s1;
ROLLBACK TO SAVEPOINT s1;
RELEASE SAVEPOINT s1;
COMMIT;
DO $$ BEGIN INSERT INTO t VALUES (1); COMMIT; END $$;
CALL p();
`);

      expect(findings.filter((f) => f.rule === 'own-transaction-shape')).toEqual([]);
    },
  );
});

describe('findings', () => {
  it('carry rule, severity, file:line, statement, why and fix', () => {
    const [finding] = check(`SET lock_timeout = '5s';`);

    expect(finding).toMatchObject({
      rule: 'session-set-leak',
      severity: 'warning',
      migration: '900_pending',
      file: '900_pending/migration.sql',
      line: 1,
      statement: "SET lock_timeout = '5s'",
      fixable: false,
      statementIndex: 0,
    });
    expect(finding?.why.length).toBeGreaterThan(40);
    expect(finding?.fix.length).toBeGreaterThan(20);
  });

  it('resolve schema-qualified and unqualified names to the same object', () => {
    const findings = check(
      'CREATE INDEX "i" ON "public"."Job"("id");',
      'CREATE TABLE "Job" ("id" int);\nCREATE INDEX "i" ON "Job"("id");',
    );

    expect(brief(findings)).toEqual([['index-recreation', 'warning', 1, true]]);
  });
});

describe('docs/commands.md lint rules table', () => {
  it('lists every rule with its severity', () => {
    const doc = readFileSync(path.join(repoRoot, 'docs', 'commands.md'), 'utf8');

    for (const rule of ruleInfo()) {
      const row = doc.split('\n').find((line) => line.startsWith(`| \`${rule.id}\` |`));
      expect(row, rule.id).toBeDefined();
      expect(row?.split('|')[2]?.trim().startsWith(rule.severity), rule.id).toBe(true);
    }
  });
});
