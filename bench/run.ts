/**
 * `pnpm bench [--corpus DIR]... [--rounds N]`: the figures docs/benchmarks.md sets goals for, side by side in one run.
 *
 * For each corpus (default: the Prisma-format histories under ../shared/corpora), on the server
 * of DATABASE_URL (else the PostgreSQL answering on 127.0.0.1:5432, else the embedded one), every
 * round creates fresh databases and measures:
 *   floor     one psql session, `\i` each migration.sql in order, autocommit (bench/floor.ts);
 *   deploy    the CLI as a user runs it (the command of `pnpm migrate:remote`, start-up included)
 *             → @aws-sdk/client-lambda → the local Invoke endpoint → the real worker handler →
 *             PostgreSQL. The endpoint is ONE long-lived process (bench/endpoint.ts) started
 *             before the first round: the "already running" worker;
 *   status    a no-op `status` on the database deploy just filled;
 *   prisma    Prisma 6.19.3's own `migrate deploy` (test/helpers/prisma-judge.ts), the peer.
 * Then, on the worker bundle as deployed (bench/measure-worker.ts): its minified size, cold
 * init in a fresh process, and peak RSS on the corpus's largest apply event.
 * Writes bench/results.md (machine, load, PostgreSQL version, medians, ratios, goals). Where a
 * goal is missed it profiles the run (`node --cpu-prof`) and summarises the top self time.
 * Timings are never asserted anywhere: this is a report.
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { REPO_ROOT } from '../infra/bundling.js';
import type { MigrationPayload } from '../lambda/contract/index.js';
import { batchBySize, buildPayload } from '../scripts/core/payloads.js';
import type { LocalMigration } from '../scripts/formats/format.js';
import { discoverMigrations } from '../scripts/formats/prisma/discover.js';
import { createDatabase, dropDatabase, startLocalDatabase, type LocalDatabase } from '../scripts/local/database.js';
import { sqlParser } from '../scripts/core/sql-parser.js';
import { splitMigration } from '../scripts/core/split.js';
import { prismaAvailable, prismaMigrateDeploy } from '../test/helpers/prisma-judge.js';
import type { EndpointMessage, EndpointReply } from './endpoint.js';
import { findPsql, psqlVersion, runFloor, writeFloorScript } from './floor.js';
import { BENCH_DIR, buildWorkerBundle, probeWorker, type BundleFigures, type ProbeResult } from './measure-worker.js';
import { summarizeProfileDir, type ProfileSummary } from './profile.js';

const GOALS = {
  deployRatio: 1.5,
  invocations: 5,
  statusMs: 500,
  statusInvocations: 1,
  bundleBytes: 300 * 1024,
  coldInitMs: 150,
  rssBytes: 128 * 1024 * 1024,
};

const SYSTEM_URL = 'postgresql://postgres@127.0.0.1:5432/postgres';
const CORPORA_ROOT = path.resolve(REPO_ROOT, '..', 'shared', 'corpora');

// ---------------------------------------------------------------------------------------------
// Arguments

const { values } = parseArgs({
  options: {
    corpus: { type: 'string', multiple: true },
    rounds: { type: 'string', default: '5' },
    warmup: { type: 'string', default: '1' },
    out: { type: 'string', default: path.join(REPO_ROOT, 'bench', 'results.md') },
    /** Extra CLI variants to measure next to the package script's: `tsx` = `tsx scripts/cli.ts`. */
    compare: { type: 'string', multiple: true },
    'no-prisma': { type: 'boolean' },
    /** Use the embedded PostgreSQL even when DATABASE_URL is set or 127.0.0.1:5432 answers. */
    embedded: { type: 'boolean' },
    /** Profile even when every goal is met. */
    profile: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  },
  strict: true,
});

if (values.help) {
  process.stdout.write(`pnpm bench [--corpus DIR]... [--rounds N] [--warmup N] [--out FILE] [--compare tsx]
           [--no-prisma] [--embedded] [--profile]
  --corpus DIR   a Prisma migrations folder (or a folder holding migrations/); repeatable.
                 Default: every Prisma-format history under ../shared/corpora.
  --rounds N     measured rounds per corpus (default 5; medians are reported)
  --warmup N     unrecorded rounds first (default 1)
  --compare tsx  also measure \`tsx scripts/cli.ts\` (the TypeScript sources) next to the package script
  --no-prisma    skip Prisma's own migrate deploy
  --embedded     use the embedded PostgreSQL (scripts/local/database.ts) whatever else answers
  --profile      write CPU profile summaries even when every goal is met
Server: DATABASE_URL, else postgresql://postgres@127.0.0.1:5432 if it answers, else the embedded PostgreSQL.\n`);
  process.exit(0);
}

const ROUNDS = positiveInt(values.rounds, 'rounds');
const WARMUP = Math.max(0, Number(values.warmup) | 0);

function positiveInt(v: string | undefined, name: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer`);
  return n;
}

// ---------------------------------------------------------------------------------------------
// Small statistics

interface Stat {
  median: number;
  min: number;
  max: number;
  n: number;
}

function stat(xs: number[]): Stat {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  const median = n === 0 ? NaN : n % 2 ? s[n >> 1]! : (s[n / 2 - 1]! + s[n / 2]!) / 2;
  return { median, min: s[0] ?? NaN, max: s[n - 1] ?? NaN, n };
}

const ms = (x: number) =>
  Number.isFinite(x)
    ? x >= 10_000
      ? `${(x / 1000).toFixed(1)} s`
      : x >= 1000
        ? `${(x / 1000).toFixed(2)} s`
        : `${Math.round(x)} ms`
    : '–';
const kb = (b: number) => `${(b / 1024).toFixed(1)} KB`;
const mb = (b: number) => `${(b / 1024 / 1024).toFixed(1)} MB`;
const ratio = (x: number) => (Number.isFinite(x) ? `${x.toFixed(2)}×` : '–');
const mark = (met: boolean) => (met ? '✅ met' : '❌ missed');

// ---------------------------------------------------------------------------------------------
// Server

interface Server {
  adminUrl: string;
  source: string;
  version: string;
  settings: string;
  stop(): Promise<void>;
}

async function probe(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1_500 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    const { rows } = await client.query<{ ok: boolean }>(
      'SELECT rolsuper OR rolcreatedb AS ok FROM pg_roles WHERE rolname = current_user',
    );
    return rows[0]?.ok === true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function describeServer(url: string): Promise<{ version: string; settings: string }> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ version: string; fsync: string; sc: string; sb: string }>(
      `SELECT version() AS version, current_setting('fsync') ` +
        `AS fsync, current_setting('synchronous_commit') AS ` +
        `sc, current_setting('shared_buffers') AS sb`,
    );
    const r = rows[0]!;
    return {
      version: r.version.split(',')[0]!,
      settings: `fsync=${r.fsync}, synchronous_commit=${r.sc}, shared_buffers=${r.sb}`,
    };
  } finally {
    await client.end();
  }
}

async function resolveServer(): Promise<Server> {
  const fromEnv = values.embedded ? undefined : process.env.DATABASE_URL;
  if (fromEnv)
    return {
      adminUrl: fromEnv,
      source: 'DATABASE_URL',
      ...(await describeServer(fromEnv)),
      stop: async () => undefined,
    };
  if (!values.embedded && (await probe(SYSTEM_URL)))
    return {
      adminUrl: SYSTEM_URL,
      source: 'local server on 127.0.0.1:5432',
      ...(await describeServer(SYSTEM_URL)),
      stop: async () => undefined,
    };
  const root = await mkdtemp(path.join(os.tmpdir(), 'vpcm-bench-'));
  await chmod(root, 0o755); // as root the server runs as user postgres, which must traverse it
  let db: LocalDatabase;
  try {
    db = await startLocalDatabase({ dataDir: path.join(root, 'pgdata') });
  } catch (error) {
    await rm(root, { recursive: true, force: true });
    throw error;
  }
  return {
    adminUrl: db.url,
    source: 'embedded PostgreSQL (scripts/local/database.ts)',
    ...(await describeServer(db.url)),
    stop: async () => {
      await db.stop();
      await rm(root, { recursive: true, force: true });
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Corpora

interface Corpus {
  name: string;
  dir: string;
  migrations: LocalMigration[];
  sqlBytes: number;
  largest: { name: string; bytes: number };
  floorScript: string;
  /** The apply event holding the largest file, as deploy builds it (for the RSS probe). */
  eventFile: string;
  eventBytes: number;
  batches: number;
}

function isPrismaFolder(dir: string): boolean {
  try {
    return readdirSync(dir, { withFileTypes: true }).some(
      (e) => e.isDirectory() && existsSync(path.join(dir, e.name, 'migration.sql')),
    );
  } catch {
    return false;
  }
}

function corpusDirs(): string[] {
  if (values.corpus?.length) {
    return values.corpus.map((d) => {
      const abs = path.resolve(d);
      return isPrismaFolder(path.join(abs, 'migrations')) ? path.join(abs, 'migrations') : abs;
    });
  }
  if (!existsSync(CORPORA_ROOT)) throw new Error(`No --corpus given and ${CORPORA_ROOT} does not exist.`);
  return readdirSync(CORPORA_ROOT)
    .sort()
    .map((name) => path.join(CORPORA_ROOT, name, 'migrations'))
    .filter(isPrismaFolder);
}

function corpusName(dir: string): string {
  const base = path.basename(dir);
  return base === 'migrations' ? path.basename(path.dirname(dir)) : base;
}

async function prepareCorpus(dir: string): Promise<Corpus> {
  const discovery = await discoverMigrations(dir);
  const migrations = discovery.migrations;
  if (migrations.length === 0) throw new Error(`${dir} holds no migration folders`);
  const name = corpusName(dir);
  const slug = name.replace(/[^A-Za-z0-9]+/g, '_').toLowerCase();
  const largest = migrations.reduce((a, b) => (b.bytes.length > a.bytes.length ? b : a));
  const floorScript = path.join(BENCH_DIR, `floor-${slug}.sql`);
  await writeFloorScript(
    floorScript,
    migrations.map((m) => m.path),
  );
  const parser = await sqlParser();
  const payloads: MigrationPayload[] = migrations.map((m) => buildPayload(m, splitMigration(parser, m.sql)));
  const batches = batchBySize(payloads);
  const batch = batches.find((b) => b.some((p) => p.name === largest.name))!;
  // The batch deploy sends with the largest file in it; earlier batches first, so that it applies
  // cleanly on a fresh database (with one batch, as on these corpora: exactly deploy's event).
  const before = batches.slice(0, batches.indexOf(batch)).flat();
  const event = { action: 'apply', requestId: 'bench-rss', migrations: [...before, ...batch] };
  const eventFile = path.join(BENCH_DIR, `event-${slug}.json`);
  const text = JSON.stringify(event);
  await writeFile(eventFile, text);
  return {
    name,
    dir,
    migrations,
    sqlBytes: migrations.reduce((n, m) => n + m.bytes.length, 0),
    largest: { name: largest.name, bytes: largest.bytes.length },
    floorScript,
    eventFile,
    eventBytes: Buffer.byteLength(text),
    batches: batches.length,
  };
}

// ---------------------------------------------------------------------------------------------
// The long-lived endpoint

interface Endpoint {
  url: string;
  add(name: string, databaseUrl: string): Promise<void>;
  remove(name: string): Promise<void>;
  stop(): Promise<void>;
}

async function startEndpoint(): Promise<Endpoint> {
  const child: ChildProcess = fork(path.join(REPO_ROOT, 'bench', 'endpoint.ts'), [], {
    execArgv: ['--import', 'tsx'],
    env: { ...process.env, NODE_OPTIONS: '' },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const waiters = new Map<string, () => void>();
  let ready: (url: string) => void;
  const readyUrl = new Promise<string>((resolve, reject) => {
    ready = resolve;
    child.once('exit', (code) => reject(new Error(`bench endpoint exited (${code}) before it was ready`)));
  });
  child.on('message', (m: EndpointReply) => {
    if (m.type === 'ready') ready(m.url);
    else waiters.get(`${m.type}:${m.name}`)?.();
  });
  const ask = (message: EndpointMessage, key: string) =>
    new Promise<void>((resolve) => {
      waiters.set(key, () => {
        waiters.delete(key);
        resolve();
      });
      child.send(message);
    });
  const url = await readyUrl;
  return {
    url,
    add: (name, databaseUrl) => ask({ type: 'add', name, databaseUrl }, `added:${name}`),
    remove: (name) => ask({ type: 'remove', name }, `removed:${name}`),
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.send({ type: 'stop' } satisfies EndpointMessage);
        setTimeout(() => child.kill('SIGKILL'), 5000).unref();
      }),
  };
}

// ---------------------------------------------------------------------------------------------
// The CLI as a user runs it

interface CliVariant {
  label: string;
  /** argv before the command name. */
  argv: string[];
}

/** The package script's command (`pnpm migrate:remote` minus pnpm itself), made runnable here. */
function packageCli(): CliVariant {
  const pkg = JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as {
    scripts: Record<string, string>;
  };
  const script = pkg.scripts['migrate:remote'];
  if (!script) throw new Error('package.json has no migrate:remote script');
  const words = script.trim().split(/\s+/);
  if (words[words.length - 1] !== 'deploy') throw new Error(`migrate:remote does not end with "deploy": ${script}`);
  return { label: `\`${script.replace(/ deploy$/, '')}\` (package script)`, argv: words.slice(0, -1).map(resolveWord) };
}

function resolveWord(word: string, index: number): string {
  if (index !== 0) return word;
  if (word === 'node') return process.execPath;
  const bin = path.join(REPO_ROOT, 'node_modules', '.bin', word);
  return existsSync(bin) ? bin : word;
}

function cliVariants(): CliVariant[] {
  const variants = [packageCli()];
  for (const c of values.compare ?? []) {
    if (c !== 'tsx') throw new Error(`--compare takes "tsx", got ${c}`);
    const tsx: CliVariant = {
      label: '`tsx scripts/cli.ts` (TypeScript sources)',
      argv: [path.join(REPO_ROOT, 'node_modules', '.bin', 'tsx'), 'scripts/cli.ts'],
    };
    if (!variants.some((v) => v.argv.join(' ') === tsx.argv.join(' '))) variants.push(tsx);
  }
  return variants;
}

interface CliRun {
  code: number;
  wallMs: number;
  stdout: string;
  stderr: string;
  /** stderr lines with the time they arrived (ms since spawn). */
  lines: { at: number; text: string }[];
}

/** `nodeFlags` go right after the program: node takes them, and so does tsx (it passes them on to node). */
function runCli(variant: CliVariant, args: string[], nodeFlags: string[] = []): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const env: NodeJS.ProcessEnv = { ...process.env };
    delete env.DATABASE_URL;
    delete env.VPC_MIGRATE_FUNCTION;
    delete env.NODE_OPTIONS;
    const started = performance.now();
    const [cmd, ...pre] = variant.argv;
    const child = spawn(cmd!, [...nodeFlags, ...pre, ...args], {
      cwd: REPO_ROOT,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const lines: CliRun['lines'] = [];
    let err = '';
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => {
      const at = performance.now() - started;
      err += b.toString('utf8');
      let nl: number;
      while ((nl = err.indexOf('\n')) !== -1) {
        lines.push({ at, text: err.slice(0, nl) });
        err = err.slice(nl + 1);
      }
    });
    child.on('error', reject);
    child.on('close', (code) => {
      const wallMs = performance.now() - started;
      resolve({
        code: code ?? -1,
        wallMs,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: lines.map((l) => l.text).join('\n') + err,
        lines,
      });
    });
  });
}

interface DeployReportJson {
  invocations: number;
  durationMs: number;
  verified: boolean;
  exitCode: number;
  results: { name: string; status: string; durationMs: number }[];
  problems: { code: string; message: string }[];
}

// ---------------------------------------------------------------------------------------------
// One corpus

interface VariantFigures {
  deployMs: number[];
  ratio: number[];
  invocations: number[];
  /** spawn → "Applying" line: start-up, discovery, ledger invocation, parse, payloads. */
  beforeApplyMs: number[];
  /** "Applying" → "done" line: the apply invocation(s). */
  applyMs: number[];
  /** Σ durationMs the worker reports per migration. */
  workerMigrationsMs: number[];
  /** "done" line → exit: verify invocation, report, exit. */
  afterApplyMs: number[];
  statusMs: number[];
  statusInvocations: number[];
}

interface CorpusFigures {
  corpus: Corpus;
  floorMs: number[];
  prismaMs: number[];
  prismaRatio: number[];
  variants: Map<CliVariant, VariantFigures>;
  coldInit: ProbeResult[];
  rss: ProbeResult[];
  loads: number[];
}

const runId = randomBytes(3).toString('hex');
let dbSeq = 0;

/** Databases created and not yet dropped: a failed run drops them on its way out. */
const liveDbs = new Set<string>();

async function freshDb(
  server: Server,
  slug: string,
  what: string,
): Promise<{ name: string; url: string; drop(): Promise<void> }> {
  const name = `vpcm_bench_${runId}_${slug}_${what}_${++dbSeq}`.slice(0, 63);
  const url = await createDatabase(server.adminUrl, name);
  liveDbs.add(name);
  return {
    name,
    url,
    drop: async () => {
      await dropDatabase(server.adminUrl, name);
      liveDbs.delete(name);
    },
  };
}

async function benchCorpus(
  server: Server,
  endpoint: Endpoint,
  variants: CliVariant[],
  corpus: Corpus,
  bundle: BundleFigures,
  log: (s: string) => void,
): Promise<CorpusFigures> {
  const slug = corpus.name
    .split('__')[0]!
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '')
    .slice(0, 12);
  const psql = findPsql();
  const figures: CorpusFigures = {
    corpus,
    floorMs: [],
    prismaMs: [],
    prismaRatio: [],
    variants: new Map(),
    coldInit: [],
    rss: [],
    loads: [],
  };
  for (const v of variants) {
    figures.variants.set(v, {
      deployMs: [],
      ratio: [],
      invocations: [],
      beforeApplyMs: [],
      applyMs: [],
      workerMigrationsMs: [],
      afterApplyMs: [],
      statusMs: [],
      statusInvocations: [],
    });
  }
  const withPrisma = !values['no-prisma'] && prismaAvailable();
  let keep: { url: string; drop(): Promise<void> } | undefined;

  for (let round = 0; round < WARMUP + ROUNDS; round++) {
    const measured = round >= WARMUP;
    const tag = measured ? `round ${round - WARMUP + 1}/${ROUNDS}` : `warm-up ${round + 1}/${WARMUP}`;
    const load = os.loadavg()[0]!;
    if (measured) figures.loads.push(load);
    let floorMs = NaN;
    // Alternate the order (floor first, then last) so a drift in load favours neither side.
    const floorFirst = round % 2 === 0;
    const floor = async () => {
      if (!psql) return;
      const db = await freshDb(server, slug, 'floor');
      try {
        floorMs = await runFloor(psql, db.url, corpus.floorScript);
      } finally {
        await db.drop();
      }
      if (measured) figures.floorMs.push(floorMs);
      log(`  ${tag} floor ${ms(floorMs)} (load ${load.toFixed(2)})`);
    };
    if (floorFirst) await floor();
    const deployed: number[] = [];
    for (const variant of variants) {
      const f = figures.variants.get(variant)!;
      const db = await freshDb(server, slug, 'vpcm');
      const fn = `bench-${db.name}`.slice(0, 64).replace(/[^\w-]/g, '-');
      await endpoint.add(fn, db.url);
      const target = ['--endpoint', endpoint.url, '--function', fn, '--migrations', corpus.dir, '--json'];
      const dep = await runCli(variant, ['deploy', ...target]);
      let report: DeployReportJson;
      try {
        report = JSON.parse(dep.stdout) as DeployReportJson;
      } catch {
        throw new Error(
          `deploy printed no JSON report (exit ${dep.code}):\n${dep.stderr.slice(-3000)}\n${dep.stdout.slice(-2000)}`,
        );
      }
      if (dep.code !== 0 || !report.verified || report.results.length !== corpus.migrations.length) {
        throw new Error(
          `deploy of ${corpus.name} failed (exit ${dep.code}, ` +
            `${report.results.length} results): ${JSON.stringify(report.problems).slice(0, 2000)}`,
        );
      }
      const applying = dep.lines.find((l) => l.text.startsWith('Applying'));
      const done = [...dep.lines].reverse().find((l) => / done, last /.test(l.text));
      const st = await runCli(variant, ['status', ...target]);
      const status = JSON.parse(st.stdout) as { invocations: number; exitCode: number };
      if (st.code !== 0 || status.exitCode !== 0)
        throw new Error(`status after deploy exited ${st.code}: ${st.stderr.slice(-2000)}`);
      await endpoint.remove(fn);
      if (measured) {
        f.deployMs.push(dep.wallMs);
        f.invocations.push(report.invocations);
        if (applying && done) {
          f.beforeApplyMs.push(applying.at);
          f.applyMs.push(done.at - applying.at);
          f.afterApplyMs.push(dep.wallMs - done.at);
        }
        f.workerMigrationsMs.push(report.results.reduce((n, r) => n + r.durationMs, 0));
        f.statusMs.push(st.wallMs);
        f.statusInvocations.push(status.invocations);
      }
      deployed.push(dep.wallMs);
      log(
        `  ${tag} deploy ${ms(dep.wallMs)} (${report.invocations} ` +
          `invocations) status ${ms(st.wallMs)} (${status.invocations}) ` +
          `— ${variant.label}`,
      );
      if (variant === variants[0] && round === WARMUP + ROUNDS - 1) {
        await keep?.drop();
        keep = db; // the applied database: cold-init probes read its ledger
      } else {
        await db.drop();
      }
    }
    if (!floorFirst) await floor();
    if (measured && Number.isFinite(floorMs)) {
      for (const [i, v] of variants.entries()) figures.variants.get(v)!.ratio.push(deployed[i]! / floorMs);
    }
    if (withPrisma) {
      const db = await freshDb(server, slug, 'prisma');
      try {
        const run = await prismaMigrateDeploy(db.url, corpus.dir, { timeoutMs: 900_000 });
        if (run.exitCode !== 0)
          throw new Error(
            `prisma migrate deploy failed (exit ${run.exitCode}): ${run.stderr.slice(-2000)}${run.stdout.slice(-2000)}`,
          );
        if (measured) {
          figures.prismaMs.push(run.durationMs);
          if (Number.isFinite(floorMs)) figures.prismaRatio.push(run.durationMs / floorMs);
        }
        log(`  ${tag} prisma migrate deploy ${ms(run.durationMs)}`);
      } finally {
        await db.drop();
      }
    }
  }

  // Worker: cold init against the applied database, then peak RSS on a fresh one.
  if (keep) {
    try {
      for (let i = 0; i < WARMUP + ROUNDS; i++) {
        const r = await probeWorker(bundle.file, keep.url);
        if (!r.ok) throw new Error(`cold-init probe: the ledger event failed: ${r.error}`);
        if (i >= WARMUP) figures.coldInit.push(r);
      }
      log(`  cold init ${ms(stat(figures.coldInit.map((r) => r.importMs + r.firstEventMs)).median)}`);
    } finally {
      await keep.drop();
    }
  }
  for (let i = 0; i < Math.min(ROUNDS, 3); i++) {
    const db = await freshDb(server, slug, 'rss');
    try {
      const r = await probeWorker(bundle.file, db.url, corpus.eventFile);
      if (!r.ok) throw new Error(`RSS probe: the apply event failed: ${r.error}`);
      figures.rss.push(r);
      log(`  worker peak RSS ${mb(r.maxRssKB * 1024)} (${r.applied} migrations applied in one event)`);
    } finally {
      await db.drop();
    }
  }
  return figures;
}

// ---------------------------------------------------------------------------------------------
// Profiles for missed goals

interface Profiles {
  deploy?: { corpus: string; variant: string; summary: ProfileSummary };
  status?: { corpus: string; variant: string; summary: ProfileSummary };
  worker?: { corpus: string; summary: ProfileSummary };
}

async function profileCli(
  server: Server,
  endpoint: Endpoint,
  variant: CliVariant,
  corpus: Corpus,
  command: 'deploy' | 'status',
): Promise<ProfileSummary> {
  const dir = path.join(BENCH_DIR, `prof-${command}-${Date.now()}`);
  await mkdir(dir, { recursive: true });
  const db = await freshDb(server, 'prof', command);
  const fn = `bench-${db.name}`.slice(0, 64);
  await endpoint.add(fn, db.url);
  try {
    const target = ['--endpoint', endpoint.url, '--function', fn, '--migrations', corpus.dir, '--json'];
    if (command === 'status') await runCli(variant, ['deploy', ...target]);
    const run = await runCli(variant, [command, ...target], ['--cpu-prof', `--cpu-prof-dir=${dir}`]);
    if (run.code !== 0) throw new Error(`profiled ${command} exited ${run.code}: ${run.stderr.slice(-1000)}`);
    return await summarizeProfileDir(dir);
  } finally {
    await endpoint.remove(fn);
    await db.drop();
    await rm(dir, { recursive: true, force: true });
  }
}

async function profileWorker(server: Server, bundle: BundleFigures, corpus: Corpus): Promise<ProfileSummary> {
  const dir = path.join(BENCH_DIR, `prof-worker-${Date.now()}`);
  await mkdir(dir, { recursive: true });
  const db = await freshDb(server, 'prof', 'worker');
  try {
    await probeWorker(bundle.file, db.url, corpus.eventFile, ['--cpu-prof', `--cpu-prof-dir=${dir}`]);
    return await summarizeProfileDir(dir);
  } finally {
    await db.drop();
    await rm(dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// Report

function machine(): string[] {
  const cpus = os.cpus();
  return [
    `- CPU: ${cpus[0]?.model.trim() ?? 'unknown'}, ${cpus.length} ` +
      `logical core(s); RAM ${(os.totalmem() / 2 ** 30).toFixed(1)} ` +
      `GiB`,
    `- OS: ${os.type()} ${os.release()}; Node ${process.version}`,
  ];
}

function statCells(xs: number[], fmt: (x: number) => string): string {
  const s = stat(xs);
  return `${fmt(s.median)} | ${fmt(s.min)} | ${fmt(s.max)} | ${s.n}`;
}

function renderProfile(title: string, p: ProfileSummary): string[] {
  const lines = [
    `#### ${title}`,
    '',
    `Sampled ${ms(p.totalMs)}, of which idle (waiting on I/O: the worker, PostgreSQL) ${ms(p.idleMs)}.`,
    '',
  ];
  lines.push('| self time | function | where |', '|---:|---|---|');
  for (const f of p.topFunctions) lines.push(`| ${ms(f.selfMs)} | \`${f.name}\` | ${f.where} |`);
  lines.push('', '| self time | package |', '|---:|---|');
  for (const b of p.byPackage) lines.push(`| ${ms(b.selfMs)} | ${b.name} |`);
  lines.push('');
  return lines;
}

interface RunInfo {
  server: Server;
  psql: string | null;
  started: Date;
  durationMs: number;
  loadStart: number[];
  loadEnd: number[];
  nodeStartMs: Stat;
  bundle: BundleFigures;
  variants: CliVariant[];
  all: CorpusFigures[];
  profiles: Profiles;
}

interface GoalRow {
  name: string;
  met: boolean;
  text: string;
  /** For a missed goal: by how much, and what the figures say bounds it. */
  why: string;
}

function goalRows(f: CorpusFigures, v: CliVariant, nodeStart: Stat): GoalRow[] {
  const vf = f.variants.get(v)!;
  const rows: GoalRow[] = [];
  const r = stat(vf.ratio).median;
  const floor = stat(f.floorMs).median;
  const deploy = stat(vf.deployMs).median;
  if (Number.isFinite(r)) {
    const before = stat(vf.beforeApplyMs).median;
    const apply = stat(vf.applyMs).median;
    const after = stat(vf.afterApplyMs).median;
    const bound =
      apply > floor
        ? `the apply invocation alone (${ms(apply)}; the worker's ` +
          `migrations ${ms(stat(vf.workerMigrationsMs).median)}) ` +
          `takes longer than the whole floor`
        : `the apply invocation (${ms(apply)}) is within the floor; ` +
          `the rest is client-side work before it (${ms(before)}: ` +
          `start-up, discovery, ledger invocation, lint and parse) ` +
          `and after it (${ms(after)}: verify invocation, report)`;
    rows.push({
      name: 'deploy ≤ 1.5× floor',
      met: r <= GOALS.deployRatio,
      text: `${ratio(r)} (deploy ${ms(deploy)} vs floor ${ms(floor)})`,
      why: `over by ${(r - GOALS.deployRatio).toFixed(2)}× (≈ ${ms((r - GOALS.deployRatio) * floor)}); ${bound}`,
    });
  }
  const inv = stat(vf.invocations).max;
  rows.push({
    name: 'invocations ≤ 5',
    met: inv <= GOALS.invocations,
    text: `${inv}`,
    why:
      `${inv - GOALS.invocations} invocation(s) too many: ` +
      `the apply batches are bounded by the Invoke payload ` +
      `limit (scripts/core/payloads.ts, BATCH_BYTES)`,
  });
  const s = stat(vf.statusMs).median;
  rows.push({
    name: 'no-op status ≤ 0.5 s',
    met: s <= GOALS.statusMs,
    text: ms(s),
    why:
      `over by ${ms(s - GOALS.statusMs)}; a bare \`node -e ` +
      `0\` took ${ms(nodeStart.median)} in this run, the rest ` +
      `is loading the CLI, discovery and the ledger invocation ` +
      `(profile below)`,
  });
  const si = stat(vf.statusInvocations).max;
  rows.push({
    name: 'status: 1 invocation',
    met: si <= GOALS.statusInvocations,
    text: `${si}`,
    why: `${si} invocations`,
  });
  return rows;
}

function workerGoalRows(f: CorpusFigures, bundle: BundleFigures): GoalRow[] {
  const initMs = f.coldInit.map((r) => r.importMs + r.firstEventMs);
  const init = stat(initMs).median;
  const rss = stat(f.rss.map((r) => r.maxRssKB * 1024)).max;
  const afterLoad = stat(f.rss.map((r) => r.rssAfterLoadKB * 1024)).median;
  return [
    {
      name: 'worker bundle ≤ 300 KB',
      met: bundle.bytes <= GOALS.bundleBytes,
      text: kb(bundle.bytes),
      why: `over by ${kb(bundle.bytes - GOALS.bundleBytes)}; largest contributors: ${bundle.topInputs
        .slice(0, 3)
        .map((t) => `${t.input} ${kb(t.bytes)}`)
        .join(', ')}`,
    },
    {
      name: 'cold init ≤ 150 ms',
      met: init <= GOALS.coldInitMs,
      text: ms(init),
      why:
        `over by ${ms(init - GOALS.coldInitMs)}: import ${ms(stat(f.coldInit.map((r) => r.importMs)).median)}, ` +
        `first event ${ms(stat(f.coldInit.map((r) => r.firstEventMs)).median)}`,
    },
    {
      name: 'worker peak RSS ≤ 128 MB',
      met: rss <= GOALS.rssBytes,
      text: mb(rss),
      why: `over by ${mb(rss - GOALS.rssBytes)}; ${mb(afterLoad)} of it is Node and the loaded bundle before the event`,
    },
  ];
}

function render(info: RunInfo): string {
  const L: string[] = [];
  const loads = info.all.flatMap((f) => f.loads);
  const ls = stat(loads);
  L.push('# vpc-migrate benchmarks', '');
  L.push(
    `Generated by \`pnpm bench\` (bench/run.ts) on ${info.started.toISOString()} ` +
      `in ${ms(info.durationMs)}; ${ROUNDS} measured round(s) ` +
      `per corpus after ${WARMUP} warm-up round(s). Medians ` +
      `are over rounds; ratios are per round (deploy and floor ` +
      `of the same round), then the median. Never asserted ` +
      `in tests.`,
    '',
  );
  L.push('## Machine', '');
  L.push(...machine());
  L.push(
    `- Load average (1 min): ${info.loadStart.map((x) => x.toFixed(2)).join(' / ')} ` +
      `(1/5/15 min) at start, ${info.loadEnd.map((x) => x.toFixed(2)).join(' / ')} ` +
      `at end; during measured rounds median ${ls.median.toFixed(2)}, ` +
      `min ${ls.min.toFixed(2)}, max ${ls.max.toFixed(2)}`,
  );
  L.push(`- PostgreSQL: ${info.server.version} — ${info.server.source}; ${info.server.settings}`);
  L.push(`- Floor client: ${info.psql ? psqlVersion(info.psql) : 'no psql found: floor not measured'}`);
  L.push(`- \`node -e 0\` (bare Node start-up, for scale): median ${ms(info.nodeStartMs.median)}`);
  L.push(
    `- CLI as measured: ${info.variants.map((v) => v.label).join('; ')}` +
      `${
        info.variants.length > 1
          ? ' (the TypeScript sources are how the package scripts ' +
            'ran the CLI before scripts/run-cli.mjs: the "before" ' +
            'of the start-up change)'
          : ''
      }. ` +
      `The worker: the real handler (lambda/handler.ts) behind ` +
      `ONE long-lived local Invoke endpoint process (bench/endpoint.ts), ` +
      `started before the first round; each round's database ` +
      `gets its own function name.`,
    '',
  );

  L.push('## Goals', '');
  L.push('| goal | ' + info.all.map((f) => f.corpus.name).join(' | ') + ' |');
  L.push('|---|' + info.all.map(() => '---|').join(''));
  const primary = info.variants[0]!;
  const perCorpus = info.all.map((f) => [...goalRows(f, primary, info.nodeStartMs), ...workerGoalRows(f, info.bundle)]);
  for (let i = 0; i < (perCorpus[0]?.length ?? 0); i++) {
    L.push(
      `| ${perCorpus[0]![i]!.name} | ` +
        perCorpus.map((rows) => `${mark(rows[i]!.met)}: ${rows[i]!.text}`).join(' | ') +
        ' |',
    );
  }
  L.push('');

  for (const f of info.all) {
    const c = f.corpus;
    L.push(`## ${c.name}`, '');
    L.push(
      `${c.migrations.length} migrations, ${kb(c.sqlBytes)} ` +
        `of SQL; largest file ${c.largest.name} (${kb(c.largest.bytes)}); ` +
        `deploy sends ${c.batches} apply batch(es).`,
      '',
    );
    L.push('| figure | median | min | max | rounds |', '|---|---:|---:|---:|---:|');
    if (f.floorMs.length)
      L.push(`| floor: one psql session, \`\\i\` each file, autocommit | ${statCells(f.floorMs, ms)} |`);
    for (const v of info.variants) {
      const vf = f.variants.get(v)!;
      L.push(`| **vpc-migrate deploy**, end to end — ${v.label} | ${statCells(vf.deployMs, ms)} |`);
      if (vf.ratio.length) L.push(`| — ratio to the floor (goal ≤ 1.5×) | ${statCells(vf.ratio, ratio)} |`);
      L.push(
        `| — start-up, discovery, ledger invocation, parse (spawn → "Applying") | ${statCells(vf.beforeApplyMs, ms)} |`,
      );
      L.push(`| — apply invocation (→ "done") | ${statCells(vf.applyMs, ms)} |`);
      L.push(`| — of which the worker's per-migration durations, summed | ${statCells(vf.workerMigrationsMs, ms)} |`);
      L.push(`| — verify invocation, report, exit | ${statCells(vf.afterApplyMs, ms)} |`);
      L.push(`| — invocations (goal ≤ 5) | ${statCells(vf.invocations, (x) => String(x))} |`);
      L.push(`| **no-op status**, end to end (goal ≤ 0.5 s) — ${v.label} | ${statCells(vf.statusMs, ms)} |`);
      L.push(`| — invocations (goal 1) | ${statCells(vf.statusInvocations, (x) => String(x))} |`);
    }
    if (f.prismaMs.length) {
      L.push(
        `| Prisma 6.19.3 \`migrate deploy\` (WASM engine, pg adapter), end to end | ${statCells(f.prismaMs, ms)} |`,
      );
      if (f.prismaRatio.length) L.push(`| — ratio to the floor | ${statCells(f.prismaRatio, ratio)} |`);
      const pv = f.variants.get(primary)!;
      const vsPrisma = stat(pv.deployMs).median / stat(f.prismaMs).median;
      L.push(`| — vpc-migrate deploy ÷ Prisma (medians) | ${ratio(vsPrisma)} | | | |`);
    }
    L.push('');
    L.push(
      'Per round (1-min load average at the start of the round; deploy and status with the first CLI listed):',
      '',
    );
    const pv0 = f.variants.get(primary)!;
    L.push('| round | load | floor | deploy | ratio | status | prisma |', '|---:|---:|---:|---:|---:|---:|---:|');
    for (let i = 0; i < f.loads.length; i++) {
      L.push(
        `| ${i + 1} | ${f.loads[i]!.toFixed(2)} | ${ms(f.floorMs[i] ?? NaN)} ` +
          `| ${ms(pv0.deployMs[i] ?? NaN)} | ${ratio(pv0.ratio[i] ?? NaN)} ` +
          `| ${ms(pv0.statusMs[i] ?? NaN)} | ${ms(f.prismaMs[i] ?? NaN)} ` +
          `|`,
      );
    }
    L.push('', '| worker figure | median | min | max | rounds |', '|---|---:|---:|---:|---:|');
    L.push(
      `| worker cold init: import the bundle + first event (\`ledger\`), fresh \`node\` (goal ≤ 150 ms) | ${statCells(
        f.coldInit.map((r) => r.importMs + r.firstEventMs),
        ms,
      )} |`,
    );
    L.push(
      `| — import of the bundle | ${statCells(
        f.coldInit.map((r) => r.importMs),
        ms,
      )} |`,
    );
    L.push(
      `| — first event | ${statCells(
        f.coldInit.map((r) => r.firstEventMs),
        ms,
      )} |`,
    );
    L.push(
      `| — whole probe process, spawn → exit (Node's own start-up included) | ${statCells(
        f.coldInit.map((r) => r.processMs),
        ms,
      )} |`,
    );
    L.push(
      '| — not in the figure: loading @aws-sdk/client-secrets-manager, which the first event adds in AWS ' +
        `(secret-based connection; its network call not counted) | ${statCells(
          f.coldInit.map((r) => r.secretsSdkImportMs ?? NaN),
          ms,
        )} |`,
    );
    L.push(
      `| worker peak RSS (maxRSS), one apply event of ${f.rss[0]?.applied ?? '?'} migrations ` +
        `(${kb(c.eventBytes)}; deploy's batch, largest file included) (goal ≤ 128 MB) | ${statCells(
          f.rss.map((r) => r.maxRssKB * 1024),
          mb,
        )} |`,
    );
    L.push(
      `| — RSS after loading the bundle | ${statCells(
        f.rss.map((r) => r.rssAfterLoadKB * 1024),
        mb,
      )} |`,
    );
    L.push('');
  }

  L.push('## Worker bundle', '');
  L.push(
    `infra/bundling.ts's esbuild options (as deployed): ` +
      `${kb(info.bundle.bytes)} minified, ${kb(info.bundle.gzipBytes)} ` +
      `gzipped (goal ≤ 300 KB minified). Largest contributors:`,
    '',
  );
  L.push('| bytes in bundle | input |', '|---:|---|');
  for (const t of info.bundle.topInputs) L.push(`| ${kb(t.bytes)} | ${t.input} |`);
  L.push('');

  const missed = info.all.flatMap((f) =>
    [...goalRows(f, primary, info.nodeStartMs), ...workerGoalRows(f, info.bundle)]
      .filter((r) => !r.met)
      .map((r) => `${f.corpus.name}: **${r.name}** missed — ${r.text}: ${r.why}.`),
  );
  L.push('## Missed goals', '');
  if (missed.length === 0) L.push('None: every goal is met on every corpus (medians).', '');
  else L.push(...missed.map((m) => `- ${m}`), '');
  // Goals are judged on medians; single rounds over a goal are listed so the margin is visible.
  const outliers: string[] = [];
  for (const f of info.all) {
    const vf = f.variants.get(primary)!;
    const overRatio = vf.ratio.filter((x) => x > GOALS.deployRatio);
    if (overRatio.length) {
      outliers.push(
        `${f.corpus.name}: deploy over 1.5× the floor in ${overRatio.length} ` +
          `of ${vf.ratio.length} round(s) (${overRatio.map(ratio).join(', ')}); ` +
          `rounds' floors ${f.floorMs.map(ms).join(', ')}, before-apply ` +
          `${vf.beforeApplyMs.map(ms).join(', ')}`,
      );
    }
    const overStatus = vf.statusMs.filter((x) => x > GOALS.statusMs);
    if (overStatus.length)
      outliers.push(
        `${f.corpus.name}: no-op status over 0.5 s in ${overStatus.length} ` +
          `of ${vf.statusMs.length} round(s) (${overStatus.map(ms).join(', ')})`,
      );
  }
  if (outliers.length)
    L.push(
      'Single rounds over a goal (the goals are judged on the medians above):',
      '',
      ...outliers.map((o) => `- ${o}`),
      '',
    );
  if (info.profiles.deploy)
    L.push(
      ...renderProfile(
        `CPU profile of the CLI: deploy of ${info.profiles.deploy.corpus} — ${info.profiles.deploy.variant}`,
        info.profiles.deploy.summary,
      ),
    );
  if (info.profiles.status)
    L.push(
      ...renderProfile(
        `CPU profile of the CLI: no-op status on ${info.profiles.status.corpus} — ${info.profiles.status.variant}`,
        info.profiles.status.summary,
      ),
    );
  if (info.profiles.worker)
    L.push(
      ...renderProfile(
        `CPU profile of the worker bundle applying ${info.profiles.worker.corpus} in one event`,
        info.profiles.worker.summary,
      ),
    );
  return L.join('\n');
}

// ---------------------------------------------------------------------------------------------

async function nodeStartMs(): Promise<Stat> {
  const xs: number[] = [];
  for (let i = 0; i < 7; i++) {
    const started = performance.now();
    await new Promise<void>((resolve, reject) =>
      spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' })
        .on('close', () => resolve())
        .on('error', reject),
    );
    xs.push(performance.now() - started);
  }
  return stat(xs);
}

async function main(): Promise<void> {
  const started = new Date();
  const t0 = performance.now();
  const loadStart = os.loadavg();
  const log = (s: string) => process.stderr.write(s + '\n');
  await mkdir(BENCH_DIR, { recursive: true });
  const dirs = corpusDirs();
  if (dirs.length === 0) throw new Error('No Prisma-format corpus found; pass --corpus DIR.');
  const server = await resolveServer();
  log(`bench: ${server.version} (${server.source}); load ${loadStart.map((x) => x.toFixed(2)).join(' ')}`);
  const endpoint = await startEndpoint();
  try {
    const variants = cliVariants();
    // A first `--help` builds what the launcher builds on first run (dist/cli.mjs), outside the rounds.
    for (const v of variants) {
      const help = await runCli(v, ['--help']);
      if (help.code !== 0) throw new Error(`${v.label} --help exited ${help.code}: ${help.stderr.slice(-2000)}`);
    }
    const bundle = await buildWorkerBundle();
    log(`bench: worker bundle ${kb(bundle.bytes)}`);
    const nodeStart = await nodeStartMs();
    const all: CorpusFigures[] = [];
    for (const dir of dirs) {
      const corpus = await prepareCorpus(dir);
      log(`bench: ${corpus.name} — ${corpus.migrations.length} migrations`);
      all.push(await benchCorpus(server, endpoint, variants, corpus, bundle, log));
    }
    const profiles: Profiles = {};
    const primary = variants[0]!;
    // The corpus that missed the goal; with --profile and no miss, the first one.
    const want = (pred: (f: CorpusFigures) => boolean) => all.find(pred) ?? (values.profile ? all[0] : undefined);
    const slowDeploy = want((f) => !goalRows(f, primary, nodeStart).find((r) => r.name.startsWith('deploy'))?.met);
    if (slowDeploy) {
      log('bench: profiling deploy');
      profiles.deploy = {
        corpus: slowDeploy.corpus.name,
        variant: primary.label,
        summary: await profileCli(server, endpoint, primary, slowDeploy.corpus, 'deploy'),
      };
      profiles.worker = {
        corpus: slowDeploy.corpus.name,
        summary: await profileWorker(server, bundle, slowDeploy.corpus),
      };
    }
    const slowStatus = want(
      (f) => !goalRows(f, primary, nodeStart).find((r) => r.name.startsWith('no-op status'))?.met,
    );
    if (slowStatus) {
      log('bench: profiling status');
      profiles.status = {
        corpus: slowStatus.corpus.name,
        variant: primary.label,
        summary: await profileCli(server, endpoint, primary, slowStatus.corpus, 'status'),
      };
    }
    const slowInit = all.find((f) => !workerGoalRows(f, bundle).every((r) => r.met));
    if (slowInit && !profiles.worker)
      profiles.worker = { corpus: slowInit.corpus.name, summary: await profileWorker(server, bundle, slowInit.corpus) };
    const text = render({
      server,
      psql: findPsql(),
      started,
      durationMs: performance.now() - t0,
      loadStart,
      loadEnd: os.loadavg(),
      nodeStartMs: nodeStart,
      bundle,
      variants,
      all,
      profiles,
    });
    await writeFile(values.out!, text + '\n');
    log(`bench: wrote ${path.relative(process.cwd(), values.out!)}`);
    process.stdout.write(text + '\n');
  } finally {
    await endpoint.stop();
    for (const name of liveDbs) await dropDatabase(server.adminUrl, name).catch(() => undefined);
    await server.stop();
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`bench failed: ${(error as Error)?.stack ?? String(error)}\n`);
    process.exit(1);
  },
);
