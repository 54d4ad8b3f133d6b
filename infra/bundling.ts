/**
 * How the worker is bundled: one definition shared by the `MigrationWorker` construct, the
 * package build (`scripts/build.mjs`, which writes the prebuilt `dist/worker/index.mjs`) and
 * `scripts/bundle-size.ts`, so the size the script prints is the size that is deployed.
 *
 * From the installed package (`vpc-migrate/cdk`, i.e. dist/cdk.mjs or dist/cdk.cjs) the
 * construct takes the prebuilt worker beside it: a consumer's `cdk synth` needs neither esbuild
 * nor Docker. From this repository's sources (infra/*.ts under tsx) it bundles lambda/handler.ts
 * at synth time, so an edit to the worker is deployed without a separate build.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BuildOptions } from 'esbuild';
import { AssetHashType, DockerImage } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';

/** The repository root (holds package.json and pnpm-lock.yaml). */
export const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));

/** The worker's entry point and its exported handler. */
export const WORKER_ENTRY = fileURLToPath(new URL('../lambda/handler.ts', import.meta.url));
export const WORKER_HANDLER = 'handler';

export const WORKER_BUNDLING = {
  /** The oldest runtime the worker is deployed on (nodejs22.x). */
  target: 'node22',
  format: 'esm',
  minify: true,
  /**
   * `@aws-sdk/*` v3 ships with the nodejs22.x runtime. `pg-native` is an optional
   * dependency pg only loads behind its `native` getter, which the worker never touches.
   */
  externalModules: ['@aws-sdk/*', 'pg-native'],
  /** Prefer packages' ESM builds: they tree-shake. */
  mainFields: ['module', 'main'],
  /**
   * pg is CommonJS and requires Node built-ins (`net`, `tls`, `events`); in an ESM bundle
   * esbuild routes those through `require`, which ESM does not define. Give it one.
   */
  banner:
    "import{createRequire as __vpcmCreateRequire}from'node:module';const require=__vpcmCreateRequire(import.meta.url);",
} as const;

/** The bundle's file name: ESM, so `.mjs` (handler `index.handler`). */
export const BUNDLE_FILE = 'index.mjs';

/**
 * The worker's Lambda code: an asset bundled at synth time by esbuild's own API, in this
 * process. Not `NodejsFunction`: it runs `pnpm exec esbuild` (or `npx`), which makes synth
 * depend on which package manager is installed and, under a `packageManager` pin, triggers a
 * version switch. No Docker either: `local` always succeeds, so the image is never pulled.
 * The asset is keyed on the bundle's bytes, so a dependency change is a new deployment and an
 * unchanged bundle is not.
 */
export function workerCode(): lambda.Code {
  const prebuilt = prebuiltWorkerDir();
  if (prebuilt) return lambda.Code.fromAsset(prebuilt);
  return lambda.Code.fromAsset(path.dirname(WORKER_ENTRY), {
    assetHashType: AssetHashType.OUTPUT,
    bundling: {
      image: DockerImage.fromRegistry('public.ecr.aws/sam/build-nodejs22.x'),
      local: {
        tryBundle(outputDir: string): boolean {
          // Loaded here, not at the top: the packaged construct never bundles and needs no esbuild.
          const { buildSync } = createRequire(import.meta.url)('esbuild') as typeof import('esbuild');
          buildSync(esbuildOptions(WORKER_ENTRY, path.join(outputDir, BUNDLE_FILE)));
          return true;
        },
      },
    },
  });
}

/**
 *  The folder in which the package build put the worker (`dist/worker/`, beside dist/cdk.*), when this code runs from
 *  there.
 */
export const PREBUILT_WORKER_DIR = 'worker';

/** The prebuilt worker folder next to this module, or undefined when running from the sources (infra/). */
export function prebuiltWorkerDir(): string | undefined {
  const dir = fileURLToPath(new URL(`./${PREBUILT_WORKER_DIR}/`, import.meta.url));
  return existsSync(path.join(dir, BUNDLE_FILE)) ? dir : undefined;
}

/** The handler setting for the bundle (`index.mjs` exporting `handler`). */
export const WORKER_HANDLER_SETTING = `${path.basename(BUNDLE_FILE, '.mjs')}.${WORKER_HANDLER}`;

/** The esbuild options the deployed bundle is built with (and `pnpm bundle:size` measures). */
export function esbuildOptions(entry: string, outfile: string): BuildOptions {
  return {
    entryPoints: [entry],
    bundle: true,
    platform: 'node',
    target: WORKER_BUNDLING.target,
    format: WORKER_BUNDLING.format,
    outfile,
    minify: WORKER_BUNDLING.minify,
    external: [...WORKER_BUNDLING.externalModules],
    banner: { js: WORKER_BUNDLING.banner },
    mainFields: [...WORKER_BUNDLING.mainFields],
    logLevel: 'warning',
  };
}
