/**
 * The example stack's security properties, proven on the synthesized template (one synth for
 * the whole file; the worker is bundled by the local esbuild).
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUNDLE_FILE, WORKER_ENTRY, esbuildOptions } from '../../infra/bundling.js';
import {
  DB_PORT,
  OUTPUT_FUNCTION_ARN,
  OUTPUT_FUNCTION_NAME,
  OUTPUT_READER_FUNCTION_ARN,
  OUTPUT_READER_FUNCTION_NAME,
  VpcMigrateStack,
} from '../../infra/stack.js';
import {
  FUNCTION_ARN_OUTPUT,
  FUNCTION_NAME_OUTPUT,
  READER_ARN_OUTPUT,
  READER_NAME_OUTPUT,
} from '../../scripts/transport/stack-outputs.js';

interface Resource {
  Type: string;
  Properties?: Record<string, any>;
  DeletionPolicy?: string;
  UpdateReplacePolicy?: string;
}

let outdir: string;
let template: Template;
let resources: Record<string, Resource>;

beforeAll(() => {
  outdir = mkdtempSync(join(tmpdir(), 'vpcm-stack-'));
  const app = new App({ outdir });
  const stack = new VpcMigrateStack(app, 'VpcMigrateTest');
  template = Template.fromStack(stack);
  resources = template.toJSON().Resources as Record<string, Resource>;
}, 120_000);

afterAll(() => {
  if (outdir) rmSync(outdir, { recursive: true, force: true });
});

function only(type: string, where: (r: Resource) => boolean = () => true): [string, Resource] {
  const found = Object.entries(resources).filter(([, r]) => r.Type === type && where(r));
  expect(found, `exactly one ${type}`).toHaveLength(1);
  return found[0]!;
}

function all(type: string): [string, Resource][] {
  return Object.entries(resources).filter(([, r]) => r.Type === type);
}

const envOf = (r: Resource) => (r.Properties?.Environment?.Variables ?? {}) as Record<string, unknown>;
/** The migrator: the worker function holding the migrating login's secret. */
const migrator = () => only('AWS::Lambda::Function', (r) => 'DB_SECRET_ARN' in envOf(r));
/** The reader: the worker function in reader mode. */
const reader = () => only('AWS::Lambda::Function', (r) => envOf(r).VPC_MIGRATE_MODE === 'reader');
/** The database's master secret (the one the RDS instance is attached to). */
const masterSecret = () =>
  only('AWS::SecretsManager::Secret', (r) => JSON.stringify(r.Properties).includes('"username\\":\\"postgres'));
const readerSecret = () =>
  only('AWS::SecretsManager::Secret', (r) => JSON.stringify(r.Properties).includes('vpc_migrate_reader'));

const getAttGroupId = (logicalId: string) => ({ 'Fn::GetAtt': [logicalId, 'GroupId'] });

/** The security group a function runs in (exactly one). */
function securityGroupOf([, fn]: [string, Resource]): string {
  const groups = fn.Properties!.VpcConfig.SecurityGroupIds as { 'Fn::GetAtt': [string, string] }[];
  expect(groups).toHaveLength(1);
  return groups[0]!['Fn::GetAtt'][0];
}
const workerSecurityGroupId = () => securityGroupOf(migrator());
const readerSecurityGroupId = () => securityGroupOf(reader());
/** The reader secret's hosted rotation function's security group. */
function rotationSecurityGroupId(): string {
  const [, schedule] = only('AWS::SecretsManager::RotationSchedule');
  return (schedule.Properties!.HostedRotationLambda.VpcSecurityGroupIds as { 'Fn::GetAtt': [string, string] })[
    'Fn::GetAtt'
  ][0];
}

/** Every statement of the policies attached to a function's role. */
function statementsOf([, fn]: [string, Resource]): Record<string, unknown>[] {
  const roleId = (fn.Properties!.Role as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
  return all('AWS::IAM::Policy')
    .filter(([, p]) => (p.Properties!.Roles as { Ref: string }[]).some((r) => r.Ref === roleId))
    .flatMap(([, p]) => p.Properties!.PolicyDocument.Statement as Record<string, unknown>[]);
}

function databaseSecurityGroupId(): string {
  const [, db] = only('AWS::RDS::DBInstance');
  const groups = db.Properties!.VPCSecurityGroups as { 'Fn::GetAtt': [string, string] }[];
  expect(groups).toHaveLength(1);
  return groups[0]!['Fn::GetAtt'][0];
}

describe('database', () => {
  it('is PostgreSQL 16 or newer, private, encrypted, backed up 7 days, protected from deletion', () => {
    const [, db] = only('AWS::RDS::DBInstance');
    const p = db.Properties!;
    expect(p.Engine).toBe('postgres');
    expect(Number.parseInt(String(p.EngineVersion), 10)).toBeGreaterThanOrEqual(16);
    expect(p.PubliclyAccessible).toBe(false);
    expect(p.StorageEncrypted).toBe(true);
    expect(p.BackupRetentionPeriod).toBe(7);
    expect(p.DeletionProtection).toBe(true);
    expect(String(p.Port)).toBe(String(DB_PORT));
  });

  it('is snapshotted, not deleted, when removed from the stack', () => {
    const [, db] = only('AWS::RDS::DBInstance');
    expect(db.DeletionPolicy).toBe('Snapshot');
    expect(db.UpdateReplacePolicy).toBe('Snapshot');
  });

  it('takes generated credentials from Secrets Manager', () => {
    const [secretId, secret] = masterSecret();
    expect(secret.Properties!.GenerateSecretString).toMatchObject({ GenerateStringKey: 'password' });
    const [, db] = only('AWS::RDS::DBInstance');
    expect(JSON.stringify(db.Properties!.MasterUserPassword)).toContain('{{resolve:secretsmanager:');
    expect(JSON.stringify(db.Properties!.MasterUserPassword)).toContain(secretId);
  });

  it('requires TLS (rds.force_ssl = 1)', () => {
    template.hasResourceProperties('AWS::RDS::DBParameterGroup', { Parameters: { 'rds.force_ssl': '1' } });
  });

  it('lives in isolated subnets', () => {
    const [, subnetGroup] = only('AWS::RDS::DBSubnetGroup');
    const subnetIds = (subnetGroup.Properties!.SubnetIds as { Ref: string }[]).map((s) => s.Ref);
    expect(subnetIds).toHaveLength(2);
    for (const id of subnetIds) expect(id).toMatch(/isolated/i);
  });
});

describe('network', () => {
  it('has no NAT gateway, internet gateway or public subnet', () => {
    template.resourceCountIs('AWS::EC2::NatGateway', 0);
    template.resourceCountIs('AWS::EC2::InternetGateway', 0);
    template.resourceCountIs('AWS::EC2::EIP', 0);
    const subnets = all('AWS::EC2::Subnet');
    expect(subnets).toHaveLength(2); // one per AZ
    for (const [, subnet] of subnets) expect(subnet.Properties!.MapPublicIpOnLaunch).toBe(false);
    template.resourceCountIs('AWS::EC2::Route', 0); // isolated: no route out of the VPC
  });

  it('spreads the subnets over two availability zones', () => {
    const azs = all('AWS::EC2::Subnet').map(([, s]) => JSON.stringify(s.Properties!.AvailabilityZone));
    expect(new Set(azs).size).toBe(2);
  });

  it(
    'admits three ingresses to the database, each a security ' +
      'group of its own on 5432: migrator, reader, reader-secret ' +
      'rotation',
    () => {
      const dbSg = databaseSecurityGroupId();
      const inline = resources[dbSg]!.Properties!.SecurityGroupIngress ?? [];
      expect(inline, 'no inline ingress rules on the database security group').toEqual([]);
      const rules = all('AWS::EC2::SecurityGroupIngress')
        .filter(([, r]) => JSON.stringify(r.Properties!.GroupId) === JSON.stringify(getAttGroupId(dbSg)))
        .map(([, r]) => r.Properties!);
      const sources = [workerSecurityGroupId(), readerSecurityGroupId(), rotationSecurityGroupId()];
      expect(new Set(sources).size, 'three distinct security groups').toBe(3);
      expect(rules).toHaveLength(3);
      for (const sg of sources) {
        expect(rules).toContainEqual(
          expect.objectContaining({
            IpProtocol: 'tcp',
            FromPort: 5432,
            ToPort: 5432,
            SourceSecurityGroupId: getAttGroupId(sg),
          }),
        );
      }
      for (const rule of rules) {
        for (const cidrKey of ['CidrIp', 'CidrIpv6', 'SourcePrefixListId']) expect(rule).not.toHaveProperty(cidrKey);
      }
    },
  );

  it('has no CIDR ingress on any security group', () => {
    for (const [, sg] of all('AWS::EC2::SecurityGroup')) {
      for (const rule of (sg.Properties!.SecurityGroupIngress ?? []) as Record<string, unknown>[]) {
        expect(rule).not.toHaveProperty('CidrIp');
        expect(rule).not.toHaveProperty('CidrIpv6');
      }
    }
    for (const [, rule] of all('AWS::EC2::SecurityGroupIngress')) {
      expect(rule.Properties).not.toHaveProperty('CidrIp');
      expect(rule.Properties).not.toHaveProperty('CidrIpv6');
    }
  });

  it.each([
    ['migrator', workerSecurityGroupId],
    ['reader', readerSecurityGroupId],
    ['reader-secret rotation', rotationSecurityGroupId],
  ])('lets the %s out only to the database (5432) and the Secrets Manager endpoint (443)', (_name, groupOf) => {
    const sg = groupOf();
    expect(resources[sg]!.Properties!.SecurityGroupEgress ?? []).toEqual([]);
    const egress = all('AWS::EC2::SecurityGroupEgress')
      .filter(([, r]) => JSON.stringify(r.Properties!.GroupId) === JSON.stringify(getAttGroupId(sg)))
      .map(([, r]) => ({
        to: (r.Properties!.DestinationSecurityGroupId as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0],
        port: r.Properties!.FromPort as number,
        toPort: r.Properties!.ToPort as number,
      }))
      .sort((a, b) => a.port - b.port);
    const [, endpoint] = only('AWS::EC2::VPCEndpoint');
    const endpointSg = (endpoint.Properties!.SecurityGroupIds as { 'Fn::GetAtt': [string, string] }[])[0]![
      'Fn::GetAtt'
    ][0];
    expect(egress).toEqual([
      { to: endpointSg, port: 443, toPort: 443 },
      { to: databaseSecurityGroupId(), port: 5432, toPort: 5432 },
    ]);
  });
});

describe('Secrets Manager interface endpoint', () => {
  it('exists in the isolated subnets with private DNS', () => {
    const [, endpoint] = only('AWS::EC2::VPCEndpoint');
    const p = endpoint.Properties!;
    expect(p.VpcEndpointType).toBe('Interface');
    expect(p.PrivateDnsEnabled).toBe(true);
    expect(JSON.stringify(p.ServiceName)).toContain('.secretsmanager');
    expect(p.SubnetIds).toHaveLength(2);
  });

  it('admits only the migrator, the reader and the reader-secret rotation, on 443', () => {
    const [, endpoint] = only('AWS::EC2::VPCEndpoint');
    const endpointSg = (endpoint.Properties!.SecurityGroupIds as { 'Fn::GetAtt': [string, string] }[])[0]![
      'Fn::GetAtt'
    ][0];
    expect(resources[endpointSg]!.Properties!.SecurityGroupIngress ?? []).toEqual([]);
    const rules = all('AWS::EC2::SecurityGroupIngress').filter(
      ([, r]) => JSON.stringify(r.Properties!.GroupId) === JSON.stringify(getAttGroupId(endpointSg)),
    );
    const admitted = (sg: string) =>
      expect.objectContaining({
        IpProtocol: 'tcp',
        FromPort: 443,
        ToPort: 443,
        SourceSecurityGroupId: getAttGroupId(sg),
      });
    expect(rules.map(([, r]) => r.Properties)).toEqual(
      expect.arrayContaining(
        [workerSecurityGroupId(), readerSecurityGroupId(), rotationSecurityGroupId()].map(admitted),
      ),
    );
    expect(rules).toHaveLength(3);
  });
});

describe('worker function', () => {
  it(
    'is one of three functions: the reader runs the same ' + 'code, the provider framework runs its reader-role set-up',
    () => {
      template.resourceCountIs('AWS::Lambda::Function', 3);
      expect(
        all('AWS::Lambda::Function')
          .map(([, f]) => f.Properties!.Handler)
          .sort(),
      ).toEqual(['framework.onEvent', 'index.handler', 'index.handler']);
      expect(reader()[1].Properties!.Code).toEqual(migrator()[1].Properties!.Code);
      expect(reader()[0]).not.toBe(migrator()[0]);
    },
  );

  it('runs nodejs22.x on arm64 with the 900 s timeout, from the bundled handler', () => {
    const [, fn] = migrator();
    const p = fn.Properties!;
    expect(p.Runtime).toBe('nodejs22.x');
    expect(p.Timeout).toBe(900);
    expect(p.Architectures).toEqual(['arm64']);
    expect(p.Handler).toBe('index.handler');
    expect(p.MemorySize).toBe(512);
  });

  it('verifies TLS against the RDS CA and reads its credentials from the secret', () => {
    const [secretAttachmentId] = only('AWS::SecretsManager::SecretTargetAttachment');
    const [, fn] = migrator();
    expect(fn.Properties!.Environment.Variables).toMatchObject({
      NODE_EXTRA_CA_CERTS: '/var/runtime/ca-cert.pem',
      PGSSLMODE: 'verify-full',
      DB_SECRET_ARN: { Ref: secretAttachmentId },
      DB_PORT: '5432',
    });
    expect(JSON.stringify(fn.Properties!.Environment.Variables)).not.toContain('DATABASE_URL');
  });

  it('is given the reader secret, whose password its `setup` gives the reader login', () => {
    const [readerSecretId] = readerSecret();
    expect(envOf(migrator()[1]).READER_SECRET_ARN).toEqual({ Ref: readerSecretId });
    expect(envOf(migrator()[1]).VPC_MIGRATE_MODE).toBeUndefined();
  });

  it('runs in the isolated subnets, in its own security group', () => {
    const [, fn] = migrator();
    const subnets = (fn.Properties!.VpcConfig.SubnetIds as { Ref: string }[]).map((s) => s.Ref);
    expect(subnets).toHaveLength(2);
    for (const id of subnets) expect(id).toMatch(/isolated/i);
    expect(resources[workerSecurityGroupId()]!.Properties!.GroupDescription).toBe('vpc-migrate worker');
  });

  it('is never retried by Lambda on asynchronous invocation', () => {
    template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', { MaximumRetryAttempts: 0 });
  });

  it('logs to its own log group with a retention', () => {
    const [, fn] = migrator();
    const logGroupId = (fn.Properties!.LoggingConfig.LogGroup as { Ref: string }).Ref;
    expect(resources[logGroupId]!.Type).toBe('AWS::Logs::LogGroup');
    expect(resources[logGroupId]!.Properties!.RetentionInDays).toBeGreaterThan(0);
  });
});

describe('reader function', () => {
  it('runs the worker in reader mode with the reader secret, and no migrating login secret', () => {
    const [readerSecretId] = readerSecret();
    const [secretAttachmentId] = only('AWS::SecretsManager::SecretTargetAttachment');
    const env = envOf(reader()[1]);
    expect(env).toEqual({
      READER_SECRET_ARN: { Ref: readerSecretId },
      VPC_MIGRATE_MODE: 'reader',
      DB_HOST: envOf(migrator()[1]).DB_HOST,
      DB_PORT: '5432',
      DB_NAME: 'app',
      NODE_EXTRA_CA_CERTS: '/var/runtime/ca-cert.pem',
      PGSSLMODE: 'verify-full',
      POWERTOOLS_SERVICE_NAME: 'vpc-migrate-reader',
      POWERTOOLS_LOG_LEVEL: 'INFO',
    });
    expect(JSON.stringify(env)).not.toContain(secretAttachmentId);
  });

  it('has its own security group, log group and description, is never retried, and takes 256 MB', () => {
    const p = reader()[1].Properties!;
    expect(resources[readerSecurityGroupId()]!.Properties!.GroupDescription).toBe('vpc-migrate reader');
    const logGroupId = (p.LoggingConfig.LogGroup as { Ref: string }).Ref;
    expect(logGroupId).not.toBe((migrator()[1].Properties!.LoggingConfig.LogGroup as { Ref: string }).Ref);
    expect(resources[logGroupId]!.Properties!.RetentionInDays).toBeGreaterThan(0);
    expect(p.Description).toBe('vpc-migrate reader: read-only queries and status');
    expect(p.MemorySize).toBe(256);
    expect(p.Timeout).toBe(900);
    template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      FunctionName: { Ref: reader()[0] },
      MaximumRetryAttempts: 0,
    });
  });
});

describe('reader secret', () => {
  it('is the reader login in RDS single-user rotation format, with a password safe in connection strings', () => {
    const [, secret] = readerSecret();
    const generate = secret.Properties!.GenerateSecretString;
    expect(generate.GenerateStringKey).toBe('password');
    expect(generate.ExcludeCharacters).toBe(' %+~`#$&*()|[]{}:;<>?!\'/@"\\');
    const template = JSON.stringify(generate.SecretStringTemplate);
    for (const field of [
      '\\"username\\":\\"vpc_migrate_reader\\"',
      '\\"engine\\":\\"postgres\\"',
      '\\"dbname\\":\\"app\\"',
      '\\"port\\":\\"5432\\"',
    ]) {
      expect(template).toContain(field);
    }
    expect(template).toContain('Endpoint.Address'); // host: the database endpoint
  });

  it('is rotated every 30 days by the hosted PostgreSQL single-user rotation, in the isolated subnets', () => {
    const [readerSecretId] = readerSecret();
    const [, schedule] = only('AWS::SecretsManager::RotationSchedule');
    expect(schedule.Properties!.SecretId).toEqual({ Ref: readerSecretId });
    expect(schedule.Properties!.RotationRules).toEqual({ ScheduleExpression: 'rate(30 days)' });
    expect(schedule.Properties!.HostedRotationLambda.RotationType).toBe('PostgreSQLSingleUser');
    expect(JSON.stringify(schedule.Properties!.HostedRotationLambda.VpcSubnetIds)).toMatch(/isolated/i);
    expect(template.toJSON().Transform).toBe('AWS::SecretsManager-2024-09-16');
  });

  it('is rotated first only once the reader login exists and the endpoint is there', () => {
    const [, schedule] = only('AWS::SecretsManager::RotationSchedule');
    const [setupId] = only('Custom::VpcMigrateReaderRole');
    const [endpointId] = only('AWS::EC2::VPCEndpoint');
    expect((schedule as Resource & { DependsOn?: string[] }).DependsOn).toEqual(
      expect.arrayContaining([setupId, endpointId]),
    );
  });

  it('leaves the master secret unrotated (acknowledged), and the reader secret the only other one', () => {
    expect(
      all('AWS::SecretsManager::Secret')
        .map(([id]) => id)
        .sort(),
    ).toEqual([masterSecret()[0], readerSecret()[0]].sort());
  });
});

describe('IAM', () => {
  it(
    'lets the migrator read exactly the database secret ' +
      'and the reader secret: GetSecretValue on their ARNs, ' +
      'nothing else',
    () => {
      const [secretAttachmentId] = only('AWS::SecretsManager::SecretTargetAttachment');
      const [readerSecretId] = readerSecret();
      expect(statementsOf(migrator())).toEqual([
        { Effect: 'Allow', Action: 'secretsmanager:GetSecretValue', Resource: { Ref: secretAttachmentId } },
        { Effect: 'Allow', Action: 'secretsmanager:GetSecretValue', Resource: { Ref: readerSecretId } },
      ]);
    },
  );

  it('lets the reader read the reader secret and nothing else: never the database secret', () => {
    const [secretAttachmentId] = only('AWS::SecretsManager::SecretTargetAttachment');
    const [masterId] = masterSecret();
    const [readerSecretId] = readerSecret();
    const statements = statementsOf(reader());
    expect(statements).toEqual([
      { Effect: 'Allow', Action: 'secretsmanager:GetSecretValue', Resource: { Ref: readerSecretId } },
    ]);
    expect(JSON.stringify(statements)).not.toContain(secretAttachmentId);
    expect(JSON.stringify(statements)).not.toContain(masterId);
  });

  it.each([
    ['migrator', migrator],
    ['reader', reader],
  ])('attaches only the AWS-managed logging and VPC-access policies to the %s', (_name, fnOf) => {
    const [, fn] = fnOf();
    const roleId = (fn.Properties!.Role as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
    const managed = JSON.stringify(resources[roleId]!.Properties!.ManagedPolicyArns);
    expect(managed).toContain('service-role/AWSLambdaBasicExecutionRole');
    expect(managed).toContain('service-role/AWSLambdaVPCAccessExecutionRole');
    expect(resources[roleId]!.Properties!.ManagedPolicyArns).toHaveLength(2);
  });

  it('grants secretsmanager actions nowhere else in the stack', () => {
    const everyStatement = all('AWS::IAM::Policy').flatMap(
      ([, p]) => p.Properties!.PolicyDocument.Statement as { Action: string | string[] }[],
    );
    const secretStatements = everyStatement.filter((s) =>
      [s.Action].flat().some((a) => a.startsWith('secretsmanager:')),
    );
    expect(secretStatements).toEqual([...statementsOf(migrator()), ...statementsOf(reader())]);
  });
});

describe('reader-role set-up (read-only run-sql runs as a role that can only read)', () => {
  it("runs the worker's own `setup` action as a custom resource on every deployment", () => {
    const [workerId] = migrator();
    const [, setup] = only('Custom::VpcMigrateReaderRole');
    const [frameworkId] = all('AWS::Lambda::Function').find(([, f]) => f.Properties!.Handler === 'framework.onEvent')!;
    expect(setup.Properties!.action).toBe('setup');
    expect(setup.Properties!.ServiceToken).toEqual({ 'Fn::GetAtt': [frameworkId, 'Arn'] });
    // A new worker version re-runs it, and so does a new reader secret.
    expect(JSON.stringify(setup.Properties!.worker)).toContain('Version');
    expect(setup.Properties!.readerSecret).toEqual({ Ref: readerSecret()[0] });
    // The framework calls the worker, and only the worker.
    const framework = resources[frameworkId]!.Properties!;
    expect(JSON.stringify(framework.Environment.Variables)).toContain(workerId);
  });

  it('runs only once the database, the Secrets Manager endpoint and the worker security group exist', () => {
    const [, setup] = only('Custom::VpcMigrateReaderRole');
    const [dbId] = only('AWS::RDS::DBInstance');
    const [endpointId] = only('AWS::EC2::VPCEndpoint');
    const dependsOn = [setup as Resource & { DependsOn?: string[] }][0]!.DependsOn ?? [];
    expect(dependsOn).toEqual(expect.arrayContaining([dbId, endpointId, workerSecurityGroupId()]));
  });

  it('lets the provider framework invoke the worker function and nothing else', () => {
    const [workerId] = migrator();
    const invoking = all('AWS::IAM::Policy')
      .flatMap(([, p]) => p.Properties!.PolicyDocument.Statement as { Action: string | string[]; Resource: unknown }[])
      .filter((st) => [st.Action].flat().includes('lambda:InvokeFunction'));
    expect(invoking).toHaveLength(1);
    expect(invoking[0]!.Resource).toEqual([
      { 'Fn::GetAtt': [workerId, 'Arn'] },
      { 'Fn::Join': ['', [{ 'Fn::GetAtt': [workerId, 'Arn'] }, ':*']] },
    ]);
  });
});

describe('outputs', () => {
  it('name the worker function and its ARN, under the keys `--stack` reads', () => {
    expect([OUTPUT_FUNCTION_NAME, OUTPUT_FUNCTION_ARN]).toEqual([FUNCTION_NAME_OUTPUT, FUNCTION_ARN_OUTPUT]);
    const [fnId] = migrator();
    template.hasOutput(OUTPUT_FUNCTION_NAME, { Value: { Ref: fnId } });
    template.hasOutput(OUTPUT_FUNCTION_ARN, { Value: { 'Fn::GetAtt': [fnId, 'Arn'] } });
  });

  it('name the reader function and its ARN, under the keys `--stack` reads', () => {
    expect([OUTPUT_READER_FUNCTION_NAME, OUTPUT_READER_FUNCTION_ARN]).toEqual([READER_NAME_OUTPUT, READER_ARN_OUTPUT]);
    const [readerId] = reader();
    template.hasOutput(OUTPUT_READER_FUNCTION_NAME, { Value: { Ref: readerId } });
    template.hasOutput(OUTPUT_READER_FUNCTION_ARN, { Value: { 'Fn::GetAtt': [readerId, 'Arn'] } });
  });
});

describe('bundle', () => {
  it('is what scripts/bundle-size.ts measures: the same esbuild options give the same bytes', async () => {
    const [, fn] = migrator();
    const assetHash = String(fn.Properties!.Code.S3Key).replace(/\.zip$/, '');
    const deployed = readFileSync(join(outdir, `asset.${assetHash}`, BUNDLE_FILE));
    const outfile = join(outdir, 'measured', BUNDLE_FILE);
    await build(esbuildOptions(WORKER_ENTRY, outfile));
    const measured = readFileSync(outfile);
    const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
    expect(sha(measured)).toBe(sha(deployed));
    // ESM; the runtime's SDK stays an import, loaded only on the secret path.
    const text = deployed.toString('utf8');
    expect(text).toContain('import("@aws-sdk/client-secrets-manager")');
    expect(text).not.toContain('SecretsManagerServiceException');
    expect(text).toContain('createRequire');
  });
});
