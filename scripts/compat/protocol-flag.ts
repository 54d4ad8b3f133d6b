/**
 * `--protocol`, read apart from the run-sql client (compat/protocol.ts) so that the command line
 * checks it without loading that client.
 */
import { ErrorCode, MigrateError } from '../../lambda/contract/index.js';
import type { Values } from '../commands/flags.js';

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
  if (values.database !== undefined) {
    throw new MigrateError(
      ErrorCode.UsageError,
      "--database selects one of our worker's named databases; a run-sql worker has no such selector.",
      'Drop --database, or name a run-sql worker deployed for that database.',
    );
  }
  return protocol;
}
