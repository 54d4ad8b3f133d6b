/**
 * What a migration format is to the worker: its ledger (exists, ensure, read, what it records of
 * a batch) and how one migration runs and is recorded. Prisma (`lambda/prisma/`) and Drizzle
 * (`lambda/drizzle/`) are the two implementations; lambda/apply-batch.ts runs either in one loop.
 */
import type { Db } from './db.js';
import type { DecodedMigration, LedgerResult, MigrationFormat, MigrationResult } from './contract/index.js';
import type { RunContext } from './session.js';
import type { ChainOutcome } from './contract/batch-order.js';
import type { LockProof } from './ledger-guard.js';

/** What the ledger says of the migrations of one batch, read under the migration lock, and how each runs. */
export interface BatchLedger {
  /** Recorded as applied: never run again. */
  recorded(m: DecodedMigration): boolean;
  /** `m` has just been applied and recorded. */
  add(m: DecodedMigration): void;
  /**
   * Runs one migration and writes its ledger row (in the same transaction where the file
   * allows), resuming what an interrupted run of it left. Throws a BatchStop when the ledger
   * write finds the lock gone or the migration already recorded: nothing more may be recorded.
   */
  execute(ctx: RunContext, m: DecodedMigration): Promise<MigrationResult>;
  /**
   * Migrations that may run several in one query (lambda/prisma/chain.ts); absent, one at a time.
   * `executeAll` answers as lambda/contract/batch-order.ts's `chain.runAll`; `contexts[i]` is `ms[i]`'s.
   */
  chain?: {
    chainable(m: DecodedMigration): boolean;
    max: number;
    size(m: DecodedMigration): number;
    maxSize: number;
    executeAll(contexts: RunContext[], ms: DecodedMigration[]): Promise<ChainOutcome>;
  };
}

export interface WorkerFormat {
  readonly name: MigrationFormat;
  /** The ledger's part of the `ledger` action's answer. */
  readLedger(db: Db): Promise<Pick<LedgerResult, 'tableExists' | 'rows' | 'format' | 'drizzleRows'>>;
  /**
   * Refuses (throws) a deploy into a schema that holds tables but no ledger (Prisma's P3005,
   * lambda/schema-not-empty.ts), unless the deploy said `baseline`. Absent: the format proceeds.
   */
  refuseNonEmptySchema?(db: Db, migrations: DecodedMigration[]): Promise<void>;
  /** Creates the ledger when missing; whether it was. Called before any file ran on the session. */
  ensureLedger(db: Db): Promise<boolean>;
  /**
   * Reads the ledger for a batch, before any file ran on the session; refuses (throws) when it
   * holds what must be resolved first. `lock`: the session holding the migration lock, which
   * every write that records a migration checks (lambda/ledger-guard.ts).
   */
  readBatch(db: Db, migrations: DecodedMigration[], lock: LockProof): Promise<BatchLedger>;
}
