/**
 * The worker's secret path without AWS: a local server speaking Secrets Manager's wire format
 * (AWS JSON 1.1, `X-Amz-Target: secretsmanager.GetSecretValue`, SigV4-signed requests) hands
 * out RDS-style credentials for a login role on a real PostgreSQL; `getConnectionConfig` +
 * `pg` connect with them, then survive a password rotation.
 *
 * TLS is off here by the explicit `tls: false` option (the local servers have no certificate);
 * the default, `{ rejectUnauthorized: true }`, is asserted separately.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { inspect } from 'node:util';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createHandler } from '../../lambda/handler.js';
import { createLogger } from '../../lambda/log.js';
import { getConnectionConfig, namedDatabaseConfig, type ConnectionConfigOptions } from '../../lambda/secret.js';
import { databaseTargets, freshDatabase, type FreshDatabase } from '../helpers/db.js';
import { migrateErrorOf } from '../helpers/errors.js';

const SECRET_ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:vpcm/test-AbCdEf';

interface SecretRequest {
  target: string;
  contentType: string;
  authorization: string;
  secretId: string;
}

/** A minimal Secrets Manager: GetSecretValue over AWS JSON 1.1, one secret. */
class LocalSecretsManager {
  readonly requests: SecretRequest[] = [];
  secretString: string | undefined;
  private server: Server | undefined;
  endpoint = '';

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (chunk: string) => (body += chunk));
      req.on('end', () => {
        const target = String(req.headers['x-amz-target'] ?? '');
        const payload = JSON.parse(body || '{}') as { SecretId?: string };
        this.requests.push({
          target,
          contentType: String(req.headers['content-type'] ?? ''),
          authorization: String(req.headers.authorization ?? ''),
          secretId: payload.SecretId ?? '',
        });
        const send = (status: number, json: unknown, errorType?: string) => {
          res.writeHead(status, {
            'content-type': 'application/x-amz-json-1.1',
            'x-amzn-requestid': randomBytes(8).toString('hex'),
            ...(errorType ? { 'x-amzn-errortype': errorType } : {}),
          });
          res.end(JSON.stringify(json));
        };
        if (req.method !== 'POST' || target !== 'secretsmanager.GetSecretValue') {
          return send(
            400,
            { __type: 'UnknownOperationException', message: `Unknown operation ${target}` },
            'UnknownOperationException',
          );
        }
        if (payload.SecretId !== SECRET_ARN || this.secretString === undefined) {
          const type = 'ResourceNotFoundException';
          return send(400, { __type: type, message: "Secrets Manager can't find the specified secret." }, type);
        }
        send(200, {
          ARN: SECRET_ARN,
          Name: 'vpcm/test',
          VersionId: randomBytes(16).toString('hex'),
          SecretString: this.secretString,
          VersionStages: ['AWSCURRENT'],
          CreatedDate: Date.now() / 1000,
        });
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.endpoint = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.server?.close(() => resolve()) ?? resolve());
  }
}

const sm = new LocalSecretsManager();
const savedEnv = { ...process.env };

beforeAll(() => sm.start());
afterAll(() => sm.stop());

beforeEach(() => {
  for (const key of ['DATABASE_URL', 'DB_SECRET_ARN', 'DB_HOST', 'DB_PORT', 'DB_NAME', 'SECRETS_MANAGER_ENDPOINT']) {
    delete process.env[key];
  }
  for (const key of Object.keys(process.env)) if (key.startsWith('AWS_')) delete process.env[key];
  // What Lambda gives a function: credentials of its role in the environment.
  process.env.AWS_ACCESS_KEY_ID = 'AKIDWORKEREXAMPLE';
  process.env.AWS_SECRET_ACCESS_KEY = 'worker-secret-key';
  process.env.AWS_SESSION_TOKEN = 'worker-session-token';
  process.env.AWS_EC2_METADATA_DISABLED = 'true';
  sm.requests.length = 0;
});

afterEach(() => {
  for (const key of Object.keys(process.env)) delete process.env[key];
  Object.assign(process.env, savedEnv);
});

const local = (extra: ConnectionConfigOptions = {}): ConnectionConfigOptions => ({
  secretsManagerEndpoint: sm.endpoint,
  tls: false,
  ...extra,
});

async function whoAmI(config: pg.ClientConfig): Promise<{ user: string; database: string }> {
  const client = new pg.Client(config);
  await client.connect();
  try {
    const { rows } = await client.query<{ user: string; database: string }>(
      'select current_user as user, current_database() as database',
    );
    return rows[0]!;
  } finally {
    await client.end();
  }
}

describe.each(databaseTargets())('secret path against $name PostgreSQL', (target) => {
  const role = `vpcm_secret_${randomBytes(6).toString('hex')}`;
  const firstPassword = `first-${randomBytes(12).toString('hex')}`;
  const secondPassword = `second-${randomBytes(12).toString('hex')}`;
  const server = new URL(target.adminUrl);
  let db: FreshDatabase;
  let admin: pg.Client;
  let enforcesPasswords = false;

  const rdsSecret = (password: string) =>
    JSON.stringify({
      engine: 'postgres',
      host: server.hostname,
      port: Number(server.port || 5432),
      username: role,
      password,
      dbname: new URL(db.url).pathname.slice(1),
    });

  beforeAll(async () => {
    admin = new pg.Client({ connectionString: target.adminUrl });
    await admin.connect();
    await admin.query(`create role ${role} login password ${admin.escapeLiteral(firstPassword)}`);
    db = await freshDatabase(target.adminUrl);
    // Does this server check passwords on 127.0.0.1 at all? (A system server may `trust` it.)
    const probe = new pg.Client({
      host: server.hostname,
      port: Number(server.port || 5432),
      user: role,
      password: 'wrong',
      database: 'postgres',
    });
    enforcesPasswords = await probe.connect().then(
      async () => {
        await probe.end();
        return false;
      },
      () => true,
    );
  });

  afterAll(async () => {
    await db?.drop();
    await admin.query(`drop role if exists ${role}`);
    await admin.end();
  });

  it("a named database's secret says where to connect: the worker's DB_* overrides do not apply", async () => {
    sm.secretString = rdsSecret(firstPassword);
    // The worker's own database is elsewhere; a named one must not be sent there.
    Object.assign(process.env, { DB_HOST: '192.0.2.1', DB_PORT: '1', DB_NAME: 'not_this_one' });
    const named = await namedDatabaseConfig(SECRET_ARN, local({ refresh: true }));
    expect(named).toMatchObject({ host: server.hostname, port: Number(server.port || 5432) });
    expect(await whoAmI(named)).toEqual({ user: role, database: new URL(db.url).pathname.slice(1) });
    // The control: the same secret as the worker's own is overridden.
    process.env.DB_SECRET_ARN = SECRET_ARN;
    expect(await getConnectionConfig(local())).toMatchObject({ host: '192.0.2.1', port: 1, database: 'not_this_one' });
  });

  it('fetches the secret once per container and connects with it', async () => {
    sm.secretString = rdsSecret(firstPassword);
    process.env.DB_SECRET_ARN = SECRET_ARN;

    const config = await getConnectionConfig(local({ refresh: true }));
    const again = await getConnectionConfig(local());
    expect(sm.requests).toHaveLength(1);
    expect(again).toEqual({ ...config, password: expect.any(Function) });

    const [request] = sm.requests;
    expect(request).toMatchObject({
      target: 'secretsmanager.GetSecretValue',
      contentType: 'application/x-amz-json-1.1',
      secretId: SECRET_ARN,
    });
    // Signed for the secret's own region, taken from its ARN.
    expect(request!.authorization).toMatch(
      /^AWS4-HMAC-SHA256 Credential=AKIDWORKEREXAMPLE\/\d{8}\/eu-west-1\/secretsmanager\/aws4_request/,
    );

    expect(await whoAmI(config)).toEqual({ user: role, database: new URL(db.url).pathname.slice(1) });
  });

  it('never shows the password when the config is logged or serialised', async () => {
    sm.secretString = rdsSecret(firstPassword);
    process.env.DB_SECRET_ARN = SECRET_ARN;
    const config = await getConnectionConfig(local());
    expect(JSON.stringify(config)).not.toContain(firstPassword);
    expect(inspect(config, { depth: 5 })).not.toContain(firstPassword);
    expect(inspect({ ...config }, { depth: 5 })).not.toContain(firstPassword);
  });

  it('picks up a rotated password with refresh: true', async () => {
    sm.secretString = rdsSecret(firstPassword);
    process.env.DB_SECRET_ARN = SECRET_ARN;
    const stale = await getConnectionConfig(local({ refresh: true }));
    expect(await whoAmI(stale)).toMatchObject({ user: role });

    // Rotation: the database and the secret change; this container still holds the old value.
    await admin.query(`alter role ${role} password ${admin.escapeLiteral(secondPassword)}`);
    sm.secretString = rdsSecret(secondPassword);
    const cached = await getConnectionConfig(local());
    expect(sm.requests).toHaveLength(1);
    if (enforcesPasswords) {
      const refused = await whoAmI(cached).catch((error: { code?: string }) => error);
      expect(refused).toMatchObject({ code: '28P01' });
    }

    const fresh = await getConnectionConfig(local({ refresh: true }));
    expect(sm.requests).toHaveLength(2);
    expect(await whoAmI(fresh)).toMatchObject({ user: role });

    await admin.query(`alter role ${role} password ${admin.escapeLiteral(firstPassword)}`);
  });

  it.runIf(target.name === 'embedded')(
    'lets the worker recover from a rotation by itself (28P01, then refresh)',
    async () => {
      sm.secretString = rdsSecret(firstPassword);
      process.env.DB_SECRET_ARN = SECRET_ARN;
      // The worker's log lines go to a list, not the test output.
      const logs: string[] = [];
      const handler = createHandler({
        connectionConfig: (opts) => getConnectionConfig(local(opts)),
        logger: createLogger({}, (line) => logs.push(line)),
      });
      const context = { awsRequestId: 'req-1', functionName: 'worker', getRemainingTimeInMillis: () => 60_000 };
      const before = await handler({ action: 'ledger' }, context);
      expect(before).toMatchObject({ ok: true });
      expect(enforcesPasswords).toBe(true);

      await admin.query(`alter role ${role} password ${admin.escapeLiteral(secondPassword)}`);
      sm.secretString = rdsSecret(secondPassword);
      const fetchesBefore = sm.requests.length;
      const after = await handler({ action: 'ledger', requestId: 'req-2' }, { ...context, awsRequestId: 'req-2' });
      expect(after).toMatchObject({ ok: true, result: { server: { user: role } } });
      expect(sm.requests.length).toBe(fetchesBefore + 1);

      await admin.query(`alter role ${role} password ${admin.escapeLiteral(firstPassword)}`);
    },
  );
});

describe('getConnectionConfig', () => {
  it('uses DATABASE_URL as is for local use, without asking Secrets Manager', async () => {
    process.env.DATABASE_URL = 'postgresql://app@127.0.0.1:5432/app';
    process.env.DB_SECRET_ARN = SECRET_ARN;
    expect(await getConnectionConfig(local())).toEqual({ connectionString: 'postgresql://app@127.0.0.1:5432/app' });
    expect(sm.requests).toHaveLength(0);
  });

  it('refuses with VPCM_CONFIG_MISSING naming both variables when neither is set', async () => {
    const error = await migrateErrorOf(getConnectionConfig(local()));
    expect(error.code).toBe('VPCM_CONFIG_MISSING');
    expect(error.message).toContain('DATABASE_URL');
    expect(error.message).toContain('DB_SECRET_ARN');
  });

  it('verifies TLS certificates by default, and honours DB_HOST / DB_PORT / DB_NAME', async () => {
    sm.secretString = JSON.stringify({
      username: 'u',
      password: 'p-' + randomBytes(6).toString('hex'),
      host: 'a.internal',
      port: 5432,
    });
    process.env.DB_SECRET_ARN = SECRET_ARN;
    process.env.DB_HOST = 'proxy.internal';
    process.env.DB_PORT = '6432';
    process.env.DB_NAME = 'app';
    const config = await getConnectionConfig({ secretsManagerEndpoint: sm.endpoint, refresh: true });
    expect(config).toMatchObject({
      host: 'proxy.internal',
      port: 6432,
      database: 'app',
      user: 'u',
      ssl: { rejectUnauthorized: true },
    });
  });

  it("a named database's secret without host is refused with its own remedy, DB_HOST set or not", async () => {
    sm.secretString = JSON.stringify({ username: 'u', password: 'p', dbname: 'd' });
    process.env.DB_HOST = 'own.internal';
    const error = await migrateErrorOf(namedDatabaseConfig(SECRET_ARN, local({ refresh: true })));
    expect(error.code).toBe('VPCM_SECRET_INVALID');
    expect(error.message).toBe(`The named database's secret ${SECRET_ARN} has no host.`);
    expect(error.remedy).toContain('Add `host`');
    expect(error.remedy).not.toMatch(/Set DB_HOST/);
  });

  it('reads the endpoint from SECRETS_MANAGER_ENDPOINT', async () => {
    sm.secretString = JSON.stringify({ username: 'u', password: 'p', host: 'h', port: 5432, dbname: 'd' });
    process.env.DB_SECRET_ARN = SECRET_ARN;
    process.env.SECRETS_MANAGER_ENDPOINT = sm.endpoint;
    expect(await getConnectionConfig({ refresh: true, tls: false })).toMatchObject({
      host: 'h',
      database: 'd',
      ssl: false,
    });
    expect(sm.requests).toHaveLength(1);
  });

  it('reports an unknown secret with VPCM_SECRET_UNAVAILABLE, and does not cache the failure', async () => {
    process.env.DB_SECRET_ARN = SECRET_ARN;
    sm.secretString = undefined;
    const error = await migrateErrorOf(getConnectionConfig(local({ refresh: true })));
    expect(error.code).toBe('VPCM_SECRET_UNAVAILABLE');
    expect(error.details).toMatchObject({ awsError: 'ResourceNotFoundException' });
    expect(error.remedy).toContain('DB_SECRET_ARN');

    sm.secretString = JSON.stringify({ username: 'u', password: 'p', host: 'h' });
    expect(await getConnectionConfig(local())).toMatchObject({ host: 'h', port: 5432, database: 'postgres' });
  });

  it('reports an unreachable Secrets Manager with the VPC endpoint remedy', async () => {
    process.env.DB_SECRET_ARN = SECRET_ARN;
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const error = await migrateErrorOf(
      getConnectionConfig({ secretsManagerEndpoint: `http://127.0.0.1:${port}`, refresh: true }),
    );
    expect(error.code).toBe('VPCM_SECRET_UNAVAILABLE');
    expect(error.remedy).toMatch(/VPC endpoint/);
  });

  it('reports a malformed secret with VPCM_SECRET_INVALID, never echoing its text', async () => {
    process.env.DB_SECRET_ARN = SECRET_ARN;
    const password = 'hunter2-' + randomBytes(6).toString('hex');
    sm.secretString = `username=app password=${password}`;
    const notJson = await migrateErrorOf(getConnectionConfig(local({ refresh: true })));
    expect(notJson.code).toBe('VPCM_SECRET_INVALID');
    expect(JSON.stringify(notJson.toJSON()) + notJson.message).not.toContain(password);

    sm.secretString = JSON.stringify({ username: 'app', host: 'h' });
    const noPassword = await migrateErrorOf(getConnectionConfig(local({ refresh: true })));
    expect(noPassword.message).toContain('lacks password');
  });
});
