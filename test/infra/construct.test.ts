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
import * as iam from 'aws-cdk-lib/aws-iam';
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
const READER_SECRET_ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:app/reader-GhIjKl';
const READER_KEY_ARN = 'arn:aws:kms:eu-west-1:123456789012:key/66666666-7777-8888-9999-000000000000';
const KEY_ARN = 'arn:aws:kms:eu-west-1:123456789012:key/11111111-2222-3333-4444-555555555555';
const PROXY_SG = 'sg-0123456789abcdef0';
const INSTANCE_SG = 'sg-0fedcba9876543210';

let outdir: string;
let stack: Stack;
let resources: Record<string, Resource>;
let workers: {
  cluster: MigrationWorker;
  endpoint: MigrationWorker;
  imported: MigrationWorker;
  byArn: MigrationWorker;
  ownReader: MigrationWorker;
};
let roles: { onCall: iam.Role; ci: iam.Role };

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
      logLevel: 'DEBUG',
    }),
    // A reader secret managed elsewhere, under its own key; no reader function; weekly rotation is
    // the owner's business, so none here.
    ownReader: new MigrationWorker(stack, 'OwnReaderWorker', {
      vpc,
      database: { hostname: 'db2.internal', port: 5432 },
      secret: secretsmanager.Secret.fromSecretCompleteArn(stack, 'OwnReaderMigratorSecret', SECRET_ARN),
      readerSecret: secretsmanager.Secret.fromSecretAttributes(stack, 'OwnReaderSecret', {
        secretCompleteArn: READER_SECRET_ARN,
        encryptionKey: kms.Key.fromKeyArn(stack, 'OwnReaderKey', READER_KEY_ARN),
      }),
      readerFunction: false,
    }),
  };
  roles = {
    onCall: new iam.Role(stack, 'OnCall', { assumedBy: new iam.AccountRootPrincipal() }),
    ci: new iam.Role(stack, 'Ci', { assumedBy: new iam.AccountRootPrincipal() }),
  };
  workers.cluster.grantQuery(roles.onCall);
  workers.cluster.grantMigrate(roles.ci);
  resources = Template.fromStack(stack).toJSON().Resources as Record<string, Resource>;
}, 120_000);

afterAll(() => {
  if (outdir) rmSync(outdir, { recursive: true, force: true });
});

const logicalId = (construct: { node: { defaultChild?: unknown } }) =>
  stack.getLogicalId(construct.node.defaultChild as never);
const fnOf = (w: MigrationWorker) => resources[logicalId(w.fn)]!.Properties!;
const readerFnOf = (w: MigrationWorker) => resources[logicalId(w.readerFn!)]!.Properties!;
const readerSecretRef = (w: MigrationWorker) => ({ Ref: logicalId(w.readerSecret) });
const getSecret = (Resource: unknown) => ({ Effect: 'Allow', Action: 'secretsmanager:GetSecretValue', Resource });
const sgOf = (w: MigrationWorker) => logicalId(w.securityGroup);

function ingressFrom(worker: MigrationWorker): Record<string, any>[] {
  const sg = sgOf(worker);
  return Object.values(resources)
    .filter((r) => r.Type === 'AWS::EC2::SecurityGroupIngress')
    .map((r) => r.Properties!)
    .filter((p) => JSON.stringify(p.SourceSecurityGroupId) === JSON.stringify({ 'Fn::GetAtt': [sg, 'GroupId'] }));
}

function statementsOf(worker: MigrationWorker, fn = fnOf(worker)): Record<string, any>[] {
  const roleId = (fn.Role as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
  return statementsOfRole(roleId);
}

function statementsOfRole(roleId: string): Record<string, any>[] {
  return Object.values(resources)
    .filter((r) => r.Type === 'AWS::IAM::Policy')
    .filter((r) => (r.Properties!.Roles as { Ref: string }[]).some((x) => x.Ref === roleId))
    .flatMap((r) => r.Properties!.PolicyDocument.Statement as Record<string, any>[]);
}

describe('reader-role set-up', () => {
  it('is on by default, one per worker, and left out when setupReaderRole is false', () => {
    const setups = Object.entries(resources).filter(([, r]) => r.Type === 'Custom::VpcMigrateReaderRole');
    expect(setups.map(([id]) => id.replace(/ReaderRole.*/, '')).sort()).toEqual([
      'ClusterWorker',
      'OwnReaderWorker',
      'ProxyWorker',
    ]);
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
    const attachment = Object.entries(resources).find(
      ([, r]) => r.Type === 'AWS::SecretsManager::SecretTargetAttachment',
    )![0];
    expect(env.DB_SECRET_ARN).toEqual({ Ref: attachment });
    expect(env.DB_HOST).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/^Cluster/), 'Endpoint.Address'] });
    expect(statementsOf(workers.cluster)).toEqual([
      getSecret({ Ref: attachment }),
      getSecret(readerSecretRef(workers.cluster)),
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
      getSecret(readerSecretRef(workers.endpoint)),
    ]);
    // The reader holds neither the migrating login's secret nor its key.
    expect(statementsOf(workers.endpoint, readerFnOf(workers.endpoint))).toEqual([
      getSecret(readerSecretRef(workers.endpoint)),
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
      POWERTOOLS_SERVICE_NAME: 'vpc-migrate-worker',
      POWERTOOLS_LOG_LEVEL: 'INFO',
    });
    expect(fn.Architectures).toEqual(['x86_64']);
    expect(fn.MemorySize).toBe(1024);
  });

  it('sets the log level asked for', () => {
    expect(fnOf(workers.byArn).Environment.Variables).toMatchObject({ POWERTOOLS_LOG_LEVEL: 'DEBUG' });
  });
});

describe('with an imported instance and a secret known by partial ARN', () => {
  it('matches the secret ARN with its random suffix, and nothing broader', () => {
    expect(statementsOf(workers.imported)).toEqual([
      getSecret('arn:aws:secretsmanager:eu-west-1:123456789012:secret:legacy-??????'),
      getSecret(readerSecretRef(workers.imported)),
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

describe('reader function', () => {
  it('runs the same code in reader mode with the reader secret alone, never the migrating login secret', () => {
    const attachment = Object.entries(resources).find(
      ([, r]) => r.Type === 'AWS::SecretsManager::SecretTargetAttachment',
    )![0];
    const reader = readerFnOf(workers.cluster);
    const migrator = fnOf(workers.cluster);
    expect(reader.Code).toEqual(migrator.Code);
    expect(reader.Handler).toBe(migrator.Handler);
    expect(reader.Environment.Variables).toMatchObject({
      READER_SECRET_ARN: readerSecretRef(workers.cluster),
      VPC_MIGRATE_MODE: 'reader',
      POWERTOOLS_SERVICE_NAME: 'vpc-migrate-reader',
    });
    expect(reader.Environment.Variables).not.toHaveProperty('DB_SECRET_ARN');
    expect(migrator.Environment.Variables).toMatchObject({
      DB_SECRET_ARN: { Ref: attachment },
      READER_SECRET_ARN: readerSecretRef(workers.cluster),
    });
    expect(migrator.Environment.Variables).not.toHaveProperty('VPC_MIGRATE_MODE');
    expect(statementsOf(workers.cluster, reader)).toEqual([getSecret(readerSecretRef(workers.cluster))]);
  });

  it('is admitted to the database in its own security group', () => {
    const rules = Object.values(resources)
      .filter((r) => r.Type === 'AWS::EC2::SecurityGroupIngress')
      .map((r) => r.Properties!)
      .filter(
        (p) =>
          JSON.stringify(p.SourceSecurityGroupId) ===
          JSON.stringify({ 'Fn::GetAtt': [logicalId(workers.endpoint.readerSecurityGroup!), 'GroupId'] }),
      );
    expect(rules).toEqual([expect.objectContaining({ GroupId: PROXY_SG, FromPort: 6432, ToPort: 6432 })]);
    expect(readerFnOf(workers.endpoint).VpcConfig.SecurityGroupIds).toEqual([
      { 'Fn::GetAtt': [logicalId(workers.endpoint.readerSecurityGroup!), 'GroupId'] },
    ]);
  });

  it('is left out with readerFunction: false, and grantQuery then refuses with a remedy', () => {
    expect(workers.ownReader.readerFn).toBeUndefined();
    const modes = Object.entries(resources)
      .filter(
        ([id, r]) =>
          r.Type === 'AWS::Lambda::Function' &&
          id.startsWith('OwnReaderWorker') &&
          r.Properties!.Handler === 'index.handler',
      )
      .map(([, r]) => r.Properties!.Environment?.Variables?.VPC_MIGRATE_MODE);
    expect(modes).toEqual([undefined]);
    let error: unknown;
    try {
      workers.ownReader.grantQuery(
        new iam.Role(new Stack(new App(), 'Other'), 'R', { assumedBy: new iam.AccountRootPrincipal() }),
      );
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(MigrateError);
    expect((error as MigrateError).code).toBe('VPCM_USAGE');
    expect((error as MigrateError).remedy).toContain('readerFunction: false');
  });
});

describe('grantQuery and grantMigrate', () => {
  const invokeOf = (fnId: string) => ({
    Effect: 'Allow',
    Action: 'lambda:InvokeFunction',
    Resource: [{ 'Fn::GetAtt': [fnId, 'Arn'] }, { 'Fn::Join': ['', [{ 'Fn::GetAtt': [fnId, 'Arn'] }, ':*']] }],
  });

  it('grantQuery lets the on-call role invoke the reader function and nothing else', () => {
    expect(statementsOfRole(logicalId(roles.onCall))).toEqual([invokeOf(logicalId(workers.cluster.readerFn!))]);
  });

  it('grantMigrate lets the CI role invoke the migrator function and nothing else', () => {
    expect(statementsOfRole(logicalId(roles.ci))).toEqual([invokeOf(logicalId(workers.cluster.fn))]);
  });
});

describe('reader secret', () => {
  it(
    'is created per worker as the reader login, and rotated ' +
      'every 30 days by default through the hosted single-user ' +
      'rotation',
    () => {
      const secret = resources[logicalId(workers.cluster.readerSecret)]!;
      expect(secret.Type).toBe('AWS::SecretsManager::Secret');
      expect(JSON.stringify(secret.Properties!.GenerateSecretString.SecretStringTemplate)).toContain(
        'vpc_migrate_reader',
      );
      const schedules = Object.values(resources).filter(
        (r) =>
          r.Type === 'AWS::SecretsManager::RotationSchedule' &&
          JSON.stringify(r.Properties!.SecretId) === JSON.stringify(readerSecretRef(workers.cluster)),
      );
      expect(schedules).toHaveLength(1);
      expect(schedules[0]!.Properties).toMatchObject({
        RotationRules: { ScheduleExpression: 'rate(30 days)' },
        HostedRotationLambda: { RotationType: 'PostgreSQLSingleUser' },
      });
    },
  );

  it("writes databaseName as the secret's dbname, so the reader connects where the migrator does", () => {
    const template = JSON.stringify(
      resources[logicalId(workers.endpoint.readerSecret)]!.Properties!.GenerateSecretString.SecretStringTemplate,
    );
    expect(template).toContain('\\"dbname\\":\\"app\\"');
    expect(template).toContain('\\"host\\":\\"proxy.proxy-abc.eu-west-1.rds.amazonaws.com\\"');
    expect(template).toContain('\\"port\\":\\"6432\\"');
    expect(readerFnOf(workers.endpoint).Environment.Variables.DB_NAME).toBe('app');
  });

  it('is re-applied by the reader-role set-up when it changes: its ARN is in the set-up properties', () => {
    const setup = Object.entries(resources).find(
      ([id, r]) => r.Type === 'Custom::VpcMigrateReaderRole' && id.startsWith('ClusterWorker'),
    )![1];
    expect(setup.Properties!.readerSecret).toEqual(readerSecretRef(workers.cluster));
  });

  it('an imported reader secret is read under its own key, through Secrets Manager only, and not rotated here', () => {
    expect(workers.ownReader.readerSecret.secretArn).toBe(READER_SECRET_ARN);
    expect(workers.ownReader.readerSecretRotation).toBeUndefined();
    expect(statementsOf(workers.ownReader)).toEqual([
      getSecret(SECRET_ARN),
      getSecret(READER_SECRET_ARN),
      {
        Effect: 'Allow',
        Action: 'kms:Decrypt',
        Resource: READER_KEY_ARN,
        Condition: { StringEquals: { 'kms:ViaService': 'secretsmanager.eu-west-1.amazonaws.com' } },
      },
    ]);
  });

  it('takes another rotation period, or none', () => {
    const scratch = new Stack(new App(), 'Rotation', { env: { account: '123456789012', region: 'eu-west-1' } });
    const vpc = new ec2.Vpc(scratch, 'Vpc', { maxAzs: 2, natGateways: 0 });
    const secret = secretsmanager.Secret.fromSecretCompleteArn(scratch, 'S', SECRET_ARN);
    const database = { hostname: 'db.internal', port: 5432 };
    const weekly = new MigrationWorker(scratch, 'Weekly', {
      vpc,
      database,
      secret,
      readerSecretRotation: Duration.days(7),
    });
    const never = new MigrationWorker(scratch, 'Never', { vpc, database, secret, readerSecretRotation: false });
    const schedules = Template.fromStack(scratch).findResources('AWS::SecretsManager::RotationSchedule');
    expect(Object.values(schedules).map((r) => [r.Properties.SecretId, r.Properties.RotationRules])).toEqual([
      [
        { Ref: scratch.getLogicalId(weekly.readerSecret.node.defaultChild as never) },
        { ScheduleExpression: 'rate(7 days)' },
      ],
    ]);
    expect(never.readerSecretRotation).toBeUndefined();
  });
});
