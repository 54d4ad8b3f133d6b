/**
 * The reader login's own secret (`vpc_migrate_reader`, issue 23): created beside the worker in
 * RDS's single-user rotation format and rotated by Secrets Manager's hosted PostgreSQL
 * single-user rotation, which logs in as the reader and changes its own password.
 */
import { Duration, Stack, Token } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { DEFAULT_READER_ROLE } from '../lambda/contract/index.js';

/**
 * Characters a generated password leaves out: those that break a connection string or SQL
 * quoting. The same set `rds.DatabaseSecret` and the hosted rotation use by default.
 */
export const READER_PASSWORD_EXCLUDE_CHARACTERS = ' %+~`#$&*()|[]{}:;<>?!\'/@"\\';

/** How often the reader's password is rotated unless `readerSecretRotation` says otherwise. */
export const DEFAULT_READER_ROTATION = Duration.days(30);

export interface ReaderSecretProps {
  readonly vpc: ec2.IVpc;
  /** Where the rotation function runs: the worker's subnets (a route to the database and to Secrets Manager). */
  readonly vpcSubnets?: ec2.SubnetSelection;
  /** The database endpoint, written into the secret for the rotation function. */
  readonly hostname: string;
  readonly port: number;
  /** Written as `dbname` when known: the reader connects there when the function has no DB_NAME. */
  readonly databaseName?: string;
  /** `false`: no rotation. */
  readonly rotation: Duration | false;
  /** The rotation function's security group egress (as the worker's). */
  readonly allowAllOutbound: boolean;
}

export class ReaderSecret extends Construct {
  readonly secret: secretsmanager.Secret;
  /** The rotation schedule (absent with `rotation: false`). */
  readonly rotation?: secretsmanager.RotationSchedule;
  /**
   * The hosted rotation function's own security group: it must reach the database port and
   * Secrets Manager, and is admitted to the database on its own, so the rules say who it is.
   */
  readonly rotationSecurityGroup?: ec2.SecurityGroup;

  constructor(scope: Construct, id: string, props: ReaderSecretProps) {
    super(scope, id);
    const port = Token.isUnresolved(props.port) ? Token.asString(props.port) : String(props.port);
    this.secret = new secretsmanager.Secret(this, 'Secret', {
      description: `vpc-migrate reader login (${DEFAULT_READER_ROLE}): read-only run-sql and status`,
      generateSecretString: {
        // RDS single-user rotation format; the rotation function reads host/port/dbname from here.
        secretStringTemplate: Stack.of(this).toJsonString({
          engine: 'postgres',
          username: DEFAULT_READER_ROLE,
          host: props.hostname,
          port,
          ...(props.databaseName === undefined ? {} : { dbname: props.databaseName }),
        }),
        generateStringKey: 'password',
        excludeCharacters: READER_PASSWORD_EXCLUDE_CHARACTERS,
        passwordLength: 32,
      },
    });

    if (props.rotation === false) return;
    this.rotationSecurityGroup = new ec2.SecurityGroup(this, 'RotationSecurityGroup', {
      vpc: props.vpc,
      description: 'vpc-migrate reader secret rotation',
      allowAllOutbound: props.allowAllOutbound,
    });
    this.rotation = this.secret.addRotationSchedule('Rotation', {
      automaticallyAfter: props.rotation,
      hostedRotation: secretsmanager.HostedRotation.postgreSqlSingleUser({
        vpc: props.vpc,
        ...(props.vpcSubnets === undefined ? {} : { vpcSubnets: props.vpcSubnets }),
        securityGroups: [this.rotationSecurityGroup],
        excludeCharacters: READER_PASSWORD_EXCLUDE_CHARACTERS,
      }),
    });
  }
}
