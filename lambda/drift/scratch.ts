/**
 * Drift's scratch databases on the target's own server (same version, same extensions): created
 * by `begin`, named `vpcm_drift_<16 hex>` and marked ours in their comment (lease.ts), worked on
 * under a session-level advisory lock, dropped by `compare` or `end`. A later run removes the ones
 * a killed run left: stale means our prefix AND our marker, the lease expired, and no session holds
 * a lock in it or is connected to it. Nothing else is ever dropped.
 */
import { randomBytes } from 'node:crypto';
import { DRIFT_SCRATCH_PATTERN, DRIFT_SCRATCH_PREFIX, ErrorCode, MigrateError, quoteIdent } from '../contract/index.js';
import type { Db } from '../db.js';
import { leaseExpired, leaseFrom, leaseLiteral, parseLease, type Lease } from './lease.js';

/** Taken at session level by every session working on a drift database: its run is alive while it is held. */
export const DRIFT_LOCK_KEY = 72707370;

export function scratchName(): string {
  return DRIFT_SCRATCH_PREFIX + randomBytes(8).toString('hex');
}

async function serverNow(db: Db): Promise<Date> {
  return (await db.query<{ now: Date }>('SELECT pg_catalog.now() AS now')).rows[0]!.now;
}

/** The refusal when the login may not create databases, naming both ways out. */
export function needsCreatedb(user: string, cause?: unknown): MigrateError {
  return new MigrateError(
    ErrorCode.DriftNeedsCreatedb,
    `The login "${user}" may not create databases: drift builds the expected schema in a scratch database ` +
      'on the same server, and could not create one. Nothing was changed.',
    `Either grant it as an administrator (RDS: the master user): ALTER ROLE ${quoteIdent(user)} CREATEDB; ` +
      "or pass --dev-database NAME, an empty database from the worker's allow-list (the construct's databases " +
      'prop), or with --local --dev-database postgresql://… (an empty database), to build the expected schema in ' +
      'instead.',
    { ...(cause === undefined ? {} : { cause }), details: { user } },
  );
}

/** Creates a scratch database, marked ours with a lease covering this invocation; answers its name. */
export async function createScratch(db: Db, remainingMs: number): Promise<string> {
  const { rows } = await db.query<{ user: string; may: boolean }>(
    `SELECT current_user AS user, (r.rolcreatedb OR r.rolsuper) AS may
       FROM pg_catalog.pg_roles r WHERE r.rolname = current_user`,
  );
  const user = rows[0]?.user ?? 'current_user';
  if (rows[0]?.may !== true) throw needsCreatedb(user);
  const name = scratchName();
  try {
    await db.query(`CREATE DATABASE ${quoteIdent(name)}`);
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === '42501') throw needsCreatedb(user, error);
    // 55006: CREATE DATABASE copies template1, and refuses while any session is connected to it.
    if (code === '55006')
      throw new MigrateError(
        ErrorCode.DriftInUse,
        'The scratch database could not be created: another session is connected to template1, which ' +
          'CREATE DATABASE copies. Nothing was changed.',
        'Close that session (SELECT pid, usename, application_name FROM pg_stat_activity ' +
          "WHERE datname = 'template1') " +
          'and run drift again, or pass --dev-database NAME.',
        { cause: error },
      );
    throw error;
  }
  // Marked before anything else happens in it: a crash from here on leaves a database the sweep recognises.
  try {
    await mark(db, name, leaseFrom(await serverNow(db), remainingMs));
  } catch (error) {
    // Unmarked, no sweep would ever take it: dropped now, while we know it is the one just made.
    await db.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)}`).catch(() => undefined);
    throw error;
  }
  return name;
}

async function mark(db: Db, name: string, lease: Lease): Promise<void> {
  await db.query(`COMMENT ON DATABASE ${quoteIdent(name)} IS ${leaseLiteral(lease)}`);
}

/** The lease of `name` if it is a scratch database of ours, else undefined. */
export async function scratchLease(db: Db, name: string): Promise<Lease | undefined> {
  if (!DRIFT_SCRATCH_PATTERN.test(name)) return undefined;
  const { rows } = await db.query<{ comment: string | null }>(
    `SELECT pg_catalog.shobj_description(oid, 'pg_database') AS comment FROM pg_catalog.pg_database WHERE datname = $1`,
    [name],
  );
  return rows[0] ? parseLease(rows[0].comment) : undefined;
}

/** Extends the lease of a scratch database of ours to this invocation's end; refuses one not there or not ours. */
export async function renewScratch(db: Db, name: string, remainingMs: number): Promise<void> {
  const lease = await scratchLease(db, name);
  if (!lease) throw scratchGone(name);
  await mark(db, name, leaseFrom(await serverNow(db), remainingMs, lease.createdAt));
}

export function scratchGone(name: string): MigrateError {
  return new MigrateError(
    ErrorCode.DriftScratchGone,
    `The scratch database ${name} is not there (or is not drift's own): it was removed while the check ran, ` +
      'e.g. by a run that found its lease expired.',
    'Run drift again; if it happens again, raise the function timeout (--function-timeout) so fewer invocations ' +
      'are needed.',
    { details: { scratch: name } },
  );
}

/**
 * Drops a scratch database of ours at the end of its own run: sessions still in it (an invocation
 * the CLI gave up on) are ended first. Answers whether there was one to drop.
 */
export async function dropScratch(db: Db, name: string): Promise<boolean> {
  if (!(await scratchLease(db, name))) return false;
  const force = await supportsForce(db);
  await db.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)}${force ? ' WITH (FORCE)' : ''}`);
  return true;
}

async function supportsForce(db: Db): Promise<boolean> {
  const { rows } = await db.query<{ v: number }>("SELECT current_setting('server_version_num')::int AS v");
  return (rows[0]?.v ?? 0) >= 130_000;
}

export interface Sweep {
  removed: string[];
  kept: { name: string; why: string }[];
}

/**
 * Removes the scratch databases of ours that a killed run left: lease expired, no advisory lock
 * held in them and nobody connected (DROP without FORCE, so a session that appears meanwhile
 * makes it fail rather than be cut off). A live run's database is left alone, silently.
 */
export async function sweepStale(db: Db): Promise<Sweep> {
  const { rows } = await db.query<{ name: string; comment: string | null; busy: boolean; now: Date }>(
    `SELECT d.datname AS name, pg_catalog.shobj_description(d.oid, 'pg_database') AS comment,
            (EXISTS (SELECT 1 FROM pg_catalog.pg_locks l WHERE l.locktype = 'advisory' AND l.database = d.oid)
             OR EXISTS (SELECT 1 FROM pg_catalog.pg_stat_activity a WHERE a.datid = d.oid)) AS busy,
            pg_catalog.now() AS now
       FROM pg_catalog.pg_database d
      WHERE d.datname LIKE $1 AND NOT d.datistemplate
      ORDER BY d.datname`,
    [`${DRIFT_SCRATCH_PREFIX.replace(/_/g, '\\_')}%`],
  );
  const sweep: Sweep = { removed: [], kept: [] };
  for (const r of rows) {
    const lease = DRIFT_SCRATCH_PATTERN.test(r.name) ? parseLease(r.comment) : undefined;
    if (!lease || !leaseExpired(lease, r.now)) continue;
    if (r.busy) {
      sweep.kept.push({ name: r.name, why: 'its lease expired, but a session is still connected to it' });
      continue;
    }
    try {
      await db.query(`DROP DATABASE ${quoteIdent(r.name)}`);
      sweep.removed.push(r.name);
    } catch (error) {
      sweep.kept.push({ name: r.name, why: (error as Error).message });
    }
  }
  return sweep;
}

/** Claims a drift database for this invocation: a session in it holding DRIFT_LOCK_KEY, or the refusal. */
export async function claim(session: Db, what: string): Promise<void> {
  const { rows } = await session.query<{ got: boolean }>('SELECT pg_catalog.pg_try_advisory_lock($1) AS got', [
    DRIFT_LOCK_KEY,
  ]);
  if (rows[0]?.got === true) return;
  throw new MigrateError(
    ErrorCode.DriftInUse,
    `${what} is in use by another drift invocation (it holds the drift lock there).`,
    'Wait for that drift check to finish, then run drift again.',
    { details: { database: what } },
  );
}
