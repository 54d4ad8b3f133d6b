/**
 * What deploy says after a Prisma migration failed. The failed row stays in `_prisma_migrations`
 * (P3009 until resolved), so the remedy depends on how the file ran and whether that row could
 * be written; failures whose cause is not the SQL (the time budget, a lost connection, the
 * migration lock) get their own message.
 */
import {
  describeBlockers,
  LAMBDA_MAX_TIMEOUT_SECONDS,
  type MigrationResult,
  remedyCommand,
  resolveEither,
} from '../../../lambda/contract/index.js';

/** The remedy for a failure the SQL caused, by execution mode and whether the failure is recorded. */
export function prismaFailureRemedy(failed: MigrationResult): string {
  if (failed.failureRecorded === false) return unrecordedRemedy(failed);
  return failed.mode === 'transactional'
    ? `Nothing of it was applied (it ran in one transaction) ` +
        `and the failure is recorded. Fix the SQL, then ${remedyCommand('resolve', '--rolled-back', failed.name)} ` +
        `and deploy again.`
    : `It ran outside a transaction: ${failed.appliedSteps ?? 0} ` +
        `statement(s) completed. Check the database, then ${resolveEither(failed.name)}.`;
}

/** The remedy when the worker could not write the failed row: there is nothing to resolve. */
function unrecordedRemedy(r: MigrationResult): string {
  if (r.mode === 'transactional')
    return (
      `Nothing of it was applied (it ran in one transaction) ` +
      `and the failure could not be recorded (see the hint), ` +
      `so there is nothing to resolve: fix the cause and deploy ` +
      `again.`
    );
  if (r.mode === 'script')
    return (
      `${r.appliedSteps ?? 0} statement(s) ran (its own committed ` +
      `blocks stay), and the failure could not be recorded ` +
      `(see the hint): its row stays unfinished. Check the ` +
      `database, then ${resolveEither(r.name)}.`
    );
  return (
    `${r.appliedSteps ?? 0} statement(s) completed, and ` +
    `the failure could not be recorded (see the hint): the ` +
    `row still says it was interrupted, so the next deploy ` +
    `resumes after them once the cause is fixed. Run ${remedyCommand('status')} ` +
    `to check.`
  );
}

/** SQLSTATEs (and pg client messages) of a lost database connection: not the SQL's fault. */
const CONNECTION_LOST = /^(57P0[123]|08...)$/;

/**
 * Failures whose cause is not the SQL: the worker's time budget (statement_timeout lowered to
 * the function's remaining time) and a lost connection. They need another message and remedy.
 */
export function failureCause(r: MigrationResult): { message: string; remedy: string } | undefined {
  const e = r.error;
  const done =
    r.mode === 'transactional'
      ? 'Nothing of it was applied (it ran in one transaction)'
      : `It ran outside a transaction; ${r.appliedSteps ?? 0} statement(s) completed`;
  if (r.timeBudgetExhausted) {
    return {
      message:
        `Migration ${r.name} ran out of the worker's time budget: ` +
        `statement_timeout (${r.statementTimeoutMs ?? '?'} ms, ` +
        `the function's remaining time minus a safety margin) ` +
        (`stopped it${e?.line ? ` at migration.sql line ${e.line}` : ''} ` +
          `(57014) before Lambda's function timeout could kill ` +
          `the worker.`),
      remedy:
        r.failureRecorded === false
          ? `${done}; the failure could not be recorded, so no resolve ` +
            `is needed. Raise the function timeout (at most ${LAMBDA_MAX_TIMEOUT_SECONDS} ` +
            `s), or make the migration fit, then deploy again.`
          : `${done} and the failure is recorded. Raise the function ` +
            `timeout (at most ${LAMBDA_MAX_TIMEOUT_SECONDS} s), ` +
            `or make the migration fit (split it, move a long data ` +
            `change to a backfill), ` +
            `then run ${remedyCommand('resolve', '--rolled-back', r.name)} and deploy again.`,
    };
  }
  if (e?.code === '55P03' && /(blocked|began) waiting for the migration lock/.test(e.message)) {
    const cancelled = /began waiting/.test(e.message);
    return {
      message: e.message,
      remedy:
        `${
          cancelled
            ? 'That statement was cancelled (its INVALID index is ' + 'rebuilt on resume)'
            : 'Nothing of that statement ran'
        }; ` +
        (`${r.appliedSteps ?? 0} statement(s) before it are recorded ` +
          `in applied_steps_count. Deploy again once that deploy ` +
          `has finished: it resumes there.`),
    };
  }
  if (e?.code === '55P03') {
    // lock_timeout: the SQL is fine, another session held a lock it needed.
    const where = e.line ? ` at migration.sql line ${e.line}` : '';
    const who = e.blockedBy?.length
      ? `held by ${describeBlockers(e.blockedBy)}`
      : 'held by another session (it was not seen: it may have ' +
        'finished already; pg_locks and pg_stat_activity show ' +
        'who holds locks on the table now)';
    const stop = e.blockedBy?.length ? ` or stop it (\`SELECT pg_terminate_backend(${e.blockedBy[0]!.pid})\`)` : '';
    const retry =
      r.failureRecorded === false
        ? 'deploy again (the failure could not be recorded, so there is nothing to resolve)'
        : r.mode === 'transactional'
          ? `run ${remedyCommand('resolve', '--rolled-back', r.name)} and deploy again`
          : `check the database and run ${resolveEither(r.name)}`;
    return {
      message:
        `Migration ${r.name} waited longer than lock_timeout ` +
        `for a lock${where} (55P03), ${who}.${e.statement ? ` Statement: ${e.statement.split('\n')[0]}` : ''}`,
      remedy:
        `${done}. Wait for the blocking session to finish${stop}, ` +
        `then ${retry}. Raise --lock-timeout if waiting longer ` +
        `is acceptable.`,
    };
  }
  if (e && (CONNECTION_LOST.test(e.code ?? '') || (!e.code && /connection|terminated/i.test(e.message)))) {
    return {
      message:
        `Migration ${r.name} lost its database connection while ` +
        `it ran${e.code ? ` (${e.code})` : ''}: ${e.message}`,
      remedy:
        r.mode === 'transactional'
          ? 'Nothing of it was committed (it ran in one transaction). ' +
            'Deploy again once the database accepts connections: ' +
            'it runs from the start.'
          : r.mode === 'non-transactional'
            ? `${done}, each recorded in applied_steps_count. Deploy ` +
              `again once the database accepts connections: it resumes ` +
              `after the last completed statement.`
            : `${done}. Check the database, then ${resolveEither(r.name)}.`,
    };
  }
  return undefined;
}

/** `"schema"."name"`, each part quoted for PostgreSQL. */
const qualified = (i: { schema: string; name: string }) =>
  [i.schema, i.name].map((p) => `"${p.replaceAll('"', '""')}"`).join('.');

/**
 * A failed `CREATE INDEX CONCURRENTLY` leaves its index behind, INVALID: unused by queries but
 * still maintained on every write, and in the way of the statement's next run ("already
 * exists"). Said first, with the command that drops it (outside a transaction, as it must).
 */
export function withInvalidIndex(
  r: MigrationResult,
  said: { message?: string; remedy: string },
): { message?: string; remedy: string } {
  const left = r.error?.invalidIndex;
  if (!left) return said;
  const drop = remedyCommand('sql', '--write', '--yes', `DROP INDEX CONCURRENTLY IF EXISTS ${qualified(left)}`);
  const base =
    said.message ??
    `Migration ${r.name} failed${r.error?.code ? ` (${r.error.code})` : ''}: ${r.error?.message ?? 'unknown error'}`;
  return {
    message:
      `${base} It left the index ${qualified(left)} INVALID ` +
      `(pg_index.indisvalid = false): queries do not use it, ` +
      `writes still maintain it.`,
    remedy: `First drop the INVALID index: ${drop}. Then: ${said.remedy}`,
  };
}
