import { defineConfig } from 'vitest/config';

/** The files that take the corpora as test data. */
const CORPORA = ['test/**/*-corpora.test.ts', 'test/**/corpora.test.ts', 'test/**/*-corpus.test.ts'];
/** Prisma 6.19's own migrate judging our ledgers case by case: its own suite, `pnpm test:judge`. */
const JUDGE = ['test/integration/prisma-judge.test.ts'];
/**
 * Whole features end to end, many processes each: 20 databases rolled out (issue 27), drift
 * (issue 28), and ten shapes of file killed mid-run and resumed. 62, 47 and 43 s of the 333 s
 * `pnpm test` took on 2 cores on 2026-12-06 (a slow day): `pnpm test:long`, run by .ci/run.
 */
const LONG = [
  'test/integration/own-transaction.test.ts',
  'test/integration/drift.test.ts',
  'test/integration/rollout.test.ts',
];
/**
 * Integration files that run on the embedded server alone (`embeddedTarget()`, never
 * `databaseTargets()`): not run again in `system`. One missing here only runs twice.
 */
const EMBEDDED_ONLY = [
  'cli-honesty',
  'cli',
  'drift-catalog',
  'invoke-dropped',
  'local-database',
  'local-endpoint',
  'messages',
  'paths',
  'prisma-ledger-sql',
  'reader-function',
  'remedies-as-printed',
  'timings',
].map((name) => `test/integration/${name}.test.ts`);

// Two cores: integration files each start their own databases, so keep parallelism modest.
export default defineConfig({
  test: {
    projects: [
      { test: { name: 'unit', include: ['test/unit/**/*.test.ts'], exclude: CORPORA } },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          exclude: [...CORPORA, ...JUDGE, ...LONG],
          testTimeout: 120_000,
          hookTimeout: 120_000,
          globalSetup: ['test/helpers/global-setup.ts'],
        },
      },
      { test: { name: 'infra', include: ['test/infra/**/*.test.ts'], testTimeout: 120_000 } },
      // The integration suites again on the machine's own PostgreSQL (127.0.0.1:5432) when it
      // answers: `pnpm test:system`, run by .ci/run. `pnpm test` runs them on the embedded server
      // only: on both, it took 393 s on 2 cores on 2026-12-06, over the 5-minute budget.
      ...(requested('system')
        ? [
            {
              test: {
                name: 'system',
                include: ['test/integration/**/*.test.ts'],
                exclude: [...CORPORA, ...JUDGE, ...LONG, ...EMBEDDED_ONLY],
                testTimeout: 120_000,
                hookTimeout: 120_000,
                globalSetup: ['test/helpers/global-setup.ts'],
              },
            },
          ]
        : []),
      // On both servers, as the other long suites.
      ...(requested('long')
        ? [
            {
              test: {
                name: 'long',
                include: LONG,
                testTimeout: 300_000,
                hookTimeout: 300_000,
                globalSetup: ['test/helpers/global-setup.ts'],
              },
            },
          ]
        : []),
      // The real histories of ../shared/corpora (820 + 163 Prisma migrations, 186 Drizzle ones):
      // `pnpm test:corpora`, run by .ci/run. Out of `pnpm test` to keep it within 5 minutes on 2 cores.
      ...(requested('corpora')
        ? [
            {
              test: {
                name: 'corpora',
                include: CORPORA,
                testTimeout: 300_000,
                hookTimeout: 300_000,
                globalSetup: ['test/helpers/global-setup.ts'],
              },
            },
          ]
        : []),
      // 108 s of the 351 s `pnpm test` took on 2 cores (2026-12-06): `pnpm test:judge`, run by .ci/run.
      ...(requested('judge')
        ? [
            {
              test: {
                name: 'judge',
                include: JUDGE,
                testTimeout: 300_000,
                hookTimeout: 300_000,
                globalSetup: ['test/helpers/global-setup.ts'],
              },
            },
          ]
        : []),
      // The fault matrix (issue 5): `pnpm test:faults`. Not part of `pnpm test`: measured on 2
      // cores, the suite takes 3 min without it and 6 min with it, over the 5-minute budget.
      // Also asked for by a path under test/faults.
      ...(requested('faults', /(^|[=/])faults(\/|$)/)
        ? [
            {
              // Prints the matrix and writes test/faults/RESULTS.md.
              test: {
                name: 'faults',
                include: ['test/faults/**/*.test.ts'],
                testTimeout: 300_000,
                hookTimeout: 300_000,
                globalSetup: ['test/helpers/global-setup.ts', 'test/faults/setup.ts'],
              },
            },
          ]
        : []),
    ],
    maxWorkers: 2,
    // The SDK's notice that its 2027 releases need Node 22 would repeat in every worker.
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
  },
});

/**
 * `--project NAME` (or an argument ending in NAME: `arg` says what matches), or VPCM_<NAME>=1,
 * e.g. `VPCM_FAULTS=1 pnpm test` to run everything at once.
 */
function requested(name: string, arg = new RegExp(`(^|[=/])${name}$`)): boolean {
  return process.env[`VPCM_${name.toUpperCase()}`] === '1' || process.argv.some((a) => arg.test(a));
}
