/**
 * The plan for a Drizzle journal against the rows of `drizzle.__drizzle_migrations`.
 *
 * Pure (no fs, pg or AWS), and it returns the shared `Plan` so status, deploy and the reports
 * treat both formats alike. Where drizzle-orm's migrator decides "pending" by the newest
 * `created_at` alone (so an older entry merged later is skipped while it prints success),
 * here an entry is pending when no ledger row records its hash, and a pending entry that is
 * not newer than the newest row is reported as out of order, never skipped.
 *
 * Rows are matched to entries one to one, in this order: same hash and `created_at`; then same
 * hash (the journal's `when` was edited); then same `created_at` with another hash — the file
 * of an applied entry was changed. A row left over matches no entry: the database is ahead.
 */
import { type DrizzleLedgerRow, ErrorCode, sh } from '../../../lambda/contract/index.js';
import type { AppliedEntry, ModifiedEntry, Plan, PlanOptions, PlanState, Problem } from '../../core/plan.js';

/** What the plan needs to know about one journal entry. */
export interface DrizzleLocalRef {
  /** The entry's tag (its file is `<tag>.sql`). */
  name: string;
  /** sha256 of the file's text, lowercase hex. */
  hash: string;
  /** The entry's `when`. */
  createdAt: number;
  /** Path of the file, used only to make remedies concrete. */
  path?: string;
}

/** The seed project's three numbers, for `status --json`. */
export interface DrizzleCounts {
  /** Rows in `drizzle.__drizzle_migrations` ("database has N migrations"). */
  applied: number;
  /** Entries in meta/_journal.json. */
  expected: number;
  pending: number;
}

export interface DrizzlePlan extends Plan {
  format: 'drizzle';
  counts: DrizzleCounts;
  /** The newest `created_at` in the ledger: drizzle-orm's migrator applies only entries newer than it. */
  newestCreatedAt: number | null;
  /** Applied entries whose row records another `created_at` than the journal's `when` (matched by hash). */
  whenChanged: string[];
}

export function isDrizzlePlan(p: Plan): p is DrizzlePlan {
  return (p as Partial<DrizzlePlan>).format === 'drizzle';
}

/** "Migration state: 8 applied, 10 expected, 2 pending" (the seed's words), then what else is non-zero. */
export function stateLine(
  p: Pick<DrizzlePlan, 'counts' | 'modified' | 'missingLocally' | 'outOfOrder' | 'problems'>,
): string {
  const { applied, expected, pending } = p.counts;
  const parts = [`Migration state: ${applied} applied, ${expected} expected, ${pending} pending`];
  if (p.modified.length > 0)
    parts.push(`${p.modified.length} modified${p.modified.every((m) => m.allowed) ? ' (allowed)' : ''}`);
  if (p.missingLocally.length > 0) parts.push(`${p.missingLocally.length} missing locally`);
  if (p.outOfOrder.length > 0) {
    const refused = p.problems.some((x) => x.code === ErrorCode.OutOfOrder);
    parts.push(`${p.outOfOrder.length} out of order${refused ? '' : ' (allowed)'}`);
  }
  return parts.join(', ');
}

/** The seed's after-check: the ledger must hold exactly the journal's entries. */
export function verifyDrizzle(p: DrizzlePlan): { ok: boolean; message: string } {
  const { applied, expected } = p.counts;
  if (applied !== expected)
    return { ok: false, message: `Migration count mismatch: database has ${applied} but expected ${expected}` };
  if (p.pending.length > 0) {
    return {
      ok: false,
      message:
        `Verification failed: ${p.pending.length} journal entr` +
        `${p.pending.length === 1 ? 'y has' : 'ies have'} no ` +
        `ledger row (${p.pending.slice(0, 5).join(', ')})`,
    };
  }
  return { ok: true, message: `Verified: database has all ${applied} migrations.` };
}

/**
 * Compares the journal with the ledger and decides what deploy would do.
 *
 * @param local journal entries in journal order (the apply order); `pending` keeps it
 * @param rows the ledger rows, any order
 *
 * @example
 * const p = planDrizzle(discovery.migrations.map((m) => ({ name: m.name, hash: m.checksum, createdAt: m.createdAt })),
 * ledger.drizzleRows ?? []);
 * console.log(p.summary); // Migration state: 186 applied, 186 expected, 0 pending
 */
export function planDrizzle(
  local: DrizzleLocalRef[],
  rows: DrizzleLedgerRow[],
  options: PlanOptions = {},
): DrizzlePlan {
  const ordered = [...rows].sort((a, b) => (a.created_at ?? -1) - (b.created_at ?? -1) || a.id - b.id);
  const free = new Set(ordered);
  const match = new Map<number, { row: DrizzleLedgerRow; modified: boolean }>();
  const take = (i: number, pick: (r: DrizzleLedgerRow) => boolean, modified: boolean) => {
    if (match.has(i)) return;
    for (const row of free) {
      if (!pick(row)) continue;
      free.delete(row);
      match.set(i, { row, modified });
      return;
    }
  };
  for (const [i, m] of local.entries()) take(i, (r) => r.hash === m.hash && r.created_at === m.createdAt, false);
  for (const [i, m] of local.entries()) take(i, (r) => r.hash === m.hash, false);
  for (const [i, m] of local.entries()) take(i, (r) => r.created_at === m.createdAt, true);

  const applied: AppliedEntry[] = [];
  const pending: string[] = [];
  const modified: ModifiedEntry[] = [];
  const whenChanged: string[] = [];
  local.forEach((m, i) => {
    const found = match.get(i);
    if (!found) {
      pending.push(m.name);
      return;
    }
    const { row } = found;
    if (found.modified)
      modified.push({
        name: m.name,
        recordedChecksum: row.hash,
        localChecksum: m.hash,
        allowed: options.allowModified === true,
      });
    else if (row.created_at !== m.createdAt) whenChanged.push(m.name);
    applied.push(appliedEntry(m.name, row, true, found.modified));
  });
  const leftover = [...free];
  for (const row of leftover) applied.push(appliedEntry(rowLabel(row), row, false, false));
  const missingLocally = leftover.map(rowLabel);

  let newest: number | null = null;
  for (const r of rows) if (r.created_at !== null && (newest === null || r.created_at > newest)) newest = r.created_at;
  const byName = new Map(local.map((m) => [m.name, m]));
  // drizzle-orm applies an entry only when `when` > the newest created_at: anything else would be skipped.
  const outOfOrder =
    newest === null ? [] : pending.filter((name) => (byName.get(name)?.createdAt ?? 0) <= (newest as number));

  const problems: Problem[] = [];
  if (!options.allowModified) for (const m of modified) problems.push(modifiedProblem(m, byName.get(m.name)));
  if (leftover.length > 0) problems.push(...aheadProblems(leftover, rows.length, local));
  if (!options.allowOutOfOrder && newest !== null) {
    for (const name of outOfOrder)
      problems.push(outOfOrderProblem(byName.get(name) as DrizzleLocalRef, newest, newestTag(local, match, newest)));
  }

  const state: PlanState = problems.length > 0 ? 'problem' : pending.length > 0 ? 'pending' : 'up-to-date';
  const counts: DrizzleCounts = { applied: rows.length, expected: local.length, pending: pending.length };
  const plan: DrizzlePlan = {
    format: 'drizzle',
    applied,
    pending,
    failed: [],
    modified,
    missingLocally,
    outOfOrder,
    rolledBack: [],
    problems,
    state,
    counts,
    newestCreatedAt: newest,
    whenChanged,
  };
  plan.summary = stateLine(plan);
  return plan;
}

function appliedEntry(name: string, row: DrizzleLedgerRow, isLocal: boolean, isModified: boolean): AppliedEntry {
  // Drizzle records no application time: both times are the entry's `when` (its created_at).
  const at = row.created_at === null ? '' : iso(row.created_at);
  return {
    name,
    checksum: row.hash,
    startedAt: at,
    finishedAt: at,
    appliedStepsCount: 1,
    logs: null,
    local: isLocal,
    modified: isModified,
    attempts: 1,
  };
}

/** How a row that matches no journal entry is named in reports. */
export function rowLabel(row: DrizzleLedgerRow): string {
  return `ledger row ${row.id} (created_at ${row.created_at ?? 'NULL'})`;
}

function newestTag(
  local: DrizzleLocalRef[],
  match: Map<number, { row: DrizzleLedgerRow }>,
  newest: number,
): string | undefined {
  for (const [i, { row }] of match) if (row.created_at === newest) return local[i]?.name;
  return undefined;
}

function modifiedProblem(m: ModifiedEntry, entry: DrizzleLocalRef | undefined): Problem {
  const file = entry?.path ?? `${m.name}.sql`;
  return {
    code: ErrorCode.ChecksumModified,
    migration: m.name,
    message:
      `Migration ${m.name} was applied with hash ${m.recordedChecksum} ` +
      `(created_at ${entry?.createdAt ?? '?'}), but ${m.name}.sql ` +
      `now hashes to ` +
      `${m.localChecksum}: it was edited after it was applied.`,
    remedy:
      `Restore the applied version from git (\`git log -p ` +
      `-- ${sh(file)}\` shows the edit) and put new changes ` +
      `in a new migration ` +
      '(`drizzle-kit generate`), or deploy anyway: `vpc-migrate deploy --allow-modified`.',
  };
}

function aheadProblems(leftover: DrizzleLedgerRow[], databaseCount: number, local: DrizzleLocalRef[]): Problem[] {
  // A row identical to an entry's (same hash and created_at) whose entry already has one: a duplicate.
  const entries = new Map(local.map((m) => [`${m.hash}:${m.createdAt}`, m.name]));
  const twinOf = (r: DrizzleLedgerRow) => entries.get(`${r.hash}:${r.created_at}`);
  const described = leftover.map((r) => {
    const twin = twinOf(r);
    return twin
      ? `${rowLabel(r)} records ${twin} a second time`
      : `${rowLabel(r)}, hash ${r.hash.slice(0, 12)}…${r.created_at === null ? '' : `, ${iso(r.created_at)}`}`;
  });
  if (databaseCount > local.length) {
    // The seed project's refusal, in its words.
    return [
      {
        code: ErrorCode.MissingLocally,
        migration: rowLabel(leftover[0] as DrizzleLedgerRow),
        message: `Database has ${databaseCount} migrations but local journal only has ${local.length}`,
        remedy:
          `The database is ahead of this code: ${leftover.length} ` +
          `ledger row(s) match no journal entry (${described.slice(0, 5).join('; ')}). ` +
          ('Deploy from the code that applied them (`git log -p ' +
            '-- meta/_journal.json` finds it), or restore their ' +
            'entries in meta/_journal.json.'),
      },
    ];
  }
  return leftover.map((r, i) => {
    const twin = twinOf(r);
    return {
      code: ErrorCode.MissingLocally,
      migration: rowLabel(r),
      message: twin
        ? `The ledger records ${twin} twice: ${rowLabel(r)} is a second row for it.`
        : `The ledger holds a migration that meta/_journal.json ` +
          `does not name (${described[i]}): the database is ahead ` +
          `of this code, or the entry was removed from the journal.`,
      remedy: twin
        ? `Delete the duplicate once you have checked it: DELETE FROM drizzle.__drizzle_migrations WHERE id = ${r.id};`
        : 'Deploy from the code that applied it (`git log -p -- ' +
          'meta/_journal.json` finds the entry), or restore the ' +
          'entry in meta/_journal.json.',
    };
  });
}

function outOfOrderProblem(entry: DrizzleLocalRef, newest: number, newestName: string | undefined): Problem {
  const after = newestName ? `${newestName} (${iso(newest)})` : `the newest ledger row (${iso(newest)})`;
  return {
    code: ErrorCode.OutOfOrder,
    migration: entry.name,
    message:
      `Migration ${entry.name} is not applied, but its "when" ` +
      `(${iso(entry.createdAt)}) is not after ${after}, which ` +
      `is. ` +
      ("drizzle-orm's own migrator would skip it silently; " +
        'applying it now runs it after migrations written to ' +
        'follow it.'),
    remedy:
      `If it has not been applied anywhere yet, give its journal ` +
      `entry a "when" after ${newest} (or generate it again ` +
      `on top of the current journal); ` +
      'otherwise apply it anyway: `vpc-migrate deploy --allow-out-of-order`.',
  };
}

function iso(ms: number): string {
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? String(ms) : d.toISOString();
}
