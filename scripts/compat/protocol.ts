/**
 * `--protocol`: which worker protocol the CLI speaks. `vpc-migrate` (the default) is our worker;
 * `run-sql` a plain worker that runs one SQL statement per call and returns a count.
 */
import { ErrorCode, MigrateError } from '../../lambda/contract/index.js';
import { connectWorker, type Worker, type WorkerTarget } from '../invoke.js';
import { connectRunSqlWorker, type RunSqlWorkerOptions } from './run-sql-worker.js';
import { parsePayloadTemplate } from './transport.js';

export const PROTOCOL_OPTIONS = {
  protocol: { type: 'string' },
  'payload-template': { type: 'string' },
  'error-path': { type: 'string' },
  'count-path': { type: 'string' },
} as const;

export const PROTOCOL_HELP = `Worker protocol:
  --protocol P            vpc-migrate (default: our worker) or run-sql (an existing worker that runs
                          one SQL statement per call and returns only a row count; see README, Compatibility mode)
  --payload-template JSON run-sql event with "{{sql}}" (default {"action":"run-sql","sql":"{{sql}}"})
  --error-path PATH       run-sql: where a failure sits in a non-error answer (default: Lambda FunctionError/errorMessage)
  --count-path PATH       run-sql: where the row count sits in the answer (default count)`;

type Values = Record<string, string | boolean | string[] | undefined>;

/**
 * The worker for the chosen protocol; run-sql flags without `--protocol run-sql` are a usage
 * error. `notify` hears, before anything runs, that run-sql mode gives up guarantees.
 */
export function connectForProtocol(values: Values, target: WorkerTarget, notify?: (line: string) => void): Worker {
  const protocol = typeof values.protocol === 'string' ? values.protocol : 'vpc-migrate';
  const compatFlags = (['payload-template', 'error-path', 'count-path'] as const).filter((f) => values[f] !== undefined);
  if (protocol === 'vpc-migrate') {
    if (compatFlags.length > 0) {
      throw new MigrateError(ErrorCode.UsageError, `--${compatFlags[0]} only applies to --protocol run-sql.`, 'Add --protocol run-sql, or drop the flag.');
    }
    return connectWorker(target);
  }
  if (protocol !== 'run-sql') {
    throw new MigrateError(ErrorCode.UsageError, `Unknown --protocol ${protocol}.`, 'Use --protocol vpc-migrate (our worker, the default) or --protocol run-sql.');
  }
  const options: RunSqlWorkerOptions = {};
  if (typeof values['payload-template'] === 'string') options.payloadTemplate = values['payload-template'];
  if (typeof values['error-path'] === 'string') options.errorPath = values['error-path'];
  if (typeof values['count-path'] === 'string') options.countPath = values['count-path'];
  parsePayloadTemplate(options.payloadTemplate); // a bad template is refused before anything is sent
  notify?.(`run-sql compatibility mode (${target.functionName}): no lock is held between calls and only transactional files are atomic with their ledger row; see the warnings in the report and the README (Compatibility mode).`);
  return connectRunSqlWorker(target, options);
}
