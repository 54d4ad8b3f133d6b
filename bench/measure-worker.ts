/**
 * The worker's own figures, on the bundle exactly as it is deployed (infra/bundling.ts's esbuild
 * options, the ones `NodejsFunction` and scripts/bundle-size.ts use):
 * - size of the minified bundle (goal ≤ 300 KB);
 * - cold init: a fresh `node` process imports the bundle and handles its first event (goal ≤ 150 ms);
 * - peak RSS of a fresh process handling the largest apply event of a corpus (goal ≤ 128 MB).
 *
 * The probe processes run plain JavaScript (no tsx), so nothing but the bundle is measured.
 * The bundle lives under `.vpc-migrate/bench/` in the repository so that its one external
 * import, `@aws-sdk/client-secrets-manager` (provided by the Lambda runtime), resolves from the
 * project's node_modules as it would from the runtime's.
 */
import { mkdir, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { esbuildOptions, REPO_ROOT, WORKER_ENTRY, BUNDLE_FILE } from '../infra/bundling.js';
import { measureBundle } from '../scripts/bundle-size.js';
import { runProcess } from './user-path.js';

export const BENCH_DIR = path.join(REPO_ROOT, '.vpc-migrate', 'bench');

export interface BundleFigures {
  /** The bundle the probes load (same options, so the same bytes as `size`). */
  file: string;
  bytes: number;
  gzipBytes: number;
  /** Largest contributors, from scripts/bundle-size.ts (`pnpm bundle:size`). */
  topInputs: { input: string; bytes: number }[];
}

/** Builds the worker with the deployment's esbuild options; the size figures are `pnpm bundle:size`'s own. */
export async function buildWorkerBundle(): Promise<BundleFigures> {
  const dir = path.join(BENCH_DIR, 'worker');
  await mkdir(dir, { recursive: true });
  const file = path.join(dir, BUNDLE_FILE);
  await build(esbuildOptions(WORKER_ENTRY, file));
  const size = await measureBundle(WORKER_ENTRY);
  const built = (await stat(file)).size;
  if (built !== size.bytes)
    throw new Error(`the probe bundle (${built} bytes) differs from scripts/bundle-size.ts's (${size.bytes} bytes)`);
  return {
    file,
    bytes: size.bytes,
    gzipBytes: size.gzipBytes,
    topInputs: size.contributors.slice(0, 8).map((c) => ({ input: c.name, bytes: c.bytes })),
  };
}

// The probe: what Lambda's runtime does at a cold start (import the handler module, hand it the
// first event), timed from inside the fresh process. It prints one marked JSON line at the end;
// the handler's own log lines also go to stdout, as on Lambda.
const PROBE = `import { readFileSync } from 'node:fs';
const t0 = performance.now();
const [bundle, eventFile] = process.argv.slice(2);
const mod = await import(bundle);
const t1 = performance.now();
const rssAfterLoadKB = Math.round(process.memoryUsage().rss / 1024);
const event = eventFile ? JSON.parse(readFileSync(eventFile, 'utf8')) : { action: 'ledger' };
const deadline = Date.now() + 900000;
const t2 = performance.now();
const context = { awsRequestId: 'bench', functionName: 'bench', getRemainingTimeInMillis: () => deadline - Date.now() };
const response = await mod.handler(event, context);
const t3 = performance.now();
// In AWS the first event also loads the Secrets Manager client (lambda/secret.ts, lazily) before
// fetching the secret; with DATABASE_URL it is not needed, so its load is timed on its own here.
let secretsSdkImportMs;
if (!eventFile) {
  const t4 = performance.now();
  await import('@aws-sdk/client-secrets-manager');
  secretsSdkImportMs = performance.now() - t4;
}
const results = response?.result?.results;
const summary = {
  ok: response?.ok === true,
  error: response?.error?.message,
  applied: Array.isArray(results)
    ? results.filter((r) => r.status === 'applied' || r.status === 'reconciled').length
    : undefined,
  importMs: t1 - t0,
  firstEventMs: t3 - t2,
  secretsSdkImportMs,
  rssAfterLoadKB,
  maxRssKB: process.resourceUsage().maxRSS,
};
process.stdout.write('\\nBENCH_PROBE ' + JSON.stringify(summary) + '\\n');
process.exit(0);
`;

export interface ProbeResult {
  ok: boolean;
  error?: string;
  applied?: number;
  importMs: number;
  firstEventMs: number;
  /** Cold-init probes only: loading @aws-sdk/client-secrets-manager, which the first event in AWS adds. */
  secretsSdkImportMs?: number;
  rssAfterLoadKB: number;
  maxRssKB: number;
  /** The whole process, spawn to exit (node's own start-up included). */
  processMs: number;
}

async function probeFile(): Promise<string> {
  const file = path.join(BENCH_DIR, 'probe.mjs');
  await writeFile(file, PROBE);
  return file;
}

/** Runs the bundle's handler on one event in a fresh `node` process. Without `eventFile`: `{ action: 'ledger' }`. */
export async function probeWorker(
  bundle: string,
  databaseUrl: string,
  eventFile?: string,
  extraNodeArgs: string[] = [],
): Promise<ProbeResult> {
  const probe = await probeFile();
  const env: NodeJS.ProcessEnv = { ...process.env, DATABASE_URL: databaseUrl, POWERTOOLS_LOG_LEVEL: 'INFO' };
  delete env.NODE_OPTIONS;
  const args = [...extraNodeArgs, probe, pathToFileURL(bundle).href, ...(eventFile ? [eventFile] : [])];
  const { code, stdout, stderr, wallMs: processMs } = await runProcess(process.execPath, args, env, BENCH_DIR);
  const line = stdout.split('\n').find((l) => l.startsWith('BENCH_PROBE '));
  if (code !== 0 || !line) throw new Error(`worker probe failed (exit ${code}): ${stderr.slice(-2000)}`);
  return { ...(JSON.parse(line.slice('BENCH_PROBE '.length)) as Omit<ProbeResult, 'processMs'>), processMs };
}
