/**
 * Rehearsal (staging): every pending migration inside ONE transaction, each under its own
 * savepoint, measured (duration, locks from pg_locks, rows from pg_stat_xact_user_tables), then
 * ROLLBACK. Nothing is recorded: the ledger is read, never created or written.
 *
 * What cannot be rehearsed is listed instead of run: statements PostgreSQL refuses in a
 * transaction block (CONCURRENTLY, VACUUM, ...) and a file's own BEGIN/COMMIT (the rehearsal's
 * transaction replaces them). Where PostgreSQL refuses something only because every migration
 * shares one transaction — a new enum value added by an earlier pending file (55P04), pending
 * trigger events from an earlier file's writes (55006) — the result says so instead of calling
 * the migration broken.
 *
 * Safety: each statement goes through the extended protocol (one statement, no `COMMIT; …`
 * smuggled in), transaction-control statements are never sent, and the transaction status is
 * checked after every statement; if anything ended the transaction the rehearsal stops with
 * VPCM_REHEARSAL_ESCAPED rather than go on outside it.
 */
import { lockWaitBudget, timeBudgetMs, timeMargin, type ApplyContext } from './session.js';
import type { Db } from './db.js';
import {
  type ApplyOptions,
  asPgError,
  type DecodedMigration,
  describeSqlError,
  ErrorCode,
  isAlreadyExists,
  MigrateError,
  type NotRehearsedStatement,
  type ParsedRehearse,
  type RehearsalResult,
  type RehearseResult,
  runsOutsideTransaction,
  type SequenceAdvance,
  shorten,
  type SkippedStatement,
  type SqlErrorInfo,
  type StatementSpan,
} from './contract/index.js';
import { acquireMigrationLock } from './lock.js';
import {
  describeLocks,
  existingObjects,
  lockSnapshot,
  newLockKeys,
  querySingle,
  rowCounts,
  rowsDelta,
  trackTransactionStatus,
  type LockSnapshot,
  type RowCounts,
} from './measure.js';
import { PrismaLedger, successfulNames } from './prisma/prisma-ledger.js';

/**
 * Transaction control a file may hide in a statement the CLI classified as transactional
 * (a defence in depth: the CLI's parser is the first line). `ROLLBACK TO` and `RELEASE`
 * address the file's own savepoints and are allowed.
 */
const TRANSACTION_CONTROL =
  /^(?:begin|start\s+transaction|commit|end|abort|rollback(?!\s+to\b)|prepare\s+transaction)\b/i;

/** SQLSTATE for "cannot run inside a transaction block". */
const ACTIVE_SQL_TRANSACTION = '25001';
const UNSAFE_NEW_ENUM_VALUE = '55P04';
const OBJECT_IN_USE = '55006';
const QUERY_CANCELED = '57014';

export async function rehearse(ctx: ApplyContext, request: ParsedRehearse): Promise<RehearseResult> {
  const { db, log } = ctx;
  const started = Date.now();
  const options = request.options;
  const margin = timeMargin(ctx.remainingMs());
  const lock = await acquireMigrationLock(ctx.openSession, lockWaitBudget(ctx, options, margin));
  const tracker = trackTransactionStatus(db);
  let open = false;
  try {
    const ledger = await PrismaLedger.open(db);
    const done = (await ledger.exists()) ? successfulNames(await ledger.read()) : new Set<string>();
    const existing = await existingObjects(db);
    const sequencesBefore = await sequenceValues(db);
    const enumsSeen = new Set((await enumValues(db)).map((e) => e.oid));
    /** Enum labels added by each rehearsed migration, for 55P04. */
    const enumAddedBy = new Map<string, string>();

    await db.query('BEGIN');
    open = true;
    // What the transaction holds and has touched so far; each migration reports the difference.
    const state: MeasureState = { locks: await lockSnapshot(db), rows: await rowCounts(db) };
    const results: RehearsalResult[] = [];
    let stopped: RehearseResult['stopped'];
    for (const [index, m] of request.migrations.entries()) {
      if (done.has(m.name)) {
        results.push(empty(m, 'already-applied'));
        continue;
      }
      if (stopped || ctx.remainingMs() < 3 * margin) {
        stopped = 'time-budget';
        results.push(empty(m, 'not-started'));
        continue;
      }
      const result = await rehearseOne(ctx, m, index, {
        options,
        existing,
        enumAddedBy,
        earlier: results,
        margin,
        tracker,
        state,
      });
      results.push(result);
      log.info('migration rehearsed', { migration: m.name, status: result.status, durationMs: result.durationMs });
      if (result.timeBudgetExhausted) stopped = 'time-budget';
      if (result.status !== 'failed' && result.status !== 'shared-transaction') {
        for (const e of await enumValues(db)) {
          if (enumsSeen.has(e.oid)) continue;
          enumsSeen.add(e.oid);
          enumAddedBy.set(e.label, m.name);
        }
      }
    }

    await db.query('ROLLBACK');
    open = false;
    const sequencesAdvanced = diffSequences(sequencesBefore, await sequenceValues(db));
    const result: RehearseResult = {
      results,
      rolledBack: true,
      sequencesAdvanced,
      lockWaitMs: lock.waitedMs,
      durationMs: Date.now() - started,
    };
    if (stopped) result.stopped = stopped;
    return result;
  } finally {
    if (open) await db.query('ROLLBACK').catch(() => undefined);
    tracker.stop();
    // A migration may take session-level advisory locks, which a rollback does not release.
    await db.query('SELECT pg_catalog.pg_advisory_unlock_all()').catch(() => undefined);
    await lock.release();
  }
}

function empty(m: DecodedMigration, status: 'already-applied' | 'not-started'): RehearsalResult {
  return {
    name: m.name,
    mode: m.mode,
    status,
    durationMs: 0,
    statements: spansOf(m).length,
    statementsRun: 0,
    notRehearsed: [],
    skipped: [],
    locks: [],
    rows: [],
  };
}

function spansOf(m: DecodedMigration): StatementSpan[] {
  if (m.statements.length > 0) return m.statements;
  return m.sql.trim().length === 0 ? [] : [{ start: 0, end: m.sql.length, line: 1, kind: 'transactional' }];
}

interface MeasureState {
  locks: LockSnapshot;
  rows: RowCounts;
}

interface Shared {
  state: MeasureState;
  options: ApplyOptions;
  /** Objects that existed before the rehearsal (catalog:oid keys). */
  existing: Set<string>;
  enumAddedBy: Map<string, string>;
  earlier: RehearsalResult[];
  margin: number;
  tracker: { status(): string };
}

async function rehearseOne(
  ctx: ApplyContext,
  m: DecodedMigration,
  index: number,
  shared: Shared,
): Promise<RehearsalResult> {
  const { db } = ctx;
  const started = Date.now();
  const budget = timeBudgetMs(ctx, shared.margin);
  const configured = shared.options.statementTimeoutMs ?? 0;
  const timeout = configured > 0 ? Math.min(configured, budget) : budget;
  const limitedByBudget = configured === 0 || budget < configured;
  // What an earlier file set for its session must not leak into this one (docs/design.md §3).
  await db.query(
    `SET SESSION AUTHORIZATION DEFAULT; RESET ALL; SET statement_timeout ` +
      `= ${timeout}; SET lock_timeout = ${shared.options.lockTimeoutMs ?? 0}`,
  );
  const reconcile = shared.options.reconcileExisting !== false;
  const spans = spansOf(m);
  const result: RehearsalResult = {
    name: m.name,
    mode: m.mode,
    status: 'rehearsed',
    durationMs: 0,
    statements: spans.length,
    statementsRun: 0,
    notRehearsed: [],
    skipped: [],
    locks: [],
    rows: [],
  };
  const savepoint = `vpcm_rehearse_${index}`;
  await db.query(`SAVEPOINT ${savepoint}`);
  let failure: { error: unknown; span: StatementSpan; at: number } | undefined;
  for (let i = 0; i < spans.length; i++) {
    const span = spans[i] as StatementSpan;
    const text = m.sql.slice(span.start, span.end);
    if (
      span.kind === 'begin' ||
      span.kind === 'commit' ||
      span.kind === 'transaction-control' ||
      TRANSACTION_CONTROL.test(text.trim())
    ) {
      result.notRehearsed.push(notRehearsed(text, span, i, 'transaction-control'));
      continue;
    }
    if (runsOutsideTransaction(span.kind)) {
      result.notRehearsed.push(notRehearsed(text, span, i, 'non-transactional'));
      continue;
    }
    try {
      await db.query('SAVEPOINT vpcm_statement');
      await querySingle(db, text);
      await db.query('RELEASE SAVEPOINT vpcm_statement');
      result.statementsRun++;
    } catch (error) {
      const pg = asPgError(error);
      ensureOpen(shared.tracker, m, span);
      if (pg.code === ACTIVE_SQL_TRANSACTION || (reconcile && isAlreadyExists(pg))) {
        await db.query('ROLLBACK TO SAVEPOINT vpcm_statement');
        await db.query('RELEASE SAVEPOINT vpcm_statement');
        if (pg.code === ACTIVE_SQL_TRANSACTION)
          result.notRehearsed.push(notRehearsed(text, span, i, 'non-transactional'));
        else result.skipped.push(skippedEntry(text, span, i, pg));
        continue;
      }
      failure = { error, span, at: i };
      break;
    }
    ensureOpen(shared.tracker, m, span);
  }

  if (failure) {
    await db.query(`ROLLBACK TO SAVEPOINT ${savepoint}`);
    await db.query(`RELEASE SAVEPOINT ${savepoint}`);
    // Its locks went with the savepoint; its row counters did not (pg_stat counts aborted work).
    shared.state.rows = await rowCounts(db);
    const { error, span, at } = failure;
    const info = describeSqlError(error, m.sql, span.start, span.end - span.start, span.line, at);
    result.error = info;
    const artefact = sharedTransactionCause(info, m, shared);
    if (artefact) {
      result.status = 'shared-transaction';
      result.note = artefact;
    } else {
      result.status = 'failed';
      const earlier = earlierTrouble(shared.earlier);
      if (info.code === UNSAFE_NEW_ENUM_VALUE) {
        result.note =
          'The enum value is added in this same file: deploy fails ' +
          'the same way, because PostgreSQL cannot use a new enum ' +
          'value in the transaction that adds it. Move the statements ' +
          'that use it into a later migration.';
      } else if (earlier) {
        result.note = `It may fail only because of an earlier migration in this rehearsal: ${earlier}.`;
      }
    }
    if (info.code === QUERY_CANCELED && limitedByBudget) result.timeBudgetExhausted = true;
  } else {
    await db.query(`RELEASE SAVEPOINT ${savepoint}`);
    const locks = await lockSnapshot(db);
    const rows = await rowCounts(db);
    result.locks = await describeLocks(db, newLockKeys(shared.state.locks, locks), shared.existing);
    result.rows = rowsDelta(shared.state.rows, rows);
    shared.state.locks = locks;
    shared.state.rows = rows;
    const nonTransactional = result.notRehearsed.filter((s) => s.reason === 'non-transactional').length;
    if (nonTransactional > 0) result.status = result.statementsRun === 0 ? 'not-rehearsable' : 'partial';
  }
  result.durationMs = Date.now() - started;
  return result;
}

function notRehearsed(
  text: string,
  span: StatementSpan,
  index: number,
  reason: NotRehearsedStatement['reason'],
): NotRehearsedStatement {
  return { index, line: span.line, statement: shorten(text, 200), reason };
}

function skippedEntry(
  text: string,
  span: StatementSpan,
  index: number,
  pg: { code?: string; message: string },
): SkippedStatement {
  return { index, line: span.line, code: pg.code ?? '', message: pg.message, statement: shorten(text, 200) };
}

/** A statement ended the rehearsal's transaction: stop at once, say what may have been committed. */
function ensureOpen(tracker: { status(): string }, m: DecodedMigration, span: StatementSpan): void {
  if (tracker.status() !== 'I') return;
  throw new MigrateError(
    ErrorCode.RehearsalEscaped,
    `The statement at ${m.name}/migration.sql line ${span.line} ` +
      `ended the rehearsal's transaction: what ran before ` +
      `it may have been COMMITTED.`,
    'Check the database now (`vpc-migrate status`, and the ' +
      'objects the rehearsed migrations create). Report this ' +
      'as a bug with the statement: the rehearsal must never ' +
      'send transaction control.',
    { details: { migration: m.name, line: span.line } },
  );
}

/** Why a failure is only an artefact of the shared transaction, or undefined if it is real. */
function sharedTransactionCause(info: SqlErrorInfo, m: DecodedMigration, shared: Shared): string | undefined {
  if (info.code === UNSAFE_NEW_ENUM_VALUE) {
    const label = /new value "((?:[^"]|"")*)"/.exec(info.message)?.[1]?.replaceAll('""', '"');
    const addedBy = label !== undefined ? shared.enumAddedBy.get(label) : undefined;
    const anyEarlier = shared.enumAddedBy.size > 0 && label === undefined && !/\badd\s+value\b/i.test(m.sql);
    if (addedBy || anyEarlier) {
      const who = addedBy
        ? `${addedBy} adds the enum value${label ? ` "${label}"` : ''}`
        : 'an earlier pending migration adds an enum value';
      return (
        `Only the rehearsal's single transaction prevents this: ` +
        `${who}, and PostgreSQL lets a new enum value be used ` +
        `only ` +
        ('after the transaction that added it commits. Deploy ' +
          'commits each migration before the next one, so this ' +
          'is not a defect; ') +
        'the rest of this migration could not be rehearsed.'
      );
    }
  }
  if (info.code === OBJECT_IN_USE && /pending trigger events/i.test(info.message)) {
    const writers = shared.earlier.filter((r) => r.rows.length > 0).map((r) => r.name);
    if (writers.length > 0) {
      return (
        `Only the rehearsal's single transaction prevents this: ` +
        `earlier pending migration(s) ${writers.slice(0, 3).join(', ')} ` +
        `changed rows ` +
        ('whose deferred trigger events are still queued; deploy ' +
          'commits them first. (If this file itself changes rows ' +
          'of that table before altering it, deploy fails too.)')
      );
    }
  }
  return undefined;
}

function earlierTrouble(earlier: RehearsalResult[]): string | undefined {
  const parts = earlier.flatMap((r) => {
    if (r.status === 'failed' || r.status === 'shared-transaction') return [`${r.name} (${r.status})`];
    const skipped = r.notRehearsed.filter((s) => s.reason === 'non-transactional').length;
    return skipped > 0 ? [`${r.name} (${skipped} statement(s) not rehearsed)`] : [];
  });
  if (parts.length === 0) return undefined;
  return parts.slice(0, 5).join(', ') + (parts.length > 5 ? `, and ${parts.length - 5} more` : '');
}

async function enumValues(db: Db): Promise<{ oid: string; label: string }[]> {
  const { rows } = await db.query<{ oid: string; label: string }>(
    'SELECT oid::text AS oid, enumlabel AS label FROM pg_enum',
  );
  return rows;
}

async function sequenceValues(db: Db): Promise<Map<string, string | null>> {
  const { rows } = await db.query<{ name: string; value: string | null }>(
    `SELECT format('%I.%I', schemaname, sequencename) AS name, last_value::text AS value FROM pg_sequences`,
  );
  return new Map(rows.map((r) => [r.name, r.value]));
}

function diffSequences(before: Map<string, string | null>, after: Map<string, string | null>): SequenceAdvance[] {
  const out: SequenceAdvance[] = [];
  for (const [name, value] of after) {
    if (!before.has(name)) continue;
    const was = before.get(name) ?? null;
    if (was !== value) out.push({ sequence: name, before: was, after: value });
  }
  return out.sort((a, b) => a.sequence.localeCompare(b.sequence));
}
