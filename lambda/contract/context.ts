/** The part of the Lambda context object the worker uses (the local endpoint provides the same). */
export interface LambdaContext {
  awsRequestId: string;
  functionName: string;
  getRemainingTimeInMillis(): number;
}

export type WorkerHandler = (event: unknown, context: LambdaContext) => Promise<unknown>;
