/**
 * Reconciliation by definition (issue 15): "already exists" counts as applied only when what
 * exists is what the statement creates. A database migrated by other means holds an object of
 * the same name; the worker compares definitions. Different → the migration fails with both
 * shown (and Prisma's status sees a failed migration); equal → the statement is skipped and
 * listed (and Prisma's status says up to date). A duplicate inside one file is never reconciled.
 */
import { describe, expect, it } from 'vitest';
import { deploy, type DeployReport } from '../../scripts/commands/deploy.js';
import { databaseTargets, prismaLedger, query } from '../helpers/db.js';
import { migrationsDir } from '../helpers/migrations.js';
import { expectPrismaUpToDate, UP_TO_DATE } from '../helpers/prisma-agrees.js';
import { prismaAvailable, prismaMigrateStatus } from '../helpers/prisma-judge.js';
import { useFreshWorker } from '../helpers/test-worker.js';

const BASE =
  'CREATE TABLE "User" ("id" INTEGER NOT NULL, "email" ' +
  'TEXT NOT NULL, "name" TEXT, CONSTRAINT "User_pkey" ' +
  'PRIMARY KEY ("id"));\n';

interface Case {
  what: string;
  /** Made "by other means" after the base migration. */
  existing: string;
  /** The migration that runs into it. */
  migration: string;
  /** Lines of the two definitions the failure must show. */
  shows?: [string, string];
}

const DIFFERENT: Case[] = [
  {
    what: 'a non-unique index on another column where a unique one is created',
    existing: 'CREATE INDEX "User_email_key" ON "User"("name");',
    migration: 'CREATE UNIQUE INDEX "User_email_key" ON "User"("email");\n',
    shows: [
      'CREATE INDEX "User_email_key" ON public."User" USING btree (name)',
      'CREATE UNIQUE INDEX "User_email_key" ON public."User" USING btree (email)',
    ],
  },
  {
    what: 'a table with other columns',
    existing:
      'CREATE TABLE "Team" ("id" INTEGER NOT NULL, "title" VARCHAR(20), CONSTRAINT "Team_pkey" PRIMARY KEY ("id"));',
    migration:
      'CREATE TABLE "Team" ("id" INTEGER NOT NULL, "name" TEXT NOT NULL, CONSTRAINT "Team_pkey" PRIMARY KEY ("id"));\n',
    shows: ['column title character varying(20)', 'column name text NOT NULL'],
  },
  {
    what: 'a constraint with another definition',
    existing: 'ALTER TABLE "User" ADD CONSTRAINT "User_email_check" CHECK (length("email") > 1);',
    migration: 'ALTER TABLE "User" ADD CONSTRAINT "User_email_check" CHECK (length("email") > 3);\n',
    shows: [
      'constraint "User_email_check" CHECK ((length(email) > 1))',
      'constraint "User_email_check" CHECK ((length(email) > 3))',
    ],
  },
  {
    what: 'an enum with other labels',
    existing: `CREATE TYPE "Role" AS ENUM ('ADMIN', 'MEMBER');`,
    migration: `CREATE TYPE "Role" AS ENUM ('ADMIN', 'GUEST');\n`,
    shows: ['label MEMBER', 'label GUEST'],
  },
];

const EQUAL: Case[] = [
  {
    what: 'the same unique index',
    existing: 'CREATE UNIQUE INDEX "User_email_key" ON "User"("email");',
    migration: 'CREATE UNIQUE INDEX "User_email_key" ON "User"("email");\n',
  },
  {
    what: 'the same table',
    existing:
      'CREATE TABLE "Team" ("id" INTEGER NOT NULL, "name" TEXT NOT NULL, CONSTRAINT "Team_pkey" PRIMARY KEY ("id"));',
    migration:
      'CREATE TABLE "Team" (\n    "id" INTEGER NOT NULL,\n ' +
      '   "name" TEXT NOT NULL,\n\n    CONSTRAINT "Team_pkey" ' +
      'PRIMARY KEY ("id")\n);\n',
  },
  {
    what: 'the same constraint',
    existing: 'ALTER TABLE "User" ADD CONSTRAINT "User_email_check" CHECK (length("email") > 3);',
    migration: 'ALTER TABLE "User" ADD CONSTRAINT "User_email_check" CHECK (length(email) > 3);\n',
  },
  {
    what: 'the same enum',
    existing: `CREATE TYPE "Role" AS ENUM ('ADMIN', 'MEMBER');`,
    migration: `CREATE TYPE "Role" AS ENUM ('ADMIN', 'MEMBER');\n`,
  },
];

describe.each(databaseTargets())('reconciliation by definition on the $name PostgreSQL', ({
  name: server,
  adminUrl,
}) => {
  const env = useFreshWorker(adminUrl);

  /** Deploys the base, makes `existing` by other means, then deploys `migration`. */
  async function runInto(c: Case): Promise<{ dir: string; report: DeployReport }> {
    const dir = await migrationsDir({ '001_base': BASE });
    expect((await deploy(env.tw.worker, { migrationsDir: dir })).exitCode).toBe(0);
    await query(env.db.url, c.existing);
    const more = await migrationsDir({ '001_base': BASE, '002_change': c.migration });
    return { dir: more, report: await deploy(env.tw.worker, { migrationsDir: more }) };
  }
  const judge = server === 'embedded' && prismaAvailable();

  it.each(DIFFERENT)('fails on $what, showing both definitions', async (c) => {
    const { dir, report } = await runInto(c);

    expect(report.exitCode).toBe(2);
    const failed = report.results.find((r) => r.name === '002_change');
    expect(failed?.status).toBe('failed');
    expect(failed?.error?.detail).toContain(
      'Not reconciled: the object that exists is not what this statement creates.',
    );
    expect(failed?.error?.detail).toContain(`Existing:\n`);
    expect(failed?.error?.detail).toContain(c.shows![0]);
    expect(failed?.error?.detail).toContain(c.shows![1]);
    expect(failed?.error?.hint).toContain('vpc-migrate resolve --rolled-back 002_change');
    const row = (await prismaLedger(env.db.url)).find((r) => r.migration_name === '002_change');
    expect(row).toMatchObject({ finished_at: null, rolled_back_at: null });
    // The existing object is as it was: the comparison was rolled back.
    if (c.what.startsWith('a non-unique index')) {
      expect(
        await query(
          env.db.url,
          `SELECT indisunique AS u FROM pg_index WHERE indexrelid = '"User_email_key"'::regclass`,
        ),
      ).toEqual([{ u: false }]);
    }
    if (judge) {
      const prisma = await prismaMigrateStatus(env.db.url, dir);
      expect(prisma.exitCode).toBe(1);
      expect(prisma.stdout + prisma.stderr).toContain('002_change');
      expect(prisma.stdout).not.toContain(UP_TO_DATE);
    }
  });

  it.each(EQUAL)('reconciles $what, listing the skipped statement', async (c) => {
    const { dir, report } = await runInto(c);

    expect(report.exitCode).toBe(0);
    const done = report.results.find((r) => r.name === '002_change');
    expect(done?.status).toBe('reconciled');
    expect(done?.skipped?.map((s) => s.message)).toEqual([expect.stringContaining('(same definition')]);
    expect((await prismaLedger(env.db.url)).find((r) => r.migration_name === '002_change')?.logs).toContain('skipped');
    if (judge) {
      await expectPrismaUpToDate(env.db.url, dir);
    }
  });

  it('reconciles an enum that has grown labels since, naming the additions', async () => {
    const { report } = await runInto({
      what: 'grown enum',
      existing: `CREATE TYPE "Role" AS ENUM ('ADMIN', 'MEMBER', 'GUEST');`,
      migration: `CREATE TYPE "Role" AS ENUM ('ADMIN', 'MEMBER');\n`,
    });

    expect(report.exitCode).toBe(0);
    expect(report.results.find((r) => r.name === '002_change')?.skipped?.[0]?.message).toContain(
      'later additions: label GUEST',
    );
  });

  it('never reconciles a duplicate inside one file', async () => {
    const dir = await migrationsDir({
      '001_twice': 'CREATE TABLE "Twice" ("id" INTEGER);\nCREATE TABLE "Twice" ("id" INTEGER);\n',
    });

    const report = await deploy(env.tw.worker, { migrationsDir: dir });

    expect(report.exitCode).toBe(2);
    expect(report.results[0]?.status).toBe('failed');
    expect(report.results[0]?.error?.detail).toContain('already created at line 1');
    expect(await query(env.db.url, `SELECT to_regclass('"Twice"') AS t`)).toEqual([{ t: null }]);
  });
});
