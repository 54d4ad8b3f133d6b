/** The local worker's function names, known before it starts (transport/target.ts plans with them). */
export const DEFAULT_FUNCTION_NAME = 'vpc-migrate-local';

/** The reader function beside a local worker, as the CDK stack deploys one. */
export const readerFunctionNameOf = (functionName: string): string => `${functionName}-reader`;
