// The same construct from an ES module CDK app: `import` takes vpc-migrate/cdk's ESM build.
import { App, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Template } from 'aws-cdk-lib/assertions';
import { MigrationWorker } from 'vpc-migrate/cdk';

const app = new App();
const stack = new Stack(app, 'EsmApp', { env: { account: '123456789012', region: 'eu-west-1' } });
const vpc = ec2.Vpc.fromVpcAttributes(stack, 'Vpc', {
  vpcId: 'vpc-0a1b2c3d4e5f60718',
  availabilityZones: ['eu-west-1a'],
  privateSubnetIds: ['subnet-0aaaaaaaaaaaaaaa1'],
  privateSubnetRouteTableIds: ['rtb-0aaaaaaaaaaaaaaa1'],
});
const secret = secretsmanager.Secret.fromSecretCompleteArn(
  stack,
  'S',
  'arn:aws:secretsmanager:eu-west-1:123456789012:secret:db-AbCdEf',
);
new MigrationWorker(stack, 'Migrations', { vpc, secret, database: { hostname: 'db.internal', port: 5432 } });
const functions = Object.values(
  Template.fromStack(stack).findResources('AWS::Lambda::Function', { Properties: { Handler: 'index.handler' } }),
);
const env = (f) => f.Properties.Environment.Variables;
const migrators = functions.filter((f) => 'DB_SECRET_ARN' in env(f));
const readers = functions.filter((f) => env(f).VPC_MIGRATE_MODE === 'reader' && !('DB_SECRET_ARN' in env(f)));
if (functions.length !== 2 || migrators.length !== 1 || readers.length !== 1) {
  throw new Error(
    `expected the migrator and the reader function from ` +
      `the ESM build, found ${functions.length} (${migrators.length} ` +
      `migrator, ${readers.length} reader)`,
  );
}
console.log('esm: MigrationWorker (migrator + reader) synthesised from the ESM build');
