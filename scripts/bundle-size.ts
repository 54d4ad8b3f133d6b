/**
 * `pnpm bundle:size`: bundles the worker exactly as the `MigrationWorker` construct does
 * (`infra/bundling.ts`) and prints the minified size against the 300 KB goal, with the
 * largest contributors. It measures; it does not fail.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import { BUNDLE_FILE, REPO_ROOT, WORKER_ENTRY, esbuildOptions } from '../infra/bundling.js';

export const BUNDLE_GOAL_BYTES = 300 * 1024;

export interface BundleSize {
  bytes: number;
  gzipBytes: number;
  /** Bytes in the output per package (or `(project)` for our own files), largest first. */
  contributors: { name: string; bytes: number }[];
}

/** Bundles `entry` with the worker's esbuild options into a temporary directory and measures it. */
export async function measureBundle(entry: string = WORKER_ENTRY): Promise<BundleSize> {
  const dir = mkdtempSync(join(tmpdir(), 'vpcm-bundle-'));
  try {
    const outfile = join(dir, BUNDLE_FILE);
    // metafile only adds a report; the bundle's bytes are unchanged.
    const result = await build({ ...esbuildOptions(entry, outfile), metafile: true });
    const code = readFileSync(outfile);
    const byName = new Map<string, number>();
    for (const output of Object.values(result.metafile.outputs)) {
      for (const [input, { bytesInOutput }] of Object.entries(output.inputs)) {
        const name = packageOf(input);
        byName.set(name, (byName.get(name) ?? 0) + bytesInOutput);
      }
    }
    const contributors = [...byName].map(([name, bytes]) => ({ name, bytes })).sort((a, b) => b.bytes - a.bytes);
    return { bytes: code.length, gzipBytes: gzipSync(code).length, contributors };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function packageOf(input: string): string {
  const match = /node_modules\/((?:@[^/]+\/)?[^/]+)\/(?!.*node_modules\/)/.exec(input);
  return match?.[1] ?? '(project)';
}

const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KB`;

async function main(): Promise<void> {
  const size = await measureBundle();
  const verdict = size.bytes <= BUNDLE_GOAL_BYTES ? 'within' : 'OVER';
  console.log(
    `worker bundle (${relative(REPO_ROOT, WORKER_ENTRY)}, ` +
      `minified ESM): ${kb(size.bytes)} (${size.bytes} bytes), ` +
      `gzip ${kb(size.gzipBytes)}`,
  );
  console.log(`goal: at most ${kb(BUNDLE_GOAL_BYTES)}: ${verdict}`);
  for (const { name, bytes } of size.contributors.slice(0, 8)) console.log(`  ${kb(bytes).padStart(9)}  ${name}`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main();
}
