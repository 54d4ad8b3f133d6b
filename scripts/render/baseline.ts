/** Text of `baseline`: what was recorded, what was already, and what to run next. */
import type { BaselineReport } from '../commands/baseline.js';
import { dim, green, migrationsPlace, yellow } from './common.js';

export function renderBaseline(r: BaselineReport): string {
  const out = [`Migrations: ${migrationsPlace(r.migrations)}`];
  if (r.ledgerCreated)
    out.push(yellow('The database had no _prisma_migrations table: it was created (as Prisma does).'));
  if (r.recorded.length > 0) {
    out.push(
      green(
        `Baselined through ${r.upTo}: ${r.recorded.length} migration(s) ` +
          `recorded as applied, their objects checked by definition.`,
      ),
    );
    out.push(dim(`  Their SQL was not run. First ${r.recorded[0]}, last ${r.recorded[r.recorded.length - 1]}.`));
  } else {
    out.push(green(`Nothing to record: every migration through ${r.upTo} is already recorded as applied.`));
  }
  if (r.unchecked.length > 0) {
    out.push(
      yellow(
        `  ${r.unchecked.length} of them create nothing by name ` +
          `that could be checked, so they are recorded on your ` +
          `word: ${r.unchecked.join(', ')}.`,
      ),
    );
  }
  if (r.alreadyRecorded.length > 0)
    out.push(dim(`  ${r.alreadyRecorded.length} were already recorded; left as they were.`));
  out.push(
    dim(
      r.remaining > 0
        ? `Next: ${r.next} applies the ${r.remaining} migration(s) after ${r.upTo}.`
        : `Next: ${r.next} (nothing is left to apply).`,
    ),
  );
  return out.join('\n');
}
