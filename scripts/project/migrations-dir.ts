/**
 * Where the migrations are, found where Prisma finds them (docs/design.md §7), from the directory
 * the user ran the command in (./invocation-dir.ts), in this order:
 *
 * 1. `--migrations DIR`, relative to that directory.
 * 2. Prisma's config file in that directory (`prisma.config.ts`, `.mts/.cts/.js/.mjs/.cjs`,
 *    `.config/prisma.ts`, … in @prisma/config's own order): `migrations.path`, else `migrations/`
 *    beside `schema` (a file, or a folder of .prisma files). Loaded with `@prisma/config`, the
 *    loader Prisma itself uses, taken first from the project's own `prisma` package (the exact
 *    version its Prisma runs), else vpc-migrate's; both resolve paths from the config file's
 *    folder and load no .env file.
 * 3. The nearest package.json's `"prisma": { "schema": … }` (Prisma 6): `migrations/` beside it.
 * 4. `drizzle.config.{ts,mts,cts,js,mjs,cjs,json}` in that directory: its `out` (drizzle-kit's
 *    default `drizzle`), relative to that directory as drizzle-kit reads it. JSON is parsed; the
 *    others are loaded with jiti, taken from the project, else from the c12 that @prisma/config
 *    brings; a .js/.mjs/.cjs config falls back to Node's own import.
 * 5. `prisma/migrations`.
 *
 * Configs commonly say `datasource: { url: env('DATABASE_URL') }`, and Prisma's `env()` throws
 * when the variable is unset, as it is in CI where `deploy --stack` needs no database URL.
 * vpc-migrate never uses the config's datasource, so such a config is loaded again with a
 * placeholder for exactly the missing variables (at most {@link MAX_PLACEHOLDERS}); the source
 * says so. Whatever loading a config does to `process.env` (placeholders, a `dotenv/config`
 * import) is undone afterwards: `--local` reads DATABASE_URL, and it must see the user's own.
 */
import { statSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ErrorCode, MigrateError } from '../../lambda/contract/index.js';
import { invocationDir } from './invocation-dir.js';

export type MigrationsSourceKind = 'flag' | 'option' | 'prisma-config' | 'package-json' | 'drizzle-config' | 'default';

/** The migrations folder of a run and where it came from (printed in the header, and in --json). */
export interface MigrationsLocation {
  /** Absolute path of the folder. */
  dir: string;
  kind: MigrationsSourceKind;
  /**
   *  For people: `--migrations`, `prisma.config.ts migrations.path`, `package.json prisma.schema`, `default
   *  prisma/migrations`.
   */
  source: string;
  /** The file that named the folder (config file or package.json), absolute. */
  file?: string;
  /**
   *  Which @prisma/config loaded a Prisma config: `@prisma/config 7.10.1 (the project's prisma)` or `(vpc-migrate's)`.
   */
  loader?: string;
  /**
   * Objects the Prisma config says Prisma does not manage (`tables.external`, `enums.external`):
   * drift does not report them.
   */
  external?: { tables: string[]; enums: string[] };
}

export const DEFAULT_MIGRATIONS = 'prisma/migrations';
/** How many unset variables a config may ask `env()` for before we stop filling them in. */
export const MAX_PLACEHOLDERS = 8;
/** What an unset variable reads while the config loads: a URL, for configs that check its shape. */
export const ENV_PLACEHOLDER = 'postgresql://vpc-migrate-placeholder@localhost:5432/unset';

const CONFIG_EXTENSIONS = ['.js', '.ts', '.mjs', '.cjs', '.mts', '.cts'];
/** @prisma/config 7.10.1's `findPrismaConfigFile` candidates, in its order. */
export const PRISMA_CONFIG_CANDIDATES = [
  ...['prisma7.config', path.join('.config', 'prisma7')].flatMap((base) => CONFIG_EXTENSIONS.map((ext) => base + ext)),
  ...['prisma.config', path.join('.config', 'prisma'), path.join('.config', 'prisma.config')].flatMap((base) => [
    ...CONFIG_EXTENSIONS.map((ext) => base + ext),
    ...CONFIG_EXTENSIONS.map((ext) => path.join(base, `index${ext}`)),
  ]),
];
export const DRIZZLE_CONFIG_CANDIDATES = ['.ts', '.mts', '.cts', '.js', '.mjs', '.cjs', '.json'].map(
  (ext) => `drizzle.config${ext}`,
);

/** The text after `Migrations: DIR`, e.g. `(from prisma.config.ts migrations.path)`. */
export function sourceLabel(loc: Pick<MigrationsLocation, 'kind' | 'source'>): string {
  return loc.kind === 'flag' || loc.kind === 'default' || loc.kind === 'option'
    ? `(${loc.source})`
    : `(from ${loc.source})`;
}

/** A folder given by a program (`deploy(worker, { migrationsDir })`), when it says nothing more. */
export function givenLocation(dir: string, location?: MigrationsLocation): MigrationsLocation {
  return location ?? { dir: path.resolve(dir), kind: 'option', source: 'migrationsDir' };
}

/** Prisma's rule: `migrations/` inside a schema folder, or beside a schema file. */
export function besideSchema(schema: string, isDirectory: boolean): string {
  return path.join(isDirectory ? schema : path.dirname(schema), 'migrations');
}

/**
 *  The variable a config's `env()` could not resolve (Prisma 7: "Cannot resolve environment variable: X."; 6: "Missing
 *  required environment variable: X").
 */
export function missingEnvVariable(error: unknown): string | undefined {
  for (let e = error, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    const m = /(?:Cannot resolve|Missing required) environment variable:?\s+([A-Za-z_][A-Za-z0-9_]*)/.exec(e.message);
    if (m) return m[1];
  }
  return undefined;
}

/** The first of `candidates` that is a file in `root`. */
export function findFirstFile(root: string, candidates: readonly string[]): string | undefined {
  for (const c of candidates) {
    const file = path.resolve(root, c);
    if (statSync(file, { throwIfNoEntry: false })?.isFile()) return file;
  }
  return undefined;
}

export interface LocateOptions {
  /** `--migrations` as given. */
  flag?: string;
  /** For {@link invocationDir}: default process.env and process.cwd(). */
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /**
   *  Where vpc-migrate's own packages (@prisma/config) are resolved from: default this module (tests point it
   *  elsewhere).
   */
  ownPackages?: string;
}

/**
 * The migrations folder of this run (see the module comment for the order); `flag` is
 * `--migrations` as given. The folder is not checked here: {@link requireMigrationsDir}.
 */
export async function locateMigrations(opts: LocateOptions = {}): Promise<MigrationsLocation> {
  const root = invocationDir(opts.env ?? process.env, opts.cwd ?? process.cwd());
  if (opts.flag !== undefined) return { dir: path.resolve(root, opts.flag), kind: 'flag', source: '--migrations' };
  const prismaConfig = findFirstFile(root, PRISMA_CONFIG_CANDIDATES);
  if (prismaConfig) return fromPrismaConfig(root, prismaConfig, opts.ownPackages ?? import.meta.url);
  const fromPackage = await fromPackageJson(root);
  if (fromPackage) return fromPackage;
  const drizzleConfig = findFirstFile(root, DRIZZLE_CONFIG_CANDIDATES);
  if (drizzleConfig) return fromDrizzleConfig(root, drizzleConfig);
  return { dir: path.resolve(root, DEFAULT_MIGRATIONS), kind: 'default', source: `default ${DEFAULT_MIGRATIONS}` };
}

/** Refuses a folder that does not exist, naming it and where it came from. */
export async function requireMigrationsDir(loc: MigrationsLocation): Promise<MigrationsLocation> {
  const s = await stat(loc.dir).catch(() => undefined);
  if (s?.isDirectory()) return loc;
  throw new MigrateError(
    ErrorCode.MigrationsDirMissing,
    `The migrations folder ${loc.dir} ${sourceLabel(loc)} ${s ? 'is not a directory' : 'does not exist'}.`,
    missingRemedy(loc),
    { details: { path: loc.dir, source: loc.source, kind: loc.kind, ...(loc.file ? { file: loc.file } : {}) } },
  );
}

function missingRemedy(loc: MigrationsLocation): string {
  const file = loc.file ? path.basename(loc.file) : '';
  switch (loc.kind) {
    case 'flag':
      return (
        'A relative --migrations is read from the directory ' +
        'you ran the command in; pass the folder holding the ' +
        'migration folders (an absolute path is never ambiguous).'
      );
    case 'prisma-config':
      return `Fix migrations.path (or schema) in ${loc.file}, or pass --migrations DIR.`;
    case 'package-json':
      return `Fix "prisma": { "schema": … } in ${loc.file}, or pass --migrations DIR.`;
    case 'drizzle-config':
      return `Fix out in ${file}, or pass --migrations DIR.`;
    default:
      return "Run from your project's root (where prisma/ or prisma.config.ts is), or pass --migrations DIR.";
  }
}

/** What we use of @prisma/config (6.6 and later): the same two calls the Prisma CLI makes. */
interface PrismaConfigApi {
  loadConfigFromFile(input: { configFile?: string; configRoot?: string }): Promise<{
    config?: {
      schema?: string;
      migrations?: { path?: string };
      tables?: { external?: readonly string[] };
      enums?: { external?: readonly string[] };
    };
    error?: { _tag: string; error?: unknown };
    resolvedPath: string | null;
  }>;
}

async function fromPrismaConfig(root: string, file: string, ownPackages: string): Promise<MigrationsLocation> {
  const name = path.relative(root, file);
  const { api, loader } = await importPrismaConfig(root, name, ownPackages);
  const { config, filled } = await withEnvRestored(async () => {
    const filled: string[] = [];
    for (;;) {
      const result = await api.loadConfigFromFile({ configFile: file, configRoot: root });
      if (!result.error) return { config: result.config ?? {}, filled };
      const cause = result.error.error;
      const variable = missingEnvVariable(cause);
      if (variable && !filled.includes(variable) && filled.length < MAX_PLACEHOLDERS) {
        process.env[variable] = ENV_PLACEHOLDER;
        filled.push(variable);
        continue;
      }
      throw new MigrateError(
        ErrorCode.PrismaConfigUnreadable,
        `${file} could not be loaded (${result.error._tag}${cause instanceof Error ? `: ${cause.message}` : ''}).`,
        'Fix the config so that `prisma migrate status` loads it, or pass --migrations DIR to skip it.',
        { cause, details: { file, tag: result.error._tag, ...(filled.length ? { placeholders: filled } : {}) } },
      );
    }
  });
  const note = filled.length ? `; ${filled.join(', ')} unset, loaded with a placeholder` : '';
  const configDir = path.dirname(file);
  const tables = [...(config.tables?.external ?? [])];
  const enums = [...(config.enums?.external ?? [])];
  const external = tables.length + enums.length > 0 ? { external: { tables, enums } } : {};
  if (config.migrations?.path) {
    return {
      dir: path.resolve(configDir, config.migrations.path),
      kind: 'prisma-config',
      source: `${name} migrations.path${note}`,
      file,
      loader,
      ...external,
    };
  }
  if (config.schema) {
    const schema = path.resolve(configDir, config.schema);
    return {
      dir: besideSchema(schema, await isDirectory(schema)),
      kind: 'prisma-config',
      source: `${name} schema${note}`,
      file,
      loader,
      ...external,
    };
  }
  return {
    dir: path.resolve(root, DEFAULT_MIGRATIONS),
    kind: 'prisma-config',
    source: `${name} without migrations.path or schema: ${DEFAULT_MIGRATIONS}${note}`,
    file,
    loader,
    ...external,
  };
}

/**
 * @prisma/config from the project's own `prisma` package (the version its Prisma uses), else
 * vpc-migrate's (an optional peer dependency). Imported by resolved path: never bundled.
 */
async function importPrismaConfig(
  root: string,
  configName: string,
  ownPackages: string,
): Promise<{ api: PrismaConfigApi; loader: string }> {
  const candidates: { from: NodeRequire; whose: string }[] = [];
  try {
    const prismaPackage = createRequire(path.join(root, 'package.json')).resolve('prisma/package.json');
    candidates.push({ from: createRequire(prismaPackage), whose: "the project's prisma" });
  } catch {
    // the project has no prisma package: ours
  }
  candidates.push({ from: createRequire(ownPackages), whose: "vpc-migrate's" });
  for (const { from, whose } of candidates) {
    let entry: string;
    try {
      entry = from.resolve('@prisma/config');
    } catch {
      continue; // a Prisma without @prisma/config (before 6.6), or none beside vpc-migrate
    }
    const mod = (await import(pathToFileURL(entry).href)) as Partial<PrismaConfigApi> & {
      default?: Partial<PrismaConfigApi>;
    };
    const api = typeof mod.loadConfigFromFile === 'function' ? mod : mod.default;
    if (typeof api?.loadConfigFromFile !== 'function') continue;
    const version = await packageVersion(entry);
    return { api: api as PrismaConfigApi, loader: `@prisma/config${version ? ` ${version}` : ''} (${whose})` };
  }
  throw new MigrateError(
    ErrorCode.PrismaConfigUnreadable,
    `${path.join(root, configName)} names the migrations ` +
      `folder, but there is no @prisma/config to load it with ` +
      `(neither the project's prisma package nor vpc-migrate's ` +
      `own).`,
    'Install Prisma in the project (`pnpm add -D prisma`) ' +
      'or @prisma/config beside vpc-migrate, or pass --migrations ' +
      'DIR.',
    { details: { file: path.join(root, configName) } },
  );
}

async function fromPackageJson(root: string): Promise<MigrationsLocation | undefined> {
  for (let dir = root; ; dir = path.dirname(dir)) {
    const file = path.join(dir, 'package.json');
    const text = await readFile(file, 'utf8').catch(() => undefined);
    if (text !== undefined) {
      let pkg: { prisma?: { schema?: unknown } };
      try {
        pkg = JSON.parse(text) as typeof pkg;
      } catch {
        return undefined; // Prisma would fail on it too; the default applies
      }
      const schema = pkg.prisma?.schema;
      if (typeof schema !== 'string' || schema === '') return undefined;
      const abs = path.resolve(dir, schema);
      return {
        dir: besideSchema(abs, await isDirectory(abs)),
        kind: 'package-json',
        source: `${path.relative(root, file) || 'package.json'} prisma.schema`,
        file,
      };
    }
    if (path.dirname(dir) === dir) return undefined;
  }
}

async function fromDrizzleConfig(root: string, file: string): Promise<MigrationsLocation> {
  const name = path.relative(root, file);
  const config = await withEnvRestored(() => loadDrizzleConfig(root, file));
  const out = (config as { out?: unknown } | undefined)?.out;
  if (typeof out === 'string' && out !== '')
    return { dir: path.resolve(root, out), kind: 'drizzle-config', source: `${name} out`, file };
  return { dir: path.resolve(root, 'drizzle'), kind: 'drizzle-config', source: `${name} without out: drizzle`, file };
}

async function loadDrizzleConfig(root: string, file: string): Promise<unknown> {
  const unreadable = (why: string, cause?: unknown) =>
    new MigrateError(
      ErrorCode.DrizzleConfigUnreadable,
      `${file} could not be loaded: ${why}.`,
      'Fix the config, or pass --migrations DIR (the folder holding meta/_journal.json).',
      {
        cause,
        details: { file },
      },
    );
  try {
    if (file.endsWith('.json')) return JSON.parse(await readFile(file, 'utf8'));
    const jiti = findJiti(root);
    if (jiti) {
      const { createJiti } = createRequire(jiti)(jiti) as {
        createJiti: (from: string, opts: object) => { import(id: string, opts: object): Promise<unknown> };
      };
      return await createJiti(file, { interopDefault: true, moduleCache: false }).import(file, { default: true });
    }
    if (/\.[cm]?js$/.test(file)) {
      const mod = (await import(pathToFileURL(file).href)) as { default?: unknown };
      return mod.default ?? mod;
    }
  } catch (error) {
    throw unreadable(error instanceof Error ? error.message : String(error), error);
  }
  throw unreadable('a TypeScript config needs jiti, found neither in the project nor beside @prisma/config');
}

/** jiti 2 (it has `createJiti`) from the project, else through @prisma/config's c12. */
function findJiti(root: string): string | undefined {
  const attempts = [
    () => createRequire(path.join(root, 'package.json')).resolve('jiti'),
    () => {
      const config = createRequire(import.meta.url).resolve('@prisma/config');
      return createRequire(createRequire(config).resolve('c12')).resolve('jiti');
    },
  ];
  for (const attempt of attempts) {
    try {
      const found = attempt();
      if (typeof (createRequire(found)(found) as { createJiti?: unknown }).createJiti === 'function') return found;
    } catch {
      // next place
    }
  }
  return undefined;
}

/** The version in the package.json above a package's entry file. */
async function packageVersion(entry: string): Promise<string | undefined> {
  for (let dir = path.dirname(entry); path.dirname(dir) !== dir; dir = path.dirname(dir)) {
    const text = await readFile(path.join(dir, 'package.json'), 'utf8').catch(() => undefined);
    if (text === undefined) continue;
    try {
      return (JSON.parse(text) as { version?: string }).version;
    } catch {
      return undefined;
    }
  }
  return undefined;
}

async function isDirectory(p: string): Promise<boolean> {
  const s = await stat(p).catch(() => undefined);
  return s ? s.isDirectory() : !p.endsWith('.prisma');
}

/** Runs `load` and then puts `process.env` back exactly as it was (added keys removed, changed ones restored). */
export async function withEnvRestored<T>(load: () => Promise<T>): Promise<T> {
  const saved = { ...process.env };
  try {
    return await load();
  } finally {
    for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
    for (const [key, value] of Object.entries(saved)) if (process.env[key] !== value) process.env[key] = value;
  }
}
