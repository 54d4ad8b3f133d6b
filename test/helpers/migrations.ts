/** Migration folders in temp dirs, written byte for byte as a test needs them. */
import { cp, mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const exampleMigrations = path.join(repoRoot, 'prisma/migrations');
/** Real histories used as test data (../shared/corpora); tests using them skip when absent. */
export const corporaDir = path.resolve(repoRoot, '../shared/corpora');

export async function migrationsDir(files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'vpcm-migrations-'));
  await writeFile(path.join(dir, 'migration_lock.toml'), 'provider = "postgresql"\n');
  for (const [name, sql] of Object.entries(files)) await addMigration(dir, name, sql);
  return dir;
}

export async function addMigration(dir: string, name: string, sql: string): Promise<void> {
  await mkdir(path.join(dir, name), { recursive: true });
  await writeFile(path.join(dir, name, 'migration.sql'), sql);
}

/** A private copy of the example migrations that a test may change. */
export async function copyOfExample(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'vpcm-example-'));
  await cp(exampleMigrations, dir, { recursive: true });
  return dir;
}
