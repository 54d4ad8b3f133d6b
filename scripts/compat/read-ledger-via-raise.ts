/**
 * Reading `_prisma_migrations` through a worker that returns no rows.
 *
 * The technique: a `DO` block reads the ledger and the server facts, encodes them as JSON in
 * base64 and RAISEs them; the worker reports the "error" and we decode it (scripts/compat/sql.ts).
 * What else was possible and why not:
 * - `INSERT … SELECT` into a temporary table: the next call may run on another connection or
 *   after the transaction ended; and it would still return no rows.
 * - The count channel (`SELECT 1 FROM generate_series(1, n)` returns n): one integer per call,
 *   an 800-row ledger would need tens of thousands of calls.
 * The cost: every read is a failed invocation in the worker's metrics and logs, and the answer
 * is as large as the ledger page (logs are shortened as our worker shortens them), so it is read
 * in pages that shrink when the worker cuts long messages. Rows are read in a stable order and
 * every page carries a fingerprint of the whole ledger, so a ledger changed between two pages
 * (a concurrent deploy) is read again instead of being stitched together.
 */
import * as v from 'valibot';
import {
  ErrorCode,
  LEDGER_REGCLASS_SQL,
  literal,
  MAX_LOG_CHARS,
  type LedgerResult,
  type LedgerRow,
  LockHolderSchema,
  MigrateError,
  migrationLockRowSql,
  PRISMA_LEDGER_IN_SESSION_SCHEMA,
  shortenedLogsSql,
  USER_TABLE_COUNT_SQL,
} from '../../lambda/contract/index.js';
import { decodeAnswer, doBlock, isoUtc, newNonce, raiseAnswer } from './sql.js';
import type { RunSqlTransport } from './transport.js';

export const DEFAULT_PAGE_BYTES = 512 * 1024;
const MIN_PAGE_BYTES = 4 * 1024;
const MIN_LOG_CHARS = 200;
const MAX_RESTARTS = 3;

/**
 * Total, fingerprint and the page of rows after `$1` whose JSON fits `$2` bytes (at least one
 * row), in a stable order, each row with the columns of lambda/prisma/prisma-ledger.ts readLedger and its
 * logs shortened to `logChars` as that function does.
 */
function pageQuery(logChars: number): string {
  const rows = `SELECT row_number() OVER (ORDER BY started_at, migration_name, id) AS n,
         json_build_array(id, checksum, ${isoUtc('finished_at')}, migration_name,
           ${shortenedLogsSql(logChars)},
           ${isoUtc('rolled_back_at')}, ${isoUtc('started_at')}, applied_steps_count) AS j
    FROM ${PRISMA_LEDGER_IN_SESSION_SCHEMA}`;
  return `WITH r AS (${rows}),
  p AS (SELECT n, j, sum(octet_length(j::text) + 1) OVER (ORDER BY n) AS cum FROM r WHERE n > $1)
SELECT (SELECT count(*)::int FROM r),
       (SELECT md5(coalesce(string_agg(j::text, ',' ORDER BY n), '')) FROM r),
       coalesce((SELECT json_agg(j ORDER BY n) FROM p WHERE cum <= $2 OR n = $1 + 1), '[]'::json)`;
}

/** The facts lambda/ledger-state.ts returns, with the same queries (lambda/lock.ts, lambda/prisma/prisma-ledger.ts). */
const FACTS_JSON = `json_build_object(
    'version', current_setting('server_version'),
    'database', current_database(),
    'schema', current_schema(),
    'user', current_user,
    'userTableCount', ${USER_TABLE_COUNT_SQL},
    'lockHolder', (SELECT json_build_object('pid', a.pid, 'application', a.application_name, 'user', a.usename,
          'since', ${isoUtc('coalesce(a.xact_start, a.backend_start)')}, 'query', left(a.query, 200))
        FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
        WHERE l.granted AND ${migrationLockRowSql()}
        LIMIT 1))`;

/** One page of the ledger as ledgerPageSql's DO block RAISEs it; rows as tuples, in the ledger's column order. */
const PageAnswerSchema = v.object({
  facts: v.object({
    version: v.string(),
    database: v.string(),
    schema: v.string(),
    user: v.string(),
    userTableCount: v.number(),
    lockHolder: v.nullable(LockHolderSchema),
  }),
  tableExists: v.boolean(),
  total: v.number(),
  fingerprint: v.nullable(v.string()),
  rows: v.array(
    // id, checksum, finished_at, migration_name, logs, rolled_back_at, started_at, applied_steps_count
    v.tuple([
      v.string(),
      v.string(),
      v.nullable(v.string()),
      v.string(),
      v.nullable(v.string()),
      v.nullable(v.string()),
      v.string(),
      v.number(),
    ]),
  ),
});
type PageAnswer = v.InferOutput<typeof PageAnswerSchema>;

/** SQL of one ledger page: a DO block that RAISEs the answer. Exported for tests. */
export function ledgerPageSql(offset: number, pageBytes: number, nonce: string, logChars = MAX_LOG_CHARS): string {
  const answer = `json_build_object('facts', ${FACTS_JSON}, 'tableExists', vpcm_table IS NOT NULL,
      'total', vpcm_total, 'fingerprint', vpcm_fingerprint, 'rows', vpcm_rows)`;
  return doBlock(
    [
      `IF vpcm_table IS NOT NULL THEN`,
      `  EXECUTE ${literal(pageQuery(logChars))} INTO vpcm_total, ` +
        `vpcm_fingerprint, vpcm_rows USING ${offset}, ${pageBytes};`,
      `END IF;`,
      ...raiseAnswer(answer, nonce),
    ],
    [
      `vpcm_table regclass := ${LEDGER_REGCLASS_SQL};`,
      `vpcm_total int := 0;`,
      `vpcm_fingerprint text;`,
      `vpcm_rows json := '[]';`,
      `vpcm_b64 text;`,
    ],
  );
}

/** Sends `sql` (which must RAISE an answer for `nonce`), decodes the answer and checks it against `schema`. */
export async function ask<S extends v.GenericSchema>(
  transport: RunSqlTransport,
  sql: string,
  nonce: string,
  what: string,
  schema: S,
): Promise<{ kind: 'answer'; value: v.InferOutput<S> } | { kind: 'damaged'; reason: string }> {
  const outcome = await transport.call(sql, { writes: false });
  if (outcome.ok) {
    throw new MigrateError(
      ErrorCode.ProtocolMismatch,
      `The run-sql worker ran the ${what} query without reporting ` +
        `its error: it hides database errors, so nothing can ` +
        `be read through it.`,
      'Point --error-path at where the worker puts error messages, or deploy the vpc-migrate worker.',
    );
  }
  const decoded = decodeAnswer(outcome.failure.text, nonce);
  if (decoded.kind === 'none') {
    if (outcome.failure.errorType === 'Function.ResponseSizeTooLarge')
      return { kind: 'damaged', reason: 'the answer exceeded the response limit' };
    throw new MigrateError(
      ErrorCode.ProtocolMismatch,
      `Reading the ${what} through run-sql failed: ${outcome.failure.message.slice(0, 500)}`,
      'The worker must run a DO block and report its error ' +
        'message (FunctionError/errorMessage or --error-path). ' +
        'Check that --function names a run-sql worker and that ' +
        '--payload-template matches its event.',
      { details: { code: outcome.failure.code } },
    );
  }
  if (decoded.kind === 'damaged') return decoded;
  const checked = v.safeParse(schema, decoded.value);
  if (checked.success) return { kind: 'answer', value: checked.output };
  const [issue] = checked.issues;
  const problem = `${v.getDotPath(issue) ?? 'answer'}: ${issue.message}`;
  throw new MigrateError(
    ErrorCode.ProtocolMismatch,
    `The ${what} answer read through run-sql has an unexpected shape (${problem}).`,
    'The worker must return error messages unchanged; deploy the vpc-migrate worker otherwise.',
  );
}

/**
 * The ledger and server facts, as our worker's `ledger` action returns them.
 * @param pageBytes JSON bytes of rows per answer; halved while the worker damages answers.
 */
export async function readLedgerThroughRunSql(
  transport: RunSqlTransport,
  pageBytes = DEFAULT_PAGE_BYTES,
): Promise<LedgerResult> {
  let size = pageBytes;
  let logChars = MAX_LOG_CHARS;
  for (let attempt = 0; ; attempt++) {
    const rows: LedgerRow[] = [];
    let first: PageAnswer | undefined;
    let consistent = true;
    while (!first || rows.length < first.total) {
      const nonce = newNonce();
      const sql = ledgerPageSql(rows.length, size, nonce, logChars);
      const reply = await ask(transport, sql, nonce, 'ledger', PageAnswerSchema);
      if (reply.kind === 'damaged') {
        if (size > MIN_PAGE_BYTES) {
          size = Math.max(MIN_PAGE_BYTES, Math.floor(size / 2));
        } else if (logChars > MIN_LOG_CHARS) {
          // One row is too long for what the worker passes on: shorten logs further (only shown to people).
          logChars = Math.max(MIN_LOG_CHARS, Math.floor(logChars / 4));
        } else {
          throw new MigrateError(
            ErrorCode.ProtocolMismatch,
            `The run-sql worker damages even small answers (${reply.reason}).`,
            'The worker must return error messages whole (it may ' +
              'be cutting them short); deploy the vpc-migrate worker ' +
              'otherwise.',
          );
        }
        continue;
      }
      const page = reply.value;
      if (first && page.fingerprint !== first.fingerprint) {
        consistent = false;
        break;
      }
      first ??= page;
      if (page.rows.length === 0) break;
      for (const [id, checksum, finished, name, logs, rolledBack, started, steps] of page.rows) {
        rows.push({
          id,
          checksum,
          finished_at: finished,
          migration_name: name,
          logs,
          rolled_back_at: rolledBack,
          started_at: started,
          applied_steps_count: steps,
        });
      }
    }
    if (!consistent && attempt < MAX_RESTARTS) continue;
    if (!first || !consistent) {
      throw new MigrateError(
        ErrorCode.ProtocolMismatch,
        'The ledger kept changing while it was read page by page.',
        'Another deploy is probably running: wait for it, then run the command again.',
      );
    }
    const { userTableCount, lockHolder, ...facts } = first.facts;
    return { server: { ...facts, lockHolder }, tableExists: first.tableExists, userTableCount, rows };
  }
}
