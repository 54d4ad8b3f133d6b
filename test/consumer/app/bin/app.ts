// A team's own CDK app: the VPC, the database and its KMS-encrypted secret already exist (created
// elsewhere, imported here by attributes, so synth needs no AWS account); vpc-migrate's worker is
// added next to the database.
import { App, CfnOutput, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as rds from 'aws-cdk-lib/aws-rds';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { MigrationWorker } from 'vpc-migrate/cdk';

const app = new App();
const stack = new Stack(app, 'ApiDatabaseMigrations', { env: { account: '123456789012', region: 'eu-west-1' } });

const vpc = ec2.Vpc.fromVpcAttributes(stack, 'Vpc', {
  vpcId: 'vpc-0a1b2c3d4e5f60718',
  availabilityZones: ['eu-west-1a', 'eu-west-1b'],
  privateSubnetIds: ['subnet-0aaaaaaaaaaaaaaa1', 'subnet-0bbbbbbbbbbbbbbb2'],
  privateSubnetRouteTableIds: ['rtb-0aaaaaaaaaaaaaaa1', 'rtb-0bbbbbbbbbbbbbbb2'],
});
const databaseSecurityGroup = ec2.SecurityGroup.fromSecurityGroupId(
  stack,
  'DatabaseSecurityGroup',
  'sg-0123456789abcdef0',
);
const database = rds.DatabaseInstance.fromDatabaseInstanceAttributes(stack, 'Database', {
  instanceIdentifier: 'api-db',
  instanceEndpointAddress: 'api-db.abcdefghijkl.eu-west-1.rds.amazonaws.com',
  port: 5432,
  securityGroups: [databaseSecurityGroup],
});
const secretKey = kms.Key.fromKeyArn(
  stack,
  'SecretKey',
  'arn:aws:kms:eu-west-1:123456789012:key/11111111-2222-3333-4444-555555555555',
);
const secret = secretsmanager.Secret.fromSecretAttributes(stack, 'DatabaseSecret', {
  secretCompleteArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:api-db-credentials-AbCdEf',
  encryptionKey: secretKey,
});

const worker = new MigrationWorker(stack, 'Migrations', { vpc, database, secret, databaseName: 'api' });
new CfnOutput(stack, 'WorkerFunctionName', { value: worker.fn.functionName });
new CfnOutput(stack, 'ReaderFunctionName', { value: worker.readerFn!.functionName });

// CI migrates; on-call engineers query (status, read-only sql) and can neither write nor migrate.
worker.grantMigrate(iam.Role.fromRoleName(stack, 'CiRole', 'api-ci-deploy'));
worker.grantQuery(iam.Role.fromRoleName(stack, 'OnCallRole', 'api-on-call'));

app.synth();
