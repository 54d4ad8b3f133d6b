/**
 * `vpc-migrate/cdk`: the `MigrationWorker` construct (add the worker to the stack that owns your
 * database) and `VpcMigrateStack` (an example stack that creates a VPC, a database and the
 * worker). The worker's code is prebuilt inside the package.
 */
export {
  MigrationWorker,
  MAX_TIMEOUT_SECONDS,
  RDS_CA_BUNDLE_PATH,
  type DatabaseEndpoint,
  type MigrationWorkerProps,
  type NamedDatabase,
} from './migration-worker.js';
export {
  VpcMigrateStack,
  DATABASE_NAME,
  DB_PORT,
  OUTPUT_FUNCTION_ARN,
  OUTPUT_FUNCTION_NAME,
  OUTPUT_READER_FUNCTION_ARN,
  OUTPUT_READER_FUNCTION_NAME,
  type VpcMigrateStackProps,
} from './stack.js';
export { DEFAULT_READER_ROTATION, READER_PASSWORD_EXCLUDE_CHARACTERS } from './reader-secret.js';
