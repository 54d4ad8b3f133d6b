/**
 * The many-databases flags of `deploy` and `status` (`--targets FILE` and the rollout's own),
 * their help, their bounded parsing, and the two adapters the commands hand over to when
 * `--targets` (or `--resume`) is given.
 */
import { remedyCommand } from '../../lambda/contract/index.js';
import { intFlag, type IntFlagSpec, type Options, usageError } from '../commands/flags.js';
import { fromInvocationDir } from '../project/invocation-dir.js';

/**
 * Default 4: each target holds one worker invocation (a Lambda concurrent execution) and, in
 * the worker, a lock session plus a working connection to its database. Four keeps a rollout
 * far below an account's default Lambda concurrency (1,000) and below the connection limit of
 * the smallest RDS instances even when many tenant databases share one instance; raise it when
 * the databases sit on separate servers.
 */
export const DEFAULT_CONCURRENCY = 4;

export const ROLLOUT_INT_FLAGS = {
  canary: { min: 0, max: 1000 },
  concurrency: { min: 1, max: 64 },
  'max-failures': { min: 0, max: 100_000 },
} as const satisfies Record<string, IntFlagSpec>;

/** `status --targets`. */
export const TARGETS_OPTIONS = {
  targets: { type: 'string' },
  concurrency: { type: 'string' },
} as const satisfies Options;

/** `deploy --targets`. */
export const ROLLOUT_OPTIONS = {
  ...TARGETS_OPTIONS,
  canary: { type: 'string' },
  'canary-target': { type: 'string', multiple: true },
  'max-failures': { type: 'string' },
  report: { type: 'string' },
  resume: { type: 'string' },
} as const satisfies Options;

export const TARGETS_HELP = `Many databases (docs/many-databases.md):
  --targets FILE          run on every target of FILE, JSON (or YAML when named .yaml/.yml):
                          {"targets": [{"name": …, "databaseUrl" | "function" | "stack": …}, …]}
  --concurrency N         targets at a time, 1 to 64 (default ${DEFAULT_CONCURRENCY}: within Lambda's and RDS's
                          connection limits; docs/many-databases.md says why)`;

export const ROLLOUT_HELP = `${TARGETS_HELP}
  --canary N              deploy the first N targets first, 0 to 1000 (default 1); a canary failure
                          stops everything
  --canary-target NAME    the canary stage is these targets instead (repeatable)
  --max-failures N        failures tolerated before no new target starts (default 0: stop at the first;
                          running ones finish)
  --report FILE           the rollout report, rewritten as it goes (default .vpc-migrate/rollout-<time>.json;
                          with --resume, the resumed report)
  --resume REPORT         run only the targets REPORT does not show succeeded (failed, running when the CLI
                          died, skipped, not started); the ledgers decide what each still needs`;

/** Whether the command runs on a targets file rather than one worker. */
export function wantsTargets(values: { readonly targets?: string; readonly resume?: string }): boolean {
  return values.targets !== undefined || values.resume !== undefined;
}

/** Flags naming one worker make no sense beside a file of targets: refused, not silently ignored. */
export function checkNoSingleTarget(values: object): void {
  const single = ['function', 'stack', 'endpoint', 'reader-function', 'database-url', 'database'].filter(
    (f) => (values as Record<string, unknown>)[f] !== undefined,
  );
  if (single.length > 0)
    throw usageError(
      `--${single[0]} names one worker; with --targets each target says how it is reached.`,
      'Leave out the single-target flags (put "function", "stack", "database" or "databaseUrl" in the targets ' +
        'file), or ' +
        'drop --targets.',
    );
}

export function concurrencyFlag(values: { readonly concurrency?: string }): number {
  return intFlag(values, 'concurrency', ROLLOUT_INT_FLAGS.concurrency) ?? DEFAULT_CONCURRENCY;
}

export interface RolloutFlags {
  targetsFile?: string;
  canary: number;
  canaryTargets: string[];
  concurrency: number;
  maxFailures: number;
  reportFile?: string;
  resume?: string;
}

export function rolloutFlags(values: {
  readonly targets?: string;
  readonly canary?: string;
  readonly 'canary-target'?: string[];
  readonly concurrency?: string;
  readonly 'max-failures'?: string;
  readonly report?: string;
  readonly resume?: string;
}): RolloutFlags {
  const flags: RolloutFlags = {
    canary: intFlag(values, 'canary', ROLLOUT_INT_FLAGS.canary) ?? 1,
    canaryTargets: values['canary-target'] ?? [],
    concurrency: concurrencyFlag(values),
    maxFailures: intFlag(values, 'max-failures', ROLLOUT_INT_FLAGS['max-failures']) ?? 0,
  };
  if (values.targets !== undefined) flags.targetsFile = fromInvocationDir(values.targets);
  if (values.report !== undefined) flags.reportFile = fromInvocationDir(values.report);
  if (values.resume !== undefined) flags.resume = fromInvocationDir(values.resume);
  if (values.canary !== undefined && flags.canaryTargets.length > 0)
    throw usageError(
      '--canary N and --canary-target NAME both choose the canary stage.',
      `Pass one of them (${remedyCommand('deploy', '--help')} explains both).`,
    );
  return flags;
}
