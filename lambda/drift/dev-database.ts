/**
 * `--dev-database NAME` (Atlas's dev database): a database of the worker's allow-list the user
 * gives drift to build the expected schema in, instead of a scratch database. It must be empty;
 * drift marks it with a schema of its own (holding the lease, lease.ts) while it works, and empties
 * it again at the end. A non-empty one is emptied only when our marker says drift filled it (a run
 * that was killed); anything else is refused, never wiped.
 */
import { ErrorCode, MigrateError, quoteIdent } from '../contract/index.js';
import type { Db } from '../db.js';
import { type Lease, leaseExpired, leaseFrom, leaseHeldBy, leaseLiteral, parseLease } from './lease.js';

/** The marker schema: excluded from introspection, dropped when drift is done. */
export const DEV_MARKER_SCHEMA = '_vpcm_drift_dev';

const SYSTEM = `n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast', '${DEV_MARKER_SCHEMA}')
  AND n.nspname NOT LIKE 'pg\\_temp\\_%' AND n.nspname NOT LIKE 'pg\\_toast\\_temp\\_%'`;

/** Up to five of what the database holds besides an empty `public`: relations, types, routines, schemas, extensions. */
async function contents(dev: Db): Promise<string[]> {
  const { rows } = await dev.query<{ what: string }>(
    `(SELECT format('%s %I.%I', CASE c.relkind WHEN 'r' THEN 'table' WHEN 'v' THEN 'view' WHEN 'S' THEN 'sequence'
                     ELSE 'relation' END, n.nspname, c.relname) AS what
        FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE ${SYSTEM} LIMIT 5)
     UNION ALL
     (SELECT format('type %I.%I', n.nspname, t.typname) FROM pg_catalog.pg_type t
        JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
       WHERE ${SYSTEM} AND t.typrelid = 0 AND t.typcategory <> 'A' LIMIT 5)
     UNION ALL
     (SELECT format('function %I.%I', n.nspname, p.proname) FROM pg_catalog.pg_proc p
        JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace WHERE ${SYSTEM} LIMIT 5)
     UNION ALL
     (SELECT format('schema %I', n.nspname) FROM pg_catalog.pg_namespace n WHERE ${SYSTEM} AND n.nspname <> 'public'
       LIMIT 5)
     UNION ALL
     (SELECT format('extension %I', e.extname) FROM pg_catalog.pg_extension e WHERE e.extname <> 'plpgsql' LIMIT 5)`,
  );
  return rows.slice(0, 5).map((r) => r.what);
}

async function markerLease(dev: Db) {
  const { rows } = await dev.query<{ present: boolean; comment: string | null; now: Date }>(
    `SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = $1) AS present,
            (SELECT pg_catalog.obj_description(oid, 'pg_namespace') FROM pg_catalog.pg_namespace
              WHERE nspname = $1) AS comment,
            pg_catalog.now() AS now`,
    [DEV_MARKER_SCHEMA],
  );
  const row = rows[0]!;
  return { present: row.present, lease: row.present ? parseLease(row.comment) : undefined, now: row.now };
}

/**
 * Readies the dev database (`name` as the allow-list calls it) for `run`: empty, or left by a drift
 * of ours whose lease expired (then emptied), else refused. Marks it ours for this invocation.
 * Answers whether it was emptied.
 */
export async function prepareDev(dev: Db, name: string, remainingMs: number, run?: string): Promise<boolean> {
  const marker = await markerLease(dev);
  if (marker.present && marker.lease && !leaseExpired(marker.lease, marker.now))
    throw new MigrateError(
      ErrorCode.DriftInUse,
      `The dev database "${name}" is in use by another drift check (its lease runs until ${marker.lease.leaseUntil}).`,
      'Wait for that drift check to finish (or its lease to expire), then run drift again.',
      { details: { database: name, leaseUntil: marker.lease.leaseUntil } },
    );
  // Read only now: a query left in flight by the refusal above would fail when the session
  // closes, an unhandled rejection that ends the worker's process.
  const found = await contents(dev);
  let emptied = false;
  if (found.length > 0) {
    if (!marker.present || !marker.lease) throw devNotEmpty(name, found);
    await emptyDev(dev);
    emptied = true;
  }
  await dev.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(DEV_MARKER_SCHEMA)}`);
  // A fresh lease, this run's: whatever run held the expired one no longer may touch it.
  await markDev(dev, leaseFrom(marker.now, remainingMs, undefined, run));
  return emptied;
}

/** Extends the dev database's lease to this invocation's end; refuses one no longer marked ours, or another run's. */
export async function renewDev(dev: Db, remainingMs: number, run?: string): Promise<void> {
  const marker = await markerLease(dev);
  if (!marker.present)
    throw new MigrateError(
      ErrorCode.DriftScratchGone,
      "The dev database no longer holds drift's marker: it was emptied or changed while the check ran.",
      'Run drift again.',
    );
  if (marker.lease && !leaseHeldBy(marker.lease, run))
    throw new MigrateError(
      ErrorCode.DriftScratchGone,
      "The dev database was taken over by another drift check after this one's lease expired; " +
        'what this check built there is gone, and that check was left alone.',
      'Run drift again once the other check is done.',
    );
  await markDev(dev, leaseFrom(marker.now, remainingMs, marker.lease?.createdAt, run));
}

async function markDev(dev: Db, lease: Lease): Promise<void> {
  await dev.query(`COMMENT ON SCHEMA ${quoteIdent(DEV_MARKER_SCHEMA)} IS ${leaseLiteral(lease)}`);
}

function devNotEmpty(name: string, found: string[]): MigrateError {
  return new MigrateError(
    ErrorCode.DriftDevNotEmpty,
    `The dev database "${name}" is not empty (it holds ${found.join(', ')}${found.length === 5 ? ', …' : ''}); ` +
      'drift builds the expected schema by applying every migration to it, and never empties a database ' +
      'it did not fill.',
    `Point --dev-database at an empty database (CREATE DATABASE … on any server of the same PostgreSQL version), ` +
      "or leave --dev-database out to use a scratch database on the target's server (needs CREATEDB).",
    { details: { database: name, holds: found } },
  );
}

/**
 * Empties a dev database drift filled: every schema but the system ones dropped with what it holds,
 * `public` made again with its owner and PUBLIC's privileges as they were. With `unmark`, the
 * marker schema goes too (the end of a run); otherwise it stays, to be renewed. With `run`, only
 * when that run holds the lease: a run whose lease expired never empties the one that took over.
 * Answers whether it emptied it.
 */
export async function emptyDev(dev: Db, opts: { unmark?: boolean; run?: string } = {}): Promise<boolean> {
  const marker = await markerLease(dev);
  if (!marker.present || !marker.lease || !leaseHeldBy(marker.lease, opts.run)) return false;
  const { rows } = await dev.query<{ nspname: string }>(
    `SELECT n.nspname FROM pg_catalog.pg_namespace n WHERE ${SYSTEM} ORDER BY 1`,
  );
  const pub = await dev.query<{ owner: string; acl: string | null }>(
    `SELECT nspowner::regrole::text AS owner, nspacl::text AS acl
       FROM pg_catalog.pg_namespace WHERE nspname = 'public'`,
  );
  for (const r of rows) await dev.query(`DROP SCHEMA ${quoteIdent(r.nspname)} CASCADE`);
  // Extensions outside the dropped schemas (none by default) stay; those inside went with them.
  if (pub.rows[0]) {
    await dev.query('CREATE SCHEMA IF NOT EXISTS public');
    const { owner, acl } = pub.rows[0];
    await dev.query(`ALTER SCHEMA public OWNER TO ${owner}`).catch(() => undefined);
    const publicGrant = /(?:^|[{,])=([A-Za-z]*)\//.exec(acl ?? '')?.[1] ?? '';
    if (publicGrant.includes('U')) await dev.query('GRANT USAGE ON SCHEMA public TO PUBLIC');
    if (publicGrant.includes('C')) await dev.query('GRANT CREATE ON SCHEMA public TO PUBLIC');
  }
  if (opts.unmark) await dev.query(`DROP SCHEMA IF EXISTS ${quoteIdent(DEV_MARKER_SCHEMA)} CASCADE`);
  return true;
}
