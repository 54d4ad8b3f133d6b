/**
 * `--protocol`: which worker protocol the CLI speaks. `vpc-migrate` (the default) is our worker;
 * `run-sql` a plain worker that runs one SQL statement per call and returns a count. The flags
 * themselves are declared in commands/flags.ts.
 */
import type { Values } from '../commands/flags.js';
import type { Worker, WorkerTarget } from '../core/worker-client.js';
import { connectRunSqlWorker, type RunSqlWorkerOptions } from './run-sql-worker.js';
import { parsePayloadTemplate } from './transport.js';

export { protocolFlag } from './protocol-flag.js';

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
