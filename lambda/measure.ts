/**
 * What a transaction did, measured from inside it: rows touched (pg_stat_xact_user_tables),
 * locks held (pg_locks), and whether it is still open (the ReadyForQuery status byte). Rehearse
 * and backfill take a snapshot before and after each step and report the difference.
 */
import type pg from 'pg';
import type { Db } from './db.js';
import { MIGRATION_LOCK_KEY, type LockImpact, type RehearsalLock, type RowsTouched } from './protocol.js';

export type RowCounts = Map<string, RowsTouched>;

/** Row counters of every user table as this transaction sees them (pending counts included). */
export async function rowCounts(db: Db): Promise<RowCounts> {
  const { rows } = await db.query<{ relid: string; name: string; ins: string; upd: string; del: string }>(
    `SELECT relid::text AS relid, format('%I.%I', schemaname, relname) AS name,
            n_tup_ins AS ins, n_tup_upd AS upd, n_tup_del AS del
       FROM pg_stat_xact_user_tables
      WHERE n_tup_ins + n_tup_upd + n_tup_del > 0`,
  );
  return new Map(rows.map((r) => [r.relid, { table: r.name, inserted: Number(r.ins), updated: Number(r.upd), deleted: Number(r.del) }]));
}

/** Rows touched between two snapshots, per table, largest first. */
export function rowsDelta(before: RowCounts, after: RowCounts): RowsTouched[] {
  const out: RowsTouched[] = [];
  for (const [relid, now] of after) {
    const was = before.get(relid);
    const delta = {
      table: now.table,
      inserted: Math.max(0, now.inserted - (was?.inserted ?? 0)),
      updated: Math.max(0, now.updated - (was?.updated ?? 0)),
      deleted: Math.max(0, now.deleted - (was?.deleted ?? 0)),
    };
    if (delta.inserted + delta.updated + delta.deleted > 0) out.push(delta);
  }
  return out.sort((a, b) => total(b) - total(a) || a.table.localeCompare(b.table));
}

export const total = (r: RowsTouched): number => r.inserted + r.updated + r.deleted;

export interface HeldLock extends RehearsalLock {
  /** Identity for set differences: locktype, target and mode. */
  key: string;
  relid?: string;
}

const RELKINDS: Record<string, string> = {
  r: 'table',
  p: 'partitioned table',
  i: 'index',
  I: 'partitioned index',
  S: 'sequence',
  v: 'view',
  m: 'materialized view',
  f: 'foreign table',
  t: 'toast table',
  c: 'composite type',
};

/** PostgreSQL's lock conflict table, read from the side of the sessions that must wait. */
export function lockImpact(mode: string): LockImpact {
  switch (mode) {
    case 'AccessExclusiveLock':
      return 'reads-and-writes';
    case 'ExclusiveLock':
    case 'ShareRowExclusiveLock':
    case 'ShareLock':
      return 'writes';
    case 'ShareUpdateExclusiveLock':
      return 'schema-changes';
    default:
      return 'ddl';
  }
}

/**
 * Locks this session holds: relations outside the system catalogs (our own catalog reads take
 * some), object locks (e.g. ALTER TYPE ... ADD VALUE) and advisory locks other than the
 * migration lock. Transaction-id and tuple locks say nothing about what others wait for.
 */
export async function heldLocks(db: Db, existing: ReadonlySet<string>): Promise<HeldLock[]> {
  const { rows } = await db.query<{
    locktype: string;
    mode: string;
    objkey: string | null;
    relid: string | null;
    relation: string | null;
    relkind: string | null;
    object: string | null;
  }>(
    `SELECT l.locktype, l.mode, l.relation::text AS relid,
            CASE WHEN l.locktype = 'object' THEN l.classid::text || ':' || l.objid::text END AS objkey,
            CASE WHEN l.relation IS NOT NULL THEN coalesce(format('%I.%I', n.nspname, c.relname), l.relation::text) END AS relation,
            c.relkind::text AS relkind,
            CASE WHEN l.locktype = 'object' THEN coalesce(pg_describe_object(l.classid, l.objid, 0), l.classid || ':' || l.objid)
                 WHEN l.locktype = 'advisory' THEN 'advisory key ' || CASE WHEN l.objsubid = 1 THEN ((l.classid::bigint << 32) | l.objid::bigint)::text ELSE l.classid || ',' || l.objid END
            END AS object
       FROM pg_locks l
       LEFT JOIN pg_class c ON c.oid = l.relation
       LEFT JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE l.pid = pg_backend_pid() AND l.granted
        AND l.locktype IN ('relation', 'object', 'advisory')
        AND NOT (l.locktype = 'relation' AND (n.nspname IN ('pg_catalog', 'information_schema') OR n.nspname LIKE 'pg\\_toast%'))
        AND NOT (l.locktype = 'object' AND l.mode = 'AccessShareLock')
        AND NOT (l.locktype = 'advisory' AND l.objsubid = 1 AND ((l.classid::bigint << 32) | l.objid::bigint) = $1)`,
    [MIGRATION_LOCK_KEY],
  );
  return rows.map((r) => {
    const target = r.relation ?? r.object ?? '?';
    const lock: HeldLock = { key: `${r.locktype}|${r.relid ?? target}|${r.mode}`, locktype: r.locktype, mode: r.mode, target };
    if (r.locktype === 'relation' && r.relid) {
      lock.relid = r.relid;
      if (r.relkind) lock.kind = RELKINDS[r.relkind] ?? r.relkind;
      lock.newObject = !existing.has(`${PG_CLASS}:${r.relid}`);
      lock.blocks = lockImpact(r.mode);
    }
    if (r.objkey) lock.newObject = !existing.has(r.objkey);
    return lock;
  });
}

const STRENGTH = [
  'AccessShareLock',
  'RowShareLock',
  'RowExclusiveLock',
  'ShareUpdateExclusiveLock',
  'ShareLock',
  'ShareRowExclusiveLock',
  'ExclusiveLock',
  'AccessExclusiveLock',
];

/** Locks in `after` and not in `before`, strongest first, without the bookkeeping keys. */
export function locksDelta(before: readonly HeldLock[], after: readonly HeldLock[]): RehearsalLock[] {
  const had = new Set(before.map((l) => l.key));
  return after
    .filter((l) => !had.has(l.key))
    .sort((a, b) => STRENGTH.indexOf(b.mode) - STRENGTH.indexOf(a.mode) || a.target.localeCompare(b.target))
    .map(({ key: _key, relid: _relid, ...lock }) => lock);
}

/** pg_class's own oid: the catalog id of relations in object keys. */
const PG_CLASS = 1259;

/**
 * Objects that exist now (before a rehearsal starts), as `catalog:oid` keys: relations, types,
 * constraints, functions, schemas. A lock on anything else is on an object the rehearsal made.
 */
export async function existingObjects(db: Db): Promise<Set<string>> {
  const { rows } = await db.query<{ key: string }>(
    `WITH user_ns AS (SELECT oid FROM pg_namespace WHERE nspname NOT IN ('pg_catalog', 'information_schema') AND nspname NOT LIKE 'pg\\_toast%')
     SELECT 'pg_class'::regclass::oid::text || ':' || oid::text AS key FROM pg_class WHERE relnamespace IN (SELECT oid FROM user_ns)
     UNION ALL SELECT 'pg_type'::regclass::oid::text || ':' || oid::text FROM pg_type WHERE typnamespace IN (SELECT oid FROM user_ns)
     UNION ALL SELECT 'pg_constraint'::regclass::oid::text || ':' || oid::text FROM pg_constraint WHERE connamespace IN (SELECT oid FROM user_ns)
     UNION ALL SELECT 'pg_proc'::regclass::oid::text || ':' || oid::text FROM pg_proc WHERE pronamespace IN (SELECT oid FROM user_ns)
     UNION ALL SELECT 'pg_namespace'::regclass::oid::text || ':' || oid::text FROM pg_namespace`,
  );
  return new Set(rows.map((r) => r.key));
}

/**
 * The transaction status PostgreSQL reports after each query: `I` idle (no transaction),
 * `T` in a transaction, `E` in a failed transaction. A statement that ended our transaction
 * (COMMIT in disguise) shows up here as `I`.
 */
export function trackTransactionStatus(db: Db): { status(): string; stop(): void } {
  let last = '?';
  const connection = (db as unknown as { connection: NodeJS.EventEmitter }).connection;
  const listener = (msg: { status?: string }) => {
    last = msg.status ?? '?';
  };
  connection.on('readyForQuery', listener);
  return { status: () => last, stop: () => connection.off('readyForQuery', listener) };
}

/** Runs one statement through the extended protocol: PostgreSQL refuses a second statement in it. */
export async function querySingle(db: Db, text: string): Promise<pg.QueryResult> {
  return db.query({ text, queryMode: 'extended' } as pg.QueryConfig);
}
