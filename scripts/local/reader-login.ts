/**
 * The reader login for `--local` and tests, set up the way the CDK stack sets it up on AWS: by
 * the worker's own `setup` action, here with a password derived from the administrator's URL
 * (the same on every start, nothing to store; whoever has that URL has more than the reader).
 */
import { createHmac } from 'node:crypto';
import {
  DEFAULT_READER_ROLE,
  MigrateError,
  type LambdaContext,
  type WorkerHandler,
} from '../../lambda/contract/index.js';

/** The database URL with the reader login in place of the administrator (same host, database and parameters). */
export function localReaderUrl(
  adminUrl: string,
  role = DEFAULT_READER_ROLE,
  env: NodeJS.ProcessEnv = process.env,
): string {
  const url = new URL(adminUrl);
  // The administrator's password as the connection uses it: a URL without one logs in with
  // PGPASSWORD (the form printed remedies use). Keyed on the URL alone, the two spellings of one
  // login would derive two passwords and each start would lock the other's reader out.
  const password = decodeURIComponent(url.password) || env.PGPASSWORD || '';
  const key = `${url.hostname}:${url.port}:${decodeURIComponent(url.username)}:${password}`;
  url.username = encodeURIComponent(role);
  url.password = createHmac('sha256', key).update('vpc-migrate local reader').digest('base64url');
  return url.toString();
}

const done = new Map<string, { pending: Promise<MigrateError | undefined>; settled: boolean }>();

/**
 * Runs the handler's reader set-up once per server and process; resolves to the failure (the
 * administrator may not create roles, say) instead of throwing, since deploys work without a
 * reader and read-only queries then say what is missing. `again`: the login failed after an
 * earlier set-up (the role was dropped, the password changed): run it anew unless one is running.
 */
export function ensureLocalReader(
  adminUrl: string,
  migrator: WorkerHandler,
  opts: { again?: boolean } = {},
): Promise<MigrateError | undefined> {
  const url = new URL(adminUrl);
  const key = `${url.hostname}:${url.port}:${url.username}`;
  const known = done.get(key);
  if (known && !(opts.again && known.settled)) return known.pending;
  const entry = { pending: runSetup(migrator), settled: false };
  done.set(key, entry);
  // A failure is tried again by the next worker (the server may have been down).
  void entry.pending.then((error) => {
    entry.settled = true;
    if (error && done.get(key) === entry) done.delete(key);
  });
  return entry.pending;
}

async function runSetup(migrator: WorkerHandler): Promise<MigrateError | undefined> {
  const context: LambdaContext = {
    awsRequestId: 'local-reader-setup',
    functionName: 'local-reader-setup',
    getRemainingTimeInMillis: () => 60_000,
  };
  const response = (await migrator({ action: 'setup' }, context)) as {
    ok: boolean;
    error?: { code: string; message: string; remedy: string };
  };
  return response.ok
    ? undefined
    : new MigrateError(response.error!.code, response.error!.message, response.error!.remedy);
}
