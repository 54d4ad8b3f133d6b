/**
 * `MigrationWorker` dropped into a stack that already owns its database: an Aurora cluster, an
 * endpoint (e.g. an RDS Proxy) with an imported secret under a customer-managed KMS key, and an
 * imported instance whose secret is known by partial ARN. One stack, one synth.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Duration, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as rds from 'aws-cdk-lib/aws-rds';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MigrateError } from '../../lambda/contract/index.js';
import { MigrationWorker } from '../../infra/migration-worker.js';

interface Resource {
  Type: string;
  Properties?: Record<string, any>;
}

const SECRET_ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:app/db-AbCdEf';
const KEY_ARN = 'arn:aws:kms:eu-west-1:123456789012:key/11111111-2222-3333-4444-555555555555';
const PROXY_SG = 'sg-0123456789abcdef0';
const INSTANCE_SG = 'sg-0fedcba9876543210';

let outdir: string;
let stack: Stack;
let resources: Record<string, Resource>;
let workers: { cluster: MigrationWorker; endpoint: MigrationWorker; imported: MigrationWorker; byArn: MigrationWorker };

beforeAll(() => {
  outdir = mkdtempSync(join(tmpdir(), 'vpcm-construct-'));
  const app = new App({ outdir });
  stack = new Stack(app, 'ExistingDatabase', { env: { account: '123456789012', region: 'eu-west-1' } });
  const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 2, natGateways: 1 });

  const cluster = new rds.DatabaseCluster(stack, 'Cluster', {
    engine: rds.DatabaseClusterEngine.auroraPostgres({ version: rds.AuroraPostgresEngineVersion.VER_16_4 }),
    writer: rds.ClusterInstance.serverlessV2('writer'),
    vpc,
    credentials: rds.Credentials.fromGeneratedSecret('postgres'),
  });

  const endpointSecret = secretsmanager.Secret.fromSecretAttributes(stack, 'ProxySecret', {
    secretCompleteArn: SECRET_ARN,
    encryptionKey: kms.Key.fromKeyArn(stack, 'SecretKey', KEY_ARN),
  });

  const instance = rds.DatabaseInstance.fromDatabaseInstanceAttributes(stack, 'Instance', {
    instanceIdentifier: 'legacy',
    instanceEndpointAddress: 'legacy.abc.eu-west-1.rds.amazonaws.com',
    port: 5432,
    securityGroups: [ec2.SecurityGroup.fromSecurityGroupId(stack, 'InstanceSg', INSTANCE_SG)],
  });

  workers = {
    cluster: new MigrationWorker(stack, 'ClusterWorker', { vpc, database: cluster, timeout: Duration.minutes(5) }),
    endpoint: new MigrationWorker(stack, 'ProxyWorker', {
      vpc,
      database: {
        hostname: 'proxy.proxy-abc.eu-west-1.rds.amazonaws.com',
        port: 6432,
        securityGroups: [ec2.SecurityGroup.fromSecurityGroupId(stack, 'ProxySg', PROXY_SG)],
      },
      secret: endpointSecret,
      databaseName: 'app',
      architecture: lambda.Architecture.X86_64,
      memorySize: 1024,
    }),
    imported: new MigrationWorker(stack, 'ImportedWorker', {
      vpc,
      database: instance,
      secret: secretsmanager.Secret.fromSecretPartialArn(
        stack,
        'LegacySecret',
        'arn:aws:secretsmanager:eu-west-1:123456789012:secret:legacy',
      ),
      runtime: lambda.Runtime.NODEJS_24_X,
      setupReaderRole: false,
    }),
    // A secret known only by its ARN cannot tell its key: the key is passed beside it.
    byArn: new MigrationWorker(stack, 'ByArnWorker', {
      vpc,
      database: { hostname: 'db.internal', port: 5432 },
      secret: secretsmanager.Secret.fromSecretCompleteArn(stack, 'ByArnSecret', SECRET_ARN),
      secretEncryptionKey: kms.Key.fromKeyArn(stack, 'ByArnKey', KEY_ARN),
      setupReaderRole: false,
    }),
  };
  resources = Template.fromStack(stack).toJSON().Resources as Record<string, Resource>;
}, 120_000);

afterAll(() => {
  if (outdir) rmSync(outdir, { recursive: true, force: true });
});

const logicalId = (construct: { node: { defaultChild?: unknown } }) => stack.getLogicalId(construct.node.defaultChild as never);
const fnOf = (w: MigrationWorker) => resources[logicalId(w.fn)]!.Properties!;
const sgOf = (w: MigrationWorker) => logicalId(w.securityGroup);

function ingressFrom(worker: MigrationWorker): Record<string, any>[] {
  const sg = sgOf(worker);
  return Object.values(resources)
    .filter((r) => r.Type === 'AWS::EC2::SecurityGroupIngress')
    .map((r) => r.Properties!)
    .filter((p) => JSON.stringify(p.SourceSecurityGroupId) === JSON.stringify({ 'Fn::GetAtt': [sg, 'GroupId'] }));
}

function statementsOf(worker: MigrationWorker): Record<string, any>[] {
  const roleId = (fnOf(worker).Role as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
  return Object.values(resources)
    .filter((r) => r.Type === 'AWS::IAM::Policy')
    .filter((r) => (r.Properties!.Roles as { Ref: string }[]).some((x) => x.Ref === roleId))
    .flatMap((r) => r.Properties!.PolicyDocument.Statement as Record<string, any>[]);
}

describe('reader-role set-up', () => {
  it('is on by default, one per worker, and left out when setupReaderRole is false', () => {
    const setups = Object.entries(resources).filter(([, r]) => r.Type === 'Custom::VpcMigrateReaderRole');
    expect(setups.map(([id]) => id.replace(/ReaderRole.*/, '')).sort()).toEqual(['ClusterWorker', 'ProxyWorker']);
  });
});

describe('with an Aurora PostgreSQL cluster', () => {
  it('is admitted to the cluster security group only, on the cluster port', () => {
    const clusterSg = Object.entries(resources).find(
      ([id, r]) => r.Type === 'AWS::EC2::SecurityGroup' && id.startsWith('ClusterSecurityGroup'),
    )![0];
    const rules = ingressFrom(workers.cluster);
    expect(rules).toHaveLength(1);
    expect(rules[0]).toMatchObject({
      IpProtocol: 'tcp',
      GroupId: { 'Fn::GetAtt': [clusterSg, 'GroupId'] },
      FromPort: { 'Fn::GetAtt': [expect.stringMatching(/^Cluster/), 'Endpoint.Port'] },
    });
  });

  it("reads the cluster's attached secret and connects to the writer endpoint", () => {
    const env = fnOf(workers.cluster).Environment.Variables;
    const attachment = Object.entries(resources).find(([, r]) => r.Type === 'AWS::SecretsManager::SecretTargetAttachment')![0];
    expect(env.DB_SECRET_ARN).toEqual({ Ref: attachment });
    expect(env.DB_HOST).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/^Cluster/), 'Endpoint.Address'] });
    expect(statementsOf(workers.cluster)).toEqual([
      { Effect: 'Allow', Action: 'secretsmanager:GetSecretValue', Resource: { Ref: attachment } },
    ]);
    expect(fnOf(workers.cluster).Timeout).toBe(300);
  });
});

describe('with an endpoint and an imported secret under a customer-managed key', () => {
  it('is admitted to the given security group on the given port', () => {
    expect(ingressFrom(workers.endpoint)).toEqual([
      expect.objectContaining({ GroupId: PROXY_SG, IpProtocol: 'tcp', FromPort: 6432, ToPort: 6432 }),
    ]);
  });

  it('reads exactly that secret and decrypts only through Secrets Manager', () => {
    expect(statementsOf(workers.endpoint)).toEqual([
      { Effect: 'Allow', Action: 'secretsmanager:GetSecretValue', Resource: SECRET_ARN },
      {
        Effect: 'Allow',
        Action: 'kms:Decrypt',
        Resource: KEY_ARN,
        Condition: { StringEquals: { 'kms:ViaService': 'secretsmanager.eu-west-1.amazonaws.com' } },
      },
    ]);
  });

  it('decrypts with secretEncryptionKey for a secret imported by ARN alone, and asks for no key otherwise', () => {
    expect(statementsOf(workers.byArn)).toContainEqual({
      Effect: 'Allow',
      Action: 'kms:Decrypt',
      Resource: KEY_ARN,
      Condition: { StringEquals: { 'kms:ViaService': 'secretsmanager.eu-west-1.amazonaws.com' } },
    });
    expect(statementsOf(workers.imported).map((s) => s.Action)).not.toContain('kms:Decrypt');
  });

  it('passes the endpoint and database name to the worker', () => {
    const fn = fnOf(workers.endpoint);
    expect(fn.Environment.Variables).toMatchObject({
      DB_SECRET_ARN: SECRET_ARN,
      DB_HOST: 'proxy.proxy-abc.eu-west-1.rds.amazonaws.com',
      DB_PORT: '6432',
      DB_NAME: 'app',
      NODE_EXTRA_CA_CERTS: '/var/runtime/ca-cert.pem',
      PGSSLMODE: 'verify-full',
    });
    expect(fn.Architectures).toEqual(['x86_64']);
    expect(fn.MemorySize).toBe(1024);
  });
});

describe('with an imported instance and a secret known by partial ARN', () => {
  it('matches the secret ARN with its random suffix, and nothing broader', () => {
    expect(statementsOf(workers.imported)).toEqual([
      {
        Effect: 'Allow',
        Action: 'secretsmanager:GetSecretValue',
        Resource: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:legacy-??????',
      },
    ]);
  });

  it('is admitted to the instance security group on 5432', () => {
    expect(ingressFrom(workers.imported)).toEqual([
      expect.objectContaining({ GroupId: INSTANCE_SG, IpProtocol: 'tcp', FromPort: 5432, ToPort: 5432 }),
    ]);
  });

  it('accepts a newer Node.js runtime', () => {
    expect(fnOf(workers.imported).Runtime).toBe('nodejs24.x');
  });
});

describe('validation', () => {
  function attempt(props: Partial<ConstructorParameters<typeof MigrationWorker>[2]>): MigrateError {
    const scratch = new Stack(new App(), 'Scratch');
    const vpc = new ec2.Vpc(scratch, 'Vpc', { maxAzs: 2, natGateways: 0 });
    const database = {
      hostname: 'db.internal',
      port: 5432,
    };
    const secret = secretsmanager.Secret.fromSecretCompleteArn(scratch, 'S', SECRET_ARN);
    try {
      new MigrationWorker(scratch, 'Worker', { vpc, database, secret, ...props });
    } catch (error) {
      expect(error).toBeInstanceOf(MigrateError);
      return error as MigrateError;
    }
    throw new Error('expected the construct to refuse these props');
  }

  it('refuses a timeout above Lambda’s 900 s', () => {
    const error = attempt({ timeout: Duration.seconds(901) });
    expect(error.code).toBe('VPCM_USAGE');
    expect(error.message).toContain('901 s');
  });

  it('refuses memory outside 128–10240 MB', () => {
    expect(attempt({ memorySize: 64 }).code).toBe('VPCM_USAGE');
  });

  it('refuses runtimes older than nodejs22.x', () => {
    expect(attempt({ runtime: lambda.Runtime.NODEJS_20_X }).message).toContain('nodejs20.x');
  });

  it('needs a secret when the database brings none', () => {
    const scratch = new Stack(new App(), 'Scratch');
    const vpc = new ec2.Vpc(scratch, 'Vpc', { maxAzs: 2, natGateways: 0 });
    const instance = rds.DatabaseInstance.fromDatabaseInstanceAttributes(scratch, 'I', {
      instanceIdentifier: 'x',
      instanceEndpointAddress: 'x.internal',
      port: 5432,
      securityGroups: [],
    });
    expect(() => new MigrationWorker(scratch, 'Worker', { vpc, database: instance })).toThrow(/no attached secret/);
  });
});
