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
const secret = secretsmanager.Secret.fromSecretCompleteArn(stack, 'S', 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:db-AbCdEf');
new MigrationWorker(stack, 'Migrations', { vpc, secret, database: { hostname: 'db.internal', port: 5432 } });
const functions = Template.fromStack(stack).findResources('AWS::Lambda::Function', { Properties: { Handler: 'index.handler' } });
if (Object.keys(functions).length !== 1) throw new Error(`expected the worker function from the ESM build, found ${Object.keys(functions).length}`);
console.log('esm: MigrationWorker synthesised from the ESM build');
