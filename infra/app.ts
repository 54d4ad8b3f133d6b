/**
 * The CDK app (`cdk.json`: `node --import tsx infra/app.ts`). Environment-agnostic, so `pnpm synth` runs
 * offline with no credentials; the account and region come from the deploying credentials.
 * cdk-nag's AwsSolutions checks run on every synth: a finding stops it.
 *
 *   pnpm synth                                  # offline
 *   pnpm cdk deploy -c stackName=VpcMigrate     # with credentials
 */
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { VpcMigrateStack } from './stack.js';

const DEFAULT_STACK_NAME = 'VpcMigrate';

const app = new App();
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
const stackName: unknown = app.node.tryGetContext('stackName');
new VpcMigrateStack(app, typeof stackName === 'string' && stackName !== '' ? stackName : DEFAULT_STACK_NAME, {
  description: 'vpc-migrate: private PostgreSQL and the migration worker beside it',
});
app.synth();
