/**
 * `pnpm build` (also `prepack`, so `pnpm pack` / `npm publish` ship it): everything the package
 * runs, prebuilt into dist/, so an installed vpc-migrate compiles and bundles nothing at run time.
 *
 *   dist/cli.mjs            the `vpc-migrate` bin's bundle (scripts/run-cli.mjs loads it)
 *   dist/api.mjs            `import { deploy, status } from 'vpc-migrate'`
 *   dist/worker/index.mjs   the worker Lambda: the construct's asset, and `vpc-migrate/worker`
 *   dist/cdk.mjs, cdk.cjs   `vpc-migrate/cdk` for ESM and CommonJS CDK apps
 *   dist/types/             declarations (ESM), and dist/types-cjs/ the same read as CommonJS
 */
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { build, type BuildOptions } from 'esbuild';
import { BUNDLE_FILE, esbuildOptions, PREBUILT_WORKER_DIR, REPO_ROOT, WORKER_ENTRY } from '../infra/bundling.js';

const DIST = path.join(REPO_ROOT, 'dist');

/** The CLI and the API: the options scripts/run-cli.mjs builds the CLI with. */
async function buildCliAndApi(): Promise<void> {
  execFileSync(process.execPath, [path.join(REPO_ROOT, 'scripts', 'run-cli.mjs'), '--build-only', '--packaged'], {
    stdio: 'inherit',
  });
  const { ESM_BUNDLE_OPTIONS } = (await import(path.join(REPO_ROOT, 'scripts', 'run-cli.mjs'))) as {
    ESM_BUNDLE_OPTIONS: BuildOptions;
  };
  await build({
    ...ESM_BUNDLE_OPTIONS,
    entryPoints: [path.join(REPO_ROOT, 'scripts', 'api.ts')],
    outfile: path.join(DIST, 'api.mjs'),
    // The oldest Node the package supports (engines), not the one building it.
    target: 'node20',
    logLevel: 'error',
  });
}

/** The worker exactly as the construct deploys it (infra/bundling.ts), alone in its folder: the folder is the asset. */
async function buildWorker(): Promise<void> {
  const dir = path.join(DIST, PREBUILT_WORKER_DIR);
  rmSync(dir, { recursive: true, force: true });
  await build(esbuildOptions(WORKER_ENTRY, path.join(dir, BUNDLE_FILE)));
}

/**
 * The construct, twice: ESM and CommonJS. `import.meta.url` (how bundling.ts finds the prebuilt
 * worker beside it) is one identifier both formats define in their banner.
 */
async function buildCdk(): Promise<void> {
  const common: BuildOptions = {
    entryPoints: [path.join(REPO_ROOT, 'infra', 'index.ts')],
    bundle: true,
    platform: 'node',
    target: 'node20',
    // The app's own aws-cdk-lib and constructs (peer dependencies): one copy of each in a CDK app.
    external: ['aws-cdk-lib', 'aws-cdk-lib/*', 'constructs', 'esbuild'],
    define: { 'import.meta.url': '__vpcmModuleUrl' },
    logLevel: 'error',
  };
  await build({
    ...common,
    format: 'esm',
    outfile: path.join(DIST, 'cdk.mjs'),
    banner: {
      js:
        'import { createRequire as __vpcmCreateRequire } from ' +
        "'node:module'; const __vpcmModuleUrl = import.meta.url; " +
        'const require = __vpcmCreateRequire(__vpcmModuleUrl);',
    },
  });
  await build({
    ...common,
    format: 'cjs',
    outfile: path.join(DIST, 'cdk.cjs'),
    banner: { js: "const __vpcmModuleUrl = require('node:url').pathToFileURL(__filename).href;" },
  });
}

/**
 *  Declarations, and a CommonJS reading of the same files for `require` (TypeScript takes a folder's package.json
 *  `type`).
 */
function buildTypes(): void {
  rmSync(path.join(DIST, 'types'), { recursive: true, force: true });
  rmSync(path.join(DIST, 'types-cjs'), { recursive: true, force: true });
  execFileSync(
    process.execPath,
    [
      path.join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc'),
      '-p',
      path.join(REPO_ROOT, 'tsconfig.build.json'),
    ],
    { stdio: 'inherit' },
  );
  cpSync(path.join(DIST, 'types'), path.join(DIST, 'types-cjs'), { recursive: true });
  writeFileSync(path.join(DIST, 'types-cjs', 'package.json'), '{ "type": "commonjs" }\n');
}

async function main(): Promise<void> {
  const started = Date.now();
  mkdirSync(DIST, { recursive: true });
  await buildCliAndApi();
  await buildWorker();
  await buildCdk();
  buildTypes();
  process.stderr.write(
    `vpc-migrate: built dist/ (cli, api, worker, cdk, types) in ${((Date.now() - started) / 1000).toFixed(1)} s\n`,
  );
}

await main();
