/**
 * What a transaction did, measured from inside it: rows touched (pg_stat_xact_user_tables),
 * locks held (pg_locks), and whether it is still open (the ReadyForQuery status byte). Rehearse
 * and backfill take a snapshot before and after each step and report the difference.
 */
import type pg from 'pg';
import type { Db } from './db.js';
import { MIGRATION_LOCK_KEY, type LockImpact, type RehearsalLock, type RowsTouched } from './contract/index.js';

export type RowCounts = Map<string, RowsTouched>;

/** Row counters of every user table as this transaction sees them (pending counts included). */
export async function rowCounts(db: Db): Promise<RowCounts> {
  const { rows } = await db.query<{ relid: string; name: string; ins: string; upd: string; del: string }>(
    `SELECT relid::text AS relid, format('%I.%I', schemaname, relname) AS name,
            n_tup_ins AS ins, n_tup_upd AS upd, n_tup_del AS del
       FROM pg_stat_xact_user_tables
      WHERE n_tup_ins + n_tup_upd + n_tup_del > 0`,
  );
  return new Map(
    rows.map((r) => [
      r.relid,
      { table: r.name, inserted: Number(r.ins), updated: Number(r.upd), deleted: Number(r.del) },
    ]),
  );
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
 * The locks this session holds, as `locktype|target|mode` keys (target: the relation's oid, or
 * `classid:objid:objsubid`). One text value per call: with thousands of locks held (a long
 * rehearsal) rows would cost far more to transfer than the set difference saves.
 */
export type LockSnapshot = Set<string>;

export async function lockSnapshot(db: Db): Promise<LockSnapshot> {
  const { rows } = await db.query<{ keys: string | null }>(
    `SELECT string_agg(l.locktype || '|' || coalesce(l.relation::text, l.classid::text || ':' || l.objid::text || ':'
      || l.objsubid::text) || '|' || l.mode, E'\n') AS keys
       FROM pg_locks l
      WHERE l.pid = pg_backend_pid() AND l.granted AND l.locktype IN ('relation', 'object', 'advisory')`,
  );
  const keys = rows[0]?.keys;
  return new Set(keys ? keys.split('\n') : []);
}

/** Keys in `after` and not in `before`. */
export function newLockKeys(before: LockSnapshot, after: LockSnapshot): string[] {
  return [...after].filter((k) => !before.has(k));
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

/** Strongest first, then by target. */
export function sortLocks(locks: RehearsalLock[]): RehearsalLock[] {
  return locks.sort(
    (a, b) =>
      STRENGTH.indexOf(b.mode) - STRENGTH.indexOf(a.mode) ||
      a.target.localeCompare(b.target) ||
      a.mode.localeCompare(b.mode),
  );
}

/**
 * Names the locks behind `keys`, and keeps those that say something about other sessions:
 * relations outside the system catalogs (our own catalog reads take some), object locks
 * stronger than AccessShare (e.g. ALTER TYPE ... ADD VALUE), and advisory locks other than the
 * migration lock. `existing` (from {@link existingObjects}) tells objects the rehearsal made.
 */
export async function describeLocks(db: Db, keys: string[], existing: ReadonlySet<string>): Promise<RehearsalLock[]> {
  const parsed = keys
    .map((k) => k.split('|'))
    .filter((p): p is [string, string, string] => p.length === 3)
    .filter(([type, , mode]) => !(type === 'object' && mode === 'AccessShareLock'))
    .filter(([type, target]) => !(type === 'advisory' && advisoryKey(target) === String(MIGRATION_LOCK_KEY)));
  if (parsed.length === 0) return [];
  const { rows } = await db.query<{
    i: number;
    nspname: string | null;
    relation: string | null;
    relkind: string | null;
    object: string | null;
  }>(
    `SELECT k.i, n.nspname, CASE WHEN c.oid IS NOT NULL THEN format('%I.%I', n.nspname, c.relname) END AS relation,
      c.relkind::text AS relkind,
            CASE WHEN k.locktype = 'object' THEN pg_describe_object(split_part(k.target, ':', 1)::oid,
              split_part(k.target, ':', 2)::oid, 0) END AS object
       FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS k(locktype, target, i)
       LEFT JOIN pg_class c ON c.oid = CASE WHEN k.locktype = 'relation' THEN k.target::oid END
       LEFT JOIN pg_namespace n ON n.oid = c.relnamespace`,
    [parsed.map((p) => p[0]), parsed.map((p) => p[1])],
  );
  const out: RehearsalLock[] = [];
  for (const r of rows) {
    const [locktype, target, mode] = parsed[Number(r.i) - 1] as [string, string, string];
    if (locktype === 'relation') {
      if (
        r.nspname &&
        (r.nspname === 'pg_catalog' || r.nspname === 'information_schema' || r.nspname.startsWith('pg_toast'))
      )
        continue;
      const lock: RehearsalLock = { locktype, mode, target: r.nspname ? (r.relation as string) : target };
      if (r.relkind) lock.kind = RELKINDS[r.relkind] ?? r.relkind;
      lock.newObject = !existing.has(`${PG_CLASS}:${target}`);
      lock.blocks = lockImpact(mode);
      out.push(lock);
    } else if (locktype === 'object') {
      const [classid, objid] = target.split(':');
      out.push({ locktype, mode, target: r.object ?? target, newObject: !existing.has(`${classid}:${objid}`) });
    } else {
      out.push({ locktype, mode, target: `advisory key ${advisoryKey(target)}` });
    }
  }
  return sortLocks(out);
}

/** An advisory lock's key as the application wrote it: one bigint (objsubid 1) or two ints. */
function advisoryKey(target: string): string {
  const [classid, objid, objsubid] = target.split(':');
  if (objsubid === '1') return String((BigInt(classid ?? '0') << 32n) | BigInt(objid ?? '0'));
  return `${classid},${objid}`;
}

/** pg_class's own oid: the catalog id of relations in object keys. */
const PG_CLASS = 1259;

/**
 * Objects that exist now (before a rehearsal starts), as `catalog:oid` keys: relations, types,
 * constraints, functions, schemas. A lock on anything else is on an object the rehearsal made.
 */
export async function existingObjects(db: Db): Promise<Set<string>> {
  const { rows } = await db.query<{ key: string }>(
    `WITH user_ns AS (SELECT oid FROM pg_namespace WHERE nspname NOT IN ('pg_catalog', 'information_schema') AND
      nspname NOT LIKE 'pg\\_toast%')
     SELECT 'pg_class'::regclass::oid::text || ':' || oid::text AS key FROM pg_class WHERE relnamespace IN (SELECT oid
       FROM user_ns)
     UNION ALL SELECT 'pg_type'::regclass::oid::text || ':' || oid::text FROM pg_type WHERE typnamespace IN (SELECT
       oid FROM user_ns)
     UNION ALL SELECT 'pg_constraint'::regclass::oid::text || ':' || oid::text FROM pg_constraint WHERE connamespace
       IN (SELECT oid FROM user_ns)
     UNION ALL SELECT 'pg_proc'::regclass::oid::text || ':' || oid::text FROM pg_proc WHERE pronamespace IN (SELECT
       oid FROM user_ns)
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
