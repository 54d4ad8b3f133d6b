// Prisma's own CLI as an independent judge of `_prisma_migrations` (docs/design.md §6).
//
// Prisma 7 cannot run `migrate` here (it downloads a native schema engine), so this runs the
// Prisma **6.19.3** CLI on its WASM schema engine through the `@prisma/adapter-pg` driver
// adapter. Every call generates its own throw-away project in a temp dir:
//
//   schema.prisma      postgresql datasource (url is required by the validator but unused) and a
//                      prisma-client-js generator with engineType = "client"
//   prisma.config.mjs  experimental.adapter, engine "js", adapter → PrismaPg, migrations.path →
//                      the caller's folder (absolute: it does NOT have to sit next to the schema)
//   *.stub             empty files for PRISMA_QUERY_ENGINE_LIBRARY / PRISMA_SCHEMA_ENGINE_BINARY
//                      (the CLI only checks that they exist)
//   unref-wasm-timers.cjs  preload, see below
//
// Gotchas handled here (verified against prisma@6.19.3 + @prisma/adapter-pg@7.10.1):
// - The WASM engine takes `pg_advisory_lock(72707369)` for deploy/resolve under a 10 s
//   `setTimeout` race that it never clears, so those commands would sit idle for 10 s after
//   printing their result. The preload unrefs timers created from WASM frames only: they still
//   fire while the process has work (the lock query keeps its socket referenced), they just no
//   longer keep a finished process alive. Prisma's output and exit code are unchanged.
// - The pg Pool's idle clients would keep the process alive too: `allowExitOnIdle: true`.
// - Adapter mode ignores the URL for the schema: it uses `public` unless PrismaPg gets
//   `{ schema }`, and the ledger/migration SQL are unqualified, so a `?schema=` parameter is
//   stripped from the pg connection string, passed as the adapter's `schema` option and set as
//   `search_path` (what the native engine does). Prisma creates the schema if it is missing.
// - The datasource `url` (from DATABASE_URL) is only printed ("Datasource "db": PostgreSQL
//   database …, schema …"): we set it to the real URL with the password removed.
// - @prisma/adapter-pg 7.10.1 runs each migration script with `executeScript`, which splits the
//   file on every ';' and sends the pieces one by one in autocommit: any `$$` body containing
//   ';' fails (documenso's 20240205120648_create_delete_account does, with "unterminated
//   dollar-quoted string"). Native Prisma sends the whole file as ONE simple-protocol query
//   (prisma-engines postgres/connection.rs `apply_migration_script` → `simple_query`). By default
//   (`scriptMode: 'native'`) the config overrides `executeScript` to do exactly that; everything
//   else — ledger reads/writes, ordering, checksums, locking, messages — stays Prisma's engine.
// - `migrate resolve --rolled-back` and `migrate diff` do not work in this mode (docs/design.md §6).
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

export type PrismaRun = { exitCode: number; stdout: string; stderr: string; durationMs: number };

export type PrismaJudgeOptions = {
  /** Kill the CLI after this long and reject (default 120 s; a corpus deploy may need more). */
  timeoutMs?: number;
  /** Extra environment for the CLI (e.g. DEBUG: 'prisma:driver-adapter*'). */
  env?: Record<string, string>;
  /**
   * How a migration.sql reaches PostgreSQL. 'native' (default): the whole file as one
   * simple-protocol query, exactly like Prisma's native engine. 'adapter': stock
   * @prisma/adapter-pg 7.10.1, which splits the file on every ';' and runs the pieces in
   * autocommit (fails on `$$` bodies containing ';').
   */
  scriptMode?: 'native' | 'adapter';
};

const DEFAULT_TIMEOUT_MS = 120_000;

const require = createRequire(import.meta.url);

function resolveOrNull(id: string): string | null {
  try {
    return require.resolve(id);
  } catch {
    return null;
  }
}

/** True when the Prisma CLI and the pg driver adapter both resolve (for `describe.skipIf`). */
export function prismaAvailable(): boolean {
  return resolveOrNull('prisma/build/index.js') !== null && resolveOrNull('@prisma/adapter-pg') !== null;
}

function cliPath(): string {
  const p = resolveOrNull('prisma/build/index.js');
  if (p === null) throw new Error('prisma-judge: the `prisma` package (6.19.3) is not installed');
  return p;
}

function adapterUrl(): string {
  const p = resolveOrNull('@prisma/adapter-pg');
  if (p === null) throw new Error('prisma-judge: `@prisma/adapter-pg` is not installed');
  return pathToFileURL(p).href;
}

/** Split `?schema=` off a PostgreSQL URL (Prisma's convention; pg itself does not know it). */
export function splitSchemaParam(databaseUrl: string): { pgUrl: string; schema: string | undefined } {
  const u = new URL(databaseUrl);
  const schema = u.searchParams.get('schema') ?? undefined;
  u.searchParams.delete('schema');
  return { pgUrl: u.toString(), schema: schema === '' ? undefined : schema };
}

function redacted(databaseUrl: string): string {
  const u = new URL(databaseUrl);
  if (u.password !== '') u.password = '';
  return u.toString();
}

const SCHEMA_PRISMA = `datasource db {
  provider = "postgresql"
  url      = env("DATABASE_URL")
}

generator client {
  provider   = "prisma-client-js"
  engineType = "client"
}
`;

function configSource(migrationsPath: string): string {
  // Connection details come from the environment so no secret is written to disk.
  return `import { PrismaPg } from ${JSON.stringify(adapterUrl())};

const pgUrl = process.env.PRISMA_JUDGE_PG_URL;
const schema = process.env.PRISMA_JUDGE_SCHEMA || undefined;
if (!pgUrl) throw new Error("PRISMA_JUDGE_PG_URL is not set");
const poolConfig = { connectionString: pgUrl, allowExitOnIdle: true };
if (schema) poolConfig.options = "-c search_path=" + JSON.stringify(schema).replace(/ /g, "\\\\ ");

const scriptMode = process.env.PRISMA_JUDGE_SCRIPT_MODE || "native";

// Native Prisma (sql-schema-connector postgres/connection.rs, apply_migration_script) sends a
// whole migration.sql as ONE simple-protocol query. @prisma/adapter-pg's executeScript instead
// splits the text on every ';' (breaking "$$" bodies). In "native" mode the judge restores the
// native behaviour: pg sends a parameterless query with the simple protocol.
class JudgePg extends PrismaPg {
  async connect() {
    const adapter = await super.connect();
    if (scriptMode === "native") {
      adapter.executeScript = async function executeScript(script) {
        try {
          await this.client.query(script);
        } catch (error) {
          this.onError(error);
        }
      };
    }
    return adapter;
  }
}

export default {
  experimental: { adapter: true },
  engine: "js",
  schema: "./schema.prisma",
  adapter: async () => new JudgePg(poolConfig, schema ? { schema } : undefined),
  migrations: { path: ${JSON.stringify(migrationsPath)} },
};
`;
}

// Timers scheduled from WASM (the engine's never-cleared 10 s lock timeout) must not keep a
// finished CLI alive. Only timers whose caller stack contains a wasm frame are unref'd.
const UNREF_WASM_TIMERS = `'use strict';
const original = globalThis.setTimeout;
globalThis.setTimeout = function setTimeout(fn, ms, ...args) {
  const timer = original.call(this, fn, ms, ...args);
  const stack = new Error().stack || '';
  if (stack.includes('wasm://') && timer && typeof timer.unref === 'function') timer.unref();
  return timer;
};
`;

async function runPrisma(
  databaseUrl: string,
  migrationsDir: string,
  args: string[],
  options: PrismaJudgeOptions = {},
): Promise<PrismaRun> {
  const cli = cliPath();
  const { pgUrl, schema } = splitSchemaParam(databaseUrl);
  const dir = await mkdtemp(path.join(tmpdir(), 'prisma-judge-'));
  try {
    await Promise.all([
      writeFile(path.join(dir, 'schema.prisma'), SCHEMA_PRISMA),
      writeFile(path.join(dir, 'prisma.config.mjs'), configSource(path.resolve(migrationsDir))),
      writeFile(path.join(dir, 'unref-wasm-timers.cjs'), UNREF_WASM_TIMERS),
      writeFile(path.join(dir, 'query-engine.stub'), ''),
      writeFile(path.join(dir, 'schema-engine.stub'), ''),
    ]);
    const env: NodeJS.ProcessEnv = { ...process.env };
    // Nothing from the caller's environment may steer the judge.
    for (const key of Object.keys(env)) {
      if (key.startsWith('PRISMA_') || key === 'DATABASE_URL' || key === 'DEBUG' || key === 'NODE_OPTIONS') {
        delete env[key];
      }
    }
    Object.assign(env, {
      DATABASE_URL: redacted(databaseUrl),
      PRISMA_JUDGE_PG_URL: pgUrl,
      PRISMA_JUDGE_SCHEMA: schema ?? '',
      PRISMA_JUDGE_SCRIPT_MODE: options.scriptMode ?? 'native',
      PRISMA_QUERY_ENGINE_LIBRARY: path.join(dir, 'query-engine.stub'),
      PRISMA_SCHEMA_ENGINE_BINARY: path.join(dir, 'schema-engine.stub'),
      CHECKPOINT_DISABLE: '1',
      PRISMA_HIDE_UPDATE_MESSAGE: '1',
      NO_COLOR: '1',
      FORCE_COLOR: '0',
      CI: '1',
    });
    Object.assign(env, options.env ?? {});
    const argv = [
      '--require',
      path.join(dir, 'unref-wasm-timers.cjs'),
      cli,
      ...args,
      '--config',
      path.join(dir, 'prisma.config.mjs'),
      '--schema',
      path.join(dir, 'schema.prisma'),
    ];
    return await spawnCli(argv, dir, env, options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  } finally {
    if (process.env.PRISMA_JUDGE_KEEP !== '1') await rm(dir, { recursive: true, force: true });
  }
}

function spawnCli(argv: string[], cwd: string, env: NodeJS.ProcessEnv, timeoutMs: number): Promise<PrismaRun> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, argv, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const run: PrismaRun = {
        exitCode: code ?? -1,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        durationMs: Math.round(performance.now() - started),
      };
      if (timedOut) {
        reject(
          new Error(
            `prisma ${argv.slice(3).join(' ')} timed out after ${timeoutMs} ms\n` +
              `--- stdout ---\n${run.stdout}\n--- stderr ---\n${run.stderr}`,
          ),
        );
      } else if (code === null) {
        reject(new Error(`prisma ${argv.slice(3).join(' ')} killed by ${signal ?? 'signal'}\n${run.stderr}`));
      } else {
        resolve(run);
      }
    });
  });
}

/** `prisma migrate status`: 0 = up to date; 1 = pending, failed, or rows not found locally. */
export function prismaMigrateStatus(
  databaseUrl: string,
  migrationsDir: string,
  options?: PrismaJudgeOptions,
): Promise<PrismaRun> {
  return runPrisma(databaseUrl, migrationsDir, ['migrate', 'status'], options);
}

/** `prisma migrate deploy`: applies pending folders in byte order of their names. */
export function prismaMigrateDeploy(
  databaseUrl: string,
  migrationsDir: string,
  options?: PrismaJudgeOptions,
): Promise<PrismaRun> {
  return runPrisma(databaseUrl, migrationsDir, ['migrate', 'deploy'], options);
}

/** `prisma migrate resolve --applied NAME`. */
export function prismaResolveApplied(
  databaseUrl: string,
  migrationsDir: string,
  name: string,
  options?: PrismaJudgeOptions,
): Promise<PrismaRun> {
  return runPrisma(databaseUrl, migrationsDir, ['migrate', 'resolve', '--applied', name], options);
}
