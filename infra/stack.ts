/**
 * The example stack: a private PostgreSQL and the migration worker beside it. Isolated subnets
 * over two AZs with no NAT gateway; the worker reaches Secrets Manager through an interface
 * endpoint and the database on 5432, and nothing else.
 */
import { CfnOutput, Duration, RemovalPolicy, Stack, Validations, type StackProps } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as rds from 'aws-cdk-lib/aws-rds';
import type { Construct } from 'constructs';
import { MigrationWorker, type MigrationWorkerProps } from './migration-worker.js';

export const DB_PORT = 5432;

/** Output keys `scripts/transport/stack-outputs.ts` reads to find the worker. */
export const OUTPUT_FUNCTION_NAME = 'WorkerFunctionName';
export const OUTPUT_FUNCTION_ARN = 'WorkerFunctionArn';
/** Output keys the CLI reads to find the reader function (read-only run-sql and status). */
export const OUTPUT_READER_FUNCTION_NAME = 'ReaderFunctionName';
export const OUTPUT_READER_FUNCTION_ARN = 'ReaderFunctionArn';
/** The database the example stack creates and migrates. */
export const DATABASE_NAME = 'app';

export interface VpcMigrateStackProps extends StackProps {
  /**
   * A standby in the second AZ. Turn off only for a throwaway environment.
   * @default true
   */
  readonly multiAz?: boolean;
  /** @default t4g.micro */
  readonly instanceType?: ec2.InstanceType;
  /** Worker options: timeout, memory, architecture, runtime, log retention. */
  readonly worker?: Pick<
    MigrationWorkerProps,
    'timeout' | 'memorySize' | 'architecture' | 'runtime' | 'logRetention' | 'readerMemorySize' | 'readerSecretRotation'
  >;
}

export class VpcMigrateStack extends Stack {
  readonly vpc: ec2.Vpc;
  readonly database: rds.DatabaseInstance;
  readonly secretsManagerEndpoint: ec2.InterfaceVpcEndpoint;
  readonly worker: MigrationWorker;

  constructor(scope: Construct, id: string, props: VpcMigrateStackProps = {}) {
    super(scope, id, props);

    this.vpc = new ec2.Vpc(this, 'Vpc', {
      maxAzs: 2,
      natGateways: 0,
      subnetConfiguration: [{ name: 'isolated', subnetType: ec2.SubnetType.PRIVATE_ISOLATED, cidrMask: 24 }],
    });
    this.vpc.addFlowLog('FlowLog', {
      destination: ec2.FlowLogDestination.toCloudWatchLogs(
        new logs.LogGroup(this, 'FlowLogs', { retention: logs.RetentionDays.THREE_MONTHS }),
      ),
    });
    const isolated: ec2.SubnetSelection = { subnetType: ec2.SubnetType.PRIVATE_ISOLATED };

    // Isolated subnets have no route out: the worker reads its secret through this endpoint.
    // `open: false`: only the security groups admitted below may use it.
    this.secretsManagerEndpoint = this.vpc.addInterfaceEndpoint('SecretsManagerEndpoint', {
      service: ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER,
      privateDnsEnabled: true,
      subnets: isolated,
      open: false,
    });

    const engine = rds.DatabaseInstanceEngine.postgres({ version: rds.PostgresEngineVersion.VER_17 });
    this.database = new rds.DatabaseInstance(this, 'Database', {
      engine,
      instanceType:
        props.instanceType ?? ec2.InstanceType.of(ec2.InstanceClass.BURSTABLE4_GRAVITON, ec2.InstanceSize.MICRO),
      vpc: this.vpc,
      vpcSubnets: isolated,
      port: DB_PORT,
      publiclyAccessible: false,
      multiAz: props.multiAz ?? true,
      databaseName: DATABASE_NAME,
      credentials: rds.Credentials.fromGeneratedSecret('postgres'),
      storageEncrypted: true,
      storageType: rds.StorageType.GP3,
      allocatedStorage: 20,
      maxAllocatedStorage: 100,
      backupRetention: Duration.days(7),
      deletionProtection: true,
      removalPolicy: RemovalPolicy.SNAPSHOT,
      caCertificate: rds.CaCertificate.RDS_CA_RSA2048_G1,
      parameterGroup: new rds.ParameterGroup(this, 'DatabaseParameters', {
        engine,
        description: 'vpc-migrate: TLS required',
        parameters: { 'rds.force_ssl': '1' },
      }),
    });

    this.worker = new MigrationWorker(this, 'Worker', {
      ...props.worker,
      vpc: this.vpc,
      vpcSubnets: isolated,
      database: this.database,
      // Given, not left to the secret's dbname: the reader function never reads the master secret.
      databaseName: DATABASE_NAME,
      port: DB_PORT,
      allowAllOutbound: false,
    });
    // Migrator, reader and the reader secret's rotation function: each reads a secret.
    this.worker.connections.allowTo(this.secretsManagerEndpoint, ec2.Port.tcp(443), 'vpc-migrate to Secrets Manager');
    // The set-up runs the worker during deployment, and the first rotation runs when it is
    // scheduled: both read their secret through the endpoint.
    this.worker.readerRoleSetup?.node.addDependency(this.secretsManagerEndpoint);
    this.worker.readerSecretRotation?.node.addDependency(this.secretsManagerEndpoint);

    new CfnOutput(this, OUTPUT_FUNCTION_NAME, {
      value: this.worker.fn.functionName,
      description: 'The migration worker: pnpm migrate:remote --stack <this stack>',
    });
    new CfnOutput(this, OUTPUT_FUNCTION_ARN, { value: this.worker.fn.functionArn });
    if (this.worker.readerFn) {
      new CfnOutput(this, OUTPUT_READER_FUNCTION_NAME, {
        value: this.worker.readerFn.functionName,
        description: 'The reader function: read-only run-sql and status (grant it with worker.grantQuery)',
      });
      new CfnOutput(this, OUTPUT_READER_FUNCTION_ARN, { value: this.worker.readerFn.functionArn });
    }

    Validations.of(this.database).acknowledge(
      {
        id: 'AwsSolutions-RDS11',
        reason:
          'The standard port 5432 is kept on purpose: the database sits in isolated subnets and its security ' +
          'group admits only the worker security group; a non-default port is obscurity, not access control.',
      },
      {
        // The generated credentials secret is a child of the database construct.
        id: 'AwsSolutions-SMG4',
        reason:
          'The master secret is not rotated in this example: its rotation function would need its own ingress to ' +
          "the database. The reader login's secret is rotated (hosted single-user rotation). The worker is " +
          'rotation-ready (it re-reads the secret after SQLSTATE 28P01); docs/aws.md (Rotating the database ' +
          'password) shows how to enable addRotationSingleUser.',
      },
    );
  }
}
