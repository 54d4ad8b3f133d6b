/**
 * `MigrationWorker`: the vpc-migrate worker Lambda, placed next to an existing PostgreSQL
 * database inside its VPC. Drop it into the stack that owns the database, or see
 * `infra/stack.ts` for a stack that creates everything.
 */
import { Annotations, CustomResource, Duration, Stack, Token, Validations } from 'aws-cdk-lib';
import * as cr from 'aws-cdk-lib/custom-resources';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import type * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as rds from 'aws-cdk-lib/aws-rds';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import {
  DATABASE_NAME_RULE,
  ErrorCode,
  isDatabaseName,
  LAMBDA_MAX_TIMEOUT_SECONDS as MAX_TIMEOUT_SECONDS,
  MigrateError,
  READER_ROLE_RESOURCE_TYPE,
  WORKER_ENV,
} from '../lambda/contract/index.js';
import { WORKER_HANDLER_SETTING, workerCode } from './bundling.js';
import { checkEnvironmentSize } from './environment-size.js';
import { DEFAULT_READER_ROTATION, ReaderSecret } from './reader-secret.js';
import { grantSecretRead } from './secret-access.js';

/** How cdk-nag names an AWS-managed service-role policy in an acknowledgement. */
const MANAGED_POLICY_PREFIX = 'arn:<AWS::Partition>:iam::aws:policy/service-role/';

/** Lambda's hard limit for a function timeout (docs/design.md §5), as the stack's API names it. */
export { LAMBDA_MAX_TIMEOUT_SECONDS as MAX_TIMEOUT_SECONDS } from '../lambda/contract/index.js';

/** Where the nodejs runtimes keep the Amazon RDS CA bundle (not loaded unless named here). */
export const RDS_CA_BUNDLE_PATH = '/var/runtime/ca-cert.pem';

/** A database given by its endpoint rather than as an RDS construct (e.g. an RDS Proxy). */
export interface DatabaseEndpoint {
  readonly hostname: string;
  readonly port: number;
  /**
   * The database's security groups: the worker is admitted on `port` to each.
   * @default - none: you admit the worker's security group yourself
   */
  readonly securityGroups?: ec2.ISecurityGroup[];
}

/**
 * A database the migrator serves besides its own, selected per command with `--database NAME`
 * (one worker, many databases: docs/aws.md, "Many databases").
 */
export interface NamedDatabase {
  /** What `--database` (an event's `database`) names it by: 1-128 letters, digits, `_ . -`. */
  readonly name: string;
  /**
   * Its migrating login's RDS credentials secret (JSON with username, password, host, port,
   * dbname: the worker connects where the secret says). The migrator gets GetSecretValue on it,
   * and `kms:Decrypt` through Secrets Manager when the secret has an `encryptionKey`.
   */
  readonly secret: secretsmanager.ISecret;
  /**
   * The customer-managed KMS key `secret` is encrypted with, for a secret imported without one
   * (`Secret.fromSecretCompleteArn` cannot know it): the migrator gets `kms:Decrypt` on it, only
   * through Secrets Manager.
   * @default - the secret's own `encryptionKey`, if any (else the AWS-managed key, which needs no grant)
   */
  readonly secretEncryptionKey?: kms.IKey;
  /**
   * The database's security group: the migrator's security group is admitted to it on `port`.
   * @default - none: you admit the migrator's security group yourself
   */
  readonly securityGroup?: ec2.ISecurityGroup;
  /**
   * The port it listens on, which the security-group rule opens: the worker connects to the port
   * its secret names, so give that one when it is not the worker's own database's.
   * @default - the worker's own database's port
   */
  readonly port?: number;
}

export interface MigrationWorkerProps {
  /** The VPC the database lives in. */
  readonly vpc: ec2.IVpc;
  /**
   * Subnets for the worker's network interfaces: they need a route to the database and to
   * Secrets Manager (an interface endpoint, or a NAT gateway).
   * @default - the VPC's private subnets
   */
  readonly vpcSubnets?: ec2.SubnetSelection;
  /** The database: an RDS instance or Aurora cluster, or an endpoint. */
  readonly database: rds.IDatabaseInstance | rds.IDatabaseCluster | DatabaseEndpoint;
  /**
   * The Secrets Manager secret holding the credentials (RDS JSON: username, password and
   * optionally host, port, dbname).
   * @default - the database construct's own `secret` (a `DatabaseInstance` or `DatabaseCluster`
   *   created with generated credentials)
   */
  readonly secret?: secretsmanager.ISecret;
  /**
   * The customer-managed KMS key the secret is encrypted with, for a secret imported without one
   * (`Secret.fromSecretCompleteArn` cannot know it): the worker gets `kms:Decrypt` on it, only
   * through Secrets Manager.
   * @default - the secret's own `encryptionKey`, if any (else the AWS-managed key, which needs no grant)
   */
  readonly secretEncryptionKey?: kms.IKey;
  /**
   * The database to migrate.
   * @default - the secret's `dbname`, else `postgres`
   */
  readonly databaseName?: string;
  /**
   * The port the database listens on; the worker is admitted on it.
   * @default - the endpoint's port (for an RDS construct, a deploy-time value)
   */
  readonly port?: number;
  /**
   * Function timeout: the longest a single invocation (one batch of migrations) may run.
   * At most MAX_TIMEOUT_SECONDS (900 s), Lambda's limit.
   * @default Duration.seconds(MAX_TIMEOUT_SECONDS)
   */
  readonly timeout?: Duration;
  /** @default 512 */
  readonly memorySize?: number;
  /** @default lambda.Architecture.ARM_64 */
  readonly architecture?: lambda.Architecture;
  /**
   * A Node.js runtime, nodejs22.x or newer.
   * @default lambda.Runtime.NODEJS_22_X
   */
  readonly runtime?: lambda.Runtime;
  /** @default logs.RetentionDays.THREE_MONTHS */
  readonly logRetention?: logs.RetentionDays;
  /**
   * The functions' log level (POWERTOOLS_LOG_LEVEL, read by their Powertools Logger).
   * @default 'INFO'
   */
  readonly logLevel?: 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';
  /**
   * Let the worker's security group reach anything. With `false` the construct opens only the
   * database port; open HTTPS to Secrets Manager yourself
   * (`worker.connections.allowTo(endpoint, ec2.Port.tcp(443))`).
   * @default true
   */
  readonly allowAllOutbound?: boolean;
  /** @default - generated by CloudFormation */
  readonly functionName?: string;
  /**
   * Run the migrator's `setup` on every deployment that changes the worker or the reader secret:
   * creates or updates the reader login `vpc_migrate_reader` (`pg_read_all_data` and nothing
   * else) with the reader secret's password. Turn off only if you create that login yourself
   * (docs/commands.md, run-sql).
   * @default true
   */
  readonly setupReaderRole?: boolean;
  /**
   * Deploy the reader function: the same worker in reader mode, holding only the reader login's
   * secret, so IAM can let someone query without letting them migrate (`grantQuery`).
   * @default true
   */
  readonly readerFunction?: boolean;
  /** @default 256 */
  readonly readerMemorySize?: number;
  /**
   * The reader login's secret (RDS JSON, username `vpc_migrate_reader`), when you manage it
   * yourself. You then rotate it yourself too.
   * @default - a secret created here, rotated every `readerSecretRotation`
   */
  readonly readerSecret?: secretsmanager.ISecret;
  /**
   * How often Secrets Manager rotates the created reader secret (hosted PostgreSQL single-user
   * rotation, in the worker's subnets); `false` for never. Ignored with `readerSecret`.
   * @default Duration.days(30)
   */
  readonly readerSecretRotation?: Duration | false;
  /**
   * Databases the migrator may serve besides its own (its allow-list, VPCM_DATABASES): GetSecretValue
   * on exactly these secrets, and network reach to exactly these security groups. The reader
   * function serves none of them.
   * @default - none: every event runs against the worker's own database
   */
  readonly databases?: NamedDatabase[];
}

/**
 * The worker in the database's VPC, as two functions with the same code: the migrator (the
 * migrating login's secret; every action) and the reader (only the reader login's secret; answers
 * only read-only run-sql and status). Each has its own security group, admitted to the database
 * port and nowhere else on the database, and TLS to the database verified against the RDS CA.
 *
 * @example
 * const worker = new MigrationWorker(this, 'Migrations', { vpc, database: db });
 * worker.grantMigrate(ciRole);     // deploy, resolve, backfill, sql --write
 * worker.grantQuery(onCallRole);   // status and read-only sql, nothing else
 * new CfnOutput(this, 'WorkerFunctionName', { value: worker.fn.functionName });
 * new CfnOutput(this, 'ReaderFunctionName', { value: worker.readerFn!.functionName });
 */
export class MigrationWorker extends Construct implements ec2.IConnectable {
  /** The migrator function; invoke it with `lambda:InvokeFunction` (`grantMigrate`). */
  readonly fn: lambda.Function;
  /**
   * The reader function (absent with `readerFunction: false`): read-only run-sql and status as
   * the reader login (`grantQuery`).
   */
  readonly readerFn?: lambda.Function;
  /** The migrator's security group. */
  readonly securityGroup: ec2.SecurityGroup;
  /**
   * The reader's own security group: the database's ingress rules and flow logs then tell a
   * reader's connection from a migrator's, and either can be revoked alone.
   */
  readonly readerSecurityGroup?: ec2.SecurityGroup;
  /**
   * Every security group of this construct (migrator, reader, reader-secret rotation): all of
   * them need the database port and Secrets Manager, so `worker.connections.allowTo(endpoint,
   * ec2.Port.tcp(443))` admits them all.
   */
  readonly connections: ec2.Connections;
  /** The migrating login's secret (the migrator reads it; the reader never does). */
  readonly secret: secretsmanager.ISecret;
  /** The reader login's secret (both functions read it). */
  readonly readerSecret: secretsmanager.ISecret;
  /** The created reader secret's rotation (absent with `readerSecret` or `readerSecretRotation: false`). */
  readonly readerSecretRotation?: secretsmanager.RotationSchedule;
  readonly logGroup: logs.LogGroup;
  readonly readerLogGroup?: logs.LogGroup;
  /**
   * The reader-role set-up (absent with `setupReaderRole: false`). It runs the worker against the
   * database during deployment: make it depend on whatever the worker needs to get there that
   * this construct does not create (e.g. a Secrets Manager endpoint).
   */
  readonly readerRoleSetup?: CustomResource;

  constructor(scope: Construct, id: string, props: MigrationWorkerProps) {
    super(scope, id);

    const timeout = props.timeout ?? Duration.seconds(MAX_TIMEOUT_SECONDS);
    validateTimeout(timeout);
    const memorySize = props.memorySize ?? 512;
    validateMemory(memorySize);
    const runtime = props.runtime ?? lambda.Runtime.NODEJS_22_X;
    validateRuntime(runtime);

    const target = describeDatabase(props.database);
    const secret = props.secret ?? target.secret;
    if (!secret) {
      throw new MigrateError(
        ErrorCode.UsageError,
        `MigrationWorker ${this.node.path}: the database has no attached secret.`,
        'Pass `secret` (the Secrets Manager secret holding the database credentials).',
      );
    }
    this.secret = secret;
    const port = props.port ?? target.port;
    const allowAllOutbound = props.allowAllOutbound ?? true;
    const readerMemorySize = props.readerMemorySize ?? 256;
    validateMemory(readerMemorySize);

    let rotationSecurityGroup: ec2.SecurityGroup | undefined;
    if (props.readerSecret) {
      this.readerSecret = props.readerSecret;
    } else {
      const created = new ReaderSecret(this, 'ReaderSecret', {
        vpc: props.vpc,
        ...(props.vpcSubnets === undefined ? {} : { vpcSubnets: props.vpcSubnets }),
        hostname: target.hostname,
        port,
        ...(props.databaseName === undefined ? {} : { databaseName: props.databaseName }),
        rotation: props.readerSecretRotation ?? DEFAULT_READER_ROTATION,
        allowAllOutbound,
      });
      this.readerSecret = created.secret;
      if (created.rotation) this.readerSecretRotation = created.rotation;
      rotationSecurityGroup = created.rotationSecurityGroup;
    }

    this.securityGroup = new ec2.SecurityGroup(this, 'SecurityGroup', {
      vpc: props.vpc,
      description: 'vpc-migrate worker',
      allowAllOutbound,
    });
    if (props.readerFunction !== false) {
      this.readerSecurityGroup = new ec2.SecurityGroup(this, 'ReaderSecurityGroup', {
        vpc: props.vpc,
        description: 'vpc-migrate reader',
        allowAllOutbound,
      });
    }
    const groups: [ec2.SecurityGroup, string][] = [[this.securityGroup, 'vpc-migrate worker']];
    if (this.readerSecurityGroup) groups.push([this.readerSecurityGroup, 'vpc-migrate reader']);
    if (rotationSecurityGroup) groups.push([rotationSecurityGroup, 'vpc-migrate reader secret rotation']);
    this.connections = new ec2.Connections({ securityGroups: groups.map(([sg]) => sg) });
    for (const dbConnections of target.connections) {
      for (const [sg, description] of groups) dbConnections.allowFrom(sg, ec2.Port.tcp(port), description);
    }

    const connection: Record<string, string> = {
      DB_HOST: target.hostname,
      DB_PORT: Token.isUnresolved(port) ? Token.asString(port) : String(port),
      NODE_EXTRA_CA_CERTS: RDS_CA_BUNDLE_PATH,
      // libpq's "TLS, CA-verified, host name checked"; pg applies it to configs without `ssl`
      // (a DATABASE_URL). The secret path sets `ssl: { rejectUnauthorized: true }` itself.
      PGSSLMODE: 'verify-full',
    };
    if (props.databaseName !== undefined) connection.DB_NAME = props.databaseName;
    const common = {
      code: workerCode(),
      handler: WORKER_HANDLER_SETTING,
      runtime,
      architecture: props.architecture ?? lambda.Architecture.ARM_64,
      timeout,
      vpc: props.vpc,
      ...(props.vpcSubnets === undefined ? {} : { vpcSubnets: props.vpcSubnets }),
      // An asynchronous invocation must never be replayed by Lambda: a migration runs once.
      retryAttempts: 0,
    };
    const retention = props.logRetention ?? logs.RetentionDays.THREE_MONTHS;
    // Powertools Logger settings: each function's lines carry its own service name.
    const logging = (service: string) => ({
      POWERTOOLS_SERVICE_NAME: service,
      POWERTOOLS_LOG_LEVEL: props.logLevel ?? 'INFO',
    });

    this.logGroup = new logs.LogGroup(this, 'Logs', { retention });
    this.fn = new lambda.Function(this, 'Function', {
      ...common,
      memorySize,
      description: 'vpc-migrate worker: applies database migrations inside the VPC',
      ...(props.functionName === undefined ? {} : { functionName: props.functionName }),
      securityGroups: [this.securityGroup],
      environment: this.migratorEnvironment(
        {
          [WORKER_ENV.migratorSecret]: secret.secretArn,
          // `setup` creates the reader login with this secret's password.
          [WORKER_ENV.readerSecret]: this.readerSecret.secretArn,
          ...connection,
          ...logging('vpc-migrate-worker'),
        },
        props.databases ?? [],
        port,
      ),
      logGroup: this.logGroup,
    });
    grantSecretRead(this.fn, secret, props.secretEncryptionKey ?? secret.encryptionKey);
    grantSecretRead(this.fn, this.readerSecret, this.readerSecret.encryptionKey);
    for (const named of props.databases ?? []) {
      grantSecretRead(this.fn, named.secret, named.secretEncryptionKey ?? named.secret.encryptionKey);
    }
    acknowledgeWorkerFunction(this.fn, runtime);

    if (this.readerSecurityGroup) {
      this.readerLogGroup = new logs.LogGroup(this, 'ReaderLogs', { retention });
      this.readerFn = new lambda.Function(this, 'ReaderFunction', {
        ...common,
        memorySize: readerMemorySize,
        description: 'vpc-migrate reader: read-only queries and status',
        securityGroups: [this.readerSecurityGroup],
        // No DB_SECRET_ARN: the reader cannot log in as the migrator, whatever it is sent.
        environment: {
          [WORKER_ENV.readerSecret]: this.readerSecret.secretArn,
          [WORKER_ENV.mode]: 'reader',
          ...connection,
          ...logging('vpc-migrate-reader'),
        },
        logGroup: this.readerLogGroup,
      });
      grantSecretRead(this.readerFn, this.readerSecret, this.readerSecret.encryptionKey);
      acknowledgeWorkerFunction(this.readerFn, runtime);
      if (props.databaseName === undefined) {
        Annotations.of(this).addWarningV2(
          'vpc-migrate:readerDatabaseName',
          "The reader function cannot read the database name from the migrating login's secret: it connects to " +
            "the reader secret's `dbname`, else `postgres`. Pass `databaseName` to MigrationWorker.",
        );
      }
    }

    if (props.setupReaderRole !== false) {
      this.readerRoleSetup = this.setupReaderRole();
      // The database (and its security group rules) must be there before the worker is run.
      if (Construct.isConstruct(props.database)) this.readerRoleSetup.node.addDependency(props.database);
      // The reader secret comes first through the ARN in its properties (a dependency on the
      // secret construct would take in its rotation, which must come after).
      this.readerRoleSetup.node.addDependency(this.securityGroup);
    }
    if (this.readerSecretRotation) {
      // The first rotation runs at once and logs in as the reader: the login must exist.
      if (this.readerRoleSetup) this.readerSecretRotation.node.addDependency(this.readerRoleSetup);
      if (Construct.isConstruct(props.database)) this.readerSecretRotation.node.addDependency(props.database);
    }
  }

  /**
   * Let `grantee` query: invoke the reader function, and nothing else (read-only run-sql and
   * status as `vpc_migrate_reader`). It cannot write or migrate, whatever it sends.
   *
   * @example
   * worker.grantQuery(onCallRole);
   */
  grantQuery(grantee: iam.IGrantable): iam.Grant {
    if (!this.readerFn) {
      throw new MigrateError(
        ErrorCode.UsageError,
        `MigrationWorker ${this.node.path} has no reader function ` +
          `(readerFunction: false): there is nothing to grant ` +
          `query access to.`,
        'Remove `readerFunction: false` to deploy the reader ' +
          'function, or grant the migrator with grantMigrate (it ' +
          'can write).',
      );
    }
    return this.readerFn.grantInvoke(grantee);
  }

  /**
   * Let `grantee` migrate: invoke the migrator function (deploy, resolve, backfill, `sql --write`,
   * and everything the reader answers).
   *
   * @example
   * worker.grantMigrate(ciRole);
   */
  grantMigrate(grantee: iam.IGrantable): iam.Grant {
    return this.fn.grantInvoke(grantee);
  }

  /**
   * The migrator's environment: `env`, and the allow-list of named databases (name → secret ARN)
   * after admitting the migrator's security group, and only it, to each one's security group on
   * its port; refused at synth when it would not fit Lambda's limit.
   */
  private migratorEnvironment(
    env: Record<string, string>,
    databases: NamedDatabase[],
    ownPort: number,
  ): Record<string, string> {
    if (databases.length === 0) return env;
    const seen = new Set<string>();
    for (const { name } of databases) {
      if (!isDatabaseName(name) || seen.has(name)) {
        throw new MigrateError(
          ErrorCode.UsageError,
          `MigrationWorker ${this.node.path}: the database name ${JSON.stringify(name)} is ` +
            `${seen.has(name) ? 'given twice' : `not ${DATABASE_NAME_RULE}`}.`,
          'Give each entry of `databases` its own name of letters, digits, _ . or - (what --database names it by).',
        );
      }
      seen.add(name);
    }
    for (const { name, securityGroup, port } of databases) {
      securityGroup?.connections.allowFrom(
        this.securityGroup,
        ec2.Port.tcp(port ?? ownPort),
        `vpc-migrate worker (database ${name})`,
      );
      if (!securityGroup && !this.securityGroup.allowAllOutbound) {
        Annotations.of(this).addWarningV2(
          'vpc-migrate:namedDatabaseNoRoute',
          `The named database "${name}" has no securityGroup and allowAllOutbound is false: the migrator has no ` +
            'way out to it. Pass its securityGroup, or add the rules yourself ' +
            '(worker.securityGroup.connections.allowTo(db, ec2.Port.tcp(port))).',
        );
      }
    }
    const list = Object.fromEntries(databases.map((d) => [d.name, d.secret.secretArn]));
    checkEnvironmentSize(this.node.path, env, WORKER_ENV.databases, list);
    return { ...env, [WORKER_ENV.databases]: Stack.of(this).toJsonString(list) };
  }

  /**
   * A custom resource whose handler is the worker itself (its `setup` action), behind the CDK
   * provider framework: the framework's function answers CloudFormation, so the worker needs no
   * route to S3, and a failed set-up fails the deployment instead of passing unnoticed.
   */
  private setupReaderRole(): CustomResource {
    const provider = new cr.Provider(this, 'SetupProvider', { onEventHandler: this.fn });
    const setup = new CustomResource(this, 'ReaderRole', {
      serviceToken: provider.serviceToken,
      resourceType: READER_ROLE_RESOURCE_TYPE,
      // Run again on every worker code change (set-up may change) and when the reader secret is
      // replaced (the login takes the new secret's password).
      properties: {
        action: 'setup',
        worker: this.fn.currentVersion.version,
        readerSecret: this.readerSecret.secretArn,
      },
    });
    setup.node.addDependency(this.fn);
    const workerLogicalId = (this.fn.node.defaultChild as lambda.CfnFunction).logicalId;
    Validations.of(provider).acknowledge(
      {
        id: `AwsSolutions-IAM4[Policy::${MANAGED_POLICY_PREFIX}AWSLambdaBasicExecutionRole]`,
        reason: "The CDK provider framework's own function writes its logs with the AWS-maintained minimum policy.",
      },
      {
        id: `AwsSolutions-IAM5[Resource::<${Stack.of(this).resolve(workerLogicalId)}.Arn>:*]`,
        reason: 'The provider framework may invoke any version of the worker function, and only that function.',
      },
    );
    return setup;
  }
}

/** The acknowledgements every worker function (migrator or reader) needs, each with its reason. */
function acknowledgeWorkerFunction(fn: lambda.Function, runtime: lambda.Runtime): void {
  if (fn.role) {
    Validations.of(fn.role).acknowledge(
      {
        id: `AwsSolutions-IAM4[Policy::${MANAGED_POLICY_PREFIX}AWSLambdaBasicExecutionRole]`,
        reason:
          'AWSLambdaBasicExecutionRole is the AWS-maintained minimum for a function to write its own logs ' +
          '(logs:CreateLogStream, logs:PutLogEvents); an inline copy would need the same wildcard on log streams.',
      },
      {
        id: `AwsSolutions-IAM4[Policy::${MANAGED_POLICY_PREFIX}AWSLambdaVPCAccessExecutionRole]`,
        reason:
          'AWSLambdaVPCAccessExecutionRole is the AWS-maintained policy Lambda requires to attach the function to ' +
          'the VPC (create/describe/delete its network interfaces); EC2 does not scope these actions to one function.',
      },
    );
  }
  if (runtime.name === lambda.Runtime.NODEJS_22_X.name) {
    Validations.of(fn).acknowledge({
      id: 'AwsSolutions-L1',
      reason:
        'nodejs22.x is a supported Lambda runtime (deprecation scheduled 2027-04-30) and the one the worker bundle ' +
        'targets (esbuild target node22); moving to nodejs24.x is the `runtime` prop, not a code change.',
    });
  }
}

interface DatabaseTarget {
  hostname: string;
  port: number;
  connections: ec2.IConnectable['connections'][];
  secret?: secretsmanager.ISecret;
}

function describeDatabase(db: MigrationWorkerProps['database']): DatabaseTarget {
  const attached = (db as { secret?: secretsmanager.ISecret }).secret;
  if ('instanceEndpoint' in db) {
    return {
      hostname: db.instanceEndpoint.hostname,
      port: db.instanceEndpoint.port,
      connections: [db.connections],
      ...(attached ? { secret: attached } : {}),
    };
  }
  if ('clusterEndpoint' in db) {
    return {
      hostname: db.clusterEndpoint.hostname,
      port: db.clusterEndpoint.port,
      connections: [db.connections],
      ...(attached ? { secret: attached } : {}),
    };
  }
  return {
    hostname: db.hostname,
    port: db.port,
    connections: (db.securityGroups ?? []).map((sg) => sg.connections),
  };
}

function validateTimeout(timeout: Duration): void {
  if (timeout.isUnresolved()) return;
  const seconds = timeout.toSeconds({ integral: false });
  if (!(seconds >= 1 && seconds <= MAX_TIMEOUT_SECONDS)) {
    throw new MigrateError(
      ErrorCode.UsageError,
      `MigrationWorker timeout is ${seconds} s; Lambda allows 1 to ${MAX_TIMEOUT_SECONDS} s.`,
      `Pass a timeout of at most Duration.seconds(${MAX_TIMEOUT_SECONDS}); split long migrations into batches.`,
    );
  }
}

function validateMemory(memorySize: number): void {
  if (Token.isUnresolved(memorySize)) return;
  if (!Number.isInteger(memorySize) || memorySize < 128 || memorySize > 10_240) {
    throw new MigrateError(
      ErrorCode.UsageError,
      `MigrationWorker memorySize is ${memorySize} MB; Lambda allows 128 to 10240 MB.`,
      'Pass a whole number of megabytes between 128 and 10240.',
    );
  }
}

function validateRuntime(runtime: lambda.Runtime): void {
  const match = /^nodejs(\d+)\.x$/.exec(runtime.name);
  if (!match || Number(match[1]) < 22) {
    throw new MigrateError(
      ErrorCode.UsageError,
      `MigrationWorker runtime ${runtime.name} is not supported.`,
      'Use lambda.Runtime.NODEJS_22_X or a newer Node.js runtime (nodejs20.x is deprecated).',
    );
  }
}
