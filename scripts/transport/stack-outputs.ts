/**
 * `--stack NAME`: find the worker function from a CloudFormation stack's outputs
 * (`WorkerFunctionName`, else `WorkerFunctionArn`, as `infra/stack.ts` declares them), and the
 * reader function beside it (`ReaderFunctionName`, else `ReaderFunctionArn`) when the stack has one.
 * Region and credentials come from the standard AWS SDK chain: `--region` / `--profile` when
 * given, else `AWS_REGION`, `AWS_PROFILE`, the shared config files, SSO, web identity (CI)...
 */
import {
  CloudFormationClient,
  DescribeStacksCommand,
  type CloudFormationClientConfig,
  type Stack,
} from '@aws-sdk/client-cloudformation';
import { ErrorCode, MigrateError } from '../../lambda/contract/index.js';

/** The output keys the example stack exports (kept in step with `infra/stack.ts`). */
export const FUNCTION_NAME_OUTPUT = 'WorkerFunctionName';
export const FUNCTION_ARN_OUTPUT = 'WorkerFunctionArn';
/** The reader function's outputs; a stack deployed before the reader function has neither. */
export const READER_NAME_OUTPUT = 'ReaderFunctionName';
export const READER_ARN_OUTPUT = 'ReaderFunctionArn';

/** The functions a stack outputs: the migrator always, the reader when the stack has one. */
export interface StackFunctions {
  functionName: string;
  readerFunctionName?: string;
}

export interface ResolveStackOptions {
  stackName: string;
  /** @default the SDK chain (AWS_REGION, the profile's region) */
  region?: string;
  /** A profile in the shared config files. @default the SDK chain (AWS_PROFILE, `default`) */
  profile?: string;
  /**
   * CloudFormation endpoint URL, e.g. a local test server.
   * @default the SDK's own (honours AWS_ENDPOINT_URL_CLOUDFORMATION)
   */
  endpoint?: string;
}

/**
 * The name of the worker function the stack outputs (or its ARN, which Invoke accepts too).
 *
 * @example
 * const functionName = await resolveStackFunction({ stackName: 'VpcMigrate', region: 'eu-west-1' });
 */
export async function resolveStackFunction(opts: ResolveStackOptions): Promise<string> {
  return (await resolveStackFunctions(opts)).functionName;
}

/**
 * The worker function the stack outputs and its reader function, when it has one (each a name
 * or an ARN).
 *
 * @example
 * const { functionName, readerFunctionName } = await resolveStackFunctions({ stackName: 'VpcMigrate' });
 */
export async function resolveStackFunctions(opts: ResolveStackOptions): Promise<StackFunctions> {
  const config: CloudFormationClientConfig = {};
  if (opts.region) config.region = opts.region;
  if (opts.profile) config.profile = opts.profile;
  if (opts.endpoint) config.endpoint = opts.endpoint;
  const client = new CloudFormationClient(config);
  let stack: Stack | undefined;
  try {
    const response = await client.send(new DescribeStacksCommand({ StackName: opts.stackName }));
    stack = response.Stacks?.[0];
  } catch (error) {
    throw describeStacksError(opts, error);
  } finally {
    client.destroy();
  }
  if (!stack) throw stackNotFound(opts);

  const outputs = stack.Outputs ?? [];
  const value = (key: string) => outputs.find((o) => o.OutputKey === key)?.OutputValue || undefined;
  const functionName = value(FUNCTION_NAME_OUTPUT) ?? value(FUNCTION_ARN_OUTPUT);
  const readerFunctionName = value(READER_NAME_OUTPUT) ?? value(READER_ARN_OUTPUT);
  if (functionName) return { functionName, ...(readerFunctionName ? { readerFunctionName } : {}) };

  const keys = outputs.map((o) => o.OutputKey).filter(Boolean);
  throw new MigrateError(
    ErrorCode.StackOutputMissing,
    `Stack ${opts.stackName} (${stack.StackStatus ?? 'unknown status'}) ` +
      `has no ${FUNCTION_NAME_OUTPUT} or ${FUNCTION_ARN_OUTPUT} ` +
      `output` +
      (keys.length ? `; its outputs are: ${keys.join(', ')}.` : '; it has no outputs.'),
    `Deploy the stack that holds the MigrationWorker and ` +
      `output its function (new CfnOutput(this, '${FUNCTION_NAME_OUTPUT}', ` +
      `{ value: worker.fn.functionName })), or pass --function ` +
      `NAME.`,
    { details: { stackName: opts.stackName, stackStatus: stack.StackStatus, outputKeys: keys } },
  );
}

function where(opts: ResolveStackOptions): string {
  return [opts.region && `region ${opts.region}`, opts.profile && `profile ${opts.profile}`].filter(Boolean).join(', ');
}

function stackNotFound(opts: ResolveStackOptions, cause?: unknown): MigrateError {
  const scope = where(opts);
  return new MigrateError(
    ErrorCode.StackNotFound,
    `Stack ${opts.stackName} does not exist${scope ? ` (${scope})` : ' in the default region'}.`,
    'Check the stack name and the region (--region or AWS_REGION) ' +
      'and account (--profile or AWS_PROFILE); deploy it first ' +
      'with `pnpm cdk deploy`.',
    { ...(cause === undefined ? {} : { cause }), details: { stackName: opts.stackName } },
  );
}

function describeStacksError(opts: ResolveStackOptions, error: unknown): MigrateError {
  const e = error as { name?: string; message?: string; Code?: string };
  const name = e?.name ?? 'Error';
  const message = e?.message ?? String(error);
  if (name === 'ValidationError' && /does not exist/i.test(message)) return stackNotFound(opts, error);
  if (name === 'CredentialsProviderError') {
    return new MigrateError(
      ErrorCode.AwsCredentialsMissing,
      `No AWS credentials found to look up stack ${opts.stackName}: ${message}`,
      'Provide credentials the standard way: --profile NAME or AWS_PROFILE (run `aws sso login` for SSO profiles), ' +
        'AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or a CI role (OIDC web identity).',
      { cause: error },
    );
  }
  if (/region is missing/i.test(message)) {
    return new MigrateError(
      ErrorCode.AwsRegionMissing,
      `No AWS region to look up stack ${opts.stackName} in.`,
      'Pass --region REGION, set AWS_REGION, or use a profile that has a region.',
      { cause: error },
    );
  }
  const denied = /AccessDenied|UnauthorizedOperation|InvalidClientTokenId|ExpiredToken|SignatureDoesNotMatch/.test(
    name,
  );
  const scope = where(opts);
  return new MigrateError(
    ErrorCode.AwsRequestFailed,
    `CloudFormation DescribeStacks for ${opts.stackName}${scope ? ` (${scope})` : ''} failed: ${name}: ${message}`,
    denied
      ? 'Use credentials allowed cloudformation:DescribeStacks ' +
          'on this stack (refresh expired ones, e.g. `aws sso ' +
          'login`).'
      : 'Check the network path to CloudFormation, the region and your credentials, then run the command again.',
    { cause: error, details: { awsError: name } },
  );
}
