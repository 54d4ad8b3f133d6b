/**
 * The worker Lambda: validate the event, open one connection, run the action, answer with an
 * envelope. Typed failures come back as `{ ok: false, error }` rather than thrown, so the CLI
 * gets the code and remedy; only a bug surfaces as a Lambda function error.
 */
import type pg from 'pg';
import { applyBatch } from './apply-batch.js';
import { runBackfill } from './backfill.js';
import {
  ErrorCode,
  type LambdaContext,
  MigrateError,
  type MigrationFormat,
  type ParsedEvent,
  parseEvent,
  PROTOCOL_VERSION,
  redact,
  type WorkerHandler,
  type WorkerMode,
  type WorkerResponse,
  DEFAULT_READER_ROLE,
  readerNotConfigured,
  readerRemedy,
  WORKER_ENV,
  checkDatabaseList,
  databaseNotAllowed,
  isDatabaseUrl,
  parseDatabaseList,
} from './contract/index.js';
import { clientConfigFromUrl, close, connect, isLoginRefused, type Db } from './db.js';
import { drizzle } from './drizzle/apply.js';
import type { WorkerFormat } from './format.js';
import { prisma } from './prisma/apply.js';
import { readLedgerState } from './ledger-state.js';
import { runDrift } from './drift/action.js';
import { rehearse } from './rehearse.js';
import { baselineMigrations } from './baseline.js';
import { resolveMigration } from './resolve.js';
import { createLogger, type Logger } from './log.js';

/** Hosts other than Lambda's runtime (the local endpoint, tests) give the worker their own log sink. */
export { createLogger, type Logger };
/** …and may give a login as a connection source of their own (the local reader, set up on first use). */
export { clientConfigFromUrl };
import { handleReaderRoleResource, isReaderRoleResourceEvent, type CustomResourceResponse } from './custom-resource.js';
import { assertReader, credentialsOf, setupReader } from './reader.js';
import { runSql } from './run-sql.js';
import { startWorkerClock, type WorkerClock } from './timings.js';

export interface WorkerConfig {
  /** The migrating login as a URL (local use); otherwise `connectionConfig` is asked. */
  databaseUrl?: string;
  /** Resolves the migrating login's settings; called again with `refresh` after an authentication failure. */
  connectionConfig?: ConnectionSource;
  /** The reader login as a URL (local use); otherwise `readerConnectionConfig` is asked. */
  readerDatabaseUrl?: string;
  /** Resolves the reader login's settings (its own secret): read-only run-sql, and everything in reader mode. */
  readerConnectionConfig?: ConnectionSource;
  /**
   * `reader`: a function that holds only the reader's credentials and answers only read-only
   * run-sql and the ledger (status); anything else is refused with VPCM_READER_ONLY.
   * @default 'migrator'
   */
  mode?: WorkerMode;
  /**
   * The named databases an event may select with `database` (the allow-list), each by the
   * migrating login's connection URL (local use) or its RDS credentials secret (ARN or name), as
   * DATABASE_URL and DB_SECRET_ARN give the worker's own. Ignored in reader mode, which refuses
   * every selector: it holds no reader login for them (docs/aws.md, "Many databases").
   */
  databases?: Record<string, string>;
  /** Why the allow-list could not be read (a malformed VPCM_DATABASES): raised when an event selects a database. */
  databasesInvalid?: MigrateError;
  logger?: Logger;
}

type ConnectionSource = (opts?: { refresh?: boolean }) => Promise<pg.ClientConfig>;

/** Which login an event runs as: the reader for reading, the migrating login for everything else. */
function loginFor(event: ParsedEvent): 'reader' | 'migrator' {
  if (event.action === 'run-sql') return event.write ? 'migrator' : 'reader';
  return 'migrator';
}

export function createHandler(config: WorkerConfig): WorkerHandler {
  const baseLog = config.logger ?? createLogger();
  const mode = config.mode ?? 'migrator';
  const migrator: ConnectionSource =
    config.connectionConfig ??
    fromUrl(
      config.databaseUrl,
      () =>
        new MigrateError(
          ErrorCode.ConfigMissing,
          'The worker has no database configured.',
          'Set DATABASE_URL or DB_SECRET_ARN on the function.',
        ),
    );
  const reader: ConnectionSource =
    config.readerConnectionConfig ?? fromUrl(config.readerDatabaseUrl, readerNotConfigured);
  const named = namedDatabases(config);

  return async (
    rawEvent: unknown,
    context: LambdaContext,
  ): Promise<WorkerResponse<unknown> | CustomResourceResponse> => {
    // Powertools' addContext (request id, function, cold start) on the long-lived logger, which
    // alone knows whether this is the first invocation; each invocation then logs through its own
    // child, so invocations a local host runs side by side keep their own request ids.
    baseLog.addContext(context);
    const log = baseLog.createChild();
    if (isReaderRoleResourceEvent(rawEvent)) {
      log.info('custom resource', { requestType: rawEvent.RequestType });
      return handleReaderRoleResource(rawEvent, async () => {
        try {
          if (mode === 'reader') throw readerOnly('setup');
          const credentials = await credentialsOf(await reader());
          const db = await open(migrator, { action: 'setup' });
          try {
            return await setupReader(db, credentials);
          } finally {
            await close(db);
          }
        } catch (error) {
          const d = describe(error);
          throw new Error(
            `vpc-migrate reader set-up failed: ${d.message as string}` +
              `${error instanceof MigrateError ? ` (${error.code}) ${error.remedy}` : ''}`,
          );
        }
      });
    }
    let event: ParsedEvent;
    const received = performance.now();
    try {
      // Unknown keys, bad types, bad statement spans and SQL that does not hash to the checksum
      // sent (the one its ledger row records) are refused: nothing below meets an event the CLI
      // could not have sent.
      event = parseEvent(rawEvent);
    } catch (error) {
      log.warn('event rejected', { error: describe(error) });
      return failure(error, actionOf(rawEvent), context.awsRequestId);
    }
    // Only an apply that asks for it is measured (VPC_MIGRATE_TIMINGS; lambda/timings.ts).
    const clock =
      event.action === 'apply' && event.timings ? startWorkerClock(received, performance.now() - received) : undefined;
    const started = Date.now();
    let db: Db | undefined;
    try {
      // The reader function holds no migrating credentials: everything runs as the reader there.
      const login = mode === 'reader' ? 'reader' : loginFor(event);
      // Before anything connects or reads a secret: a database outside the allow-list goes no further.
      const target = event.database === undefined ? migrator : named.select(event.database, login, event.action);
      // The reader function answers what reads as the reader anyway, and the ledger (status).
      if (mode === 'reader' && event.action !== 'ledger' && loginFor(event) !== 'reader') {
        throw readerOnly(event.action === 'run-sql' ? 'run-sql --write' : event.action);
      }
      db = login === 'reader' ? await openReader(reader, event) : await open(target, event, clock);
      // The migration lock's own session, on the migrating login of the same database.
      const openSession = () => open(target, { action: `${event.action} lock`, requestId: event.requestId }, clock);
      // drift: the scratch database is the target's server with another name; the dev database is from the allow-list.
      const sources: DriftSources = {
        target,
        dev: (name) => named.select(name, 'migrator', 'drift'),
        open: (source) => open(source, { action: `${event.action} place`, requestId: event.requestId }),
      };
      const result = await dispatch(db, event, context, log, reader, openSession, sources);
      log.info('action finished', {
        action: event.action,
        login,
        ...(event.database === undefined ? {} : { database: event.database }),
        durationMs: Date.now() - started,
      });
      return {
        ok: true,
        protocol: PROTOCOL_VERSION,
        action: event.action,
        result: clock ? { ...(result as object), timings: clock.read() } : result,
      };
    } catch (error) {
      log.error('action failed', {
        action: event.action,
        ...(event.database === undefined ? {} : { database: event.database }),
        error: describe(error),
      });
      return failure(error, event.action, context.awsRequestId);
    } finally {
      if (db) await close(db);
    }
  };
}

/**
 * The allow-list of named databases and their migrating logins, one connection source per name
 * for the container's life (each secret is fetched once and cached under its own ARN).
 */
function namedDatabases(config: WorkerConfig) {
  const reader = (config.mode ?? 'migrator') === 'reader';
  // A list given in code is held to VPCM_DATABASES's rules: a mistyped URL is no secret id.
  const checked = reader ? {} : checkDatabaseList(config.databases ?? {});
  const invalid = config.databasesInvalid ?? (checked instanceof MigrateError ? checked : undefined);
  const list = checked instanceof MigrateError ? {} : checked;
  const sources = new Map<string, ConnectionSource>();
  return {
    /** The migrating login of `name`, or the refusal; nothing here connects or reads a secret. */
    select(name: string, login: 'reader' | 'migrator', action: string): ConnectionSource {
      if (reader) throw databaseNotAllowed(name, [], true);
      if (invalid) throw invalid;
      const value = Object.hasOwn(list, name) ? list[name] : undefined;
      if (value === undefined) throw databaseNotAllowed(name, Object.keys(list));
      // Reader logins exist for the worker's own database only; reads never fall back to the migrating login.
      if (login === 'reader' || action === 'setup') throw noReaderFor(name, action);
      let source = sources.get(name);
      if (!source) sources.set(name, (source = sourceOf(name, value)));
      return source;
    },
  };
}

/** A named database's login: a connection URL (local use), else the RDS credentials secret it names. */
function sourceOf(name: string, value: string): ConnectionSource {
  if (isDatabaseUrl(value)) return async () => clientConfigFromUrl(value, `${WORKER_ENV.databases} ("${name}")`);
  return async (opts) => (await import('./secret.js')).namedDatabaseConfig(value, opts);
}

/** Never "leave out --database" as the way out: that would read another database than the one named. */
function noReaderFor(name: string, action: string): MigrateError {
  const setup = action === 'setup';
  return new MigrateError(
    ErrorCode.ReaderRoleMissing,
    `The worker cannot ${setup ? 'set up a reader login' : 'run read-only queries'} on the named database ` +
      `"${name}": it holds reader credentials only for its own database, and read-only queries never run as the ` +
      'migrating login.',
    setup
      ? `Deploy a MigrationWorker for "${name}" itself: its set-up creates the reader login there.`
      : `Query "${name}" through a MigrationWorker deployed for it (its reader function), or with --write as its ` +
          'migrating login, which nothing then keeps from writing. status, lint and deploy work with --database.',
    { details: { database: name } },
  );
}

/** A connection source for a URL given in the config, or the error saying none was. */
function fromUrl(url: string | undefined, missing: () => MigrateError): ConnectionSource {
  return async () => {
    if (!url) throw missing();
    return clientConfigFromUrl(url);
  };
}

function readerOnly(what: string): MigrateError {
  return new MigrateError(
    ErrorCode.ReaderOnly,
    `This is the reader function: it answers only read-only queries and status, not ${what}.`,
    'Run it against the migrating worker (--function or ' +
      '--stack with the WorkerFunctionName output); the reader ' +
      'function cannot write or migrate, by design.',
    { details: { refused: what } },
  );
}

/** A connection as the reader login, checked to be one: a reader secret naming the master user is refused. */
async function openReader(source: ConnectionSource, event: Pick<ParsedEvent, 'action' | 'requestId'>): Promise<Db> {
  let db: Db;
  try {
    db = await open(source, event);
  } catch (error) {
    if (!isLoginRefused(error)) throw error;
    const role = await source().then(
      (c) => credentialsOf(c).then((x) => x.role),
      () => DEFAULT_READER_ROLE,
    );
    throw new MigrateError(
      ErrorCode.ReaderRoleMissing,
      `The reader login "${role}" could not log in (it does ` +
        `not exist, or its password differs from the reader ` +
        `secret's).`,
      readerRemedy(role),
      { cause: error, details: { role } },
    );
  }
  try {
    await assertReader(db);
  } catch (error) {
    await close(db);
    throw error;
  }
  return db;
}

/** A session of the migrating login; with a `clock`, its connecting and every query are timed. */
async function open(
  resolveConfig: ConnectionSource,
  event: { action: string; requestId?: string | undefined },
  clock?: WorkerClock,
): Promise<Db> {
  if (clock) return clock.watch(await clock.connecting(() => open(resolveConfig, event)));
  const applicationName = `vpc-migrate ${event.action}${event.requestId ? ' ' + event.requestId.slice(0, 36) : ''}`;
  try {
    return await connect(await resolveConfig(), { applicationName });
  } catch (error) {
    // After a secret rotation the cached password fails once: fetch the secret again and retry.
    // A missing role too: a source may create it on refresh (the local reader login,
    // scripts/local/local-worker.ts).
    if (!isLoginRefused(error)) throw error;
    return connect(await resolveConfig({ refresh: true }), { applicationName });
  }
}

/** The connections drift needs besides the target's session (lambda/drift/action.ts). */
interface DriftSources {
  target: ConnectionSource;
  dev: (name: string) => ConnectionSource;
  open: (source: ConnectionSource) => Promise<Db>;
}

/** The one place the worker tells the formats apart. */
const FORMATS: Record<MigrationFormat, WorkerFormat> = { prisma, drizzle };

async function dispatch(
  db: Db,
  event: ParsedEvent,
  context: LambdaContext,
  log: Logger,
  reader: ConnectionSource,
  openSession: () => Promise<Db>,
  sources: DriftSources,
): Promise<unknown> {
  switch (event.action) {
    case 'ledger':
      return readLedgerState(db, FORMATS[event.format ?? 'prisma']);
    case 'apply':
      return applyBatch(
        { db, log, remainingMs: () => context.getRemainingTimeInMillis(), openSession },
        FORMATS[event.format ?? 'prisma'],
        event,
      );
    case 'run-sql':
      return runSql(db, event, context.getRemainingTimeInMillis());
    case 'setup':
      return setupReader(db, await credentialsOf(await reader()));
    case 'resolve':
      return resolveMigration(db, openSession, event, context.getRemainingTimeInMillis());
    case 'rehearse':
      return rehearse({ db, log, remainingMs: () => context.getRemainingTimeInMillis(), openSession }, event);
    case 'backfill':
      return runBackfill(db, event, context.getRemainingTimeInMillis());
    case 'baseline':
      return baselineMigrations(db, openSession, event, context.getRemainingTimeInMillis());
    case 'drift':
      return runDrift(
        {
          db,
          log,
          remainingMs: () => context.getRemainingTimeInMillis(),
          ...sources,
          format: FORMATS[event.format ?? 'prisma'],
        },
        event,
      );
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

function failure(error: unknown, action: string | undefined, requestId: string | undefined): WorkerResponse<never> {
  const typed =
    error instanceof MigrateError
      ? error
      : new MigrateError(
          ErrorCode.SqlFailed,
          `The worker failed: ${redact((error as Error)?.message ?? String(error))}`,
          // The id names the invocation whose log lines hold the cause ("action failed").
          `Fix the cause the message names (the function's CloudWatch log lines for request ` +
            `${requestId ?? '(unknown)'} have the context), then re-run the command.`,
          { details: { code: (error as { code?: string })?.code } },
        );
  const response: WorkerResponse<never> = { ok: false, protocol: PROTOCOL_VERSION, error: typed.toJSON() };
  if (action !== undefined) response.action = action;
  return response;
}

/**
 * The deployed function's configuration from its environment (names in WORKER_ENV): the
 * migrating login from DATABASE_URL or DB_SECRET_ARN, the reader from READER_DATABASE_URL or
 * READER_SECRET_ARN, the named databases an event may select from VPCM_DATABASES;
 * `VPC_MIGRATE_MODE=reader` makes it the reader function, which never reads the migrating
 * logins' settings even if they are set.
 */
export function workerConfigFromEnv(env: NodeJS.ProcessEnv = process.env): WorkerConfig {
  const mode: WorkerMode = env[WORKER_ENV.mode] === 'reader' ? 'reader' : 'migrator';
  const secrets = () => import('./secret.js');
  const config: WorkerConfig = {
    mode,
    readerConnectionConfig: async (opts) => (await secrets()).getReaderConnectionConfig(opts),
  };
  if (mode === 'migrator') {
    config.connectionConfig = async (opts) => (await secrets()).getConnectionConfig(opts);
    const databases = parseDatabaseList(env[WORKER_ENV.databases]);
    if (databases instanceof MigrateError) config.databasesInvalid = databases;
    else config.databases = databases;
  }
  return config;
}

/** The deployed function (lambda/secret.ts reads the environment on each cold start). */
export const handler: WorkerHandler = createHandler(workerConfigFromEnv());
