/**
 * Every flag the commands share, their help text and their bounded parsing: the worker target,
 * the protocol, the migrations folder and format, the apply options. A command's own flags are
 * declared with it (commands/*.ts) and parsed with the helpers here.
 */
import type { ParseArgsConfig } from 'node:util';
import { type ApplyOptions, ErrorCode, MigrateError, MIGRATION_FORMATS, type MigrationFormat } from '../../lambda/contract/index.js';
import type { TargetFlags } from '../core/worker.js';
import { DETECTION_RULE } from '../formats/select.js';
import { locateMigrations, type MigrationsLocation, requireMigrationsDir } from '../project/migrations-dir.js';

export type Options = NonNullable<ParseArgsConfig['options']>;
export type Values = Record<string, string | boolean | string[] | undefined>;

export const PROTOCOL_OPTIONS = {
  protocol: { type: 'string' },
  'payload-template': { type: 'string' },
  'error-path': { type: 'string' },
  'count-path': { type: 'string' },
} as const;

const PROTOCOL_HELP = `Worker protocol:
  --protocol P            vpc-migrate (default: our worker) or run-sql (an existing worker that runs
                          one SQL statement per call and returns only a row count; see README, Compatibility mode)
  --payload-template JSON run-sql event with "{{sql}}" (default {"action":"run-sql","sql":"{{sql}}"})
  --error-path PATH       run-sql: where a failure sits in a non-error answer (default: Lambda FunctionError/errorMessage)
  --count-path PATH       run-sql: where the row count sits in the answer (default count)`;

/** Flags every command accepts: which worker, which migrations, how to print. */
export const TARGET_OPTIONS: Options = {
  local: { type: 'boolean' },
  function: { type: 'string' },
  'reader-function': { type: 'string' },
  endpoint: { type: 'string' },
  stack: { type: 'string' },
  region: { type: 'string' },
  profile: { type: 'string' },
  'database-url': { type: 'string' },
  'function-timeout': { type: 'string' },
  migrations: { type: 'string' },
  format: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  ...PROTOCOL_OPTIONS,
};

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
  --function-timeout SEC  the function's timeout, 1 to 900 (Lambda's maximum; default 900); the CLI waits a little longer
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

/**
 * A bounded number flag (`scale` turns seconds into milliseconds), or undefined when absent.
 * Bounds are in the flag's own unit; `integer` refuses fractions (Lambda timeouts are whole seconds).
 */
export function intFlag(values: Values, name: string, opts: { scale?: number; min?: number; max?: number; integer?: boolean; unit?: string } = {}): number | undefined {
  const v = values[name];
  if (v === undefined) return undefined;
  const scale = opts.scale ?? 1;
  const min = opts.min ?? 0;
  const max = opts.max === undefined ? Number.MAX_SAFE_INTEGER : opts.max / scale;
  const n = Number(v);
  const unit = opts.unit ? ` ${opts.unit}` : '';
  if (typeof v !== 'string' || v.trim() === '' || !Number.isFinite(n) || n < min || n > max || (opts.integer && !Number.isInteger(n))) {
    throw usageError(
      `--${name} must be ${opts.integer ? 'a whole number' : 'a number'} from ${min} to ${max}${unit}, got ${String(v)}.`,
      `Pass --${name} between ${min} and ${max}${unit}.`,
    );
  }
  return Math.round(n * scale);
}

/** Lambda's own bounds for a function timeout (1–900 s): the CLI waits this long plus a margin. */
export function functionTimeoutFlag(values: Values): number | undefined {
  return intFlag(values, 'function-timeout', { scale: 1000, min: 1, max: 900_000, integer: true, unit: 's' });
}

export function stringFlag(values: Values, name: string): string | undefined {
  const v = values[name];
  return typeof v === 'string' ? v : undefined;
}

/** The flags of how migrations are applied (deploy, rehearse); {@link applyOptionsFrom} reads them. */
export const APPLY_OPTIONS: Options = {
  'lock-wait': { type: 'string' },
  'lock-timeout': { type: 'string' },
  'statement-timeout': { type: 'string' },
  'no-reconcile': { type: 'boolean' },
};

/** `--lock-wait SEC`, `--lock-timeout MS`, `--statement-timeout MS`, `--no-reconcile`, as deploy takes them. */
export function applyOptionsFrom(values: Values): ApplyOptions {
  const options: ApplyOptions = {};
  const lockWait = intFlag(values, 'lock-wait', { scale: 1000, max: 3_600_000, unit: 's' });
  const lockTimeout = intFlag(values, 'lock-timeout', { max: 3_600_000, unit: 'ms' });
  const statementTimeout = intFlag(values, 'statement-timeout', { max: 3_600_000, unit: 'ms' });
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
export async function migrationsFlag(values: Values, opts: { mustExist?: boolean } = {}): Promise<MigrationsLocation> {
  const flag = stringFlag(values, 'migrations');
  const location = await locateMigrations(flag === undefined ? {} : { flag });
  return opts.mustExist === false ? location : requireMigrationsDir(location);
}

/** `--format prisma|drizzle`, or undefined to detect. */
export function formatFlag(value: unknown): MigrationFormat | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'string' && (MIGRATION_FORMATS as readonly string[]).includes(value)) return value as MigrationFormat;
  throw usageError(`--format must be one of ${MIGRATION_FORMATS.join(', ')}, got ${String(value)}.`, `Pass --format prisma or --format drizzle, or leave it out to detect (${DETECTION_RULE}).`);
}

/** The target flags as transport/target.ts takes them. */
export function targetFlags(values: Values): TargetFlags {
  const flags: TargetFlags = {};
  if (values.local) flags.local = true;
  for (const [flag, key] of [['function', 'function'], ['reader-function', 'readerFunction'], ['endpoint', 'endpoint'], ['stack', 'stack'], ['region', 'region'], ['profile', 'profile'], ['database-url', 'databaseUrl']] as const) {
    const value = stringFlag(values, flag);
    if (value !== undefined) flags[key] = value;
  }
  const timeout = functionTimeoutFlag(values);
  if (timeout !== undefined) flags.functionTimeoutMs = timeout;
  return flags;
}
