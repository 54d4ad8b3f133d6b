/**
 * `resolveStackFunction` against a local server speaking CloudFormation's wire format (AWS
 * Query: a signed form POST in, XML out), with the real SDK client and credential chain.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { resolveStackFunction, resolveStackFunctions } from '../../scripts/transport/stack-outputs.js';
import { resolveTarget } from '../../scripts/transport/target.js';
import { migrateErrorOf } from '../helpers/errors.js';

interface Captured {
  params: URLSearchParams;
  authorization: string;
  contentType: string;
}

const STACK_UUID = '0f1e2d3c-aaaa-bbbb-cccc-000000000000';
const NS = 'http://cloudformation.amazonaws.com/doc/2010-05-15/';
const requests: Captured[] = [];
let reply: (params: URLSearchParams) => { status: number; body: string };
let server: Server;
let endpoint: string;
let dir: string;
const savedEnv = { ...process.env };

function stackXml(name: string, status: string, outputs: Record<string, string>): string {
  const members = Object.entries(outputs)
    .map(([k, v]) => `<member><OutputKey>${k}</OutputKey><OutputValue>${v}</OutputValue></member>`)
    .join('');
  return `<?xml version="1.0" encoding="UTF-8"?>
<DescribeStacksResponse xmlns="${NS}">
  <DescribeStacksResult>
    <Stacks>
      <member>
        <StackId>arn:aws:cloudformation:eu-west-1:123456789012:stack/${name}/${STACK_UUID}</StackId>
        <StackName>${name}</StackName>
        <CreationTime>2026-01-01T00:00:00.000Z</CreationTime>
        <StackStatus>${status}</StackStatus>
        <Outputs>${members}</Outputs>
      </member>
    </Stacks>
  </DescribeStacksResult>
  <ResponseMetadata><RequestId>4af9a3a0-0000-4000-8000-000000000001</RequestId></ResponseMetadata>
</DescribeStacksResponse>`;
}

function errorXml(code: string, message: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>
<ErrorResponse xmlns="${NS}">
  <Error><Type>Sender</Type><Code>${code}</Code><Message>${message}</Message></Error>
  <RequestId>4af9a3a0-0000-4000-8000-000000000002</RequestId>
</ErrorResponse>`;
}

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      const params = new URLSearchParams(body);
      requests.push({
        params,
        authorization: String(req.headers.authorization ?? ''),
        contentType: String(req.headers['content-type'] ?? ''),
      });
      const { status, body: out } =
        req.method === 'POST' && params.get('Action') === 'DescribeStacks' && params.get('Version') === '2010-05-15'
          ? reply(params)
          : { status: 400, body: errorXml('InvalidAction', 'Could not find operation') };
      res.writeHead(status, { 'content-type': 'text/xml', 'x-amzn-requestid': '4af9a3a0' });
      res.end(out);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

beforeEach(() => {
  requests.length = 0;
  dir = mkdtempSync(join(tmpdir(), 'vpcm-aws-'));
  // A clean SDK chain: no ambient credentials, profiles or instance metadata.
  for (const key of Object.keys(process.env)) if (key.startsWith('AWS_')) delete process.env[key];
  process.env.AWS_CONFIG_FILE = join(dir, 'config');
  process.env.AWS_SHARED_CREDENTIALS_FILE = join(dir, 'credentials');
  process.env.AWS_EC2_METADATA_DISABLED = 'true';
  writeFileSync(process.env.AWS_CONFIG_FILE, '');
  writeFileSync(process.env.AWS_SHARED_CREDENTIALS_FILE, '');
});

afterEach(() => {
  for (const key of Object.keys(process.env)) if (key.startsWith('AWS_')) delete process.env[key];
  Object.assign(process.env, savedEnv);
  rmSync(dir, { recursive: true, force: true });
});

function envCredentials(): void {
  process.env.AWS_ACCESS_KEY_ID = 'AKIDENVEXAMPLE';
  process.env.AWS_SECRET_ACCESS_KEY = 'env-secret';
}

describe('resolveStackFunction', () => {
  it('returns the WorkerFunctionName output, asking with a signed DescribeStacks', async () => {
    envCredentials();
    reply = (p) => ({
      status: 200,
      body: stackXml(p.get('StackName')!, 'UPDATE_COMPLETE', {
        WorkerFunctionArn: 'arn:aws:lambda:eu-west-1:123456789012:function:VpcMigrate-Worker-abc',
        WorkerFunctionName: 'VpcMigrate-Worker-abc',
      }),
    });
    const name = await resolveStackFunction({ stackName: 'VpcMigrate', region: 'eu-west-1', endpoint });
    expect(name).toBe('VpcMigrate-Worker-abc');
    expect(requests).toHaveLength(1);
    const [request] = requests;
    expect(request!.params.get('StackName')).toBe('VpcMigrate');
    expect(request!.contentType).toContain('application/x-www-form-urlencoded');
    expect(request!.authorization).toMatch(
      /^AWS4-HMAC-SHA256 Credential=AKIDENVEXAMPLE\/\d{8}\/eu-west-1\/cloudformation\/aws4_request/,
    );
  });

  it('falls back to the WorkerFunctionArn output', async () => {
    envCredentials();
    const arn = 'arn:aws:lambda:eu-west-1:123456789012:function:worker';
    reply = (p) => ({
      status: 200,
      body: stackXml(p.get('StackName')!, 'CREATE_COMPLETE', { WorkerFunctionArn: arn }),
    });
    expect(await resolveStackFunction({ stackName: 'Other', region: 'eu-west-1', endpoint })).toBe(arn);
  });

  it('takes region and credentials from the named profile', async () => {
    writeFileSync(process.env.AWS_CONFIG_FILE!, '[profile ci]\nregion = ap-southeast-2\n');
    writeFileSync(
      process.env.AWS_SHARED_CREDENTIALS_FILE!,
      '[ci]\naws_access_key_id = AKIDPROFILEEXAMPLE\naws_secret_access_key = profile-secret\n',
    );
    envCredentials(); // a named profile wins over the environment's keys, as in the AWS CLI
    reply = (p) => ({
      status: 200,
      body: stackXml(p.get('StackName')!, 'CREATE_COMPLETE', { WorkerFunctionName: 'fn' }),
    });
    expect(await resolveStackFunction({ stackName: 'VpcMigrate', profile: 'ci', endpoint })).toBe('fn');
    expect(requests[0]!.authorization).toContain('Credential=AKIDPROFILEEXAMPLE/');
    expect(requests[0]!.authorization).toContain('/ap-southeast-2/cloudformation/');
  });

  it('honours AWS_PROFILE and AWS_REGION from the environment', async () => {
    writeFileSync(
      process.env.AWS_SHARED_CREDENTIALS_FILE!,
      '[deploy]\naws_access_key_id = AKIDDEPLOYEXAMPLE\naws_secret_access_key = deploy-secret\n',
    );
    process.env.AWS_PROFILE = 'deploy';
    process.env.AWS_REGION = 'us-west-2';
    reply = (p) => ({
      status: 200,
      body: stackXml(p.get('StackName')!, 'CREATE_COMPLETE', { WorkerFunctionName: 'fn' }),
    });
    await resolveStackFunction({ stackName: 'VpcMigrate', endpoint });
    expect(requests[0]!.authorization).toMatch(/Credential=AKIDDEPLOYEXAMPLE\/\d{8}\/us-west-2\//);
  });

  it('reports a missing stack with VPCM_STACK_NOT_FOUND', async () => {
    envCredentials();
    reply = (p) => ({
      status: 400,
      body: errorXml('ValidationError', `Stack with id ${p.get('StackName')} does not exist`),
    });
    const error = await migrateErrorOf(resolveStackFunction({ stackName: 'Nope', region: 'eu-west-1', endpoint }));
    expect(error.code).toBe('VPCM_STACK_NOT_FOUND');
    expect(error.message).toContain('Nope');
    expect(error.message).toContain('eu-west-1');
    expect(error.remedy).toMatch(/--region/);
  });

  it('reports a stack without the worker outputs with VPCM_STACK_OUTPUT_MISSING', async () => {
    envCredentials();
    reply = (p) => ({ status: 200, body: stackXml(p.get('StackName')!, 'CREATE_COMPLETE', { ApiUrl: 'https://x' }) });
    const error = await migrateErrorOf(resolveStackFunction({ stackName: 'Api', region: 'eu-west-1', endpoint }));
    expect(error.code).toBe('VPCM_STACK_OUTPUT_MISSING');
    expect(error.message).toContain('ApiUrl');
    expect(error.remedy).toMatch(/--function/);
  });

  it('reports missing credentials with VPCM_AWS_CREDENTIALS_MISSING, before any request', async () => {
    reply = () => ({ status: 500, body: '' });
    const error = await migrateErrorOf(
      resolveStackFunction({ stackName: 'VpcMigrate', region: 'eu-west-1', endpoint }),
    );
    expect(error.code).toBe('VPCM_AWS_CREDENTIALS_MISSING');
    expect(error.remedy).toMatch(/AWS_PROFILE/);
    expect(requests).toHaveLength(0);
  });

  it('reports a missing region with VPCM_AWS_REGION_MISSING', async () => {
    envCredentials();
    reply = () => ({ status: 500, body: '' });
    const error = await migrateErrorOf(resolveStackFunction({ stackName: 'VpcMigrate', endpoint }));
    expect(error.code).toBe('VPCM_AWS_REGION_MISSING');
    expect(error.remedy).toMatch(/AWS_REGION/);
  });

  it('reports a denied DescribeStacks with the permission to grant', async () => {
    envCredentials();
    reply = () => ({
      status: 403,
      body: errorXml(
        'AccessDenied',
        'User: arn:aws:sts::123456789012:assumed-role/ci/gh ' +
          'is not authorized to perform: cloudformation:DescribeStacks',
      ),
    });
    const error = await migrateErrorOf(
      resolveStackFunction({ stackName: 'VpcMigrate', region: 'eu-west-1', endpoint }),
    );
    expect(error.code).toBe('VPCM_AWS_REQUEST_FAILED');
    expect(error.remedy).toContain('cloudformation:DescribeStacks');
  });
});

describe('the reader function from the stack', () => {
  const BOTH = {
    WorkerFunctionName: 'VpcMigrate-Worker-abc',
    ReaderFunctionArn: 'arn:aws:lambda:eu-west-1:123456789012:function:VpcMigrate-Reader-abc',
    ReaderFunctionName: 'VpcMigrate-Reader-abc',
  };

  it('returns ReaderFunctionName beside the worker, else ReaderFunctionArn', async () => {
    envCredentials();
    reply = (p) => ({ status: 200, body: stackXml(p.get('StackName')!, 'UPDATE_COMPLETE', BOTH) });
    expect(await resolveStackFunctions({ stackName: 'VpcMigrate', region: 'eu-west-1', endpoint })).toEqual({
      functionName: 'VpcMigrate-Worker-abc',
      readerFunctionName: 'VpcMigrate-Reader-abc',
    });
    reply = (p) => ({
      status: 200,
      body: stackXml(p.get('StackName')!, 'UPDATE_COMPLETE', {
        WorkerFunctionName: 'w',
        ReaderFunctionArn: BOTH.ReaderFunctionArn,
      }),
    });
    expect(
      (await resolveStackFunctions({ stackName: 'VpcMigrate', region: 'eu-west-1', endpoint })).readerFunctionName,
    ).toBe(BOTH.ReaderFunctionArn);
  });

  it('a stack from before the reader function has none: every command then goes to the worker', async () => {
    envCredentials();
    reply = (p) => ({
      status: 200,
      body: stackXml(p.get('StackName')!, 'CREATE_COMPLETE', { WorkerFunctionName: 'w' }),
    });
    expect(await resolveStackFunctions({ stackName: 'Old', region: 'eu-west-1', endpoint })).toEqual({
      functionName: 'w',
    });
  });

  it('--stack: --reader-function, else VPC_MIGRATE_READER_FUNCTION, else the stack output', async () => {
    envCredentials();
    process.env.AWS_ENDPOINT_URL_CLOUDFORMATION = endpoint;
    reply = (p) => ({ status: 200, body: stackXml(p.get('StackName')!, 'UPDATE_COMPLETE', BOTH) });
    const resolve = async (flags: { readerFunction?: string }, env: NodeJS.ProcessEnv) =>
      (await resolveTarget({ stack: 'VpcMigrate', region: 'eu-west-1', ...flags }, env)).target;

    expect(await resolve({}, {})).toEqual({
      functionName: 'VpcMigrate-Worker-abc',
      readerFunctionName: 'VpcMigrate-Reader-abc',
      region: 'eu-west-1',
    });
    expect((await resolve({}, { VPC_MIGRATE_READER_FUNCTION: 'env-reader' })).readerFunctionName).toBe('env-reader');
    expect(
      (await resolve({ readerFunction: 'flag-reader' }, { VPC_MIGRATE_READER_FUNCTION: 'env-reader' }))
        .readerFunctionName,
    ).toBe('flag-reader');
  });
});
