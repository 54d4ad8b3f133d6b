/**
 * `--protocol`: which worker protocol the CLI speaks. `vpc-migrate` (the default) is our worker;
 * `run-sql` a plain worker that runs one SQL statement per call and returns a count. The flags
 * themselves are declared in commands/flags.ts.
 */
import { ErrorCode, MigrateError } from '../../lambda/contract/index.js';
import type { Values } from '../commands/flags.js';
import type { Worker, WorkerTarget } from '../core/worker-client.js';
import { connectRunSqlWorker, type RunSqlWorkerOptions } from './run-sql-worker.js';
import { parsePayloadTemplate } from './transport.js';

/** The protocol `--protocol` names; run-sql flags without `--protocol run-sql` are a usage error. */
export function protocolFlag(values: Values): 'vpc-migrate' | 'run-sql' {
  const protocol = typeof values.protocol === 'string' ? values.protocol : 'vpc-migrate';
  const compatFlags = (['payload-template', 'error-path', 'count-path'] as const).filter(
    (f) => values[f] !== undefined,
  );
  if (protocol === 'vpc-migrate') {
    if (compatFlags.length > 0) {
      throw new MigrateError(
        ErrorCode.UsageError,
        `--${compatFlags[0]} only applies to --protocol run-sql.`,
        'Add --protocol run-sql, or drop the flag.',
      );
    }
    return protocol;
  }
  if (protocol !== 'run-sql') {
    throw new MigrateError(
      ErrorCode.UsageError,
      `Unknown --protocol ${protocol}.`,
      'Use --protocol vpc-migrate (our worker, the default) or --protocol run-sql.',
    );
  }
  return protocol;
}

/** A plain run-sql worker; `notify` hears, before anything runs, that this mode gives up guarantees. */
export function connectRunSql(values: Values, target: WorkerTarget, notify?: (line: string) => void): Worker {
  const options: RunSqlWorkerOptions = {};
  if (typeof values['payload-template'] === 'string') options.payloadTemplate = values['payload-template'];
  if (typeof values['error-path'] === 'string') options.errorPath = values['error-path'];
  if (typeof values['count-path'] === 'string') options.countPath = values['count-path'];
  parsePayloadTemplate(options.payloadTemplate); // a bad template is refused before anything is sent
  notify?.(
    `run-sql compatibility mode (${target.functionName}): ` +
      `no lock is held between calls and only transactional ` +
      `files are atomic with their ledger row; see the warnings ` +
      `in the report and the README (Compatibility mode).`,
  );
  return connectRunSqlWorker(target, options);
}
