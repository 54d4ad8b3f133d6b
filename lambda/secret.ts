/**
 * The worker's connection settings. Locally, `DATABASE_URL`; deployed, the RDS secret named by
 * `DB_SECRET_ARN`, fetched from Secrets Manager once per container and fetched again on
 * request after a password rotation. TLS verifies the server's certificate and host name
 * against the RDS CA (`NODE_EXTRA_CA_CERTS`).
 *
 * `@aws-sdk/client-secrets-manager` is provided by the Lambda runtime and loaded lazily, so the
 * local path never loads it.
 */
import type { ConnectionOptions } from 'node:tls';
import type { ClientConfig } from 'pg';
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { ErrorCode, MigrateError, readerNotConfigured, WORKER_ENV } from './contract/index.js';

export interface ConnectionConfigOptions {
  /** Fetch the secret again even if this container has it (after an authentication failure, 28P01). */
  refresh?: boolean;
  /**
   * Secrets Manager endpoint URL, e.g. a local test server.
   * @default env `SECRETS_MANAGER_ENDPOINT`, else the SDK's own resolution (the regional
   *   endpoint, which private DNS points at the VPC interface endpoint)
   */
  secretsManagerEndpoint?: string;
  /**
   * TLS settings for the database connection on the secret path. `false` turns TLS off: only
   * for a local server without TLS, never on AWS.
   * @default { rejectUnauthorized: true }
   */
  tls?: false | ConnectionOptions;
}

/** The fields of an RDS credentials secret the worker uses. */
interface DatabaseSecret {
  username: string;
  password: string;
  host?: string;
  port?: number;
  dbname?: string;
}

/** Secrets Manager must answer quickly: in isolated subnets without the endpoint it never will. */
const CONNECTION_TIMEOUT_MS = 5_000;
const REQUEST_TIMEOUT_MS = 10_000;

/** Per secret and endpoint: the migrator's and the reader's secrets are cached apart. */
const cached = new Map<string, Promise<DatabaseSecret>>();
let smClient: { key: string; client: SecretsManagerClient } | undefined;

/**
 * Connection settings for `pg`.
 *
 * - `DATABASE_URL` set: `{ connectionString }`.
 * - `DB_SECRET_ARN` set: host, port, user, database and password from the secret (`DB_HOST`,
 *   `DB_PORT`, `DB_NAME` override the secret's values when set), with
 *   `ssl: { rejectUnauthorized: true }`. The password is a function returning it, so logging
 *   or serialising the config never shows it (pg accepts a password function).
 * - Neither: `VPCM_CONFIG_MISSING`.
 *
 * @example
 * const client = new pg.Client(await getConnectionConfig());
 * // after SQLSTATE 28P01 (password rotated):
 * const retry = new pg.Client(await getConnectionConfig({ refresh: true }));
 */
export function getConnectionConfig(opts: ConnectionConfigOptions = {}): Promise<ClientConfig> {
  return configFromEnv(
    WORKER_ENV.migratorUrl,
    WORKER_ENV.migratorSecret,
    opts,
    () =>
      new MigrateError(
        ErrorCode.ConfigMissing,
        `The worker has no database configured: neither ${WORKER_ENV.migratorUrl} ` +
          `nor ${WORKER_ENV.migratorSecret} is set.`,
        `Set ${WORKER_ENV.migratorSecret} to the RDS credentials ` +
          `secret (the MigrationWorker construct does), or ${WORKER_ENV.migratorUrl} ` +
          `for local use.`,
      ),
  );
}

/**
 * The reader login's connection settings: `READER_DATABASE_URL`, else the secret named by
 * `READER_SECRET_ARN` (same host, port and database overrides as the migrating login's).
 */
export function getReaderConnectionConfig(opts: ConnectionConfigOptions = {}): Promise<ClientConfig> {
  return configFromEnv(WORKER_ENV.readerUrl, WORKER_ENV.readerSecret, opts, readerNotConfigured);
}

/** A login's settings from its URL variable, else from the secret its ARN variable names. */
async function configFromEnv(
  urlVar: string,
  secretVar: string,
  opts: ConnectionConfigOptions,
  missing: () => MigrateError,
): Promise<ClientConfig> {
  const url = process.env[urlVar];
  if (url) return { connectionString: url };
  const secretId = process.env[secretVar];
  if (!secretId) throw missing();
  return secretConnectionConfig(secretId, opts);
}

/**
 * A named database's migrating login (WORKER_ENV.databases): the secret's own host, port and
 * dbname. DB_HOST, DB_PORT and DB_NAME describe the worker's own database and never apply here.
 */
export function namedDatabaseConfig(secretId: string, opts: ConnectionConfigOptions = {}): Promise<ClientConfig> {
  return secretConnectionConfig(secretId, opts, { own: false });
}

/**
 * Connection settings from the RDS credentials secret `secretId`, fetched once per container.
 * `own: false`: a named database's secret, which the worker's DB_* overrides do not apply to.
 */
export async function secretConnectionConfig(
  secretId: string,
  opts: ConnectionConfigOptions = {},
  { own = true }: { own?: boolean } = {},
): Promise<ClientConfig> {
  const endpoint = opts.secretsManagerEndpoint ?? (process.env.SECRETS_MANAGER_ENDPOINT || undefined);
  const key = `${secretId}\n${endpoint ?? ''}`;
  let entry = cached.get(key);
  if (opts.refresh || !entry) {
    const fresh = fetchSecret(secretId, endpoint);
    cached.set(key, (entry = fresh));
    // A failed fetch is not remembered: the next call tries again.
    fresh.catch(() => {
      if (cached.get(key) === fresh) cached.delete(key);
    });
  }
  if (own) return toClientConfig(await entry, opts.tls, process.env);
  return toClientConfig(await entry, opts.tls, {}, secretId);
}

/**
 * `env`: where DB_HOST, DB_PORT and DB_NAME override the secret (the worker's own database only);
 * `named`: the secret of a named database, which must say where it is itself.
 */
function toClientConfig(
  secret: DatabaseSecret,
  tls: ConnectionConfigOptions['tls'],
  env: NodeJS.ProcessEnv,
  named?: string,
): ClientConfig {
  const host = env.DB_HOST || secret.host;
  if (!host && named !== undefined) {
    throw new MigrateError(
      ErrorCode.SecretInvalid,
      `The named database's secret ${named} has no host.`,
      `Add \`host\` (and \`port\`, \`dbname\`) to that secret: DB_HOST, DB_PORT and DB_NAME apply only to the ` +
        `worker's own database, never to one in ${WORKER_ENV.databases}.`,
    );
  }
  if (!host) {
    throw new MigrateError(
      ErrorCode.SecretInvalid,
      'The database secret has no host and DB_HOST is not set.',
      'Set DB_HOST on the function (the MigrationWorker construct does) or add `host` to the secret.',
    );
  }
  const port = parsePort(env.DB_PORT) ?? secret.port ?? 5432;
  const password = secret.password;
  return {
    host,
    port,
    user: secret.username,
    database: env.DB_NAME || secret.dbname || 'postgres',
    password: () => password,
    ssl: tls === false ? false : { rejectUnauthorized: true, ...tls },
  };
}

async function fetchSecret(secretId: string, endpoint: string | undefined): Promise<DatabaseSecret> {
  const sm = await import('@aws-sdk/client-secrets-manager');
  const region = regionOfArn(secretId);
  const clientKey = `${region ?? ''}\n${endpoint ?? ''}`;
  if (smClient?.key !== clientKey) {
    smClient = {
      key: clientKey,
      client: new sm.SecretsManagerClient({
        ...(region ? { region } : {}),
        ...(endpoint ? { endpoint } : {}),
        // A plain requestTimeout only warns in current SDKs; the worker must fail fast instead.
        requestHandler: {
          connectionTimeout: CONNECTION_TIMEOUT_MS,
          requestTimeout: REQUEST_TIMEOUT_MS,
          throwOnRequestTimeout: true,
        },
      }),
    };
  }
  let secretString: string | undefined;
  try {
    const response = await smClient.client.send(new sm.GetSecretValueCommand({ SecretId: secretId }));
    secretString = response.SecretString;
  } catch (error) {
    throw secretFetchError(secretId, error);
  }
  return parseSecret(secretId, secretString);
}

/** The region in `arn:PARTITION:secretsmanager:REGION:ACCOUNT:secret:NAME`; a bare name has none. */
function regionOfArn(secretId: string): string | undefined {
  const parts = secretId.split(':');
  return parts[0] === 'arn' && parts[2] === 'secretsmanager' && parts[3] ? parts[3] : undefined;
}

function parseSecret(secretId: string, secretString: string | undefined): DatabaseSecret {
  const invalid = (what: string) =>
    new MigrateError(
      ErrorCode.SecretInvalid,
      `The database secret ${secretId} ${what}.`,
      'Store the RDS credentials JSON in the secret: {"username", "password", "host", "port", "dbname"}.',
    );
  if (secretString === undefined) throw invalid('has no SecretString (binary secrets are not supported)');
  let value: unknown;
  try {
    value = JSON.parse(secretString);
  } catch {
    // Never echo the text: it is the secret.
    throw invalid('is not JSON');
  }
  if (typeof value !== 'object' || value === null) throw invalid('is not a JSON object');
  const fields = value as Record<string, unknown>;
  const missing = ['username', 'password'].filter((k) => typeof fields[k] !== 'string' || fields[k] === '');
  if (missing.length > 0) throw invalid(`lacks ${missing.join(' and ')}`);
  const secret: DatabaseSecret = { username: fields.username as string, password: fields.password as string };
  if (typeof fields.host === 'string' && fields.host !== '') secret.host = fields.host;
  const port =
    typeof fields.port === 'number'
      ? fields.port
      : parsePort(typeof fields.port === 'string' ? fields.port : undefined);
  if (port !== undefined) secret.port = port;
  if (typeof fields.dbname === 'string' && fields.dbname !== '') secret.dbname = fields.dbname;
  return secret;
}

function parsePort(text: string | undefined): number | undefined {
  if (!text) return undefined;
  const port = Number(text);
  return Number.isInteger(port) && port > 0 && port < 65_536 ? port : undefined;
}

function secretFetchError(secretId: string, error: unknown): MigrateError {
  const e = error as { name?: string; code?: string; message?: string };
  const name = e?.name ?? 'Error';
  let remedy: string;
  switch (name) {
    case 'ResourceNotFoundException':
      remedy =
        `Check ${WORKER_ENV.migratorSecret} (or the secret ARNs in ${WORKER_ENV.databases}): ` +
        'the secret does not exist in this account and region.';
      break;
    case 'AccessDeniedException':
    case 'AccessDenied':
      remedy =
        "Grant the worker's role secretsmanager:GetSecretValue " +
        'on this secret (and kms:Decrypt on its key if customer-managed).';
      break;
    case 'DecryptionFailure':
      remedy = "Grant the worker's role kms:Decrypt on the secret's KMS key (via Secrets Manager).";
      break;
    case 'CredentialsProviderError':
      remedy = 'The worker found no AWS credentials: run it as a Lambda function with an execution role.';
      break;
    case 'TimeoutError':
    case 'RequestTimeout':
      remedy =
        'Secrets Manager did not answer: from isolated subnets the worker needs an interface VPC endpoint for ' +
        'Secrets Manager with private DNS, and its security group must allow HTTPS (443) to it.';
      break;
    default:
      remedy =
        'Check that the worker can reach Secrets Manager (interface VPC endpoint or NAT) and may read the secret.';
  }
  return new MigrateError(
    ErrorCode.SecretUnavailable,
    `Could not read the database secret ${secretId}: ${name}${e?.message ? `: ${e.message}` : ''}`,
    remedy,
    { cause: error, details: { awsError: name, ...(e?.code ? { code: e.code } : {}) } },
  );
}
