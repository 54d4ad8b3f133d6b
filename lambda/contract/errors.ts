/**
 * Every failure the product reports: a stable `code` to branch on, a message saying what
 * happened and a `remedy` saying what to do next. Errors cross the Lambda boundary as JSON
 * (`toJSON` / `fromBody`), so code, not class identity, is the contract.
 */
import { resolveEither } from './remedy-command.js';
import type { ErrorBody } from './wire.js';

export class MigrateError extends Error {
  readonly code: string;
  readonly remedy: string;
  readonly details?: Record<string, unknown>;

  constructor(
    code: string,
    message: string,
    remedy: string,
    options: { cause?: unknown; details?: Record<string, unknown> } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'MigrateError';
    this.code = code;
    this.remedy = remedy;
    if (options.details) this.details = options.details;
  }

  toJSON(): ErrorBody {
    const body: ErrorBody = { code: this.code, message: this.message, remedy: this.remedy };
    if (this.details) body.details = this.details;
    return body;
  }

  static fromBody(body: ErrorBody): MigrateError {
    return new MigrateError(body.code, body.message, body.remedy, body.details ? { details: body.details } : {});
  }
}

/** Stable error codes. Never renumber or reuse one: CI scripts branch on them. */
export const ErrorCode = {
  // event validation (worker boundary)
  InvalidEvent: 'VPCM_INVALID_EVENT',
  UnknownAction: 'VPCM_UNKNOWN_ACTION',
  PayloadTooLarge: 'VPCM_PAYLOAD_TOO_LARGE',
  ChecksumInTransit: 'VPCM_CHECKSUM_IN_TRANSIT',
  // database
  ConnectionFailed: 'VPCM_CONNECTION_FAILED',
  ConfigMissing: 'VPCM_CONFIG_MISSING',
  // the event names a database (`database`) this worker is not configured for: refused before connecting
  DatabaseNotAllowed: 'VPCM_DATABASE_NOT_ALLOWED',
  LockTimeout: 'VPCM_LOCK_TIMEOUT',
  LockLost: 'VPCM_LOCK_LOST', // the lock session ended mid-batch: stop before recording anything more
  // a finished row of the migration appeared: never record (or commit) it twice
  AlreadyRecorded: 'VPCM_ALREADY_RECORDED',
  // the session could not be reset before a migration: the worker's failure, not the file's
  SessionResetFailed: 'VPCM_SESSION_RESET_FAILED',
  FailedMigrationInLedger: 'VPCM_FAILED_MIGRATION', // Prisma P3009
  SqlFailed: 'VPCM_SQL_FAILED',
  // the reader login is not configured, missing, or its password is wrong
  ReaderRoleMissing: 'VPCM_READER_ROLE_MISSING',
  ReaderOnly: 'VPCM_READER_ONLY', // the reader function answers only read-only run-sql and status
  ReaderPrivileged: 'VPCM_READER_PRIVILEGED', // the reader login has more than pg_read_all_data
  ReaderSetupDenied: 'VPCM_READER_SETUP_DENIED', // the migrating login may not create the reader login
  ReadOnlyRefused: 'VPCM_READ_ONLY_REFUSED', // read-only run-sql refused a statement with side effects
  // local discovery
  MigrationsDirMissing: 'VPCM_MIGRATIONS_DIR_MISSING',
  MigrationFileMissing: 'VPCM_MIGRATION_FILE_MISSING', // Prisma P3015
  ProviderMismatch: 'VPCM_PROVIDER_MISMATCH', // Prisma P3019
  NotUtf8: 'VPCM_NOT_UTF8',
  NulByte: 'VPCM_NUL_BYTE', // a NUL byte in a SQL file: PostgreSQL cannot receive it
  ParseFailed: 'VPCM_PARSE_FAILED',
  JournalInvalid: 'VPCM_JOURNAL_INVALID', // Drizzle: meta/_journal.json missing or malformed
  PrismaConfigUnreadable: 'VPCM_PRISMA_CONFIG', // prisma.config.ts cannot be loaded (or no @prisma/config to load it)
  DrizzleConfigUnreadable: 'VPCM_DRIZZLE_CONFIG', // drizzle.config.* cannot be loaded
  // plan
  ChecksumModified: 'VPCM_CHECKSUM_MODIFIED',
  MissingLocally: 'VPCM_MISSING_LOCALLY',
  OutOfOrder: 'VPCM_OUT_OF_ORDER',
  VerifyFailed: 'VPCM_VERIFY_FAILED',
  LintFailed: 'VPCM_LINT_FAILED', // deploy refuses: a pending migration has a lint error
  // invoke / target
  NoTarget: 'VPCM_NO_TARGET',
  InvokeFailed: 'VPCM_INVOKE_FAILED',
  InvokeTimeout: 'VPCM_INVOKE_TIMEOUT',
  InvokeDropped: 'VPCM_INVOKE_DROPPED', // the connection closed without an answer, before any timeout
  WorkerCrashed: 'VPCM_WORKER_CRASHED',
  ProtocolMismatch: 'VPCM_PROTOCOL_MISMATCH',
  UsageError: 'VPCM_USAGE',
  Interrupted: 'VPCM_INTERRUPTED',
  LocalDatabaseFailed: 'VPCM_LOCAL_DATABASE_FAILED',
  // AWS: the worker's secret, the CLI's stack lookup
  SecretUnavailable: 'VPCM_SECRET_UNAVAILABLE',
  SecretInvalid: 'VPCM_SECRET_INVALID',
  StackNotFound: 'VPCM_STACK_NOT_FOUND',
  StackOutputMissing: 'VPCM_STACK_OUTPUT_MISSING',
  AwsCredentialsMissing: 'VPCM_AWS_CREDENTIALS_MISSING',
  AwsRegionMissing: 'VPCM_AWS_REGION_MISSING',
  AwsRequestFailed: 'VPCM_AWS_REQUEST_FAILED',
  // operator commands: resolve (Prisma's refusals), rehearse, backfill
  ResolveAlreadyApplied: 'VPCM_RESOLVE_ALREADY_APPLIED', // Prisma P3008
  ResolveNeverApplied: 'VPCM_RESOLVE_NEVER_APPLIED', // Prisma P3011
  ResolveNotFailed: 'VPCM_RESOLVE_NOT_FAILED', // Prisma P3012
  ResolveFolderMissing: 'VPCM_RESOLVE_FOLDER_MISSING', // Prisma P3017
  RehearsalEscaped: 'VPCM_REHEARSAL_ESCAPED',
  BackfillMissing: 'VPCM_BACKFILL_MISSING',
  BackfillInvalid: 'VPCM_BACKFILL_INVALID',
  BackfillAlreadyRun: 'VPCM_BACKFILL_ALREADY_RUN',
  // baselining a database migrated by other means
  SchemaNotEmpty: 'VPCM_SCHEMA_NOT_EMPTY', // Prisma P3005: deploy into a schema with tables but no ledger
  BaselineUnknownMigration: 'VPCM_BASELINE_UNKNOWN_MIGRATION', // baseline --up-to names no local migration
  BaselineMismatch: 'VPCM_BASELINE_MISMATCH', // baseline --up-to: objects of those migrations are missing or differ
  // many databases (scripts/rollout/)
  TargetsInvalid: 'VPCM_TARGETS_INVALID', // --targets FILE: unreadable, not JSON, or entries that break its schema
  RolloutReportInvalid: 'VPCM_ROLLOUT_REPORT_INVALID', // --resume REPORT: unreadable or not a rollout report
} as const;

export type ErrorCodeValue = (typeof ErrorCode)[keyof typeof ErrorCode];

/** Prisma's P3009: the ledger holds failed migrations, so no new one is applied until they are resolved. */
export function failedMigrationsError(names: string[]): MigrateError {
  return new MigrateError(
    ErrorCode.FailedMigrationInLedger,
    `The ledger holds failed migration(s): ${names.join(', ')}. ` +
      `New migrations will not be applied until they are resolved ` +
      `(Prisma P3009).`,
    `Fix the database by hand if needed, then run ${resolveEither(names[0]!)}.`,
    { details: { migrations: names } },
  );
}
