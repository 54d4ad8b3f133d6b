/**
 * Lambda's 4 KB limit on a function's environment, checked at synth: a `databases` list too long
 * for it fails `cdk synth` with the reason, instead of the deployment failing half-way. A value
 * known only at deploy (a created secret's ARN, an RDS endpoint) counts at the least it can be,
 * so the check never refuses an environment that could deploy.
 */
import { Token, Tokenization } from 'aws-cdk-lib';
import { ErrorCode, LAMBDA_ENVIRONMENT_LIMIT_BYTES, MigrateError } from '../lambda/contract/index.js';

/** The shortest a secret's ARN can be, for one known only at deploy. */
const SHORTEST_SECRET_ARN = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:x-AbCdEf'.length;

/** `value` with each deploy-time part at its least: at least `shortest` characters when all of it is one. */
function atLeast(value: string, shortest = 0): string {
  if (!Token.isUnresolved(value)) return value;
  const literals = String(
    Tokenization.reverseString(value)
      .mapTokens({ mapToken: () => '' })
      .join({ join: (left: unknown, right: unknown) => `${String(left)}${String(right)}` }),
  );
  return literals === '' ? 'x'.repeat(shortest) : literals;
}

/**
 * The least size in bytes, as Lambda measures it, of an environment whose `listKey` holds the
 * JSON object `list` (name → secret ARN) and whose other variables are `env`.
 */
export function leastEnvironmentBytes(env: Record<string, string>, listKey: string, list: Record<string, string>) {
  const known: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) known[key] = atLeast(value);
  const names = Object.entries(list);
  if (names.length > 0) {
    known[listKey] = JSON.stringify(
      Object.fromEntries(names.map(([n, arn]) => [n, atLeast(arn, SHORTEST_SECRET_ARN)])),
    );
  }
  return Buffer.byteLength(JSON.stringify(known), 'utf8');
}

/** Refuses, at synth, a migrator environment over Lambda's limit, saying what to do instead. */
export function checkEnvironmentSize(
  path: string,
  env: Record<string, string>,
  listKey: string,
  list: Record<string, string>,
): void {
  const bytes = leastEnvironmentBytes(env, listKey, list);
  if (bytes <= LAMBDA_ENVIRONMENT_LIMIT_BYTES) return;
  const count = Object.keys(list).length;
  throw new MigrateError(
    ErrorCode.UsageError,
    `MigrationWorker ${path}: with ${count} named database(s) the migrator's environment is at least ${bytes} ` +
      `bytes, over Lambda's ${LAMBDA_ENVIRONMENT_LIMIT_BYTES}-byte limit: the deployment would fail.`,
    'Split `databases` between several MigrationWorker constructs (each entry costs its name and its secret ARN, ' +
      'about 90 bytes), or give the databases shorter names.',
    { details: { bytes, limit: LAMBDA_ENVIRONMENT_LIMIT_BYTES, databases: count } },
  );
}
