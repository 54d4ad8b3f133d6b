/**
 * Every flag the commands share, their help text and their bounded parsing: the worker target,
 * the protocol, the migrations folder and format, the apply options. A command's own flags are
 * declared with it (commands/*.ts) and parsed with the helpers here.
 */
import type { ParseArgsConfig } from 'node:util';
import {
  type ApplyOptions,
  ErrorCode,
  isDatabaseName,
  isDatabaseUrl,
  LAMBDA_MAX_TIMEOUT_SECONDS,
  MigrateError,
  MIGRATION_FORMATS,
  type MigrationFormat,
} from '../../lambda/contract/index.js';
import type { TargetFlags } from '../core/worker-client.js';
import { DETECTION_RULE } from '../formats/detection.js';
import { locateMigrations, type MigrationsLocation, requireMigrationsDir } from '../project/migrations-dir.js';

export type Options = NonNullable<ParseArgsConfig['options']>;

type OptionValue<C> = C extends { type: 'boolean' }
  ? C extends { multiple: true }
    ? boolean[]
    : boolean
  : C extends { type: 'string' }
    ? C extends { multiple: true }
      ? string[]
      : string
    : string | boolean | (string | boolean)[];

/** What `parseArgs` (strict) returns for the options `O`: each flag optional, typed by its `type` and `multiple`. */
export type ValuesOf<O extends Options> = { -readonly [K in keyof O]?: OptionValue<O[K]> };

/** A command's flags as it reads them: every command's (TARGET_OPTIONS) and its own `O`. */
export type Values<O extends Options = Record<never, never>> = ValuesOf<typeof TARGET_OPTIONS & O>;

/** The flags of a command not known here (cli.ts): the shared ones typed, its own as parseArgs gives them. */
export type AnyValues = Values<Options>;

export const PROTOCOL_OPTIONS = {
  protocol: { type: 'string' },
  'payload-template': { type: 'string' },
  'error-path': { type: 'string' },
  'count-path': { type: 'string' },
} as const satisfies Options;

const PROTOCOL_HELP = `Worker protocol:
  --protocol P            vpc-migrate (default: our worker) or run-sql (an existing worker that runs
                          one SQL statement per call and returns only a row count; see docs/compat.md)
  --payload-template JSON run-sql event with "{{sql}}" (default {"action":"run-sql","sql":"{{sql}}"})
  --error-path PATH       run-sql: where a failure sits in a non-error answer
                          (default: Lambda FunctionError/errorMessage)
  --count-path PATH       run-sql: where the row count sits in the answer (default count)`;

/** Flags every command accepts: which worker, which migrations, how to print. */
export const TARGET_OPTIONS = {
  local: { type: 'boolean' },
  function: { type: 'string' },
  'reader-function': { type: 'string' },
  endpoint: { type: 'string' },
  stack: { type: 'string' },
  region: { type: 'string' },
  profile: { type: 'string' },
  'database-url': { type: 'string' },
  database: { type: 'string' },
  'function-timeout': { type: 'string' },
  migrations: { type: 'string' },
  format: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  ...PROTOCOL_OPTIONS,
} as const satisfies Options;

export const TARGET_HELP = `Worker (one of):
  --local                 run the worker locally: embedded PostgreSQL (or DATABASE_URL / --database-url)
  --function NAME|ARN     the deployed worker (or env VPC_MIGRATE_FUNCTION)
  --stack NAME            find the worker in this CloudFormation stack's outputs
  --reader-function NAME|ARN
                          the reader function (or env VPC_MIGRATE_READER_FUNCTION; with --stack, its
                          ReaderFunctionName output): status, lint and sql without --write go to it, every
                          other command to the worker; not with --local, which serves its own
  --endpoint URL          any Lambda Invoke-compatible endpoint (with --function)
  --region R, --profile P AWS region and profile (default: the AWS SDK chain)
  --database NAME         one of the worker's named databases (the construct's databases prop; locally
                          VPCM_DATABASES='{"NAME":"postgresql://…"}'); default: the worker's own database
  --function-timeout SEC  the function's timeout, 1 to ${LAMBDA_MAX_TIMEOUT_SECONDS} (Lambda's maximum;
                          default ${LAMBDA_MAX_TIMEOUT_SECONDS}); the CLI waits a little longer
Common:
  --migrations DIR        the folder of migration folders, relative to where you ran the command; default:
                          where Prisma looks (prisma.config.ts migrations.path or beside its schema, then
                          package.json "prisma": {"schema"}), else drizzle.config out, else prisma/migrations
  --format prisma|drizzle the migration format (default: drizzle when DIR/meta/_journal.json exists, else prisma)
  --json                  machine-readable output on stdout (progress goes to stderr)
${PROTOCOL_HELP}`;

export function usageError(message: string, remedy: string): MigrateError {
  return new MigrateError(ErrorCode.UsageError, message, remedy);
}

/** A numeric flag's bounds, in the flag's own unit, and how to turn it into what the code uses. */
export interface IntFlagSpec {
  min: number;
  max: number;
  /** Printed after the bounds (`s`, `ms`). */
  unit?: string;
  /** Multiplies the value (seconds into milliseconds). */
  scale?: number;
}

/** The bounds of every numeric flag, in one place: the help texts and docs/commands.md print these. */
export const INT_FLAGS = {
  'function-timeout': { min: 1, max: LAMBDA_MAX_TIMEOUT_SECONDS, unit: 's', scale: 1000 },
  'lock-wait': { min: 0, max: 3600, unit: 's', scale: 1000 },
  'lock-timeout': { min: 0, max: 3_600_000, unit: 'ms' },
  /** deploy, rehearse, backfill: 0 means the function's remaining time. */
  'statement-timeout': { min: 0, max: 3_600_000, unit: 'ms' },
  /** run-sql: a statement timeout it always sets. */
  'sql-statement-timeout': { min: 1, max: 3_600_000, unit: 'ms' },
  'max-rows': { min: 1, max: 100_000 },
} as const satisfies Record<string, IntFlagSpec>;

/** Only plain decimal digits: `1.5`, `0x10`, `1e2`, ` 7`, `+3` are not what anyone means by a timeout. */
const DECIMAL = /^[0-9]+$/;

/**
 * The one parser of numeric flags, for every command: a whole decimal number within `spec`'s
 * bounds (then scaled), or undefined when absent; anything else is VPCM_USAGE naming the flag
 * and its bounds, before anything is sent.
 */
export function intFlag<K extends string>(
  values: { readonly [P in K]?: string },
  name: K,
  spec: IntFlagSpec,
): number | undefined {
  const v = values[name];
  if (v === undefined) return undefined;
  const unit = spec.unit ? ` ${spec.unit}` : '';
  const n = DECIMAL.test(v) ? Number(v) : NaN;
  if (!Number.isSafeInteger(n) || n < spec.min || n > spec.max) {
    throw usageError(
      `--${name} must be a whole number from ${spec.min} to ${spec.max}${unit}, got ${JSON.stringify(v)}.`,
      `Pass --${name} as digits only, between ${spec.min} and ${spec.max}${unit}.`,
    );
  }
  return n * (spec.scale ?? 1);
}

/** Lambda's own bounds for a function timeout (1 s to its maximum): the CLI waits this long plus a margin. */
export function functionTimeoutFlag(values: { readonly 'function-timeout'?: string }): number | undefined {
  return intFlag(values, 'function-timeout', INT_FLAGS['function-timeout']);
}

/** The flags of how migrations are applied (deploy, rehearse); {@link applyOptionsFrom} reads them. */
export const APPLY_OPTIONS = {
  'lock-wait': { type: 'string' },
  'lock-timeout': { type: 'string' },
  'statement-timeout': { type: 'string' },
  'no-reconcile': { type: 'boolean' },
} as const satisfies Options;

/** `--lock-wait SEC`, `--lock-timeout MS`, `--statement-timeout MS`, `--no-reconcile`, as deploy takes them. */
export function applyOptionsFrom(values: ValuesOf<typeof APPLY_OPTIONS>): ApplyOptions {
  const options: ApplyOptions = {};
  const lockWait = intFlag(values, 'lock-wait', INT_FLAGS['lock-wait']);
  const lockTimeout = intFlag(values, 'lock-timeout', INT_FLAGS['lock-timeout']);
  const statementTimeout = intFlag(values, 'statement-timeout', INT_FLAGS['statement-timeout']);
  if (lockWait !== undefined) options.lockWaitMs = lockWait;
  if (lockTimeout !== undefined) options.lockTimeoutMs = lockTimeout;
  if (statementTimeout !== undefined) options.statementTimeoutMs = statementTimeout;
  if (values['no-reconcile'] === true) options.reconcileExisting = false;
  return options;
}

/**
 * The migrations folder: `--migrations DIR` from the directory the command was run in, else
 * where Prisma (or drizzle-kit) would look (project/migrations-dir.ts); refused with its source
 * when it does not exist.
 */
export async function migrationsFlag(
  values: { readonly migrations?: string },
  opts: { mustExist?: boolean } = {},
): Promise<MigrationsLocation> {
  const flag = values.migrations;
  const location = await locateMigrations(flag === undefined ? {} : { flag });
  return opts.mustExist === false ? location : requireMigrationsDir(location);
}

/** `--format prisma|drizzle`, or undefined to detect. */
export function formatFlag(value: string | undefined): MigrationFormat | undefined {
  if (value === undefined) return undefined;
  const format = MIGRATION_FORMATS.find((f) => f === value);
  if (format) return format;
  throw usageError(
    `--format must be one of ${MIGRATION_FORMATS.join(', ')}, got ${value}.`,
    `Pass --format prisma or --format drizzle, or leave it out to detect (${DETECTION_RULE}).`,
  );
}

/** The name the local worker serves a `--dev-database URL` under (drift's dev database, docs/drift.md). */
export const LOCAL_DEV_DATABASE = 'dev-database';

/**
 * `drift --dev-database`: a NAME of the worker's allow-list, or with `--local` a database URL the
 * local worker then serves under {@link LOCAL_DEV_DATABASE}. A deployed worker is never sent a URL:
 * it connects only to databases its configuration names (lambda/contract/database-selector.ts).
 */
export function devDatabaseFlag(values: Readonly<Record<string, unknown>>): { name: string; url?: string } | undefined {
  const dev = values['dev-database'];
  if (typeof dev !== 'string') return undefined;
  if (isDatabaseUrl(dev)) {
    if (values.local !== true)
      throw usageError(
        '--dev-database takes a database URL only with --local: a deployed worker connects only to the ' +
          'databases of its allow-list.',
        "Pass --dev-database NAME, a database of the worker's allow-list (the construct's databases prop).",
      );
    if (values.targets !== undefined)
      throw usageError(
        "--dev-database URL with --targets: one dev database cannot build every target's schema at once.",
        'Run drift per target with --dev-database, or leave it out (each target gets a scratch database).',
      );
    return { name: LOCAL_DEV_DATABASE, url: dev };
  }
  if (!isDatabaseName(dev))
    throw usageError(
      `--dev-database must be a database URL (with --local) or name a database of the worker's allow-list, ` +
        `got ${JSON.stringify(dev)}.`,
      "Pass --dev-database NAME (the construct's databases prop), or with --local --dev-database postgresql://….",
    );
  return { name: dev };
}

/** The target flags as transport/target.ts takes them. */
export function targetFlags(values: Values): TargetFlags {
  const flags: TargetFlags = {};
  if (values.local) flags.local = true;
  for (const [flag, key] of [
    ['function', 'function'],
    ['reader-function', 'readerFunction'],
    ['endpoint', 'endpoint'],
    ['stack', 'stack'],
    ['region', 'region'],
    ['profile', 'profile'],
    ['database-url', 'databaseUrl'],
  ] as const) {
    const value = values[flag];
    if (value !== undefined) flags[key] = value;
  }
  const timeout = functionTimeoutFlag(values);
  if (timeout !== undefined) flags.functionTimeoutMs = timeout;
  if (values.database !== undefined) flags.database = values.database;
  // Only drift has --dev-database; every command's values pass through here.
  const dev = devDatabaseFlag(values as Readonly<Record<string, unknown>>);
  if (dev?.url !== undefined) flags.localDatabases = { [dev.name]: dev.url };
  return flags;
}
