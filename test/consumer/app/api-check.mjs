// The programmatic API: status() finds the folder as the CLI does (prisma.config.ts here) and
// returns the report `vpc-migrate status --json` prints; vpc-migrate/worker exports the handler.
import { status } from 'vpc-migrate';
import { handler } from 'vpc-migrate/worker';

const report = await status({ target: { local: true } });
if (
  report.command !== 'status' ||
  report.exitCode !== 0 ||
  report.plan.applied.length !== 4 ||
  !report.migrationsDir.endsWith('/db/migrations')
) {
  throw new Error(
    `unexpected status report: ${JSON.stringify({
      exitCode: report.exitCode,
      summary: report.summary,
      dir: report.migrationsDir,
    })}`,
  );
}
if (typeof handler !== 'function') throw new Error('vpc-migrate/worker exports no handler');
console.log(`api: status() ${report.summary} (${report.migrations.source}); worker: handler exported`);
