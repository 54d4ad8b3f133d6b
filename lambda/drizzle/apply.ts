/**
 * Drizzle's format in the worker (`format: 'drizzle'`): `drizzle.__drizzle_migrations`
 * (lambda/drizzle/drizzle-ledger.ts) and what drizzle-orm's `migrate()` does, one file at a time.
 *
 * drizzle-orm runs every pending file in ONE transaction, each `--> statement-breakpoint` chunk
 * as one query, and inserts each file's ledger row in that transaction. Files rely on it (a
 * `CREATE TEMP TABLE … ON COMMIT DROP` used by later chunks; a hand-written `COMMIT;` chunk
 * before `CREATE INDEX CONCURRENTLY`, after which drizzle-orm's chunks run in autocommit).
 * Here each file gets its own transaction: its chunks run inside it exactly as drizzle-orm sends
 * them, and its ledger row commits with it. A file that ends the transaction itself goes on the
 * way drizzle-orm would run it — chunks in autocommit until a chunk opens a new block — and its
 * row is written after its last chunk, so a row exists only when the whole file ran.
 *
 * Whether a transaction block is open is read from PostgreSQL itself (the ReadyForQuery status
 * of each reply), not guessed from the SQL.
 */
import {
  asPgError,
  BatchStop,
  type ChunkSpan,
  type DecodedMigration,
  describeSqlError,
  isAlreadyExists,
  type MigrationResult,
  type SkippedStatement,
  type SqlErrorInfo,
  type StatementSpan,
} from '../contract/index.js';
import type { Db } from '../db.js';
import type { BatchLedger, WorkerFormat } from '../format.js';
import { CreatedInFile, reconcileStatement } from '../reconcile.js';
import type { RunContext } from '../session.js';
import type { PendingReset } from '../session-reset.js';
import { guardRefusal, type LockProof } from '../ledger-guard.js';
import { drizzleLedgerExists, ensureDrizzleLedger, insertDrizzleRow, readDrizzleRows } from './drizzle-ledger.js';

export const drizzle: WorkerFormat = {
  name: 'drizzle',
  async readLedger(db) {
    const tableExists = await drizzleLedgerExists(db);
    return { tableExists, rows: [], format: 'drizzle', drizzleRows: tableExists ? await readDrizzleRows(db) : [] };
  },
  ensureLedger: ensureDrizzleLedger,
  readBatch,
};

/** drizzle-orm keeps no failure state: a row (file hash and journal `when`) means applied. */
async function readBatch(db: Db, _migrations: DecodedMigration[], lock: LockProof): Promise<BatchLedger> {
  const recorded = new Set((await readDrizzleRows(db)).map((r) => key(r.hash, r.created_at)));
  return {
    recorded: (m) => recorded.has(key(m.checksum, m.createdAt)),
    add: (m) => recorded.add(key(m.checksum, m.createdAt)),
    execute: (ctx, m) => runDrizzleMigration(ctx, m, lock),
  };
}

const key = (hash: string, createdAt: number | null | undefined) => `${hash}:${createdAt ?? ''}`;

/** `I` idle, `T` in a transaction block, `E` in a failed one (PostgreSQL's ReadyForQuery). */
type TxStatus = 'I' | 'T' | 'E';

interface TxWatch {
  status(): TxStatus;
  /**
   * A query that opened a transaction block failed: the block is open (aborted) though its
   * ReadyForQuery has not arrived yet (pg rejects a failed query first).
   */
  failedInBlock(): void;
  stop(): void;
}

/** Follows the transaction status PostgreSQL reports after every query on this connection. */
function watchTransaction(db: Db): TxWatch {
  let status: TxStatus = 'I';
  const onReady = (msg: { status?: string }) => {
    if (msg.status === 'I' || msg.status === 'T' || msg.status === 'E') status = msg.status;
  };
  db.connection.on('readyForQuery', onReady);
  return {
    status: () => status,
    failedInBlock: () => {
      status = 'E';
    },
    stop: () => db.connection.off('readyForQuery', onReady),
  };
}

interface Outcome {
  status: 'applied' | 'reconciled' | 'failed';
  skipped: SkippedStatement[];
  error?: SqlErrorInfo;
  /** Chunks that ran before a failure, when the file had already ended its transaction (they stay committed). */
  appliedSteps?: number;
}

async function runDrizzleMigration(ctx: RunContext, m: DecodedMigration, lock: LockProof): Promise<MigrationResult> {
  const tx = watchTransaction(ctx.db);
  let outcome: Outcome;
  try {
    outcome = await runChunks(ctx.db, ctx.reset, m, tx, lock, ctx.options.reconcileExisting !== false, false);
  } finally {
    tx.stop();
  }
  const result: MigrationResult = {
    name: m.name,
    status: outcome.status,
    mode: m.mode,
    durationMs: Date.now() - ctx.started,
  };
  if (outcome.skipped.length > 0) result.skipped = outcome.skipped;
  if (outcome.error) result.error = outcome.error;
  if (outcome.appliedSteps !== undefined) result.appliedSteps = outcome.appliedSteps;
  if (outcome.error?.code === '57014' && ctx.budget.limitedByBudget) result.timeBudgetExhausted = true;
  return result;
}

async function rollbackOpen(db: Db, tx: TxWatch): Promise<void> {
  if (tx.status() !== 'I') await db.query('ROLLBACK').catch(() => undefined);
}

/** The parsed statements of one chunk (file offsets). */
function statementsOf(m: DecodedMigration, chunk: ChunkSpan): StatementSpan[] {
  return m.statements.filter((s) => s.start >= chunk.start && s.end <= chunk.end);
}

/**
 * Runs the file's chunks inside the transaction it starts. Fast path: no savepoints (each would
 * be a subtransaction). When a chunk fails because an object already exists and nothing of the
 * file is committed yet, the file is rolled back and run again `careful`ly: each transactional
 * chunk under a savepoint, a failing one statement by statement, skipping only "already exists".
 */
async function runChunks(
  db: Db,
  reset: PendingReset,
  m: DecodedMigration,
  tx: TxWatch,
  lock: LockProof,
  reconcile: boolean,
  careful: boolean,
): Promise<Outcome> {
  const chunks = m.chunks ?? [];
  const skipped: SkippedStatement[] = [];
  /** The file ended the wrapping transaction itself: what ran before is committed (or discarded) for good. */
  let escaped = false;
  // The session reset, BEGIN and (on the fast path) the first chunk as one query
  // (lambda/session-reset.ts); that chunk's error is handled below like any other chunk's.
  const first = careful ? undefined : chunks[0];
  const begun = await reset.begin(db, first ? m.sql.slice(first.start, first.end) : '');
  if (!first && begun.error !== undefined)
    return { status: 'failed', skipped, error: describeSqlError(begun.error, m.sql, 0, 0) };
  const made = new CreatedInFile();
  for (let i = 0; i < chunks.length; i++) {
    const chunk = chunks[i] as ChunkSpan;
    // Whether the chunk starts inside a transaction block: the first one always does (our BEGIN).
    const inBlock = i === 0 || tx.status() === 'T';
    const guarded = careful && inBlock && chunk.kind === 'transactional';
    try {
      if (guarded) await db.query('SAVEPOINT vpcm_chunk');
      if (i === 0 && first) {
        if (begun.error !== undefined) {
          if (begun.inTransaction) tx.failedInBlock();
          throw begun.error;
        }
      } else await db.query(m.sql.slice(chunk.start, chunk.end));
      if (guarded) await db.query('RELEASE SAVEPOINT vpcm_chunk');
      for (const span of statementsOf(m, chunk)) made.add(span);
    } catch (error) {
      let failure: unknown = error;
      let failedSpan: { span: StatementSpan; index: number } | undefined;
      let compared: SqlErrorInfo | undefined;
      if (reconcile && isAlreadyExists(asPgError(error))) {
        if (!careful && !escaped) {
          await rollbackOpen(db, tx);
          return runChunks(db, reset, m, tx, lock, reconcile, true);
        }
        const statements = statementsOf(m, chunk);
        if (guarded) {
          const attempt = await reconcileChunk(db, m, chunk, error, statements, made);
          if (attempt.ok) {
            skipped.push(...attempt.skipped);
            continue;
          }
          failure = attempt.error;
          failedSpan = attempt.failed;
          compared = attempt.info;
        } else if (!inBlock && statements.length === 1) {
          // Autocommit, one statement: it changed nothing; skipped if what exists is what it makes.
          const span = statements[0] as StatementSpan;
          const verdict = await reconcileStatement(db, m, span, indexOf(m, span), error, made, false).catch(
            () => undefined,
          );
          if (verdict && 'skip' in verdict) {
            skipped.push(verdict.skip);
            continue;
          }
          compared = verdict?.info;
        }
      }
      await rollbackOpen(db, tx);
      const only = statementsOf(m, chunk);
      const at = failedSpan?.span ?? chunk;
      // statementIndex: the failing statement's index in the file when known, else the chunk's.
      const index = failedSpan?.index ?? (only.length === 1 ? indexOf(m, only[0]) : i);
      const info = compared ?? describeSqlError(failure, m.sql, at.start, at.end - at.start, at.line, index);
      return escaped
        ? { status: 'failed', skipped, error: info, appliedSteps: i }
        : { status: 'failed', skipped, error: info };
    }
    if (tx.status() !== 'T' || statementsOf(m, chunk).some((s) => s.kind === 'commit')) escaped = true;
  }
  try {
    // In the file's transaction when one is open (ours, or one the file opened), else autocommit.
    await insertDrizzleRow(db, m.checksum, m.createdAt ?? 0, lock, { commit: tx.status() === 'T' });
  } catch (error) {
    await rollbackOpen(db, tx);
    const refusal = guardRefusal(error, m.name);
    if (refusal) throw new BatchStop(refusal, refusal.message);
    // Our own statement failed, not the file's: PostgreSQL's position is not in migration.sql.
    const info = describeSqlError({ ...asPgError(error), position: undefined }, m.sql, 0, 0);
    return escaped
      ? { status: 'failed', skipped, error: info, appliedSteps: chunks.length }
      : { status: 'failed', skipped, error: info };
  }
  return { status: skipped.length > 0 ? 'reconciled' : 'applied', skipped };
}

/**
 * After a chunk failed with "already exists" under `vpcm_chunk`: roll back to it, then run it
 * statement by statement, each under its own savepoint; a statement that hits an existing object
 * is skipped only when that object is what it creates (lambda/reconcile.ts).
 */
async function reconcileChunk(
  db: Db,
  m: DecodedMigration,
  _chunk: ChunkSpan,
  chunkError: unknown,
  statements: StatementSpan[],
  made: CreatedInFile,
): Promise<
  | { ok: true; skipped: SkippedStatement[] }
  | { ok: false; error: unknown; failed?: { span: StatementSpan; index: number }; info?: SqlErrorInfo }
> {
  try {
    await db.query('ROLLBACK TO SAVEPOINT vpcm_chunk');
  } catch (error) {
    return { ok: false, error };
  }
  const skipped: SkippedStatement[] = [];
  if (statements.length === 0) return { ok: false, error: chunkError };
  for (const span of statements) {
    const index = indexOf(m, span);
    try {
      await db.query('SAVEPOINT vpcm_statement');
      await db.query(m.sql.slice(span.start, span.end));
      await db.query('RELEASE SAVEPOINT vpcm_statement');
      made.add(span);
    } catch (error) {
      if (!isAlreadyExists(asPgError(error))) return { ok: false, error, failed: { span, index } };
      try {
        await db.query('ROLLBACK TO SAVEPOINT vpcm_statement');
        const verdict = await reconcileStatement(db, m, span, index, error, made, true);
        if ('info' in verdict) return { ok: false, error, failed: { span, index }, info: verdict.info };
        skipped.push(verdict.skip);
      } catch (inner) {
        return { ok: false, error: inner };
      }
    }
  }
  try {
    await db.query('RELEASE SAVEPOINT vpcm_chunk');
  } catch (error) {
    return { ok: false, error };
  }
  return { ok: true, skipped };
}

/** A statement's index in the file (`SkippedStatement.index`), -1 when the chunk was not parsed. */
function indexOf(m: DecodedMigration, span: StatementSpan | undefined): number {
  return span ? m.statements.indexOf(span) : -1;
}
