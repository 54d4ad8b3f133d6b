/**
 * What a migration format is to the worker: its ledger (exists, ensure, read, what it records of
 * a batch) and how one migration runs and is recorded. Prisma (`lambda/prisma/`) and Drizzle
 * (`lambda/drizzle/`) are the two implementations; lambda/batch.ts runs either in one loop.
 */
import type { Db } from './db.js';
import type { DecodedMigration, LedgerResult, MigrationFormat, MigrationResult } from './contract/index.js';
import type { RunContext } from './session.js';

/** What the ledger says of the migrations of one batch, read under the migration lock. */
export interface BatchLedger {
  /** Recorded as applied: never run again. */
  recorded(m: DecodedMigration): boolean;
  /** The state an interrupted run of `m` left, which `execute` resumes (Prisma's stepwise files). */
  resumeOf(m: DecodedMigration): unknown;
  /** `m` has just been applied and recorded. */
  add(m: DecodedMigration): void;
}

export interface WorkerFormat {
  readonly name: MigrationFormat;
  /** The ledger's part of the `ledger` action's answer. */
  readLedger(db: Db): Promise<Pick<LedgerResult, 'tableExists' | 'rows' | 'format' | 'drizzleRows'>>;
  /** Creates the ledger when missing; whether it was. */
  ensureLedger(db: Db): Promise<boolean>;
  /** Reads the ledger for a batch; refuses (throws) when it holds what must be resolved first. */
  readBatch(db: Db, migrations: DecodedMigration[]): Promise<BatchLedger>;
  /** Runs one migration and writes its ledger row (in the same transaction where the file allows). */
  execute(ctx: RunContext, m: DecodedMigration, resume: unknown): Promise<MigrationResult>;
}
