/**
 * `apply` expressed as `run-sql` calls to a worker that returns only a count of affected rows
 * (the policy of docs/design.md §3, as far as a call-at-a-time interface allows it).
 *
 * Each call is one statement, so it runs under Prisma's `$executeRawUnsafe` whatever protocol
 * the worker's Prisma uses (its native engine prepares statements and refuses a second one). The
 * statement is a `DO` block wherever PL/pgSQL can carry the SQL:
 * - a transactional migration and its `_prisma_migrations` row run in ONE `DO` block: one
 *   transaction, atomic as with our worker;
 * - every block first takes `pg_try_advisory_xact_lock(72707369)` (Prisma's key) and, where it
 *   writes a ledger row, re-reads the ledger: a concurrent deploy (ours, Prisma's, or another
 *   run-sql one) makes the call fail fast instead of applying a migration twice;
 * - "already exists" is reconciled in two calls: a dry run that runs every statement in its own
 *   subtransaction (a PL/pgSQL exception block, i.e. a savepoint), collects the duplicates and
 *   RAISEs them back (rolling everything back), then the real block, which skips exactly those
 *   and records the row with the skipped statements in `logs`, or refuses if the database
 *   changed in between. The dry run also locates the failing statement of any other error.
 * Statements PostgreSQL refuses in a transaction (CONCURRENTLY, ...) and files with their own
 * BEGIN/COMMIT run Prisma-style: the row first, then one call per statement (per BEGIN…COMMIT
 * block for scripts, each block in one atomic `DO`), then the row completed.
 */
import { randomUUID } from 'node:crypto';
import * as v from 'valibot';
import {
  ALREADY_EXISTS_PLPGSQL,
  type ApplyEvent,
  type ApplyOptions,
  type ApplyResult,
  BatchStop,
  CREATE_LEDGER_SQL,
  type DecodedMigration,
  DEFAULT_LOCK_WAIT_MS,
  describeSqlError,
  ErrorCode,
  failedMigrationsError,
  failedNamesJsonSql,
  inline,
  literal,
  insertLedgerRowSql,
  LEDGER_REGCLASS_SQL,
  ledgerLogFor,
  type LedgerRowUpdate,
  MigrateError,
  MIGRATION_LOCK_KEY,
  type MigrationOutcome,
  type MigrationResult,
  migrationResult,
  NOT_RELOCATABLE,
  noteUnrecorded,
  parseEvent,
  PRISMA_LEDGER_IN_SESSION_SCHEMA,
  recordedAsAppliedSql,
  reconcileLog,
  redact,
  remedyCommand,
  resolveEither,
  runInOrder,
  schemaNotEmptyError,
  type SkippedStatement,
  skippedEntry,
  type SqlErrorInfo,
  type StatementSpan,
  statementSpans,
  updateLedgerRowsSql,
  USER_TABLE_COUNT_SQL,
} from '../../lambda/contract/index.js';
import { type SqlParser, sqlParser } from '../core/sql-parser.js';
import { prepareStatement, type PreparedStatement } from './inspect.js';
import { ask } from './read-ledger-via-raise.js';
import { decodeGuard, doBlock, newNonce, raiseAnswer, raiseGuard } from './sql.js';
import { isDuplicateFailure, type RunSqlFailure, type RunSqlTransport } from './transport.js';

const LOCK_POLL_MS = 250;
const TABLE = PRISMA_LEDGER_IN_SESSION_SCHEMA;

interface Ctx {
  t: RunSqlTransport;
  options: ApplyOptions;
  reconcile: boolean;
  lockWaitMs: number;
}

type CallResult =
  | { kind: 'ok' }
  | { kind: 'recorded' }
  | { kind: 'changed' }
  | { kind: 'failed'; failure: RunSqlFailure };

/** A file decoded, with each statement's text and whether it can go through EXECUTE. */
interface Prepared {
  m: DecodedMigration;
  spans: StatementSpan[];
  statements: PreparedStatement[];
}

export async function applyThroughRunSql(t: RunSqlTransport, event: Omit<ApplyEvent, 'action'>): Promise<ApplyResult> {
  // The worker's own validation: checksums recomputed, spans checked, gzip inflated.
  const parsed = parseEvent({ action: 'apply', ...event });
  if (parsed.action !== 'apply') throw new Error('unreachable');
  const parser = await sqlParser();
  const ctx: Ctx = { t, options: parsed.options, reconcile: parsed.options.reconcileExisting !== false, lockWaitMs: 0 };

  const facts = await batchFacts(t);
  if (facts.failed.length > 0) throw failedMigrationsError(facts.failed);
  // Prisma's P3005, as our worker refuses it (lambda/schema-not-empty.ts); `baseline` is our worker's action, not sent
  // here.
  if (!facts.tableExists && facts.userTableCount > 0 && parsed.options.baseline !== true) {
    throw schemaNotEmptyError({ count: facts.userTableCount });
  }
  if (!facts.tableExists) {
    // Under the lock, so two deploys starting at once do not race on CREATE TABLE (pg_type's unique index).
    const create = doBlock([...guardLines(ctx.options), `EXECUTE ${literal(CREATE_LEDGER_SQL)};`], DECLARE);
    const out = await call(ctx, create);
    if (out.kind === 'failed') await mustSucceed(ctx, CREATE_LEDGER_SQL, 'create _prisma_migrations');
  }

  // Each call re-checks the ledger under the lock (a recorded file answers `recorded`), so
  // nothing is skipped up front; a guard that finds another deploy's work throws BatchStop.
  const outcome = await runInOrder(parsed.migrations, {
    recorded: () => false,
    run: async (m) => {
      const started = Date.now();
      const result = await runMigration(ctx, prepare(parser, m));
      result.durationMs = Date.now() - started;
      return result;
    },
  });
  return {
    requestId: parsed.requestId,
    ...outcome,
    ledgerCreated: !facts.tableExists,
    baselining: !facts.tableExists && facts.userTableCount > 0,
    lockWaitMs: ctx.lockWaitMs,
  };
}

function prepare(parser: SqlParser, m: DecodedMigration): Prepared {
  const spans = statementSpans(m);
  return { m, spans, statements: spans.map((s) => prepareStatement(parser, m.sql.slice(s.start, s.end), s.kind)) };
}

async function runMigration(ctx: Ctx, p: Prepared): Promise<MigrationResult> {
  const { m } = p;
  if (m.mode === 'transactional' && p.statements.every((s) => s.executable)) {
    const indices = p.spans.map((_, i) => i);
    const row = (logs: string | null) => insertRowSql(m, logs, { finishedAt: 'clock', appliedSteps: 1 });
    const out = await runAtomic(ctx, p, indices, { name: m.name, row });
    switch (out.kind) {
      case 'done':
        return result(m, out.skipped.length > 0 ? 'reconciled' : 'applied', { skipped: out.skipped });
      case 'recorded':
        return result(m, 'already-applied');
      case 'failed': {
        const failedRow = () => insertRowSql(m, ledgerLogFor(m.name, out.error), { appliedSteps: 0 });
        await recordFailure(ctx, failedRow, out.error);
        return result(m, 'failed', { error: out.error, ...(out.skipped ? { skipped: out.skipped } : {}) });
      }
    }
  }
  return m.mode === 'script' ? runScript(ctx, p) : runStepwise(ctx, p);
}

/** The result without its duration (applyThroughRunSql measures it). */
function result(
  m: DecodedMigration,
  status: MigrationResult['status'],
  extra: Omit<MigrationOutcome, 'status'> = {},
): MigrationResult {
  return migrationResult(m, { status, ...extra }, 0);
}

// ---------------------------------------------------------------------------------------------
// Ledger writes: the worker's statements (lambda/contract/prisma-ledger-sql.ts), values inlined.
// `started_at` is the database's now() (the call's transaction), so the client's clock never enters the ledger.

function insertRowSql(
  m: DecodedMigration,
  logs: string | null,
  rest: { finishedAt?: 'clock'; appliedSteps: number },
  id = randomUUID(),
): string {
  return inline(insertLedgerRowSql(TABLE, { id, checksum: m.checksum, name: m.name, logs, startedAt: 'now', ...rest }));
}

function updateRowSql(id: string, set: LedgerRowUpdate): string {
  return inline(updateLedgerRowsSql(TABLE, id, set));
}

// ---------------------------------------------------------------------------------------------
// Calls

/**
 *  The first lines of every DO block: Prisma's lock for this transaction, our lock_timeout, and (for ledger writes) the
 *  ledger re-read.
 */
function guardLines(options: ApplyOptions, ledgerFor?: string): string[] {
  const lines = [
    `IF NOT pg_try_advisory_xact_lock(${MIGRATION_LOCK_KEY}) THEN ${raiseGuard('busy')} END IF;`,
    // Also undoes a lock_timeout an earlier file left on this pooled connection.
    `PERFORM set_config('lock_timeout', '${Math.max(0, Math.round(options.lockTimeoutMs ?? 0))}', true);`,
  ];
  if (ledgerFor !== undefined) {
    lines.push(
      // An unfinished row with an error is a failure; without one, another deploy may be running it now.
      `SELECT migration_name, logs IS NULL INTO vpcm_name, ` +
        `vpcm_running FROM ${TABLE} WHERE finished_at IS NULL ` +
        `AND rolled_back_at IS NULL ORDER BY started_at LIMIT ` +
        `1;`,
      `IF FOUND AND vpcm_running THEN ${raiseGuard('running', 'vpcm_name')} END IF;`,
      `IF FOUND THEN ${raiseGuard('failed', 'vpcm_name')} END IF;`,
      // After the two checks above every row of the name not rolled back is finished: the worker's own condition.
      `IF ${recordedAsAppliedSql(TABLE, literal(ledgerFor))} THEN ${raiseGuard('recorded')} END IF;`,
    );
  }
  return lines;
}

const DECLARE = [
  'vpcm_name text;',
  'vpcm_running boolean;',
  "vpcm_skipped jsonb := '[]';",
  'vpcm_detail text;',
  'vpcm_hint text;',
  'vpcm_b64 text;',
];

/**
 * Sends one guarded call. A busy lock is waited for (polling, up to the lock wait); another
 * deploy's unfinished row stops the batch, as our worker refuses (P3009).
 */
async function call(ctx: Ctx, sql: string): Promise<CallResult> {
  const started = Date.now();
  const wait = ctx.options.lockWaitMs ?? DEFAULT_LOCK_WAIT_MS;
  for (;;) {
    const attemptAt = Date.now();
    const outcome = await ctx.t.call(sql);
    if (outcome.ok) {
      ctx.lockWaitMs += attemptAt - started;
      return { kind: 'ok' };
    }
    const guard = decodeGuard(outcome.failure.text);
    if (!guard) return { kind: 'failed', failure: outcome.failure };
    if (guard.kind === 'recorded' || guard.kind === 'changed') return { kind: guard.kind };
    if (guard.kind === 'failed') {
      throw new BatchStop(
        new MigrateError(
          ErrorCode.FailedMigrationInLedger,
          `Migration ${guard.name ?? '?'} failed (another deploy ` +
            `recorded it while this one ran). Nothing is applied ` +
            `until it is resolved (Prisma P3009).`,
          `Run ${remedyCommand('status')}, then ${resolveEither(guard.name ?? 'NAME')}.`,
        ),
      );
    }
    if (Date.now() - started >= wait && guard.kind === 'running') {
      throw new BatchStop(
        new MigrateError(
          ErrorCode.FailedMigrationInLedger,
          `Migration ${guard.name ?? '?'} is recorded as started ` +
            `and not finished: another deploy is running it (run-sql ` +
            `mode cannot hold the lock between calls), or it was ` +
            `interrupted; waited ${Math.round((Date.now() - started) / 1000)} ` +
            `s.`,
          `Run ${remedyCommand('status')} again later. If no deploy ` +
            `is running, resolve it: ${resolveEither(guard.name ?? 'NAME')}.`,
        ),
      );
    }
    if (Date.now() - started >= wait) {
      throw new BatchStop(
        new MigrateError(
          ErrorCode.LockTimeout,
          `Another migration holds the migration lock (Prisma's ` +
            `advisory lock ${MIGRATION_LOCK_KEY}); waited ${Math.round((Date.now() - started) / 1000)} ` +
            `s.`,
          `Wait for the other deploy to finish and run the command ` +
            `again, or raise --lock-wait. ${remedyCommand('status')} ` +
            `names the session holding it.`,
        ),
      );
    }
    await new Promise((resolve) => setTimeout(resolve, LOCK_POLL_MS));
  }
}

/** A ledger write that must work; a failure ends the deploy with the database's message. */
async function mustSucceed(ctx: Ctx, sql: string, what: string): Promise<void> {
  const outcome = await ctx.t.call(sql);
  if (outcome.ok) return;
  throw new MigrateError(
    ErrorCode.SqlFailed,
    `Could not ${what} through run-sql${outcome.failure.code ? ` (${outcome.failure.code})` : ''}: ` +
      `${redact(outcome.failure.message)}`,
    `Check that the worker's database user may write _prisma_migrations, ` +
      `then run ${remedyCommand('status')} before retrying.`,
  );
}

/** Records a failure; if even that fails, the report says so (lambda/prisma/apply.ts recordFailure). */
async function recordFailure(ctx: Ctx, sql: () => string, error: SqlErrorInfo): Promise<void> {
  const outcome = await ctx.t
    .call(sql())
    .catch((e: unknown) => ({ ok: false as const, failure: { message: (e as Error).message, text: '' } }));
  if (!outcome.ok) noteUnrecorded(error, outcome.failure.message);
}

const FactsSchema = v.object({ tableExists: v.boolean(), userTableCount: v.number(), failed: v.array(v.string()) });
type Facts = v.InferOutput<typeof FactsSchema>;

async function batchFacts(t: RunSqlTransport): Promise<Facts> {
  const nonce = newNonce();
  const sql = doBlock(
    [
      `IF ${LEDGER_REGCLASS_SQL} IS NOT NULL THEN`,
      `  vpcm_exists := true;`,
      // Unfinished rows without logs may belong to a deploy running now: the per-call guard waits for those.
      // So may rows with logs while another deploy holds the lock (our worker's interrupted-run
      // marker is written before a non-transactional statement runs): they are failures only when
      // no deploy is running, which only the lock tells. Busy: the guard waits and checks again.
      `  IF pg_try_advisory_xact_lock(${MIGRATION_LOCK_KEY}) THEN`,
      `    EXECUTE ${literal(failedNamesJsonSql(TABLE))} INTO vpcm_failed;`,
      `  END IF;`,
      `END IF;`,
      ...raiseAnswer(
        `json_build_object('tableExists', vpcm_exists, 'failed', ` +
          `vpcm_failed, 'userTableCount', ${USER_TABLE_COUNT_SQL})`,
        nonce,
      ),
    ],
    ['vpcm_exists boolean := false;', "vpcm_failed json := '[]';", 'vpcm_b64 text;'],
  );
  const reply = await ask(t, sql, nonce, 'ledger state', FactsSchema);
  if (reply.kind !== 'answer')
    throw new MigrateError(
      ErrorCode.ProtocolMismatch,
      `The run-sql worker damaged a short answer (${reply.reason}).`,
      'The worker must return error messages whole.',
    );
  return reply.value;
}

// ---------------------------------------------------------------------------------------------
// Atomic units: a transactional file with its row, or one BEGIN…COMMIT block of a script

type AtomicOutcome =
  | { kind: 'done'; skipped: SkippedStatement[] }
  | { kind: 'recorded' }
  /** `skipped`: duplicates met before the failure (reported, like our worker, though nothing was kept). */
  | { kind: 'failed'; error: SqlErrorInfo; index?: number; skipped?: SkippedStatement[] };

interface UnitOptions {
  /** Re-read the ledger for this migration name before running (files, not script blocks). */
  name?: string;
  /** The ledger row to write in the same transaction, given the reconciliation log. */
  row?: (logs: string | null) => string;
}

const execute = (s: PreparedStatement) => `EXECUTE ${literal(s.text)};`;

/**
 *  EXECUTE inside a subtransaction that records "already exists" instead of failing; `onOther` runs for a 42P16/42P17
 *  that is not one.
 */
function tolerant(s: PreparedStatement, index: number, onOther: string): string[] {
  return [
    'BEGIN',
    `  ${execute(s)}`,
    `EXCEPTION WHEN ${ALREADY_EXISTS_PLPGSQL.condition} THEN`,
    `  IF ${ALREADY_EXISTS_PLPGSQL.notReally} THEN ${onOther} END IF;`,
    `  vpcm_skipped := vpcm_skipped || jsonb_build_array(jsonb_build_object('i', ` +
      `${index}, 'code', SQLSTATE, 'message', SQLERRM));`,
    'END;',
  ];
}

const DryRunSchema = v.object({
  skipped: v.array(v.object({ i: v.number(), code: v.string(), message: v.string() })),
  failure: v.nullable(
    v.object({
      i: v.number(),
      code: v.string(),
      message: v.string(),
      detail: v.nullable(v.string()),
      hint: v.nullable(v.string()),
    }),
  ),
});
type DryRun = v.InferOutput<typeof DryRunSchema>;

async function runAtomic(ctx: Ctx, p: Prepared, indices: number[], unit: UnitOptions): Promise<AtomicOutcome> {
  const statements = indices.map((i) => p.statements[i]!);
  const fast = doBlock(
    [...guardLines(ctx.options, unit.name), ...statements.map(execute), ...(unit.row ? [`${unit.row(null)};`] : [])],
    DECLARE,
  );
  const first = await call(ctx, fast);
  if (first.kind === 'ok') return { kind: 'done', skipped: [] };
  if (first.kind === 'recorded') return first;
  if (first.kind === 'changed') throw new Error('unreachable: the fast path has no reconciliation check');
  const failure = first.failure;
  const duplicate = ctx.reconcile && isDuplicateFailure(failure);
  const locatable = indices.length > 1 && !NOT_RELOCATABLE.has(failure.code ?? '');
  const single = indices.length === 1 ? indices[0] : undefined;
  if (!duplicate && !locatable)
    return {
      kind: 'failed',
      error: infoFromFailure(p, failure, single),
      ...(single !== undefined ? { index: single } : {}),
    };

  for (let attempt = 0; attempt < 2; attempt++) {
    const dry = await dryRun(ctx, p, indices);
    if (!dry) break;
    if (dry.failure) {
      const f = dry.failure;
      const info = infoAt(p, f.i, { code: f.code, message: f.message, detail: f.detail, hint: f.hint });
      return { kind: 'failed', error: info, index: f.i, skipped: dry.skipped.map((s) => skippedAt(p, s)) };
    }
    if (dry.skipped.length === 0 || !ctx.reconcile) break;
    const skipped = dry.skipped.map((s) => skippedAt(p, s));
    const expected = JSON.stringify(dry.skipped.map((s) => s.i));
    const real = doBlock(
      [
        ...guardLines(ctx.options, unit.name),
        ...indices.flatMap((i) => tolerant(p.statements[i]!, i, 'RAISE;')),
        `IF (SELECT coalesce(jsonb_agg(e->'i'), '[]') FROM jsonb_array_elements(vpcm_skipped) ` +
          `e) <> ${literal(expected)}::jsonb THEN ${raiseGuard('changed')} ` +
          `END IF;`,
        ...(unit.row ? [`${unit.row(reconcileLog(skipped))};`] : []),
      ],
      DECLARE,
    );
    const second = await call(ctx, real);
    if (second.kind === 'ok') return { kind: 'done', skipped };
    if (second.kind === 'recorded') return second;
    if (second.kind === 'failed') return { kind: 'failed', error: infoFromFailure(p, second.failure, single) };
    // 'changed': the database moved between the dry run and the real run; look again once.
  }
  return {
    kind: 'failed',
    error: infoFromFailure(p, failure, single),
    ...(single !== undefined ? { index: single } : {}),
  };
}

/** Runs the unit with every statement in a subtransaction, then RAISEs what happened: nothing stays. */
async function dryRun(ctx: Ctx, p: Prepared, indices: number[]): Promise<DryRun | undefined> {
  const nonce = newNonce();
  const failed = (i: number) => [
    'GET STACKED DIAGNOSTICS vpcm_detail = PG_EXCEPTION_DETAIL, vpcm_hint = PG_EXCEPTION_HINT;',
    ...raiseAnswer(
      `json_build_object('skipped', vpcm_skipped, 'failure', ` +
        `json_build_object('i', ${i}, 'code', SQLSTATE, 'message', ` +
        `SQLERRM, 'detail', nullif(vpcm_detail, ''), 'hint', ` +
        `nullif(vpcm_hint, '')))`,
      nonce,
    ),
  ];
  const body = [
    `PERFORM set_config('lock_timeout', '${Math.max(0, Math.round(ctx.options.lockTimeoutMs ?? 0))}', true);`,
  ];
  for (const i of indices) {
    const s = p.statements[i]!;
    if (ctx.reconcile) {
      body.push(...tolerant(s, i, failed(i).join(' ')).slice(0, -1), 'WHEN OTHERS THEN', ...failed(i), 'END;');
    } else {
      body.push('BEGIN', `  ${execute(s)}`, 'EXCEPTION WHEN OTHERS THEN', ...failed(i), 'END;');
    }
  }
  body.push(...raiseAnswer(`json_build_object('skipped', vpcm_skipped, 'failure', NULL)`, nonce));
  const reply = await ask(ctx.t, doBlock(body, DECLARE), nonce, 'dry run', DryRunSchema).catch(() => undefined);
  return reply?.kind === 'answer' ? reply.value : undefined;
}

/** A duplicate the dry run or a step met, listed as the worker lists it. */
function skippedAt(p: Prepared, s: { i: number; code: string; message: string }): SkippedStatement {
  return skippedEntry(p.m, p.spans[s.i]!, s.i, s);
}

/** The failure at statement `index` (of the unit when unknown), described as the worker describes it. */
function infoAt(
  p: Prepared,
  index: number | undefined,
  e: { code?: string | undefined; message: string; detail?: string | null; hint?: string | null },
): SqlErrorInfo {
  const error = {
    message: e.message,
    ...(e.code ? { code: e.code } : {}),
    ...(e.detail ? { detail: e.detail } : {}),
    ...(e.hint ? { hint: e.hint } : {}),
  };
  if (index === undefined) return describeSqlError(error, p.m.sql, 0, 0);
  const span = p.spans[index]!;
  return describeSqlError(error, p.m.sql, span.start, span.end - span.start, span.line, index);
}

function infoFromFailure(p: Prepared, f: RunSqlFailure, index: number | undefined): SqlErrorInfo {
  return infoAt(p, index, { code: f.code, message: f.message });
}

// ---------------------------------------------------------------------------------------------
// Prisma-style files: the row first, then the statements, then the row completed

/** One statement on its own: in a guarded DO block when EXECUTE can run it, else as it is. */
async function runOne(ctx: Ctx, s: PreparedStatement): Promise<CallResult> {
  return call(ctx, s.executable ? doBlock([...guardLines(ctx.options), execute(s)], DECLARE) : s.text);
}

async function startRow(ctx: Ctx, m: DecodedMigration): Promise<string | undefined> {
  const id = randomUUID();
  const started = `${insertRowSql(m, null, { appliedSteps: 0 }, id)};`;
  const out = await call(ctx, doBlock([...guardLines(ctx.options, m.name), started], DECLARE));
  if (out.kind === 'recorded') return undefined;
  if (out.kind !== 'ok') {
    const failure = out.kind === 'failed' ? out.failure : { message: 'the ledger changed', text: '' };
    throw new MigrateError(
      ErrorCode.SqlFailed,
      `Could not record the start of ${m.name} through run-sql: ${redact(failure.message)}`,
      `Run ${remedyCommand('status')} and check the worker can write _prisma_migrations.`,
    );
  }
  return id;
}

type StepOutcome = { kind: 'ok' } | { kind: 'failed'; error: SqlErrorInfo; index: number };

/** One statement in autocommit; "already exists" is skipped (and listed), anything else fails. */
async function step(ctx: Ctx, p: Prepared, i: number, skipped: SkippedStatement[]): Promise<StepOutcome> {
  const out = await runOne(ctx, p.statements[i]!);
  if (out.kind === 'ok') return out;
  if (out.kind !== 'failed') throw new Error('unreachable: a single statement has no ledger guard');
  if (ctx.reconcile && isDuplicateFailure(out.failure)) {
    skipped.push(skippedAt(p, { i, code: out.failure.code ?? '', message: out.failure.message }));
    return { kind: 'ok' };
  }
  return { kind: 'failed', error: infoFromFailure(p, out.failure, i), index: i };
}

async function runStepwise(ctx: Ctx, p: Prepared): Promise<MigrationResult> {
  const { m } = p;
  const id = await startRow(ctx, m);
  if (!id) return result(m, 'already-applied');
  const skipped: SkippedStatement[] = [];
  for (let i = 0; i < p.spans.length; i++) {
    const out = await step(ctx, p, i, skipped);
    if (out.kind === 'failed') {
      const failure = () => updateRowSql(id, { logs: ledgerLogFor(m.name, out.error), appliedSteps: i });
      await recordFailure(ctx, failure, out.error);
      return result(m, 'failed', { skipped, error: out.error, appliedSteps: i });
    }
    if (i < p.spans.length - 1) {
      await mustSucceed(ctx, updateRowSql(id, { appliedSteps: i + 1 }), `record the progress of ${m.name}`);
    }
  }
  const finished = updateRowSql(id, { finished: true, logs: reconcileLog(skipped) });
  await mustSucceed(ctx, finished, `record ${m.name} as finished`);
  return result(m, skipped.length > 0 ? 'reconciled' : 'applied', { skipped });
}

interface Segment {
  /** A BEGIN…COMMIT block (atomic), or one statement outside any block. */
  block: boolean;
  indices: number[];
  /** The block ends in ROLLBACK/ABORT: the file discards it, so it is not run. */
  discarded?: boolean;
}

/** Splits a script into its BEGIN…COMMIT blocks and the statements between them. */
export function scriptSegments(p: { spans: StatementSpan[]; m: { sql: string } }): Segment[] {
  const segments: Segment[] = [];
  let block: Segment | undefined;
  p.spans.forEach((span, i) => {
    if (span.kind === 'begin') {
      if (block) segments.push(block);
      block = { block: true, indices: [] };
    } else if (span.kind === 'commit') {
      if (!block) return; // COMMIT with nothing open: PostgreSQL only warns
      if (/^\s*(ROLLBACK|ABORT)\b/i.test(p.m.sql.slice(span.start, span.end))) block.discarded = true;
      segments.push(block);
      block = undefined;
    } else if (block) {
      block.indices.push(i);
    } else {
      segments.push({ block: false, indices: [i] });
    }
  });
  if (block) segments.push(block); // a block never closed is committed at the end, as our worker does
  return segments;
}

async function runScript(ctx: Ctx, p: Prepared): Promise<MigrationResult> {
  const { m } = p;
  const id = await startRow(ctx, m);
  if (!id) return result(m, 'already-applied');
  const skipped: SkippedStatement[] = [];
  const fail = async (error: SqlErrorInfo, index: number) => {
    await recordFailure(ctx, () => updateRowSql(id, { logs: ledgerLogFor(m.name, error), appliedSteps: index }), error);
    return result(m, 'failed', { skipped, error, appliedSteps: index });
  };
  for (const seg of scriptSegments(p)) {
    if (seg.discarded || seg.indices.length === 0) continue;
    if (seg.block && seg.indices.every((i) => p.statements[i]!.executable)) {
      const out = await runAtomic(ctx, p, seg.indices, {});
      if (out.kind === 'failed') {
        skipped.push(...(out.skipped ?? []));
        return fail(out.error, out.index ?? seg.indices[0]!);
      }
      if (out.kind === 'done') skipped.push(...out.skipped);
      continue;
    }
    for (const i of seg.indices) {
      const out = await step(ctx, p, i, skipped);
      if (out.kind === 'failed') return fail(out.error, i);
    }
  }
  const finished = updateRowSql(id, { finished: true, logs: reconcileLog(skipped) });
  await mustSucceed(ctx, finished, `record ${m.name} as finished`);
  return result(m, skipped.length > 0 ? 'reconciled' : 'applied', { skipped });
}
