/**
 * Where the migrations folder comes from (scripts/project/migrations-dir.ts): `--migrations`
 * from the directory the user ran the command in, else Prisma's config, package.json
 * `prisma.schema`, drizzle's config, the default; temp project folders, real @prisma/config.
 */
import { mkdir, mkdtemp, realpath, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCode, MigrateError } from '../../lambda/contract/index.js';
import {
  besideSchema,
  locateMigrations,
  missingEnvVariable,
  requireMigrationsDir,
  sourceLabel,
} from '../../scripts/project/migrations-dir.js';
import { repoRoot } from '../helpers/migrations.js';

const made: string[] = [];
afterEach(async () => {
  await Promise.all(made.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

/** A temp project with these files (parents created); returns its real path (macOS /private). */
async function project(files: Record<string, string>): Promise<string> {
  const root = await realpath(await mkdtemp(path.join(tmpdir(), 'vpcm-project-')));
  made.push(root);
  for (const [name, text] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(root, name)), { recursive: true });
    await writeFile(path.join(root, name), text);
  }
  return root;
}

/** `import … from 'pkg'` resolvable in the temp project: node_modules/pkg → this repository's copy. */
async function link(root: string, pkg: string): Promise<void> {
  const target = await realpath(path.join(repoRoot, 'node_modules', pkg));
  await mkdir(path.dirname(path.join(root, 'node_modules', pkg)), { recursive: true });
  await symlink(target, path.join(root, 'node_modules', pkg), 'dir');
}

/** No npm script is running: the invocation dir is `cwd`. */
const plainEnv = (): NodeJS.ProcessEnv => ({});

describe('locateMigrations', () => {
  it('prisma.config.ts migrations.path, relative to the config file, at a non-default place', async () => {
    const root = await project({ 'prisma.config.ts': "export default { migrations: { path: 'db/history' } };\n" });
    const loc = await locateMigrations({ env: plainEnv(), cwd: root });
    expect(loc).toMatchObject({
      dir: path.join(root, 'db/history'),
      kind: 'prisma-config',
      source: 'prisma.config.ts migrations.path',
      file: path.join(root, 'prisma.config.ts'),
    });
    expect(loc.loader).toMatch(/^@prisma\/config 7\.\d+\.\d+ \(vpc-migrate's\)$/);
    expect(sourceLabel(loc)).toBe('(from prisma.config.ts migrations.path)');
  });

  it('.config/prisma.ts is found too', async () => {
    const root = await project({
      '.config/prisma.ts': "export default { migrations: { path: '../sql/migrations' } };\n",
    });
    const loc = await locateMigrations({ env: plainEnv(), cwd: root });
    expect(loc.dir).toBe(path.join(root, 'sql/migrations'));
    expect(loc.source).toBe(`${path.join('.config', 'prisma.ts')} migrations.path`);
  });

  it('a config with only schema: migrations/ beside the schema file, or inside the schema folder', async () => {
    const file = await project({
      'prisma.config.mjs': "export default { schema: 'db/schema.prisma' };\n",
      'db/schema.prisma': '',
    });
    expect(await locateMigrations({ env: plainEnv(), cwd: file })).toMatchObject({
      dir: path.join(file, 'db/migrations'),
      source: 'prisma.config.mjs schema',
    });
    const folder = await project({
      'prisma.config.ts': "export default { schema: 'models' };\n",
      'models/user.prisma': '',
    });
    expect((await locateMigrations({ env: plainEnv(), cwd: folder })).dir).toBe(path.join(folder, 'models/migrations'));
  });

  it(
    "a config reading env('DATABASE_URL') loads with the " +
      'variable unset, and process.env is left exactly as ' +
      'it was',
    async () => {
      const root = await project({
        'prisma.config.ts': [
          "import { defineConfig, env } from '@prisma/config';",
          "process.env.SET_BY_CONFIG = 'dotenv-like';",
          "export default defineConfig({ migrations: { path: 'db/migrations' " +
            "}, datasource: { url: env('DATABASE_URL'), shadowDatabaseUrl: " +
            "env('VPCM_TEST_SHADOW_URL') } });",
          '',
        ].join('\n'),
      });
      await link(root, '@prisma/config');
      const saved = process.env.DATABASE_URL;
      delete process.env.DATABASE_URL;
      const before = { ...process.env };
      try {
        const loc = await locateMigrations({ env: plainEnv(), cwd: root });
        expect(loc.dir).toBe(path.join(root, 'db/migrations'));
        expect(loc.source).toBe(
          'prisma.config.ts migrations.path; DATABASE_URL, VPCM_TEST_SHADOW_URL unset, loaded with a placeholder',
        );
        expect({ ...process.env }).toEqual(before);
        expect('DATABASE_URL' in process.env).toBe(false);
      } finally {
        if (saved !== undefined) process.env.DATABASE_URL = saved;
      }
    },
  );

  it("the project's own prisma package supplies @prisma/config when it has one", async () => {
    const root = await project({ 'prisma.config.ts': "export default { migrations: { path: 'm' } };\n" });
    await link(root, 'prisma');
    const loc = await locateMigrations({ env: plainEnv(), cwd: root });
    expect(loc.dir).toBe(path.join(root, 'm'));
    expect(loc.loader).toMatch(/ \(the project's prisma\)$/);
  });

  it(
    'a config and no @prisma/config to load it with (neither ' +
      "the project's prisma nor ours) is VPCM_PRISMA_CONFIG, " +
      'saying what to install',
    async () => {
      const root = await project({ 'prisma.config.ts': "export default { migrations: { path: 'm' } };\n" });
      const nowhere = await project({});
      const error = (await locateMigrations({
        env: plainEnv(),
        cwd: root,
        ownPackages: path.join(nowhere, 'x.js'),
      }).catch((e: unknown) => e)) as MigrateError;
      expect(error.code).toBe(ErrorCode.PrismaConfigUnreadable);
      expect(error.message).toContain(path.join(root, 'prisma.config.ts'));
      expect(error.remedy).toContain('pnpm add -D prisma');
      expect(error.remedy).toContain('--migrations');
    },
  );

  it('a config that fails for another reason is VPCM_PRISMA_CONFIG, naming the file', async () => {
    const root = await project({ 'prisma.config.ts': "throw new Error('boom');\n" });
    const error = await locateMigrations({ env: plainEnv(), cwd: root }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MigrateError);
    expect((error as MigrateError).code).toBe(ErrorCode.PrismaConfigUnreadable);
    expect((error as MigrateError).message).toContain(path.join(root, 'prisma.config.ts'));
    expect((error as MigrateError).message).toContain('boom');
    expect((error as MigrateError).remedy).toContain('--migrations');
  });

  it(
    'package.json "prisma": {"schema"} (Prisma 6): migrations ' + 'beside the schema, from the nearest package.json',
    async () => {
      const root = await project({
        'package.json': JSON.stringify({ name: 'app', prisma: { schema: 'database/schema.prisma' } }),
        'database/schema.prisma': '',
        'src/.keep': '',
      });
      const loc = await locateMigrations({ env: plainEnv(), cwd: path.join(root, 'src') });
      expect(loc).toMatchObject({
        dir: path.join(root, 'database/migrations'),
        kind: 'package-json',
        source: `${path.join('..', 'package.json')} prisma.schema`,
      });
    },
  );

  it('drizzle.config.json and drizzle.config.ts: out, relative to the project', async () => {
    const json = await project({
      'drizzle.config.json': JSON.stringify({ dialect: 'postgresql', out: './drizzle/migrations' }),
    });
    expect(await locateMigrations({ env: plainEnv(), cwd: json })).toMatchObject({
      dir: path.join(json, 'drizzle/migrations'),
      kind: 'drizzle-config',
      source: 'drizzle.config.json out',
    });
    const ts = await project({
      'drizzle.config.ts':
        "const out: string = './db/out';\nexport default { dialect: " +
        "'postgresql', out, dbCredentials: { url: process.env.DATABASE_URL! " +
        '} };\n',
    });
    expect((await locateMigrations({ env: plainEnv(), cwd: ts })).dir).toBe(path.join(ts, 'db/out'));
  });

  it('nothing configured: prisma/migrations in the invocation dir', async () => {
    const root = await project({ 'package.json': JSON.stringify({ name: 'app' }) });
    expect(await locateMigrations({ env: plainEnv(), cwd: root })).toEqual({
      dir: path.join(root, 'prisma/migrations'),
      kind: 'default',
      source: 'default prisma/migrations',
    });
  });

  it(
    '--migrations wins over a config, and is relative to ' + 'INIT_CWD when a vpc-migrate package script runs',
    async () => {
      const tool = await project({ 'prisma.config.ts': "throw new Error('never loaded');\n" });
      const app = await project({});
      const env = { INIT_CWD: path.join(app, 'packages/db'), npm_lifecycle_script: 'node scripts/run-cli.mjs status' };
      expect(await locateMigrations({ flag: 'prisma/migrations', env, cwd: tool })).toEqual({
        dir: path.join(app, 'packages/db/prisma/migrations'),
        kind: 'flag',
        source: '--migrations',
      });
      // The same INIT_CWD under another script (a test runner) does not count.
      const other = await locateMigrations({
        flag: 'm',
        env: { ...env, npm_lifecycle_script: 'vitest run' },
        cwd: app,
      });
      expect(other.dir).toBe(path.join(app, 'm'));
    },
  );
});

describe('requireMigrationsDir', () => {
  it('names the absolute folder and its source when it does not exist', async () => {
    const root = await project({ 'prisma.config.ts': "export default { migrations: { path: 'nowhere' } };\n" });
    const loc = await locateMigrations({ env: plainEnv(), cwd: root });
    const error = (await requireMigrationsDir(loc).catch((e: unknown) => e)) as MigrateError;
    expect(error.code).toBe(ErrorCode.MigrationsDirMissing);
    expect(error.message).toBe(
      `The migrations folder ${path.join(root, 'nowhere')} (from prisma.config.ts migrations.path) does not exist.`,
    );
    expect(error.remedy).toContain(path.join(root, 'prisma.config.ts'));
    expect(error.details).toMatchObject({ path: path.join(root, 'nowhere'), kind: 'prisma-config' });
  });

  it('passes an existing folder through', async () => {
    const root = await project({ 'prisma/migrations/.keep': '' });
    const loc = await locateMigrations({ env: plainEnv(), cwd: root });
    expect(await requireMigrationsDir(loc)).toBe(loc);
  });
});

describe('pure parts', () => {
  it('besideSchema: inside a schema folder, beside a schema file', () => {
    expect(besideSchema('/a/db', true)).toBe('/a/db/migrations');
    expect(besideSchema('/a/db/schema.prisma', false)).toBe('/a/db/migrations');
  });

  it("missingEnvVariable reads Prisma 7's and Prisma 6's messages, through causes", () => {
    expect(missingEnvVariable(new Error('Cannot resolve environment variable: DATABASE_URL.'))).toBe('DATABASE_URL');
    expect(missingEnvVariable(new Error('Missing required environment variable: DIRECT_URL'))).toBe('DIRECT_URL');
    expect(
      missingEnvVariable(new Error('wrapped', { cause: new Error('Cannot resolve environment variable: X_1.') })),
    ).toBe('X_1');
    expect(missingEnvVariable(new Error('something else'))).toBeUndefined();
  });
});
