/**
 * How the worker is bundled: one definition shared by the `MigrationWorker` construct
 * (`NodejsFunction`, local esbuild) and `scripts/bundle-size.ts`, so the size the script
 * prints is the size that is deployed.
 */
import { fileURLToPath } from 'node:url';
import type { BuildOptions } from 'esbuild';
import { OutputFormat, type BundlingOptions } from 'aws-cdk-lib/aws-lambda-nodejs';

/** The repository root (holds package.json and pnpm-lock.yaml). */
export const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));

/** The worker's entry point and its exported handler. */
export const WORKER_ENTRY = fileURLToPath(new URL('../lambda/handler.ts', import.meta.url));
export const WORKER_HANDLER = 'handler';

/** The lock file `NodejsFunction` keys its asset on. */
export const DEPS_LOCK_FILE = fileURLToPath(new URL('../pnpm-lock.yaml', import.meta.url));

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

/** The file name `NodejsFunction` writes for an ESM bundle (`index.mjs`, handler `index.handler`). */
export const BUNDLE_FILE = 'index.mjs';

/** `NodejsFunction` bundling options: local esbuild only, never Docker. */
export function cdkBundlingOptions(): BundlingOptions {
  return {
    forceDockerBundling: false,
    format: OutputFormat.ESM,
    target: WORKER_BUNDLING.target,
    minify: WORKER_BUNDLING.minify,
    externalModules: [...WORKER_BUNDLING.externalModules],
    mainFields: [...WORKER_BUNDLING.mainFields],
    banner: WORKER_BUNDLING.banner,
  };
}

/**
 * The esbuild API options equivalent to the command line `NodejsFunction` runs
 * (`esbuild --bundle ENTRY --target=… --platform=node --format=esm --outfile=… --minify
 * --external:… --banner:js=… --main-fields=…`).
 */
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
