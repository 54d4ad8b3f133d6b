/**
 * `status`: the deploy plan without applying anything. Its exit code is part of the
 * interface: 0 up to date, 1 pending, 2 problem.
 */
import type { MigrationFormat, ServerFacts } from '../../lambda/contract/index.js';
import { isDrizzlePlan, type DrizzleCounts } from '../drizzle/plan.js';
import type { Worker } from '../invoke.js';
import { summarize, type Plan, type PlanOptions } from '../plan.js';
import { loadState } from './local-state.js';

export interface StatusReport {
  command: 'status';
  migrationsDir: string;
  server: ServerFacts;
  ledgerTableExists: boolean;
  summary: string;
  plan: Plan;
  warnings: string[];
  invocations: number;
  durationMs: number;
  exitCode: 0 | 1 | 2;
  /** Set for a Drizzle journal (absent: Prisma). */
  format?: MigrationFormat;
  /** Drizzle: the seed's counts for CI (rows in the database, journal entries, pending). */
  counts?: DrizzleCounts;
}

export async function status(worker: Worker, opts: { migrationsDir: string; format?: MigrationFormat } & PlanOptions): Promise<StatusReport> {
  const started = Date.now();
  const state = await loadState(worker, opts.migrationsDir, opts);
  const p = state.plan;
  return {
    command: 'status',
    migrationsDir: opts.migrationsDir,
    server: state.ledger.server,
    ledgerTableExists: state.ledger.tableExists,
    summary: summarize(p),
    plan: p,
    warnings: state.warnings,
    invocations: worker.invocations,
    durationMs: Date.now() - started,
    exitCode: p.state === 'problem' ? 2 : p.state === 'pending' ? 1 : 0,
    ...(isDrizzlePlan(p) ? { format: 'drizzle' as const, counts: p.counts } : {}),
  };
}
