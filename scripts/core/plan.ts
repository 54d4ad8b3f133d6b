/**
 * The plan: local migration folders against the rows of `_prisma_migrations`.
 *
 * Pure by design (no fs, pg or AWS), so status, deploy and rehearse share one decision and the
 * unit tests can cover every case. The rules follow Prisma's schema engine
 * (`core/commands/apply_migrations.rs`, `diagnose_migration_history.rs`) plus the policy of
 * docs/design.md §3: checksums are checked on deploy, and out-of-order folders are reported, never
 * silently skipped.
 */
import {
  ErrorCode,
  isResumableLog,
  type LedgerRow,
  ledgerLogSummary,
  remedyCommand,
  sh,
} from '../../lambda/contract/index.js';

/** What the plan needs to know about one local migration folder. */
export interface LocalMigrationRef {
  /** Folder name, the ledger's `migration_name`. */
  name: string;
  /** sha256 of migration.sql (lowercase hex). */
  checksum: string;
  /**
   * Compares the local file with a recorded checksum. Pass `checksumMatches` from checksum.ts
   * bound to the file's bytes to get Prisma's leniency; without it the comparison is strict
   * equality with `checksum`.
   */
  matches?: (recorded: string) => boolean;
  /** Path of migration.sql, used only to make remedies concrete. */
  path?: string;
}

export interface PlanOptions {
  /** Apply pending folders that sort before the newest applied one (still reported). */
  allowOutOfOrder?: boolean;
  /** Accept applied migrations whose local file changed (still reported). */
  allowModified?: boolean;
}

/** A migration the database records as successfully applied. */
export interface AppliedEntry {
  name: string;
  /** Checksum of the successful row. */
  checksum: string;
  startedAt: string;
  finishedAt: string;
  appliedStepsCount: number;
  /** The successful row's logs: reconciled statements are listed here by our worker. */
  logs: string | null;
  /** A local folder exists for it. */
  local: boolean;
  /** The local file no longer matches any successful row's checksum. */
  modified: boolean;
  /** Rows recorded for this name, rolled-back attempts included. */
  attempts: number;
}

/** A row with `finished_at` and `rolled_back_at` both NULL: Prisma's P3009 state. */
export interface FailedEntry {
  name: string;
  startedAt: string;
  logs: string | null;
  appliedStepsCount: number;
  /** No logs were written: the run stopped before it could record an error. */
  interrupted: boolean;
  /**
   * An interrupted stepwise run of our worker (its marker in `logs`, lambda/contract/wire.ts) of the
   * unchanged local file: deploy resumes it where `applied_steps_count` says, so it is pending,
   * not a problem.
   */
  resumable: boolean;
  /** A local folder exists for it. */
  local: boolean;
}

/** An applied migration whose local file differs from what was applied. */
export interface ModifiedEntry {
  name: string;
  recordedChecksum: string;
  localChecksum: string;
  /** `allowModified` was set: reported, not a problem. */
  allowed: boolean;
}

/** One reason deploy must refuse. `code` is an `ErrorCode` value. */
export interface Problem {
  code: string;
  migration: string;
  message: string;
  remedy: string;
}

export type PlanState = 'up-to-date' | 'pending' | 'problem';

export interface Plan {
  /** Local applied migrations in local order, then applied ones with no local folder. */
  applied: AppliedEntry[];
  /** Names to apply, in local (byte) order: folders with no row that is not rolled back. */
  pending: string[];
  failed: FailedEntry[];
  modified: ModifiedEntry[];
  /** Applied in the database, no local folder: the database is ahead of the code. */
  missingLocally: string[];
  /** Pending names that sort before the newest applied migration. */
  outOfOrder: string[];
  /** Names with at least one rolled-back row (a name with only such rows is also pending). */
  rolledBack: string[];
  problems: Problem[];
  state: PlanState;
  /**
   *  The line of counts in the format's own words (Drizzle: formats/drizzle/plan.ts); `summarize` returns it when set.
   */
  summary?: string;
}

/**
 * Compares local migrations with the ledger and decides what deploy would do.
 *
 * `local` must be in the order migrations are applied (formats/prisma/discover.ts sorts by byte order of the
 * name, as Prisma does); `pending` keeps that order. `ledger` may be in any order and may hold
 * several rows per name (rolled-back attempts plus the success).
 *
 * @example
 * const discovery = await discoverMigrations('prisma/migrations');
 * const result = plan(planInputs(discovery.migrations), ledger.rows, { allowOutOfOrder: false });
 * if (result.state === 'problem') for (const p of result.problems) console.error(p.message, p.remedy);
 */
export function plan(local: LocalMigrationRef[], ledger: LedgerRow[], options: PlanOptions = {}): Plan {
  const rowsByName = new Map<string, LedgerRow[]>();
  for (const row of ledger) {
    const rows = rowsByName.get(row.migration_name);
    if (rows) rows.push(row);
    else rowsByName.set(row.migration_name, [row]);
  }
  const localByName = new Map(local.map((m) => [m.name, m]));

  const applied: AppliedEntry[] = [];
  const pending: string[] = [];
  const failed: FailedEntry[] = [];
  const modified: ModifiedEntry[] = [];
  const rolledBack: string[] = [];

  // Local names first (in local order), then names only the database knows, in byte order, so
  // every list is deterministic whatever order the ledger query returned.
  const dbOnlyNames = [...rowsByName.keys()].filter((name) => !localByName.has(name)).sort(compareMigrationNames);
  const names = [...local.map((m) => m.name), ...dbOnlyNames];

  for (const name of names) {
    const rows = rowsByName.get(name) ?? [];
    const migration = localByName.get(name);
    const live = rows.filter((r) => r.rolled_back_at === null);
    const successes = live.filter((r) => r.finished_at !== null);

    if (rows.some((r) => r.rolled_back_at !== null)) rolledBack.push(name);
    let resumable = false;
    for (const row of live) {
      if (row.finished_at !== null) continue;
      // Strict checksum: the worker resumes only the very file it was running.
      resumable =
        live.length === 1 && migration !== undefined && isResumableLog(row.logs) && row.checksum === migration.checksum;
      failed.push({
        name,
        startedAt: row.started_at,
        logs: row.logs,
        appliedStepsCount: row.applied_steps_count,
        interrupted: (row.logs ?? '').trim() === '' || isResumableLog(row.logs),
        resumable,
        local: migration !== undefined,
      });
    }

    // Prisma's rule (apply_migrations.rs): pending = no row that is not rolled back. A failed
    // row therefore keeps its migration out of `pending`; it is reported as failed instead —
    // unless it is our own interrupted run, which deploy resumes.
    if (migration && (live.length === 0 || resumable)) pending.push(name);

    const success = latest(successes);
    if (!success) continue;
    let isModified = false;
    if (migration) {
      const lenient = migration.matches;
      // The local checksum equal to the recorded one is a match whatever the leniency: only
      // another value is compared again (Prisma's CRLF and legacy forms hash the file anew).
      const matches = (recorded: string) => recorded === migration.checksum || lenient?.(recorded) === true;
      // Any successful row will do: with several (a hand-inserted duplicate, say), the file is
      // unchanged if it matches what one of them recorded.
      isModified = !successes.some((r) => matches(r.checksum));
      if (isModified) {
        modified.push({
          name,
          recordedChecksum: success.checksum,
          localChecksum: migration.checksum,
          allowed: options.allowModified === true,
        });
      }
    }
    applied.push({
      name,
      checksum: success.checksum,
      startedAt: success.started_at,
      finishedAt: success.finished_at!,
      appliedStepsCount: success.applied_steps_count,
      logs: success.logs,
      local: migration !== undefined,
      modified: isModified,
      attempts: rows.length,
    });
  }

  const missingLocally = applied.filter((a) => !a.local).map((a) => a.name);

  // "Newest applied" is the greatest name among successful rows, local or not: a pending folder
  // sorting before it would run after a migration that was meant to follow it.
  let newest: string | undefined;
  for (const a of applied) if (newest === undefined || compareMigrationNames(a.name, newest) > 0) newest = a.name;
  const outOfOrder = newest === undefined ? [] : pending.filter((name) => compareMigrationNames(name, newest) < 0);

  const problems: Problem[] = [];
  for (const f of failed) if (!f.resumable) problems.push(failedProblem(f, localByName.get(f.name)));
  if (!options.allowModified) {
    for (const m of modified) problems.push(modifiedProblem(m, localByName.get(m.name)));
  }
  for (const name of missingLocally) problems.push(missingProblem(name));
  if (!options.allowOutOfOrder && newest !== undefined) {
    for (const name of outOfOrder) problems.push(outOfOrderProblem(name, newest));
  }

  const state: PlanState = problems.length > 0 ? 'problem' : pending.length > 0 ? 'pending' : 'up-to-date';
  return { applied, pending, failed, modified, missingLocally, outOfOrder, rolledBack, problems, state };
}

/**
 * One line of counts for a plan, e.g. `820 local, 815 applied, 5 pending`; other counts are
 * appended only when non-zero.
 */
export function summarize(p: Plan): string {
  if (p.summary !== undefined) return p.summary;
  const localCount = p.pending.length + p.applied.filter((a) => a.local).length + localFailedOnly(p);
  const parts = [`${localCount} local`, `${p.applied.length} applied`, `${p.pending.length} pending`];
  const resuming = p.failed.filter((f) => f.resumable).length;
  if (p.failed.length > resuming) parts.push(`${p.failed.length - resuming} failed`);
  if (resuming > 0) parts.push(`${resuming} interrupted (deploy resumes)`);
  if (p.modified.length > 0) {
    const allowed = p.modified.every((m) => m.allowed);
    parts.push(`${p.modified.length} modified${allowed ? ' (allowed)' : ''}`);
  }
  if (p.missingLocally.length > 0) parts.push(`${p.missingLocally.length} missing locally`);
  if (p.outOfOrder.length > 0) {
    const blocking = p.problems.some((x) => x.code === ErrorCode.OutOfOrder);
    parts.push(`${p.outOfOrder.length} out of order${blocking ? '' : ' (allowed)'}`);
  }
  return parts.join(', ');
}

/**
 * Byte order of the names' UTF-8 encoding (what `Buffer.compare` and Rust's `str::cmp` give),
 * computed on code points so this module needs no Node API: UTF-8 preserves code point order,
 * while JS `<` compares UTF-16 units and differs for astral characters.
 */
export function compareMigrationNames(a: string, b: string): number {
  // Fast path: UTF-16 units order like code points except where a surrogate (U+D800–DFFF) meets
  // a unit above it; names are nearly always ASCII, compared here without iterators.
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    if (x < 0xd800 && y < 0xd800) return x < y ? -1 : 1;
    return compareByCodePoints(a, b);
  }
  return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
}

function compareByCodePoints(a: string, b: string): number {
  const ia = a[Symbol.iterator]();
  const ib = b[Symbol.iterator]();
  for (;;) {
    const x = ia.next();
    const y = ib.next();
    if (x.done || y.done) return x.done && y.done ? 0 : x.done ? -1 : 1;
    const cx = x.value.codePointAt(0)!;
    const cy = y.value.codePointAt(0)!;
    if (cx !== cy) return cx < cy ? -1 : 1;
  }
}

/** Local folders counted neither as applied nor pending: those whose only live rows failed. */
function localFailedOnly(p: Plan): number {
  const counted = new Set([...p.pending, ...p.applied.filter((a) => a.local).map((a) => a.name)]);
  return new Set(p.failed.filter((f) => f.local && !counted.has(f.name)).map((f) => f.name)).size;
}

function latest(rows: LedgerRow[]): LedgerRow | undefined {
  let best: LedgerRow | undefined;
  for (const r of rows) {
    // ISO strings from the worker compare chronologically; ties keep the first row.
    if (!best || (r.finished_at ?? r.started_at) > (best.finished_at ?? best.started_at)) best = r;
  }
  return best;
}

function failedProblem(f: FailedEntry, migration: LocalMigrationRef | undefined): Problem {
  const how = f.interrupted
    ? 'and recorded no error: the worker was interrupted (timeout or crash) while running it'
    : `with: ${ledgerLogSummary(f.logs)}`;
  const steps = f.appliedStepsCount > 0 ? ` after ${f.appliedStepsCount} completed step(s)` : '';
  const rolledBack = remedyCommand('resolve', '--rolled-back', f.name);
  const remedy = migration
    ? `Inspect the database and finish or undo what ${f.name} changed, then run ${rolledBack} to ` +
      `retry it on the next deploy, or ${remedyCommand('resolve', '--applied', f.name)} if it is now fully applied.`
    : `Its folder is missing locally, so it cannot be marked applied (Prisma P3017). Undo what it changed, ` +
      `then run ${rolledBack}, or restore the folder from git and deploy again.`;
  return {
    code: ErrorCode.FailedMigrationInLedger,
    migration: f.name,
    message:
      // The ledger's logs may end their own sentence ("… creates."): one full stop, not two.
      `Migration ${f.name} started at ${f.startedAt} and failed${steps} ${how}${how.endsWith('.') ? '' : '.'} ` +
      `Nothing is applied until it is resolved (Prisma P3009).`,
    remedy,
  };
}

function modifiedProblem(m: ModifiedEntry, migration: LocalMigrationRef | undefined): Problem {
  const file = migration?.path ?? `${m.name}/migration.sql`;
  return {
    code: ErrorCode.ChecksumModified,
    migration: m.name,
    message:
      `Migration ${m.name} was applied with checksum ${m.recordedChecksum}, but the local file now has ` +
      `${m.localChecksum}: it was edited after it was applied.`,
    remedy:
      `Restore the applied version from git (\`git log -p -- ${sh(file)}\` shows the edit, ` +
      `\`git checkout <commit> -- ${sh(file)}\` restores it) and put new changes in a new migration, ` +
      `or deploy anyway: \`vpc-migrate deploy --allow-modified\`.`,
  };
}

function missingProblem(name: string): Problem {
  return {
    code: ErrorCode.MissingLocally,
    migration: name,
    message:
      `Migration ${name} is applied in the database but has ` + `no local folder: the database is ahead of this code.`,
    remedy:
      `Deploy from code that contains it (\`git log --all ` +
      `--oneline -- '*/${name.replaceAll("'", `'\\''`)}/migration.sql'\` ` +
      `finds the commit), or restore the folder from the branch that applied it.`,
  };
}

function outOfOrderProblem(name: string, newest: string): Problem {
  return {
    code: ErrorCode.OutOfOrder,
    migration: name,
    message:
      `Migration ${name} is not applied, but it sorts before ${newest}, which is: applying it now ` +
      `would run it after migrations that were written to follow it.`,
    remedy:
      `If it has not been applied anywhere yet, rename its folder so it sorts after ${newest} ` +
      `(a new timestamp prefix); otherwise apply it anyway: \`vpc-migrate deploy --allow-out-of-order\`.`,
  };
}
