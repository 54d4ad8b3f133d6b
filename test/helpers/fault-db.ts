/**
 * Databases for the fault suite: a login role WITH a password owns each test database (so every
 * log line and error of the suite can be scanned for that secret), cheap clones from a template,
 * a fingerprint of schema + data to compare a faulted database with a clean one, and a DDL gate
 * that stops a one-round-trip migration after its k-th statement on the server.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { PRISMA_LEDGER_SQL, type PrismaLedgerRow } from './db.js';

export async function query<T extends pg.QueryResultRow = pg.QueryResultRow>(
  url: string,
  sql: string,
  params: unknown[] = [],
): Promise<T[]> {
  const client = new pg.Client({ connectionString: url, application_name: 'fault-suite' });
  client.on('error', () => undefined);
  await client.connect();
  try {
    return (await client.query<T>(sql, params)).rows;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** A session kept open by the test (lock holders, gates, terminators). */
export async function session(url: string, applicationName = 'fault-suite'): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url, application_name: applicationName });
  client.on('error', () => undefined);
  await client.connect();
  return client;
}

export function withDatabase(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${encodeURIComponent(name)}`;
  return u.toString();
}

export interface SecretServer {
  /** Superuser URL of the server's `postgres` database. */
  adminUrl: string;
  role: string;
  password: string;
  /** Every form the secret could take in a log line. */
  secrets: string[];
  /** A new empty database owned by the role: the worker's URL (with the password) and a superuser URL. */
  database(prefix?: string): Promise<SecretDatabase>;
  /** `CREATE DATABASE … TEMPLATE`: a copy of `template` (which must have no open sessions). */
  clone(template: SecretDatabase): Promise<SecretDatabase>;
  close(): Promise<void>;
}

export interface SecretDatabase {
  name: string;
  /** The worker's URL: the role and its password. */
  url: string;
  /** A superuser URL on the same database (the test's own view). */
  adminUrl: string;
  drop(): Promise<void>;
}

/** Creates a login role with a password on the server; databases made through it are owned by that role. */
export async function secretServer(adminUrl: string): Promise<SecretServer> {
  const suffix = randomBytes(6).toString('hex');
  const role = `vpcm_fault_${suffix}`;
  // Characters that a URL must percent-encode, so both spellings are scanned for.
  const password = `Fault-S3cret_${randomBytes(9).toString('hex')}`;
  await query(adminUrl, `CREATE ROLE ${role} LOGIN PASSWORD '${password}'`);
  const made: string[] = [];
  const u = new URL(adminUrl);
  const userUrl = (db: string) => {
    const x = new URL(adminUrl);
    x.username = role;
    x.password = password;
    x.pathname = `/${db}`;
    return x.toString();
  };
  const make = async (template: string | null, prefix: string): Promise<SecretDatabase> => {
    const name = `${prefix}_${randomBytes(6).toString('hex')}`;
    const clause = template ? ` TEMPLATE "${template}"` : '';
    for (let attempt = 0; ; attempt++) {
      try {
        await query(adminUrl, `CREATE DATABASE "${name}" OWNER ${role}${clause}`);
        break;
      } catch (error) {
        // "source database is being accessed by other users": a killed worker's session lingers briefly.
        if (!template || attempt > 50 || (error as { code?: string }).code !== '55006') throw error;
        await sleep(100);
      }
    }
    made.push(name);
    return {
      name,
      url: userUrl(name),
      adminUrl: withDatabase(adminUrl, name),
      drop: () => dropDatabase(adminUrl, name),
    };
  };
  return {
    adminUrl,
    role,
    password,
    secrets: [
      password,
      encodeURIComponent(password),
      `${role}:${password}`,
      `${role}:${encodeURIComponent(password)}@${u.host}`,
    ],
    database: (prefix = 'vpcm_fault') => make(null, prefix),
    clone: (template) => make(template.name, 'vpcm_fault_c'),
    async close() {
      for (const name of made) await dropDatabase(adminUrl, name).catch(() => undefined);
      await query(adminUrl, `DROP ROLE IF EXISTS ${role}`).catch(() => undefined);
    },
  };
}

async function dropDatabase(adminUrl: string, name: string): Promise<void> {
  await query(adminUrl, `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls until `check` is truthy (or throws after `timeoutMs`). */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | null | undefined | false>,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(25);
  }
}

/** Waits until no worker session (application_name `vpc-migrate …`) is left on the database. */
export async function workerSessionsGone(adminUrl: string, database: string, timeoutMs = 30_000): Promise<void> {
  await waitFor(
    `the worker sessions on ${database} to end`,
    async () => {
      const rows = await query<{ n: string }>(
        adminUrl,
        `SELECT count(*) AS n FROM pg_stat_activity WHERE datname = $1 AND application_name LIKE 'vpc-migrate%'`,
        [database],
      );
      return Number(rows[0]?.n) === 0;
    },
    timeoutMs,
  );
}

/**
 * Schema and data of `public`, the ledger excepted: relations, columns, indexes (with validity),
 * constraints, enum labels, and per table its row count and a digest of its sorted rows. Two
 * databases with equal fingerprints hold the same migrated state.
 */
export async function fingerprint(url: string, opts: { ignoreInvalidIndexes?: boolean } = {}): Promise<string> {
  const client = await session(url);
  try {
    const { rows } = await client.query<{ f: unknown }>(
      `
      SELECT json_build_object(
        'relations', (SELECT coalesce(json_agg(c.relname::text || ':' || c.relkind::text ORDER BY c.relname), '[]')
          FROM pg_class c
                       WHERE c.relnamespace = 'public'::regnamespace AND c.relname NOT LIKE '\\_prisma\\_migrations%'
                         AND NOT ($1 AND EXISTS (SELECT 1 FROM pg_index x WHERE x.indexrelid = c.oid AND NOT
                           x.indisvalid))),
        'columns', (SELECT coalesce(json_agg(format('%s.%s %s%s %s', c.relname, a.attname, format_type(a.atttypid,
          a.atttypmod),
                           CASE WHEN a.attnotnull THEN ' not null' ELSE '' END, coalesce(pg_get_expr(d.adbin,
                             d.adrelid), ''))
                           ORDER BY c.relname, a.attnum), '[]')
                      FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
                      LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
                     WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm')
                       AND a.attnum > 0 AND NOT a.attisdropped AND c.relname <> '_prisma_migrations'),
        'indexes', (SELECT coalesce(json_agg(format('%s valid=%s ready=%s %s', c.relname, i.indisvalid, i.indisready,
          pg_get_indexdef(i.indexrelid)) ORDER BY c.relname), '[]')
                      FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
                     WHERE c.relnamespace = 'public'::regnamespace AND c.relname NOT LIKE '\\_prisma\\_migrations%'
                       AND NOT ($1 AND NOT i.indisvalid)),
        'constraints', (SELECT coalesce(json_agg(format('%s %s', conname, pg_get_constraintdef(oid)) ORDER BY
          conname), '[]')
                          FROM pg_constraint WHERE connamespace = 'public'::regnamespace AND conname NOT LIKE
                            '\\_prisma\\_migrations%'),
        'enums', (SELECT coalesce(json_agg(format('%s.%s', t.typname, e.enumlabel) ORDER BY t.typname,
          e.enumsortorder), '[]')
                    FROM pg_enum e JOIN pg_type t ON t.oid = e.enumtypid WHERE t.typnamespace = 'public'::regnamespace)
      ) AS f`,
      [opts.ignoreInvalidIndexes === true],
    );
    const tables = await client.query<{ t: string }>(
      `SELECT quote_ident(relname) AS t FROM pg_class WHERE ` +
        `relnamespace = 'public'::regnamespace AND relkind = ` +
        `'r' AND relname <> '_prisma_migrations' ORDER BY relname`,
    );
    const data: Record<string, string> = {};
    for (const { t } of tables.rows) {
      const r = await client.query<{ n: string; h: string | null }>(
        `SELECT count(*) AS n, md5(string_agg(x::text, '|' ORDER BY x::text)) AS h FROM ${t} x`,
      );
      data[t] = `${r.rows[0]?.n}:${r.rows[0]?.h ?? ''}`;
    }
    return JSON.stringify({ ...(rows[0]?.f as object), data });
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** The ledger (db.ts's row type and query) through the suite's own sessions; [] before the table exists. */
export async function ledgerRows(url: string): Promise<PrismaLedgerRow[]> {
  const exists = await query<{ t: string | null }>(url, `SELECT to_regclass('public._prisma_migrations')::text AS t`);
  if (!exists[0]?.t) return [];
  return query<PrismaLedgerRow>(url, PRISMA_LEDGER_SQL);
}

// ---------------------------------------------------------------------------------------------
// The DDL gate: stops a migration on the server after its k-th DDL statement.

export const GATE_KEY = 7270;

/**
 * An event trigger that, inside a `vpc-migrate apply` session, takes a shared advisory lock
 * (GATE_KEY, n) after the n-th DDL command of the current transaction. A test holding that lock
 * exclusively stops the worker right after statement n of a file sent in one round trip, with
 * statements 1..n executed and uncommitted: the point at which to kill the worker.
 */
export async function installDdlGate(adminDbUrl: string): Promise<void> {
  await query(
    adminDbUrl,
    `
    CREATE OR REPLACE FUNCTION fault_ddl_gate() RETURNS event_trigger LANGUAGE plpgsql AS $$
    DECLARE n int;
    BEGIN
      IF current_setting('application_name') NOT LIKE 'vpc-migrate apply%' THEN RETURN; END IF;
      IF EXISTS (SELECT 1 FROM pg_event_trigger_ddl_commands() c WHERE c.object_identity LIKE '%_prisma_migrations%')
        THEN RETURN; END IF;
      n := coalesce(nullif(current_setting('fault.ddl_count', true), ''), '0')::int + 1;
      PERFORM set_config('fault.ddl_count', n::text, true);
      PERFORM pg_advisory_xact_lock_shared(${GATE_KEY}, n);
    END $$`,
  );
  await query(adminDbUrl, `CREATE EVENT TRIGGER fault_ddl_gate ON ddl_command_end EXECUTE FUNCTION fault_ddl_gate()`);
}

export async function removeDdlGate(adminDbUrl: string): Promise<void> {
  await query(adminDbUrl, 'DROP EVENT TRIGGER IF EXISTS fault_ddl_gate');
  await query(adminDbUrl, 'DROP FUNCTION IF EXISTS fault_ddl_gate()');
}

/** Holds gate `n` closed; resolves the pid of the worker backend once it waits there. */
export async function closeGate(
  adminDbUrl: string,
  n: number,
): Promise<{ waiter: () => Promise<number>; open: () => Promise<void> }> {
  const holder = await session(adminDbUrl);
  await holder.query('SELECT pg_advisory_lock($1, $2)', [GATE_KEY, n]);
  const database = new URL(adminDbUrl).pathname.slice(1);
  return {
    waiter: () =>
      waitFor(`a worker waiting at DDL gate ${n}`, async () => {
        const { rows } = await holder.query<{ pid: number }>(
          `SELECT l.pid FROM pg_locks l JOIN pg_database d ON d.oid = l.database
            WHERE l.locktype = 'advisory' AND NOT l.granted AND l.classid = $1 AND l.objid = $2 AND l.objsubid = 2 AND
              d.datname = $3`,
          [GATE_KEY, n, database],
        );
        return rows[0]?.pid ?? null;
      }),
    open: async () => {
      await holder.query('SELECT pg_advisory_unlock($1, $2)', [GATE_KEY, n]).catch(() => undefined);
      await holder.end().catch(() => undefined);
    },
  };
}

// ---------------------------------------------------------------------------------------------
// The migration lock as the server shows it: the cells order concurrent starts by these
// observations, never by timing (a bigint advisory key is classid = high 32 bits, objid = low 32
// bits, objsubid 1; lambda/lock.ts reads it the same way).

const MIGRATION_LOCK = `l.locktype = 'advisory' AND l.objsubid = 1
  AND l.classid = (72707369::bigint >> 32)::oid AND l.objid = (72707369::bigint & 4294967295)::oid
  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())`;

/** The session holding the migration lock (pg_advisory_lock(72707369)) on `adminDbUrl`'s database, or null. */
export async function migrationLockHolder(adminDbUrl: string): Promise<{ pid: number; application: string } | null> {
  const rows = await query<{ pid: number; application: string }>(
    adminDbUrl,
    `SELECT l.pid, coalesce(a.application_name, '') AS application ` +
      `FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid ` +
      `= l.pid WHERE l.granted AND ${MIGRATION_LOCK}`,
  );
  return rows[0] ?? null;
}

/** Sessions blocked in pg_advisory_lock(72707369) (how `prisma migrate deploy` waits). */
export async function migrationLockWaiters(adminDbUrl: string): Promise<{ pid: number; application: string }[]> {
  return query<{ pid: number; application: string }>(
    adminDbUrl,
    `SELECT l.pid, coalesce(a.application_name, '') AS application FROM pg_locks l LEFT JOIN pg_stat_activity a ON
      a.pid = l.pid
      WHERE NOT l.granted AND ${MIGRATION_LOCK} ORDER BY l.pid`,
  );
}

/**
 * Worker lock sessions polling for the migration lock: our worker never blocks on it (it polls
 * pg_try_advisory_lock, lambda/lock.ts), so a waiting deploy shows as a `vpc-migrate … lock`
 * session whose last query was that poll and which does not hold the lock.
 */
export async function migrationLockPollers(adminDbUrl: string): Promise<number[]> {
  const rows = await query<{ pid: number }>(
    adminDbUrl,
    `SELECT a.pid FROM pg_stat_activity a
      WHERE a.datname = current_database() AND a.application_name LIKE 'vpc-migrate % lock%' AND a.query LIKE
        '%pg_try_advisory_lock%'
        AND NOT EXISTS (SELECT FROM pg_locks l WHERE l.pid = a.pid AND l.granted AND ${MIGRATION_LOCK})
      ORDER BY a.pid`,
  );
  return rows.map((r) => r.pid);
}

/** The sessions `pid` waits for (pg_blocking_pids). */
export async function blockedBy(adminDbUrl: string, pid: number): Promise<number[]> {
  const rows = await query<{ pids: number[] }>(adminDbUrl, 'SELECT pg_blocking_pids($1) AS pids', [pid]);
  return rows[0]?.pids ?? [];
}

/** The statement a migration file passes {@link sqlGate} `n` with. */
export const gateStatement = (n: number): string => `SELECT pg_advisory_xact_lock_shared(${GATE_KEY}, ${n})`;

/**
 * A gate a migration file passes with `SELECT pg_advisory_xact_lock_shared(7270, n)`: closed
 * while the test holds that lock exclusively, so the file stops there (its transaction open,
 * the statements before it run) until `open()`. `waiters()` lists the sessions stopped at it.
 */
export async function sqlGate(
  adminDbUrl: string,
  n: number,
): Promise<{ sql: string; waiters: () => Promise<number[]>; open: () => Promise<void> }> {
  const holder = await session(adminDbUrl, 'fault-suite gate');
  await holder.query('SELECT pg_advisory_lock($1, $2)', [GATE_KEY, n]);
  let opened = false;
  return {
    sql: gateStatement(n),
    waiters: async () => {
      const { rows } = await holder.query<{ pid: number }>(
        `SELECT l.pid FROM pg_locks l WHERE l.locktype = 'advisory' AND NOT l.granted AND l.classid = $1 AND l.objid =
          $2 AND l.objsubid = 2
            AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) ORDER BY l.pid`,
        [GATE_KEY, n],
      );
      return rows.map((r) => r.pid);
    },
    open: async () => {
      if (opened) return;
      opened = true;
      await holder.query('SELECT pg_advisory_unlock($1, $2)', [GATE_KEY, n]).catch(() => undefined);
      await holder.end().catch(() => undefined);
    },
  };
}
