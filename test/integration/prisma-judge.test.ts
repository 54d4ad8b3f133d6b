/**
 * Proves the Prisma judge (test/helpers/prisma-judge.ts): Prisma 6.19.3's own CLI, on its WASM
 * schema engine through @prisma/adapter-pg, against real PostgreSQL servers (the run's embedded
 * one and, when it answers, the system one on 5432). It also pins Prisma's exact ledger rows and
 * messages, which our worker must reproduce, and shows that rows written the way docs/design.md §2
 * describes are accepted by Prisma.
 */
import { createHash, randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { databaseTargets, withClient, prismaLedger, type PrismaLedgerRow, useFreshDatabase } from '../helpers/db.js';
import {
  expectPrismaAgrees,
  expectPrismaNothingPending,
  expectPrismaUpToDate,
  shown,
} from '../helpers/prisma-agrees.js';
import {
  prismaAvailable,
  prismaMigrateDeploy,
  prismaMigrateStatus,
  prismaResolveApplied,
} from '../helpers/prisma-judge.js';

const MIGRATIONS: Record<string, string> = {
  '20240101000000_init': 'CREATE TABLE "Account" (\n  "id" SERIAL PRIMARY KEY,\n  "email" TEXT NOT NULL\n);\n',
  '20240102000000_index': 'CREATE UNIQUE INDEX "Account_email_key" ON "Account"("email");\n',
  '20240103000000_post': [
    'CREATE TABLE "Post" ("id" SERIAL PRIMARY KEY, "accountId" INTEGER NOT NULL REFERENCES "Account"("id"));',
    '-- a body with semicolons: native Prisma sends the whole file as one query',
    'CREATE FUNCTION "touch"() RETURNS trigger LANGUAGE plpgsql AS $$',
    'BEGIN',
    '  NEW."id" := NEW."id";',
    '  RETURN NEW;',
    'END $$;',
    '',
  ].join('\n'),
};

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

async function writeMigrations(dir: string, migrations: Record<string, string>): Promise<void> {
  await writeFile(path.join(dir, 'migration_lock.toml'), 'provider = "postgresql"\n');
  for (const [name, sql] of Object.entries(migrations)) {
    await mkdir(path.join(dir, name), { recursive: true });
    await writeFile(path.join(dir, name, 'migration.sql'), sql);
  }
}

/** The `CREATE TABLE "_prisma_migrations"` block of docs/design.md §2. */
async function designLedgerDdl(): Promise<string> {
  const design = await readFile(new URL('../../docs/design.md', import.meta.url), 'utf8');
  const ddl = /```sql\n(CREATE TABLE "_prisma_migrations" \([\s\S]*?\);)\n```/.exec(design)?.[1];
  if (!ddl) throw new Error('docs/design.md §2 no longer holds the CREATE TABLE "_prisma_migrations" block');
  return ddl;
}

async function sha256OfFile(file: string): Promise<string> {
  return createHash('sha256')
    .update(await readFile(file))
    .digest('hex');
}

describe.skipIf(!prismaAvailable())('Prisma 6.19.3 as the judge', () => {
  describe.each(databaseTargets())('on the $name server', ({ adminUrl }) => {
    const db = useFreshDatabase(adminUrl);
    let dir: string;

    beforeEach(async () => {
      dir = await mkdtemp(path.join(tmpdir(), 'prisma-judge-migrations-'));
      await writeMigrations(dir, MIGRATIONS);
    });

    afterEach(async () => {
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    it('(a) deploys an empty database, then reports it up to date and has nothing pending', async () => {
      const deploy = await prismaMigrateDeploy(db.url, dir);
      expect(deploy.exitCode, shown(deploy)).toBe(0);
      expect(deploy.stdout).toContain('3 migrations found in prisma/migrations');
      expect(deploy.stdout).toContain('The following migration(s) have been applied:');
      for (const name of Object.keys(MIGRATIONS)) expect(deploy.stdout).toContain(`└─ ${name}/`);
      expect(deploy.stdout).toContain('All migrations have been successfully applied.');

      await expectPrismaUpToDate(db.url, dir);
      const again = await expectPrismaNothingPending(db.url, dir);
      // The engine's never-cleared 10 s lock timer must not keep the CLI alive (see the helper).
      expect(again.durationMs).toBeLessThan(9_000);
    });

    it('(b) reports a pending migration when a folder is added', async () => {
      expect((await prismaMigrateDeploy(db.url, dir)).exitCode).toBe(0);
      await writeMigrations(dir, { '20240104000000_comment': 'ALTER TABLE "Post" ADD COLUMN "body" TEXT;\n' });

      const status = await prismaMigrateStatus(db.url, dir);
      expect(status.exitCode, shown(status)).toBe(1);
      expect(status.stdout).toContain('4 migrations found in prisma/migrations');
      expect(status.stdout).toContain('Following migration have not yet been applied:\n20240104000000_comment\n');
      expect(status.stdout).not.toContain('Database schema is up to date!');

      const deploy = await prismaMigrateDeploy(db.url, dir);
      expect(deploy.exitCode, shown(deploy)).toBe(0);
      expect(deploy.stdout).toContain('└─ 20240104000000_comment/');
      expect(deploy.stdout).not.toContain('└─ 20240101000000_init/');
    });

    it("(c) documents Prisma's ledger table and rows", async () => {
      const before = Date.now();
      const deploy = await prismaMigrateDeploy(db.url, dir);
      expect(deploy.exitCode, shown(deploy)).toBe(0);

      const columns = await withClient(
        db.url,
        async (c) =>
          (
            await c.query<{
              column_name: string;
              data_type: string;
              len: number | null;
              nullable: string;
              def: string | null;
            }>(
              `SELECT column_name, data_type, character_maximum_length AS len, is_nullable AS nullable, column_default
                AS def
               FROM information_schema.columns WHERE table_schema = 'public' AND table_name = '_prisma_migrations'
              ORDER BY ordinal_position`,
            )
          ).rows,
      );
      expect(columns).toEqual([
        { column_name: 'id', data_type: 'character varying', len: 36, nullable: 'NO', def: null },
        { column_name: 'checksum', data_type: 'character varying', len: 64, nullable: 'NO', def: null },
        { column_name: 'finished_at', data_type: 'timestamp with time zone', len: null, nullable: 'YES', def: null },
        { column_name: 'migration_name', data_type: 'character varying', len: 255, nullable: 'NO', def: null },
        { column_name: 'logs', data_type: 'text', len: null, nullable: 'YES', def: null },
        { column_name: 'rolled_back_at', data_type: 'timestamp with time zone', len: null, nullable: 'YES', def: null },
        { column_name: 'started_at', data_type: 'timestamp with time zone', len: null, nullable: 'NO', def: 'now()' },
        { column_name: 'applied_steps_count', data_type: 'integer', len: null, nullable: 'NO', def: '0' },
      ]);
      const constraints = await withClient(
        db.url,
        async (c) =>
          (
            await c.query<{ contype: string; def: string }>(
              `SELECT contype, pg_get_constraintdef(oid) AS def FROM pg_constraint
              WHERE conrelid = '"_prisma_migrations"'::regclass AND contype <> 'n'`, // PG 18 lists NOT NULLs too
            )
          ).rows,
      );
      // Only the primary key: no unique constraint on migration_name.
      expect(constraints).toEqual([{ contype: 'p', def: 'PRIMARY KEY (id)' }]);

      const rows = await prismaLedger(db.url);
      expect(rows.map((r) => r.migration_name)).toEqual(Object.keys(MIGRATIONS));
      for (const row of rows) {
        expect(row.id).toMatch(UUID_V4);
        expect(row.checksum).toBe(await sha256OfFile(path.join(dir, row.migration_name, 'migration.sql')));
        expect(row.checksum).toMatch(/^[0-9a-f]{64}$/);
        expect(row.logs).toBeNull();
        expect(row.rolled_back_at).toBeNull();
        expect(row.applied_steps_count).toBe(1);
        expect(row.finished_at).toBeInstanceOf(Date);
        expect(row.finished_at!.getTime()).toBeGreaterThanOrEqual(row.started_at.getTime());
        expect(row.started_at.getTime()).toBeGreaterThanOrEqual(before - 5_000);
      }
      // Each migration's row is written before the next one starts.
      for (let i = 1; i < rows.length; i++) {
        expect(rows[i]!.started_at.getTime()).toBeGreaterThanOrEqual(rows[i - 1]!.finished_at!.getTime());
      }
    });

    it('(d) accepts ledger rows written by hand as docs/design.md §2 describes', async () => {
      await withClient(db.url, async (c) => {
        // The table as the design document states it, not the worker's copy: the judge stays independent.
        await c.query(await designLedgerDdl());
        for (const name of Object.keys(MIGRATIONS)) {
          const file = path.join(dir, name, 'migration.sql');
          await c.query('BEGIN');
          await c.query(await readFile(file, 'utf8'));
          await c.query(
            `INSERT INTO "_prisma_migrations" ("id", "checksum", "finished_at", "migration_name", "applied_steps_count")
             VALUES ($1, $2, now(), $3, 1)`,
            [randomUUID(), await sha256OfFile(file), name],
          );
          await c.query('COMMIT');
        }
      });
      const written = await prismaLedger(db.url);

      await expectPrismaAgrees(db.url, dir);
      expect(await prismaLedger(db.url)).toEqual(written);
    });

    it('(e) records a failed migration, refuses with P3009, and resolves it with --applied', async () => {
      await writeMigrations(dir, { '20240104000000_broken': 'CREATE TABLE "Half" ("id" INTEGER);\nSELECT 1/0;\n' });

      const deploy = await prismaMigrateDeploy(db.url, dir);
      expect(deploy.exitCode, shown(deploy)).toBe(1);
      // On failure nothing is listed, not even the migrations applied before the broken one,
      // and the adapter path reports "external connector error", not native Prisma's "P3018".
      expect(deploy.stdout).not.toContain('└─ ');
      expect(deploy.stdout).not.toContain('All migrations have been successfully applied.');
      expect(deploy.stderr).toContain('Error: external connector error');
      expect(deploy.stderr).toContain('ERROR: division by zero');
      expect(deploy.stderr).toContain('with migration_name="20240104000000_broken"');

      const failed = (await prismaLedger(db.url)).filter((r) => r.migration_name === '20240104000000_broken');
      expect(failed).toHaveLength(1);
      expect(failed[0]).toMatchObject({ finished_at: null, rolled_back_at: null, applied_steps_count: 0 });
      expect(failed[0]!.logs).toContain('division by zero');
      // One simple-protocol query is one implicit transaction: the first statement was undone.
      const half = await withClient(
        db.url,
        async (c) => (await c.query(`SELECT to_regclass('"Half"') AS t`)).rows[0]?.t,
      );
      expect(half).toBeNull();

      const status = await prismaMigrateStatus(db.url, dir);
      expect(status.exitCode, shown(status)).toBe(1);
      expect(status.stderr).toContain('Following migration have failed:\n20240104000000_broken\n');
      expect(status.stderr).toContain('prisma migrate resolve --applied "20240104000000_broken"');

      const refused = await prismaMigrateDeploy(db.url, dir);
      expect(refused.exitCode, shown(refused)).toBe(1);
      expect(refused.stderr).toContain('Error: P3009');
      expect(refused.stderr).toContain(
        'migrate found failed migrations in the target database, new migrations will not be applied.',
      );
      expect(refused.stderr).toMatch(
        /The `20240104000000_broken` migration started at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+ UTC failed/,
      );

      const missing = await prismaResolveApplied(db.url, dir, '20240105000000_nowhere');
      expect(missing.exitCode, shown(missing)).toBe(1);
      expect(missing.stderr).toContain('Error: P3017');

      const resolved = await prismaResolveApplied(db.url, dir, '20240104000000_broken');
      expect(resolved.exitCode, shown(resolved)).toBe(0);
      expect(resolved.stdout).toContain('Migration 20240104000000_broken marked as applied.');
      expect(resolved.durationMs).toBeLessThan(9_000);

      const rows = (await prismaLedger(db.url)).filter((r) => r.migration_name === '20240104000000_broken');
      expect(rows).toHaveLength(2);
      const [old, added] = rows as [PrismaLedgerRow, PrismaLedgerRow];
      expect(old.id).toBe(failed[0]!.id);
      expect(old.rolled_back_at).toBeInstanceOf(Date);
      expect(old.finished_at).toBeNull();
      expect(added.id).toMatch(UUID_V4);
      expect(added.checksum).toBe(failed[0]!.checksum);
      expect(added.logs).toBe('');
      expect(added.rolled_back_at).toBeNull();
      expect(added.applied_steps_count).toBe(0);
      expect(added.finished_at?.getTime()).toBe(added.started_at.getTime());

      const again = await prismaResolveApplied(db.url, dir, '20240104000000_broken');
      expect(again.exitCode, shown(again)).toBe(1);
      expect(again.stderr).toContain('Error: P3008');
      expect(again.stderr).toContain(
        'The migration `20240104000000_broken` is already recorded as applied in the database.',
      );

      await expectPrismaUpToDate(db.url, dir);
    });

    it(
      "documents Prisma's status on rows not found locally: " + 'silent alone, divergence with a pending folder',
      async () => {
        expect((await prismaMigrateDeploy(db.url, dir)).exitCode).toBe(0);
        await rm(path.join(dir, '20240103000000_post'), { recursive: true });

        // The database is ahead of the folder: Prisma's status does not report it.
        const ahead = await prismaMigrateStatus(db.url, dir);
        expect(ahead.exitCode, shown(ahead)).toBe(0);
        expect(ahead.stdout).toContain('2 migrations found in prisma/migrations');
        expect(ahead.stdout).toContain('Database schema is up to date!');

        await writeMigrations(dir, { '20240104000000_other': 'SELECT 1;\n' });
        const diverged = await prismaMigrateStatus(db.url, dir);
        expect(diverged.exitCode, shown(diverged)).toBe(1);
        expect(diverged.stderr).toContain(
          [
            'Your local migration history and the migrations table from your database are different:',
            '',
            'The last common migration is: 20240102000000_index',
            '',
            'The migration have not yet been applied:',
            '20240104000000_other',
            '',
            'The migration from the database are not found locally in prisma/migrations:',
            '20240103000000_post',
          ].join('\n'),
        );
      },
    );

    it("documents that Prisma's status and deploy do not check checksums of applied migrations", async () => {
      expect((await prismaMigrateDeploy(db.url, dir)).exitCode).toBe(0);
      await writeFile(
        path.join(dir, '20240101000000_init', 'migration.sql'),
        `${MIGRATIONS['20240101000000_init']}-- edited\n`,
      );
      await expectPrismaAgrees(db.url, dir);
    });

    it('honours ?schema= like native Prisma (ledger and objects in that schema, created if missing)', async () => {
      const url = new URL(db.url);
      url.searchParams.set('schema', 'tenant one');
      const deploy = await prismaMigrateDeploy(url.toString(), dir);
      expect(deploy.exitCode, shown(deploy)).toBe(0);
      expect(deploy.stdout).toContain('schema "tenant one"');
      const tables = await withClient(db.url, async (c) =>
        (
          await c.query<{ t: string }>(
            `SELECT table_schema || '.' || table_name AS t FROM ` +
              `information_schema.tables WHERE table_schema NOT IN ` +
              `('pg_catalog', 'information_schema') ORDER BY 1`,
          )
        ).rows.map((r) => r.t),
      );
      expect(tables).toEqual(['tenant one.Account', 'tenant one.Post', 'tenant one._prisma_migrations']);
      const status = await prismaMigrateStatus(url.toString(), dir);
      expect(status.stdout, shown(status)).toContain('Database schema is up to date!');
      // Against the default schema the same database has no ledger yet.
      const publicStatus = await prismaMigrateStatus(db.url, dir);
      expect(publicStatus.exitCode, shown(publicStatus)).toBe(1);
      expect(publicStatus.stdout).toContain('Following migrations have not yet been applied:');
    });

    it("scriptMode 'adapter' shows the stock adapter's naive ';' split that the default avoids", async () => {
      const run = await prismaMigrateDeploy(db.url, dir, { scriptMode: 'adapter' });
      expect(run.exitCode, shown(run)).toBe(1);
      expect(run.stderr).toContain('unterminated dollar-quoted string');
      expect(run.stderr).toContain('with migration_name="20240103000000_post"');
    });
  });
});
