/**
 * The worker's logger: AWS Lambda Powertools' Logger, so its lines are what Lambda users expect
 * (one JSON object per line with `level`, `message`, `timestamp`, `service`, and after
 * `addContext` the request id, function and `cold_start`; level from POWERTOOLS_LOG_LEVEL, or
 * AWS_LAMBDA_LOG_LEVEL when the function sets one). Every string it writes passes through
 * `redact` first, so a pg error echoing a connection string logs it without the password.
 */
import { Logger, type LogItem } from '@aws-lambda-powertools/logger';
import type { ConstructorOptions, LogLevel } from '@aws-lambda-powertools/logger/types';
import { redact } from './contract/index.js';

export type { LogLevel };
export type { Logger };

/** The service name when neither the caller nor POWERTOOLS_SERVICE_NAME gives one. */
export const DEFAULT_SERVICE_NAME = 'vpc-migrate-worker';

type Sink = (line: string) => void;

/** A field named like a password is masked whole, whatever its value looks like. */
const SECRET_KEY = /^(password|passwd|pwd)$/i;

/** Runs on every key/value Powertools serialises (error fields included), before its own rules. */
function redactValue(key: string, value: unknown): unknown {
  if (typeof value !== 'string') return value;
  return SECRET_KEY.test(key) ? '***' : redact(value);
}

/**
 * Powertools' Logger, writing to `sink` when one is given: hosts other than Lambda's runtime
 * (the local endpoint, tests) keep each worker's lines apart. `createLogger` and `printLog` are
 * the extension points Powertools documents for subclasses; children (`createChild`) keep the sink.
 */
class WorkerLogger extends Logger {
  // Not a #private field: Powertools may print while its constructor runs, before this is set.
  private sink: Sink | undefined;

  constructor(options: ConstructorOptions, sink: Sink | undefined) {
    super(options);
    this.sink = sink;
  }

  /** Whether the invocation last given to `addContext` was the environment's first. */
  private coldStartSeen = false;

  protected override getColdStart(): boolean {
    this.coldStartSeen = super.getColdStart();
    return this.coldStartSeen;
  }

  protected override createLogger(options: ConstructorOptions = {}): Logger {
    const child = new WorkerLogger(options, this.sink);
    // createChild hands the child this invocation's context, and the child (a new Utility) would
    // call it a cold start every time: it takes its parent's answer instead.
    child.coldStart = this.coldStartSeen;
    return child;
  }

  protected override printLog(logLevel: number, log: LogItem): void {
    const sink = this.sink;
    if (!sink) {
      super.printLog(logLevel, log);
      return;
    }
    log.prepareForPrint();
    sink(JSON.stringify(log.getAttributes(), this.getJsonReplacer()));
  }
}

/**
 * The worker's logger. `keys.service` names the service (else POWERTOOLS_SERVICE_NAME, else
 * `vpc-migrate-worker`), other keys go on every line; `level` overrides POWERTOOLS_LOG_LEVEL.
 * Without `sink` lines go to stdout, where Lambda sends them to CloudWatch.
 */
export function createLogger(keys: Record<string, unknown> = {}, sink?: Sink, level?: LogLevel): Logger {
  const { service, ...persistentKeys } = keys;
  const options: ConstructorOptions = {
    serviceName: typeof service === 'string' ? service : (process.env.POWERTOOLS_SERVICE_NAME ?? DEFAULT_SERVICE_NAME),
    persistentKeys,
    jsonReplacerFn: redactValue,
  };
  if (level !== undefined) options.logLevel = level;
  return new WorkerLogger(options, sink);
}
