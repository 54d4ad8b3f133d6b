/**
 * The database selector at the worker's boundary: its form on every action, the allow-list read
 * from VPCM_DATABASES, and the refusal of a name outside it (before anything connects: the
 * handlers here have nothing to connect to, so a refusal that tried would fail differently).
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  DATABASE_NAME_RULE,
  databaseNotAllowed,
  ErrorCode,
  type LambdaContext,
  MigrateError,
  parseDatabaseList,
  parseEvent,
  WORKER_ACTIONS,
} from '../../lambda/contract/index.js';
import { createHandler, createLogger, workerConfigFromEnv } from '../../lambda/handler.js';

const sha = '0'.repeat(64);
/** A minimal valid event of each action (checksums are not checked before the selector's form). */
const EVENTS: Record<string, Record<string, unknown>> = {
  ledger: { action: 'ledger' },
  apply: { action: 'apply', requestId: 'r', migrations: [{ name: 'a', checksum: sha, sql: 'x', mode: 'script' }] },
  'run-sql': { action: 'run-sql', sql: 'SELECT 1' },
  resolve: { action: 'resolve', name: 'a', to: 'rolled-back' },
  rehearse: { action: 'rehearse', migrations: [{ name: 'a', checksum: sha, sql: 'x', mode: 'script' }] },
  backfill: { action: 'backfill', name: 'b', checksum: sha, sql: 'x' },
  setup: { action: 'setup' },
  baseline: { action: 'baseline', migrations: [{ name: 'a', checksum: sha, sql: 'x', mode: 'script' }] },
};

function problemsOf(event: unknown): string[] {
  try {
    parseEvent(event);
  } catch (error) {
    const e = error as MigrateError;
    if (e.code !== ErrorCode.InvalidEvent) return [e.code];
    return (e.details?.problems as string[]) ?? [];
  }
  return [];
}

const context: LambdaContext = {
  awsRequestId: 'unit',
  functionName: 'unit',
  getRemainingTimeInMillis: () => 60_000,
};
const quiet = createLogger({ service: 'unit' }, () => undefined);
// Port 9 (discard) on the loopback: a handler that tried to connect would answer VPCM_CONNECTION_FAILED.
const nowhere = 'postgresql://nobody@127.0.0.1:9/none';

async function errorOf(handler: ReturnType<typeof createHandler>, event: unknown) {
  const response = (await handler(event, context)) as {
    ok: boolean;
    error?: { code: string; message: string; remedy: string };
  };
  expect(response.ok).toBe(false);
  return response.error!;
}

/** The same events with the checksum their SQL hashes to: well-formed, so they reach the selector. */
const digest = createHash('sha256').update('x').digest('hex');
const WELL_FORMED: Record<string, unknown>[] = Object.values(EVENTS).map((event) =>
  JSON.parse(JSON.stringify(event).replaceAll(sha, digest)),
);

describe('the database selector on the wire', () => {
  it('every action takes it, and none takes a malformed one', () => {
    expect(Object.keys(EVENTS).sort()).toEqual([...WORKER_ACTIONS].sort());
    for (const event of Object.values(EVENTS)) {
      const withName = { ...event, database: 'tenant-01' };
      // Only the checksum (not the selector) may be wrong in these events.
      expect(problemsOf(withName).filter((p) => p.includes('database'))).toEqual([]);
      for (const bad of ['', '-x', 'a b', 'a/b', 'x'.repeat(129), 7, null]) {
        expect(problemsOf({ ...event, database: bad }), `${event.action} ${String(bad)}`).toContain(
          `database: ${DATABASE_NAME_RULE}`,
        );
      }
    }
  });

  it('keeps the selector on the parsed event', () => {
    expect(parseEvent({ action: 'ledger', database: 'eu' })).toEqual({ action: 'ledger', database: 'eu' });
    expect(parseEvent({ action: 'ledger', format: 'drizzle', database: 'eu' })).toMatchObject({ database: 'eu' });
  });
});

describe('VPCM_DATABASES', () => {
  it('reads a JSON object of names to secret ARNs or URLs', () => {
    expect(parseDatabaseList(undefined)).toEqual({});
    expect(parseDatabaseList(' ')).toEqual({});
    const list = { eu: 'arn:aws:secretsmanager:eu-west-1:1:secret:eu-AbCdEf', dev: 'postgresql://h/db' };
    expect(parseDatabaseList(JSON.stringify(list))).toEqual(list);
  });

  it('takes a secret by name too, and refuses a value that is neither, without quoting it', () => {
    expect(parseDatabaseList('{"eu":"prod/tenant-eu"}')).toEqual({ eu: 'prod/tenant-eu' });
    // A mistyped scheme would otherwise go to Secrets Manager as a secret id, quoted in its error.
    for (const value of ['postgress://app:S3cret-pw@db/x', 'host=db password=S3cret-pw', 'db:5432']) {
      const parsed = parseDatabaseList(JSON.stringify({ t1: value }));
      expect(parsed, value).toBeInstanceOf(MigrateError);
      const e = parsed as MigrateError;
      expect(e.message).toBe(
        'VPCM_DATABASES is not usable: "t1" is neither a postgresql:// URL nor a secret ARN or name.',
      );
      expect(JSON.stringify(e)).not.toContain('S3cret');
    }
  });

  it('holds a list given in code (createHandler, startLocalWorker) to the same rules', async () => {
    const handler = createHandler({
      databaseUrl: nowhere,
      databases: { typo: 'postgress://app:S3cret-pw@db/x' },
      logger: quiet,
    });
    const error = await errorOf(handler, { action: 'ledger', database: 'typo' });
    expect(error.code).toBe(ErrorCode.ConfigMissing);
    expect(JSON.stringify(error)).not.toContain('S3cret');
    // The worker's own database is still served (here: dialled, and not reached).
    expect((await errorOf(handler, { action: 'ledger' })).code).toBe(ErrorCode.ConnectionFailed);
  });

  it("a named database's malformed URL is reported as VPCM_DATABASES's, not DATABASE_URL's", async () => {
    const handler = createHandler({ databaseUrl: nowhere, databases: { t1: 'postgresql://[::1/x' }, logger: quiet });
    const error = await errorOf(handler, { action: 'ledger', database: 't1' });
    expect(error.code).toBe(ErrorCode.ConfigMissing);
    expect(error.message).toBe('VPCM_DATABASES ("t1") is not a valid URL.');
  });

  it('refuses what is not such an object, naming the variable', () => {
    for (const text of ['{', '[]', '"x"', '{"a b":"arn"}', '{"a":1}', '{"a":""}']) {
      const parsed = parseDatabaseList(text);
      expect(parsed, text).toBeInstanceOf(MigrateError);
      expect((parsed as MigrateError).code).toBe(ErrorCode.ConfigMissing);
      expect((parsed as MigrateError).message).toContain('VPCM_DATABASES');
      expect((parsed as MigrateError).remedy).toContain('with --local, {"<name>": "postgresql://…"}');
    }
  });
});

describe('VPCM_DATABASE_NOT_ALLOWED', () => {
  it('names the selector, counts and lists the allowed names, and says how to add one', () => {
    const e = databaseNotAllowed('ghost', ['b', 'a']);
    expect(e.code).toBe('VPCM_DATABASE_NOT_ALLOWED');
    expect(e.message).toBe('Database "ghost" is not allowed: this worker is configured for 2 named database(s): a, b.');
    expect(e.remedy).toContain('`databases` prop');
    // Locally the list is the environment variable, with URLs.
    expect(e.remedy).toContain(`with --local, add it to VPCM_DATABASES ('{"ghost":"postgresql://…"}')`);
    expect(e.details).toEqual({ database: 'ghost', allowed: ['a', 'b'], allowedCount: 2 });
    const many = databaseNotAllowed(
      'x',
      Array.from({ length: 25 }, (_, i) => `t${String(i).padStart(2, '0')}`),
    );
    expect(many.message).toContain('25 named database(s)');
    expect(many.message).toContain('t19 and 5 more.');
  });

  it('is the answer to a name outside the list, and to any name on a worker without one', async () => {
    const handler = createHandler({ databaseUrl: nowhere, databases: { a: nowhere }, logger: quiet });
    for (const event of Object.values(EVENTS)) {
      // Events whose checksum is wrong are refused before the selector: only well-formed ones reach it.
      if ('migrations' in event || event.action === 'backfill') continue;
      const error = await errorOf(handler, { ...event, database: 'b' });
      expect(error.code, String(event.action)).toBe(ErrorCode.DatabaseNotAllowed);
    }
    // The worker's log line names the database the refused event asked for.
    const lines: string[] = [];
    const logged = createHandler({
      databaseUrl: nowhere,
      databases: { a: nowhere },
      logger: createLogger({ service: 'unit' }, (l) => lines.push(l)),
    });
    await errorOf(logged, { action: 'ledger', database: 'b' });
    expect(lines.map((l) => JSON.parse(l) as Record<string, unknown>)).toContainEqual(
      expect.objectContaining({ message: 'action failed', database: 'b' }),
    );
    const without = createHandler({ databaseUrl: nowhere, logger: quiet });
    expect((await errorOf(without, { action: 'ledger', database: 'a' })).message).toContain(
      'configured for no named databases',
    );
  });

  it('refuses every action, before connecting, and the same events with an allowed name do connect', async () => {
    const handler = createHandler({ databaseUrl: nowhere, databases: { a: nowhere }, logger: quiet });
    const reached: Record<string, string> = {};
    const refused: Record<string, string> = {};
    for (const event of WELL_FORMED) {
      const action = String(event.action);
      refused[action] = (await errorOf(handler, { ...event, database: 'b' })).code;
      reached[action] = (await errorOf(handler, { ...event, database: 'a' })).code;
    }
    const every = (code: string) => Object.fromEntries(WELL_FORMED.map((e) => [String(e.action), code]));
    expect(refused).toEqual(every(ErrorCode.DatabaseNotAllowed));
    // The control: an allowed name dials (and here cannot reach) the database, but for what reads as the
    // reader login (read-only run-sql, setup), which a named database never serves.
    expect(reached).toEqual({
      ...every(ErrorCode.ConnectionFailed),
      'run-sql': ErrorCode.ReaderRoleMissing,
      setup: ErrorCode.ReaderRoleMissing,
    });
  });

  it('is raised by a worker whose VPCM_DATABASES names only secrets, without reading one', async () => {
    const config = workerConfigFromEnv({
      VPCM_DATABASES: JSON.stringify({ eu: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:eu-AbCdEf' }),
      // A Secrets Manager nobody answers: reading the secret would fail with VPCM_SECRET_UNAVAILABLE.
      SECRETS_MANAGER_ENDPOINT: 'http://127.0.0.1:9',
    });
    const error = await errorOf(createHandler({ ...config, logger: quiet }), { action: 'ledger', database: 'us' });
    expect(error.code).toBe(ErrorCode.DatabaseNotAllowed);
    expect(error.message).toContain('1 named database(s): eu');
  });

  it("a malformed list refuses selectors, not the worker's own database", async () => {
    const config = workerConfigFromEnv({ VPCM_DATABASES: '{not json' });
    const handler = createHandler({ ...config, logger: quiet });
    expect((await errorOf(handler, { action: 'ledger', database: 'eu' })).code).toBe(ErrorCode.ConfigMissing);
    expect(config.databasesInvalid?.message).toContain('VPCM_DATABASES is not usable: not JSON');
  });

  it('the reader function refuses every selector, even one its migrator allows', async () => {
    const reader = createHandler({
      mode: 'reader',
      readerDatabaseUrl: nowhere,
      databases: { a: nowhere },
      logger: quiet,
    });
    const error = await errorOf(reader, { action: 'ledger', database: 'a' });
    expect(error.code).toBe(ErrorCode.DatabaseNotAllowed);
    expect(error.message).toContain('the reader function serves only its own database');
    // The way out keeps the database named: leaving --database out would read another one.
    expect(error.remedy).toMatch(/migrating worker/);
    expect(error.remedy).not.toMatch(/leave out --database/i);
  });

  it('reads through the reader login are refused on a named database, never run as the migrator', async () => {
    const handler = createHandler({ databaseUrl: nowhere, databases: { a: nowhere }, logger: quiet });
    for (const event of [EVENTS['run-sql'], EVENTS.setup]) {
      const error = await errorOf(handler, { ...event, database: 'a' });
      expect(error.code).toBe(ErrorCode.ReaderRoleMissing);
      expect(error.message).toContain('"a"');
      expect(error.remedy).toContain('"a"');
      expect(error.remedy).not.toMatch(/leave out --database/i);
    }
    // A write goes to the migrating login of "a", which the handler does dial (and here cannot reach).
    const write = await errorOf(handler, { action: 'run-sql', sql: 'SELECT 1', write: true, database: 'a' });
    expect(write.code).toBe(ErrorCode.ConnectionFailed);
  });
});
