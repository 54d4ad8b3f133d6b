/**
 * Prisma 6.19.3's verdicts as assertions (docs/design.md §6): its `migrate status` must say
 * "Database schema is up to date!" and its `migrate deploy` "No pending migrations to apply."
 * after we wrote the ledger. Kept apart from prisma-judge.ts, which the benchmark also loads
 * (it must not pull in vitest).
 */
import { expect } from 'vitest';
import { prismaMigrateDeploy, prismaMigrateStatus, type PrismaJudgeOptions, type PrismaRun } from './prisma-judge.js';

export const UP_TO_DATE = 'Database schema is up to date!';
export const NOTHING_PENDING = 'No pending migrations to apply.';

/** Prisma's output, both streams (tails of long ones), for readable failure messages. */
export function shown(run: PrismaRun): string {
  return (
    `exit ${run.exitCode} in ${run.durationMs} ms\n--- stdout ` +
    `---\n${run.stdout.slice(-4_000)}\n--- stderr ---\n` +
    `${run.stderr.slice(-4_000)}`
  );
}

/** `prisma migrate status` exits 0 and says the schema is up to date. */
export async function expectPrismaUpToDate(
  databaseUrl: string,
  migrationsDir: string,
  options?: PrismaJudgeOptions,
): Promise<PrismaRun> {
  const run = await prismaMigrateStatus(databaseUrl, migrationsDir, options);
  expect(run.stdout, shown(run)).toContain(UP_TO_DATE);
  expect(run.exitCode, shown(run)).toBe(0);
  return run;
}

/** `prisma migrate deploy` exits 0 and has nothing to apply. */
export async function expectPrismaNothingPending(
  databaseUrl: string,
  migrationsDir: string,
  options?: PrismaJudgeOptions,
): Promise<PrismaRun> {
  const run = await prismaMigrateDeploy(databaseUrl, migrationsDir, options);
  expect(run.stdout, shown(run)).toContain(NOTHING_PENDING);
  expect(run.exitCode, shown(run)).toBe(0);
  return run;
}

/** Both of Prisma's verdicts: its status and its deploy agree with the ledger as it stands. */
export async function expectPrismaAgrees(
  databaseUrl: string,
  migrationsDir: string,
  options?: PrismaJudgeOptions,
): Promise<void> {
  await expectPrismaUpToDate(databaseUrl, migrationsDir, options);
  await expectPrismaNothingPending(databaseUrl, migrationsDir, options);
}
