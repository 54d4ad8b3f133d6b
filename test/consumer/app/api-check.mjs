// The programmatic API: status() returns the report `vpc-migrate status --json` prints.
import { status } from 'vpc-migrate';

const report = await status({ target: { local: true }, migrationsDir: 'db/migrations' });
if (report.command !== 'status' || report.exitCode !== 0 || report.plan.applied.length !== 4) {
  throw new Error(`unexpected status report: ${JSON.stringify({ exitCode: report.exitCode, summary: report.summary })}`);
}
console.log(`api: status() ${report.summary}`);
