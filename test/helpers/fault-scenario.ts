/**
 * The migration history the kill and connection-cut cells fault, its reference states computed
 * WITHOUT the worker (plain SQL on clones), and the invariant checks:
 *
 * - consistent(): after a fault and before any retry, the ledger describes the schema exactly:
 *   every finished migration's effect is there, a migration without a row left no trace, and an
 *   unfinished row's `applied_steps_count` is the number of its statements that took effect.
 * - finished(): after the plain re-run, every migration has exactly one row, finished, and the
 *   schema and data equal a clean run's (so nothing ran twice and nothing is missing).
 */
import { expect } from 'vitest';
import { fingerprint, ledgerRows, query, type SecretDatabase, type SecretServer } from './fault-db.js';
import { migrationsDir } from './migrations.js';

export const BASE = {
  '001_base': `CREATE TABLE "Customer" ("id" TEXT NOT NULL, "email" TEXT NOT NULL, CONSTRAINT "Customer_pkey" PRIMARY
    KEY ("id"));
CREATE TABLE "AuditLog" ("event" TEXT NOT NULL);
INSERT INTO "Customer" ("id", "email") VALUES ('c1', 'ann@example.com'), ('c2', 'bob@vip.example'), ('c3',
  'cy@vip.example');
`,
};

/** Five statements in one transaction: four DDL (each stoppable by the DDL gate) and an INSERT. */
export const TRANSACTIONAL = {
  name: '002_subscriptions',
  statements: [
    `CREATE TYPE "Plan" AS ENUM ('FREE', 'PRO')`,
    `CREATE TABLE "Subscription" (
    "id" TEXT NOT NULL,
    "customerId" TEXT NOT NULL,
    "plan" "Plan" NOT NULL DEFAULT 'FREE',
    CONSTRAINT "Subscription_pkey" PRIMARY KEY ("id")
)`,
    `CREATE UNIQUE INDEX "Subscription_customerId_key" ON "Subscription"("customerId")`,
    `ALTER TABLE "Subscription" ADD CONSTRAINT "Subscription_customerId_fkey" ` +
      `FOREIGN KEY ("customerId") REFERENCES "Customer"("id") ` +
      `ON DELETE RESTRICT ON UPDATE CASCADE`,
    `INSERT INTO "AuditLog" ("event") VALUES ('subscriptions added')`,
  ],
};

/** Five statements, the third non-transactional: the file runs statement by statement. */
export const STEPWISE = {
  name: '003_customer_tier',
  statements: [
    `ALTER TABLE "Customer" ADD COLUMN "tier" TEXT NOT NULL DEFAULT 'basic'`,
    `INSERT INTO "AuditLog" ("event") VALUES ('tier added')`,
    `CREATE INDEX CONCURRENTLY "Customer_tier_idx" ON "Customer" ("tier")`,
    `UPDATE "Customer" SET "tier" = 'gold' WHERE "email" LIKE '%@vip.example'`,
    `INSERT INTO "AuditLog" ("event") VALUES ('gold tier assigned')`,
  ],
  /** 0-based indexes of the statements PostgreSQL refuses in a transaction block. */
  nonTransactional: [2],
};

export const LAST = {
  name: '004_invoices',
  sql: `CREATE TABLE "Invoice" ("id" TEXT NOT NULL PRIMARY KEY, "customerId" TEXT NOT NULL REFERENCES "Customer"("id"));
INSERT INTO "AuditLog" ("event") VALUES ('invoices added');
`,
};

const file = (statements: string[], comment: string) => `-- ${comment}\n${statements.join(';\n\n')};\n`;

export const ALL_FILES: Record<string, string> = {
  ...BASE,
  [TRANSACTIONAL.name]: file(
    TRANSACTIONAL.statements,
    'Subscriptions (Prisma-style: enum, table, index, foreign key) plus an audit row',
  ),
  [STEPWISE.name]: file(
    STEPWISE.statements,
    'A tier column, its index built CONCURRENTLY (so the file cannot be one transaction), data',
  ),
  [LAST.name]: LAST.sql,
};
export const NAMES = Object.keys(ALL_FILES);

export interface Scenario {
  /** Migrations folder with all four migrations. */
  dir: string;
  /** A database with 001 applied by the worker (the ledger exists): clone it for every run. */
  template: SecretDatabase;
  /** Fingerprints: after 001; after 002; after 003's first s statements (s = 0..5); after 004. */
  refs: { afterBase: string; afterTransactional: string; stepwise: string[]; all: string };
}

/**
 * Builds the scenario on `server`. `applyBase` deploys 001 with the worker into the template
 * (so the ledger is the worker's own); references are computed with plain SQL on clones.
 */
export async function buildScenario(
  server: SecretServer,
  applyBase: (db: SecretDatabase, dir: string) => Promise<void>,
  prepareTemplate?: (db: SecretDatabase) => Promise<void>,
): Promise<Scenario> {
  const dir = await migrationsDir(ALL_FILES);
  const baseDir = await migrationsDir(BASE);
  const template = await server.database('vpcm_fault_t');
  await applyBase(template, baseDir);
  if (prepareTemplate) await prepareTemplate(template);

  const scratch = async (work: (db: SecretDatabase) => Promise<void>): Promise<string> => {
    const db = await server.clone(template);
    try {
      await work(db);
      return await fingerprint(db.adminUrl);
    } finally {
      await db.drop();
    }
  };
  const run = async (db: SecretDatabase, statements: string[]) => {
    for (const s of statements) await query(db.url, s);
  };
  const afterBase = await fingerprint(template.adminUrl);
  const afterTransactional = await scratch((db) =>
    query(db.url, `BEGIN;\n${TRANSACTIONAL.statements.join(';\n')};\nCOMMIT;`).then(() => undefined),
  );
  const stepwise: string[] = [];
  for (let s = 0; s <= STEPWISE.statements.length; s++) {
    stepwise.push(
      s === 0
        ? afterTransactional
        : await scratch(async (db) => {
            await query(db.url, `BEGIN;\n${TRANSACTIONAL.statements.join(';\n')};\nCOMMIT;`);
            await run(db, STEPWISE.statements.slice(0, s));
          }),
    );
  }
  const all = await scratch(async (db) => {
    await query(db.url, `BEGIN;\n${TRANSACTIONAL.statements.join(';\n')};\nCOMMIT;`);
    await run(db, STEPWISE.statements);
    await query(db.url, LAST.sql);
  });
  // The references must differ step by step, or the checks below could not tell states apart.
  expect(new Set([afterBase, ...stepwise, all]).size).toBe(STEPWISE.statements.length + 3);
  return { dir, template, refs: { afterBase, afterTransactional, stepwise, all } };
}

/**
 * The state right after a fault, before any retry: which reference states the ledger allows, and
 * that the schema is one of them. Returns a short description of the state (for messages).
 */
export async function assertConsistent(db: SecretDatabase, scenario: Scenario): Promise<string> {
  const rows = await ledgerRows(db.adminUrl);
  const byName = new Map<string, typeof rows>();
  for (const r of rows) byName.set(r.migration_name, [...(byName.get(r.migration_name) ?? []), r]);
  for (const [name, list] of byName) {
    expect(NAMES, `ledger row for unknown migration ${name}`).toContain(name);
    expect(list.length, `${name} has ${list.length} rows`).toBe(1);
    expect(list[0]?.rolled_back_at).toBeNull();
  }
  const state = (name: string) => byName.get(name)?.[0];
  const finished = (name: string) => state(name)?.finished_at != null;
  expect(finished('001_base')).toBe(true);

  const { refs } = scenario;
  let allowed: string[];
  let description: string;
  const t = state(TRANSACTIONAL.name);
  const s = state(STEPWISE.name);
  const l = state(LAST.name);
  if (!t) {
    expect(s, 'a later migration has a row while 002 has none').toBeUndefined();
    expect(l).toBeUndefined();
    allowed = [refs.afterBase];
    description = '002 not recorded';
  } else {
    // A transactional file and its row commit together: never a row without its effect.
    expect(t.finished_at, `002 has an unfinished row (logs: ${t.logs})`).not.toBeNull();
    if (!s) {
      expect(l).toBeUndefined();
      allowed = [refs.afterTransactional];
      description = '002 recorded';
    } else if (s.finished_at === null) {
      expect(l).toBeUndefined();
      const steps = s.applied_steps_count;
      expect(steps).toBeGreaterThanOrEqual(0);
      expect(steps).toBeLessThan(STEPWISE.statements.length);
      allowed = [refs.stepwise[steps] as string];
      // A non-transactional statement cannot commit together with its progress: it may have
      // taken effect just before the worker died, and the resume must cope (not count it twice).
      if (STEPWISE.nonTransactional.includes(steps)) allowed.push(refs.stepwise[steps + 1] as string);
      description = `003 interrupted after ${steps} statement(s)`;
    } else if (!l) {
      allowed = [refs.stepwise[STEPWISE.statements.length] as string];
      description = '003 recorded';
    } else {
      expect(l.finished_at).not.toBeNull();
      allowed = [refs.all];
      description = 'all recorded';
    }
  }
  const actual = await fingerprint(db.adminUrl);
  expect(allowed, `schema and ledger disagree (${description})`).toContain(actual);
  return description;
}

/** After the plain re-run: one finished row per migration, and the schema of a clean run. */
export async function assertFinished(db: SecretDatabase, scenario: Scenario): Promise<void> {
  const rows = await ledgerRows(db.adminUrl);
  expect(rows.map((r) => r.migration_name).sort()).toEqual([...NAMES].sort());
  for (const r of rows) {
    expect(r.finished_at, `${r.migration_name} is not finished`).not.toBeNull();
    expect(r.rolled_back_at).toBeNull();
  }
  expect(await fingerprint(db.adminUrl)).toBe(scenario.refs.all);
}
