import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { VpcMigrateStack } from './stack.js';
const app = new App({ outdir: '/tmp/w3/probe/out2' });
const stack = new VpcMigrateStack(app, 'Probe');
const t = Template.fromStack(stack).toJSON();
const pick = (type: string) => Object.fromEntries(Object.entries(t.Resources).filter(([, r]: any) => r.Type === type));
console.log(JSON.stringify({
  sg: pick('AWS::EC2::SecurityGroup'), ing: pick('AWS::EC2::SecurityGroupIngress'), eg: pick('AWS::EC2::SecurityGroupEgress'),
  pol: pick('AWS::IAM::Policy'), fn: pick('AWS::Lambda::Function'), ep: pick('AWS::EC2::VPCEndpoint'), db: pick('AWS::RDS::DBInstance'), out: t.Outputs,
  types: [...new Set(Object.values(t.Resources).map((r: any) => r.Type))],
}, null, 1));
