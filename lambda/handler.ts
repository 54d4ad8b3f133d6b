/**
 * The worker Lambda: validate the event, open one connection, run the action, answer with an
 * envelope. Typed failures come back as `{ ok: false, error }` rather than thrown, so the CLI
 * gets the code and remedy; only a bug surfaces as a Lambda function error.
 */
import type pg from 'pg';
import { applyBatch } from './batch.js';
import { runBackfill } from './backfill.js';
import {
  DEFAULT_READER_ROLE,
  ErrorCode,
  type LambdaContext,
  MigrateError,
  type MigrationFormat,
  type ParsedEvent,
  parseEvent,
  PROTOCOL_VERSION,
  redact,
  type WorkerHandler,
  type WorkerResponse,
} from './contract/index.js';
import { clientConfigFromUrl, close, connect, isAuthFailure, type Db } from './db.js';
import { drizzle } from './drizzle/apply.js';
import type { WorkerFormat } from './format.js';
import { prisma } from './prisma/apply.js';
import { readLedgerState } from './ledger.js';
import { rehearse } from './rehearse.js';
import { resolveMigration } from './resolve.js';
import { createLogger, type Logger } from './log.js';

/** Hosts other than Lambda's runtime (the local endpoint, tests) give the worker their own log sink. */
export { createLogger, type Logger };
import { handleReaderRoleResource, isReaderRoleResourceEvent, type CustomResourceResponse } from './custom-resource.js';
import { setupReader } from './reader.js';
import { runSql } from './run-sql.js';

export interface WorkerConfig {
  /** A connection URL (local use); otherwise `connectionConfig` is asked. */
  databaseUrl?: string;
  /** Resolves connection settings; called again with `refresh` after an authentication failure. */
  connectionConfig?: (opts?: { refresh?: boolean }) => Promise<pg.ClientConfig>;
  logger?: Logger;
  /** The role read-only run-sql switches to (default `vpc_migrate_reader`, env VPC_MIGRATE_READER_ROLE). */
  readerRole?: string;
}

export function createHandler(config: WorkerConfig): WorkerHandler {
  const baseLog = config.logger ?? createLogger({ service: 'vpc-migrate-worker' });
  const resolveConfig =
    config.connectionConfig ??
    (async () => {
      if (!config.databaseUrl) {
        throw new MigrateError(ErrorCode.ConfigMissing, 'The worker has no database configured.', 'Set DATABASE_URL or DB_SECRET_ARN on the function.');
      }
      return clientConfigFromUrl(config.databaseUrl);
    });

  const readerRole = config.readerRole ?? process.env.VPC_MIGRATE_READER_ROLE ?? DEFAULT_READER_ROLE;
  return async (rawEvent: unknown, context: LambdaContext): Promise<WorkerResponse<unknown> | CustomResourceResponse> => {
    const log = baseLog.child({ requestId: context.awsRequestId });
    if (isReaderRoleResourceEvent(rawEvent)) {
      log.info('custom resource', { requestType: rawEvent.RequestType });
      return handleReaderRoleResource(rawEvent, async () => {
        const db = await open(resolveConfig, { action: 'setup' });
        try {
          return await setupReader(db, readerRole);
        } catch (error) {
          throw new Error(`vpc-migrate reader-role set-up failed: ${describe(error).message as string}`);
        } finally {
          await close(db);
        }
      });
    }
    let event: ParsedEvent;
    try {
      // The contract's parseEvent (lambda/contract/validate.ts) refuses unknown keys and bad
      // types, decodes each migration's SQL (codec.ts), checks its statement spans and refuses
      // it unless the text hashes to the checksum sent (the one its ledger row records), so
      // nothing below meets an event the CLI could not have sent.
      event = parseEvent(rawEvent);
    } catch (error) {
      log.warn('event rejected', { error: describe(error) });
      return failure(error, actionOf(rawEvent));
    }
    const started = Date.now();
    let db: Db | undefined;
    try {
      db = await open(resolveConfig, event);
      const result = await dispatch(db, event, context, log, readerRole);
      log.info('action finished', { action: event.action, durationMs: Date.now() - started });
      return { ok: true, protocol: PROTOCOL_VERSION, action: event.action, result };
    } catch (error) {
      log.error('action failed', { action: event.action, error: describe(error) });
      return failure(error, event.action);
    } finally {
      if (db) await close(db);
    }
  };
}

async function open(resolveConfig: NonNullable<WorkerConfig['connectionConfig']>, event: ParsedEvent): Promise<Db> {
  const applicationName = `vpc-migrate ${event.action}${event.requestId ? ' ' + event.requestId.slice(0, 36) : ''}`;
  try {
    return await connect(await resolveConfig(), { applicationName });
  } catch (error) {
    // After a secret rotation the cached password fails once: fetch the secret again and retry.
    if (!isAuthFailure(error)) throw error;
    return connect(await resolveConfig({ refresh: true }), { applicationName });
  }
}

/** The one place the worker tells the formats apart. */
const FORMATS: Record<MigrationFormat, WorkerFormat> = { prisma, drizzle };

async function dispatch(db: Db, event: ParsedEvent, context: LambdaContext, log: Logger, readerRole: string): Promise<unknown> {
  switch (event.action) {
    case 'ledger':
      return readLedgerState(db, FORMATS[event.format ?? 'prisma']);
    case 'apply':
      return applyBatch({ db, log, remainingMs: () => context.getRemainingTimeInMillis() }, FORMATS[event.format ?? 'prisma'], event);
    case 'run-sql':
      return runSql(db, { ...event, readerRole }, context.getRemainingTimeInMillis());
    case 'setup':
      return setupReader(db, readerRole);
    case 'resolve':
      return resolveMigration(db, event, context.getRemainingTimeInMillis());
    case 'rehearse':
      return rehearse({ db, log, remainingMs: () => context.getRemainingTimeInMillis() }, event);
    case 'backfill':
      return runBackfill(db, event, context.getRemainingTimeInMillis());
  }
}

function actionOf(raw: unknown): string | undefined {
  const action = (raw as { action?: unknown } | null)?.action;
  return typeof action === 'string' ? action.slice(0, 64) : undefined;
}

function describe(error: unknown): Record<string, unknown> {
  if (error instanceof MigrateError) return { code: error.code, message: error.message };
  const e = error as { message?: string; code?: string };
  return { message: redact(e?.message ?? String(error)), code: e?.code };
}

function failure(error: unknown, action: string | undefined): WorkerResponse<never> {
  const typed =
    error instanceof MigrateError
      ? error
      : new MigrateError(
          ErrorCode.SqlFailed,
          `The worker failed: ${redact((error as Error)?.message ?? String(error))}`,
          'See the worker logs for this request id; re-run the command once the cause is fixed.',
          { details: { code: (error as { code?: string })?.code } },
        );
  const response: WorkerResponse<never> = { ok: false, protocol: PROTOCOL_VERSION, error: typed.toJSON() };
  if (action !== undefined) response.action = action;
  return response;
}

/** The deployed function: DATABASE_URL for local use, else the RDS secret (lambda/secret.ts). */
export const handler: WorkerHandler = createHandler(
  process.env.DATABASE_URL
    ? { databaseUrl: process.env.DATABASE_URL }
    : {
        connectionConfig: async (opts) => {
          const { getConnectionConfig } = await import('./secret.js');
          return getConnectionConfig(opts);
        },
      },
);
