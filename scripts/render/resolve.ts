/** Text of `resolve`: what changed in the ledger, and what to run next. */
import type { ResolveReport } from '../commands/resolve.js';
import { dim, green, migrationsPlace, yellow } from './common.js';

export function renderResolve(r: ResolveReport): string {
  const res = r.result;
  const out: string[] = [];
  // --applied reads the local folder (its checksum is recorded); --rolled-back touches only the ledger.
  if (r.to === 'applied') out.push(`Migrations: ${migrationsPlace(r.migrations)}`);
  if (res.ledgerCreated)
    out.push(yellow('The database had no _prisma_migrations table: it was created (as Prisma does).'));
  if (r.to === 'applied') {
    out.push(green(`Migration ${r.name} marked as applied.`));
    if (res.rolledBackIds.length > 0)
      out.push(`  ${res.rolledBackIds.length} failed attempt(s) of it marked rolled back.`);
    out.push(
      dim(
        `  Its SQL was not run: the ledger now records it with ` +
          `checksum ${r.checksum ?? res.inserted?.checksum ?? '?'}.`,
      ),
    );
  } else if (res.rolledBackIds.length > 0) {
    out.push(green(`Migration ${r.name} marked as rolled back.`));
    out.push(dim(`  ${res.rolledBackIds.length} failed row(s) marked; the next deploy applies it again.`));
  } else {
    out.push(green(`Migration ${r.name}: its failed attempts were already marked rolled back; nothing changed.`));
  }
  out.push(dim(`Next: ${r.next}`));
  return out.join('\n');
}
