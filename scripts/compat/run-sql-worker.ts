/**
 * `--protocol run-sql`: the {@link Worker} interface over a plain `run-sql` worker that answers
 * only a count of affected rows. deploy, status and their reports run unchanged on it:
 * `ledger()` reads `_prisma_migrations` through RAISEd answers (./ledger.ts), `apply()` runs
 * each migration as guarded DO blocks (./apply.ts). What it cannot guarantee is listed in
 * {@link RUN_SQL_LIMITATIONS}; deploy prints every line as a warning.
 *
 * @example
 * const worker = connectRunSqlWorker({ functionName: 'legacy-sql-runner' });
 * const report = await deploy(worker, { migrationsDir: 'prisma/migrations' });
 */
import { randomUUID } from 'node:crypto';
import * as v from 'valibot';
import { ErrorCode, literal, MigrateError, type RunSqlEvent, type RunSqlResult } from '../../lambda/contract/index.js';
import type { Worker, WorkerTarget } from '../core/worker-client.js';
import { applyThroughRunSql } from './apply.js';
import { ask, DEFAULT_PAGE_BYTES, readLedgerThroughRunSql } from './read-ledger-via-raise.js';
import { doBlock, newNonce, raiseAnswer } from './sql.js';
import { lambdaTransport, type RunSqlProtocolOptions, type RunSqlTransport } from './transport.js';

/**
 * What run-sql mode cannot guarantee, and how the vpc-migrate worker removes each gap. The same
 * text is in the README (Compatibility mode).
 */
export const RUN_SQL_LIMITATIONS: readonly string[] = [
  'run-sql compatibility mode: the worker takes one SQL ' +
    'statement per call and returns only a row count. Our ' +
    'worker (`pnpm cdk deploy`, then drop --protocol) removes ' +
    'every gap below.',
  "No lock across calls: each call takes Prisma's advisory " +
    'lock only for its own transaction, and migrations that ' +
    'write a ledger row re-read the ledger first, so a concurrent ' +
    'deploy makes a call fail fast instead of applying a ' +
    'migration twice; but between calls another deployer ' +
    'can run, and CONCURRENTLY statements (which cannot ' +
    'run in a transaction) run without the lock. Our worker ' +
    'holds the lock for the whole batch.',
  'Atomic only per call: a transactional migration and ' +
    'its ledger row commit together (one DO block); a file ' +
    'with CONCURRENTLY statements or its own BEGIN/COMMIT ' +
    'runs Prisma-style (row written before, completed after, ' +
    'one call per statement or block), and a crash between ' +
    'calls leaves an unfinished row to resolve. Our worker ' +
    'does the same, but on one connection under one lock.',
  'No time budget: statement_timeout cannot be tied to ' +
    "the worker's remaining time (a SET inside a DO block " +
    'does not reach the running statement), so a statement ' +
    'that outlives the function is cut off by Lambda and ' +
    "the call's outcome is unknown. Our worker lowers statement_timeout " +
    'to fit.',
  'Session state: each call may use a different pooled ' +
    "connection; a file's SET is made SET LOCAL when it " +
    'runs inside a DO block, but a SET sent on its own stays ' +
    'on that connection. Our worker resets the session between ' +
    'migrations.',
  'Reads are errors: the ledger comes back as a RAISEd ' +
    'message, so every status or deploy adds failed invocations ' +
    "to the worker's error metrics and logs.",
];

export interface RunSqlWorkerOptions extends RunSqlProtocolOptions {
  /** JSON bytes of ledger rows per read (halved automatically while the worker cuts answers short). */
  ledgerPageBytes?: number;
}

/** The Worker interface over a count-only run-sql function, reached through `@aws-sdk/client-lambda`. */
export function connectRunSqlWorker(target: WorkerTarget, options: RunSqlWorkerOptions = {}): Worker {
  return runSqlWorker(lambdaTransport(target, options), options);
}

/** The Worker interface over any run-sql transport (tests pass their own). */
export function runSqlWorker(transport: RunSqlTransport, options: { ledgerPageBytes?: number } = {}): Worker {
  return {
    target: transport.target,
    get invocations() {
      return transport.invocations;
    },
    limitations: RUN_SQL_LIMITATIONS,
    ledger: () => readLedgerThroughRunSql(transport, options.ledgerPageBytes ?? DEFAULT_PAGE_BYTES),
    apply: (event) => applyThroughRunSql(transport, { ...event, requestId: event.requestId ?? randomUUID() }),
    runSql: (event) => runSqlThrough(transport, event),
    resolve: () => needsOurWorker('resolve'),
    rehearse: () => needsOurWorker('rehearse'),
    backfill: () => needsOurWorker('backfill'),
    baseline: () => needsOurWorker('baseline'),
    drift: () => needsOurWorker('drift'),
    send: (event, opts) => transport.sendRaw(event, opts),
    close: () => transport.close(),
  };
}

/** The operator actions run inside our worker (under its lock, in one transaction): a run-sql worker has none of it. */
async function needsOurWorker(command: string): Promise<never> {
  throw new MigrateError(
    ErrorCode.UsageError,
    `${command} needs the vpc-migrate worker; a run-sql worker (--protocol run-sql) answers only deploy, ` +
      'status and sql.',
    'Deploy the vpc-migrate worker (`pnpm cdk deploy`) and drop --protocol run-sql.',
  );
}

const MAX_READ_BYTES = 4 * 1024 * 1024;

/** A read's rows as the DO block below RAISEs them. */
const QueryAnswerSchema = v.object({ rows: v.array(v.record(v.string(), v.unknown())), truncated: v.boolean() });

/**
 * `sql` through a count-only worker: a write returns its count; a read runs in a READ ONLY
 * transaction inside a DO block that RAISEs the rows (and so also rolls back).
 */
async function runSqlThrough(transport: RunSqlTransport, event: Omit<RunSqlEvent, 'action'>): Promise<RunSqlResult> {
  if (event.params && event.params.length > 0) {
    throw new MigrateError(
      ErrorCode.UsageError,
      'A run-sql worker takes no query parameters.',
      'Inline the values in the SQL, or use the vpc-migrate worker.',
    );
  }
  const started = Date.now();
  if (event.write === true) {
    const outcome = await transport.call(event.sql);
    if (!outcome.ok) throw sqlFailed(outcome.failure);
    return {
      command: '',
      rowCount: outcome.count,
      fields: [],
      rows: [],
      truncated: false,
      notices: [],
      durationMs: Date.now() - started,
    };
  }
  const maxRows = event.maxRows ?? 1000;
  const nonce = newNonce();
  const sql = doBlock(
    [
      `PERFORM set_config('transaction_read_only', 'on', true);`,
      `FOR vpcm_rec IN EXECUTE ${literal(event.sql)} LOOP`,
      `  IF vpcm_n >= ${maxRows} OR vpcm_bytes > ${MAX_READ_BYTES} THEN vpcm_truncated := true; EXIT; END IF;`,
      `  vpcm_parts := vpcm_parts || to_json(vpcm_rec)::text;`,
      `  vpcm_bytes := vpcm_bytes + octet_length(vpcm_parts[array_upper(vpcm_parts, 1)]);`,
      `  vpcm_n := vpcm_n + 1;`,
      `END LOOP;`,
      ...raiseAnswer(
        `json_build_object('rows', ('[' || array_to_string(vpcm_parts, ` +
          `',') || ']')::json, 'truncated', vpcm_truncated)`,
        nonce,
      ),
    ],
    [
      'vpcm_rec record;',
      "vpcm_parts text[] := '{}';",
      'vpcm_n int := 0;',
      'vpcm_bytes bigint := 0;',
      'vpcm_truncated boolean := false;',
      'vpcm_b64 text;',
    ],
  );
  const reply = await ask(transport, sql, nonce, 'query', QueryAnswerSchema).catch((error: unknown) => {
    if (error instanceof MigrateError && error.code === ErrorCode.ProtocolMismatch && error.details?.code) {
      throw new MigrateError(
        ErrorCode.SqlFailed,
        error.message.replace(/^Reading the query through run-sql failed: /, ''),
        'Fix the SQL and run it again.',
        { details: { error: { code: error.details.code } } },
      );
    }
    throw error;
  });
  if (reply.kind !== 'answer')
    throw new MigrateError(
      ErrorCode.ProtocolMismatch,
      `The run-sql worker damaged the answer (${reply.reason}).`,
      'Ask for fewer rows (--max-rows).',
    );
  const rows = reply.value.rows;
  const fields = Object.keys(rows[0] ?? {}).map((name) => ({ name, dataTypeID: 0 }));
  return {
    command: 'SELECT',
    rowCount: rows.length,
    fields,
    rows,
    truncated: reply.value.truncated,
    notices: [],
    durationMs: Date.now() - started,
  };
}

function sqlFailed(f: { code?: string; message: string }): MigrateError {
  return new MigrateError(
    ErrorCode.SqlFailed,
    `The statement failed${f.code ? ` (${f.code})` : ''}: ${f.message}`,
    'Fix the SQL and run it again.',
    { details: { error: { message: f.message, ...(f.code ? { code: f.code } : {}) } } },
  );
}
