/**
 * What drift never reports: the ledgers (the scratch database has its own, written by the same
 * path, and they are bookkeeping, not schema) and what `--exclude` names. Pure.
 */

/** Names of the ledger tables and what belongs to them (`_prisma_migrations_pkey`, the Drizzle id sequence). */
const LEDGER_PREFIXES = ['_prisma_migrations', '__drizzle_migrations'];

/** Whether an object name (`public._prisma_migrations.checksum`, `index _prisma_migrations_pkey`) is a ledger's. */
export function isLedgerObject(object: string): boolean {
  return object.split(/[\s."(),:]+/).some((part) => LEDGER_PREFIXES.some((p) => part.startsWith(p)));
}

/** A `*` glob, matched against the whole name or any dotted prefix of it (`public.users` covers its columns). */
export function globMatcher(patterns: readonly string[]): (object: string) => boolean {
  const res = patterns.map(
    (p) => new RegExp(`^${p.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}(?:\\..*)?$`, 's'),
  );
  return (object) => res.some((re) => re.test(object));
}
