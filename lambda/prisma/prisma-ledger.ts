/**
 * `_prisma_migrations`, written exactly as Prisma's schema engine writes it
 * (docs/design.md §2): no unique constraint on the name, so rows are found by name, never upserted.
 *
 * Every statement names the table with its schema, fixed when the ledger is opened: a migration
 * may change the session's search_path (pg_dump's preamble sets it to ''), and the row written
 * after it must still land in the schema the connection started in.
 *
 * Writes that record a migration as run are guarded (lambda/ledger-guard.ts): the lock is still
 * held, and no other finished row of the same migration exists.
 */
import { randomUUID } from 'node:crypto';
import {
  ErrorCode,
  inline,
  type LedgerRow,
  MigrateError,
  PRISMA_LEDGER_TABLE,
  quoteIdent,
  type SqlStatement,
} from '../contract/index.js';
// The statements themselves: written once, shared with compatibility mode.
import {
  createLedgerSql,
  insertLedgerRowSql,
  type LedgerRowUpdate,
  readLedgerSql,
  recordedAsAppliedSql,
  rowsNamedSql,
  rowTimesSql,
  updateLedgerRowsSql,
} from '../contract/prisma-ledger-sql.js';
import type { Db } from '../db.js';
import { type LockProof, ledgerGuardSql } from '../ledger-guard.js';

/** A row as pg returns it: timestamps as Dates. */
export type RawLedgerRow = Omit<LedgerRow, 'finished_at' | 'started_at' | 'rolled_back_at'> & {
  finished_at: Date | null;
  rolled_back_at: Date | null;
  started_at: Date;
};

/** When a row's migration started and finished (null: not finished). */
export interface RowTimes {
  started_at: Date;
  finished_at: Date | null;
}

interface NewRow {
  name: string;
  checksum: string;
  /** A client time, or a chained migration's own start (lambda/prisma/chain.ts). */
  startedAt: Date | 'link-start';
  logs: string | null;
}

/** A started row's fields: `logs` NULL unless given. */
type StartedRow = Omit<NewRow, 'logs'> & { logs?: string };

/** Runs the statements of lambda/contract/prisma-ledger-sql.ts on the worker's session. */
export class PrismaLedger {
  private constructor(
    readonly db: Db,
    /** The schema the ledger lives in (the session's schema when opened). */
    readonly schema: string,
    /** `"schema"."_prisma_migrations"`. */
    readonly table: string,
    /** The session holding the migration lock; unset when the caller holds none (reads, resolve). */
    private readonly lock?: LockProof,
  ) {}

  /**
   * The ledger in the session's current schema. Open it before any migration file has run on
   * the session (or right after the session was reset), so it is the connection's own schema.
   */
  static async open(db: Db, lock?: LockProof): Promise<PrismaLedger> {
    const { rows } = await db.query<{ schema: string | null }>('SELECT pg_catalog.current_schema() AS schema');
    const schema = rows[0]?.schema;
    if (!schema) {
      throw new MigrateError(
        ErrorCode.ConfigMissing,
        'The connection has no current schema: no schema of ' +
          'its search_path exists, so there is nowhere to keep ' +
          '_prisma_migrations.',
        'Create the schema the URL names (?schema=NAME, default ' +
          'public), or point the URL at an existing one, then ' +
          'run the command again.',
      );
    }
    return new PrismaLedger(db, schema, `${quoteIdent(schema)}.${quoteIdent(PRISMA_LEDGER_TABLE)}`, lock);
  }

  async exists(): Promise<boolean> {
    const { rows } = await this.db.query<{ exists: boolean }>(
      `SELECT pg_catalog.to_regclass($1) IS NOT NULL AS exists`,
      [this.table],
    );
    return rows[0]?.exists === true;
  }

  /** Creates the table; returns whether it was missing. */
  async ensure(): Promise<boolean> {
    if (await this.exists()) return false;
    await this.db.query(createLedgerSql(this.table));
    return true;
  }

  /** Rows in Prisma's order (started_at); long logs are shortened so 800+ rows fit one response. */
  async read(): Promise<LedgerRow[]> {
    const { rows } = await this.db.query<RawLedgerRow>(readLedgerSql(this.table));
    return rows.map(toLedgerRow);
  }

  /** The rows of one migration, locked for the caller's transaction (resolve). */
  async rowsNamed(name: string): Promise<RawLedgerRow[]> {
    return (await this.run<RawLedgerRow>(rowsNamedSql(this.table, name))).rows;
  }

  /**
   * A finished row in the caller's transaction, then (with `commit`) its COMMIT — the guard, the
   * row and the COMMIT as one simple-protocol query (values inlined), so recording a migration
   * costs one round trip (docs/benchmarks.md). If the guard or the INSERT fails, PostgreSQL skips
   * the rest and the transaction stays aborted for the caller's ROLLBACK. The INSERT's text is
   * lambda/contract/prisma-ledger-sql.ts's, as every statement on the ledger.
   */
  async insertFinished(row: NewRow, options: { commit?: boolean } = {}): Promise<string> {
    const { id, sql } = this.finishedRowSql(row, options);
    await this.db.query(sql);
    return id;
  }

  /**
   * {@link insertFinished}'s text, for a caller that sends it after the migration file in the
   * same query (lambda/prisma/apply.ts, runTransactional).
   */
  finishedRowSql(
    row: NewRow,
    options: { commit?: boolean; returning?: boolean } = {},
  ): { id: string; sql: string; statements: number } {
    const id = randomUUID();
    const insert = insertLedgerRowSql(this.table, {
      id,
      ...row,
      finishedAt: 'clock',
      appliedSteps: 1,
      returning: options.returning === true,
    });
    // The guard's DO block, the INSERT and the COMMIT: one CommandComplete each.
    const sql = `${this.guardedSql(row.name, insert)}${options.commit ? '; COMMIT' : ''}`;
    return { id, sql, statements: options.commit ? 3 : 2 };
  }

  /** When the rows of these ids (of this run's writes) started and finished; the committed ones only. */
  async rowTimes(ids: readonly string[]): Promise<Map<string, RowTimes>> {
    const { rows } = await this.run<RowTimes & { id: string }>(rowTimesSql(this.table, ids));
    return new Map(rows.map((r) => [r.id, r]));
  }

  /**
   * Prisma's "started" row, written before a script that cannot be wrapped in our transaction:
   * the guard's DO block and the INSERT, for the caller to send after the session reset
   * (lambda/prisma/apply.ts, startRow). `logs`: NULL as Prisma writes it, or the resumable marker
   * of a stepwise run (lambda/contract/wire.ts).
   */
  startedRowSql(row: StartedRow): { id: string; sql: string } {
    const id = randomUUID();
    const insert = insertLedgerRowSql(this.table, { id, ...row, logs: row.logs ?? null, appliedSteps: 0 });
    return { id, sql: this.guardedSql(row.name, insert) };
  }

  /** A failed attempt of a transactional file: nothing of it was committed, only this record. */
  async insertFailed(row: NewRow & { logs: string }): Promise<string> {
    const id = randomUUID();
    await this.run(insertLedgerRowSql(this.table, { id, ...row, appliedSteps: 0 }));
    return id;
  }

  async recordProgress(id: string, appliedSteps: number): Promise<void> {
    await this.update(id, { appliedSteps });
  }

  /**
   * The end of a stepwise run. applied_steps_count goes back to 1, the value Prisma's engine
   * leaves on every finished row; while running it counted statements done (recordProgress) so
   * a resumed run knows where to start.
   */
  async markFinished(id: string, name: string, logs: string | null): Promise<void> {
    await this.guarded(name, updateLedgerRowsSql(this.table, id, { finished: true, logs }));
  }

  /** An unfinished row's `logs` and `applied_steps_count`: what a reader learns if the run stops here. */
  async recordRunState(id: string, logs: string, appliedSteps: number): Promise<void> {
    await this.update(id, { logs, appliedSteps });
  }

  async markRolledBack(ids: string[]): Promise<void> {
    if (ids.length === 0) return;
    await this.update(ids, { rolledBack: true });
  }

  /**
   * `migrate resolve --applied`'s row, as Prisma writes it: logs '', no steps, started = finished = now().
   * `clock`: the time of this statement rather than of the transaction, so rows written in one
   * transaction (baseline) keep their order in `started_at`, the order Prisma reads them in.
   */
  async insertResolvedApplied(name: string, checksum: string, opts: { clock?: boolean } = {}): Promise<LedgerRow> {
    const { rows } = await this.run<RawLedgerRow>(
      insertLedgerRowSql(this.table, {
        id: randomUUID(),
        checksum,
        name,
        logs: '',
        startedAt: opts.clock ? 'clock' : 'now',
        finishedAt: 'started',
        appliedSteps: 0,
        returning: true,
      }),
    );
    return toLedgerRow(rows[0] as RawLedgerRow);
  }

  private async update(ids: string | string[], set: LedgerRowUpdate): Promise<void> {
    await this.run(updateLedgerRowsSql(this.table, ids, set));
  }

  private run<T extends object = object>(statement: SqlStatement) {
    return this.db.query<T>(statement.text, statement.values as unknown[]);
  }

  /**
   * Runs `statement` after the guard, in one round trip: one simple-protocol query (values
   * inlined, as the guard's DO block takes no parameters). PostgreSQL runs the write only if the
   * guard passed; outside a transaction of the caller's the query is one implicit transaction,
   * inside one it is the caller's, so the guard and the write commit or fail together either way.
   */
  private async guarded(name: string, statement: SqlStatement): Promise<void> {
    await this.db.query(this.guardedSql(name, statement));
  }

  /**
   * The guard (lambda/ledger-guard.ts: the lock is held and no finished, not rolled back row of
   * `name` exists), then `statement` with its values inlined: two statements of one query.
   */
  private guardedSql(name: string, statement: SqlStatement): string {
    const alreadyRecorded = recordedAsAppliedSql(this.table, this.db.escapeLiteral(name));
    return `${ledgerGuardSql(this.db, { lock: this.lock, alreadyRecorded })}; ${inline(statement)}`;
  }
}

/** The wire form: timestamps as ISO strings. */
export function toLedgerRow(r: RawLedgerRow): LedgerRow {
  return {
    ...r,
    finished_at: iso(r.finished_at),
    rolled_back_at: iso(r.rolled_back_at),
    started_at: iso(r.started_at) as string,
  };
}

export function iso(value: Date | null): string | null {
  return value ? new Date(value).toISOString() : null;
}

export function successfulNames(rows: LedgerRow[]): Set<string> {
  return new Set(rows.filter((r) => r.finished_at !== null && r.rolled_back_at === null).map((r) => r.migration_name));
}

export function failedRows(rows: LedgerRow[]): LedgerRow[] {
  return rows.filter((r) => r.finished_at === null && r.rolled_back_at === null);
}
