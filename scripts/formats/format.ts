/**
 * What a migration format is to the CLI: how its local migrations are found, how they compare
 * with its ledger, what is sent to apply them, how deploy lints them, and the words its
 * messages use. Prisma (formats/prisma/prisma.ts) and Drizzle (formats/drizzle/drizzle.ts) are
 * the two implementations; formats/select.ts picks one per run. The commands reach
 * format-specific behaviour only through this interface.
 */
import {
  ErrorCode,
  type LedgerResult,
  MigrateError,
  type MigrationFormat,
  type MigrationPayload,
  type MigrationResult,
} from '../../lambda/contract/index.js';
import type { Plan, PlanOptions, Problem } from '../core/plan.js';
import type { ParserSource } from '../core/sql-parser.js';
import type { Worker } from '../core/worker-client.js';
import type { ParseCache } from '../project/parse-cache.js';

/** One migration folder with a readable, valid UTF-8 migration.sql. */
export interface LocalMigration {
  /** Folder name: the ledger's `migration_name`. */
  name: string;
  /** Absolute path of migration.sql. */
  path: string;
  /** The file's bytes, exactly as on disk: the checksum is over these. */
  bytes: Buffer;
  /** The file's text, byte order mark included, so re-encoding it gives `bytes` back. */
  sql: string;
  /** sha256 of `bytes`, lowercase hex. */
  checksum: string;
}

export type AnomalyKind = 'no-migration-sql' | 'empty-file' | 'bom' | 'crlf' | 'odd-name' | 'stray-file';

/** Something unusual in the migrations folder; `error` means Prisma would fail on it. */
export interface Anomaly {
  kind: AnomalyKind;
  /** Folder or file name, relative to the migrations folder. */
  name: string;
  message: string;
  severity: 'error' | 'warning';
}

export interface Discovery {
  /** The migrations folder, absolute. */
  dir: string;
  /** In apply order: byte order of the folder name. */
  migrations: LocalMigration[];
  anomalies: Anomaly[];
  /** Provider from migration_lock.toml; null when there is no lock file. */
  provider: string | null;
}

/** The local side of a run: the folder's migrations, and its anomalies as report lines. */
export interface Local<D extends Discovery = Discovery> {
  discovery: D;
  warnings: string[];
}

/**
 * The folder as a run may use it: an `error` anomaly (a migration the folder lists that cannot
 * be read) refuses with the format's `remedy`; the others become warnings.
 */
export function usableLocal<D extends Discovery>(discovery: D, remedy: string): Local<D> {
  const errors = discovery.anomalies.filter((a) => a.severity === 'error');
  if (errors.length > 0) {
    throw new MigrateError(
      ErrorCode.MigrationFileMissing,
      `The migrations folder has problems: ${errors.map((a) => a.message).join('; ')}`,
      remedy,
      {
        details: { anomalies: errors },
      },
    );
  }
  return { discovery, warnings: discovery.anomalies.map((a) => a.message) };
}

/** The counts a format reports beside its plan (Drizzle: the seed's applied/expected/pending). */
export interface LedgerCounts {
  /** Rows in the ledger. */
  applied: number;
  /** Local migrations. */
  expected: number;
  pending: number;
}

/** Deploy's pre-apply lint: errors refuse the deploy, warnings become report lines. */
export interface PendingLintResult {
  problems: Problem[];
  warnings: string[];
}

export interface Format<D extends Discovery = Discovery> {
  readonly name: MigrationFormat;
  /**
   * The format as worker events and reports carry it. Absent for Prisma: events and reports
   * kept their pre-Drizzle shape, and the worker's default is Prisma.
   */
  readonly wire?: MigrationFormat;
  /** The ledger table as messages name it. */
  readonly ledgerTable: string;
  /** A migration's file as result lines name it. */
  fileOf(name: string): string;
  /** Reads the folder; refuses (MigrateError) when a migration the folder lists cannot be read. */
  loadLocal(dir: string): Promise<Local<D>>;
  readLedger(worker: Worker): Promise<LedgerResult>;
  plan(discovery: D, ledger: LedgerResult, options: PlanOptions): Plan;
  /** The parser is loaded only for what `opts.cache` (the parse cache) does not answer. */
  lintPending(
    parser: ParserSource,
    discovery: D,
    pending: readonly string[],
    opts: { defaultSchema?: string; cache?: ParseCache },
  ): Promise<PendingLintResult>;
  /**
   * Apply payloads for `pending`, in that order; parser findings go to `warnings`. The parser is
   * loaded only for files `cache` has no parse of.
   */
  payloads(
    parser: ParserSource,
    discovery: D,
    pending: readonly string[],
    warnings: string[],
    cache?: ParseCache,
  ): Promise<MigrationPayload[]>;
  /** What deploy says about a failed migration: its own message when the SQL is not the cause, and what to do next. */
  failure(failed: MigrationResult): { message?: string; remedy: string };
  /** The after-deploy check in the format's own words, or undefined where the shared check says it all. */
  verify(plan: Plan): { ok: boolean; message: string } | undefined;
  /** Counts status reports beside the plan, where the format has its own. */
  counts(plan: Plan): LedgerCounts | undefined;
}
