#!/usr/bin/env node
/**
 * The `vpc-migrate` command line: argument parsing, target set-up and exit codes only.
 * Each command is a function returning a report (scripts/commands/*); this file renders it.
 */
import { parseArgs } from 'node:util';
import { type ErrorBody, ErrorCode, MigrateError } from '../lambda/contract/index.js';
import { backfillCommand } from './commands/backfill.js';
import { deploy } from './commands/deploy.js';
import { runLint } from './commands/lint.js';
import { rehearseCommand } from './commands/rehearse.js';
import { resolveCommand } from './commands/resolve.js';
import { sqlCommand } from './commands/sql.js';
import type { Command, Options, Values } from './commands/command.js';
import { applyOptionsFrom, functionTimeoutFlag } from './commands/flags.js';
import { status } from './commands/status.js';
import { formatFlag } from './format.js';
import type { Worker } from './invoke.js';
import { connectForProtocol, PROTOCOL_HELP, PROTOCOL_OPTIONS } from './compat/protocol.js';
import { renderDeploy, renderError, renderStatus } from './report.js';
import { sh } from './plan.js';
import { resolveTarget, type TargetFlags } from './target.js';
import { watchInterrupts, type Interruption } from './interrupt.js';
import { renderLint } from './lint/render.js';

const TARGET_OPTIONS: Options = {
  local: { type: 'boolean' },
  function: { type: 'string' },
  endpoint: { type: 'string' },
  stack: { type: 'string' },
  region: { type: 'string' },
  profile: { type: 'string' },
  'database-url': { type: 'string' },
  'function-timeout': { type: 'string' },
  migrations: { type: 'string' },
  format: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  ...PROTOCOL_OPTIONS,
};

const TARGET_HELP = `Worker (one of):
  --local                 run the worker locally: embedded PostgreSQL (or DATABASE_URL / --database-url)
  --function NAME|ARN     the deployed worker (or env VPC_MIGRATE_FUNCTION)
  --stack NAME            find the worker in this CloudFormation stack's outputs
  --endpoint URL          any Lambda Invoke-compatible endpoint (with --function)
  --region R, --profile P AWS region and profile (default: the AWS SDK chain)
  --function-timeout SEC  the function's timeout, 1 to 900 (Lambda's maximum; default 900); the CLI waits a little longer
Common:
  --migrations DIR        migration folders (default prisma/migrations)
  --format prisma|drizzle the migration format (default: drizzle when DIR/meta/_journal.json exists, else prisma)
  --json                  machine-readable output on stdout (progress goes to stderr)
${PROTOCOL_HELP}`;

export const commands: Record<string, Command> = {
  deploy: {
    summary: 'apply pending migrations through the worker (pnpm migrate:remote)',
    usage: `vpc-migrate deploy [options]
Applies every pending migration in order, then verifies the ledger.
  --allow-out-of-order    apply folders older than the newest applied one (still reported)
  --allow-modified        accept applied migrations whose file changed (still reported)
  --lock-wait SEC         wait this long for another deploy to finish (default 10)
  --lock-timeout MS       PostgreSQL lock_timeout for migration statements (default: none)
  --statement-timeout MS  cap for each statement (always below the function's remaining time)
  --no-reconcile          treat "already exists" as a failure instead of reconciling
  --no-lint               skip the lint of pending migrations (by default lint errors refuse the deploy)
Exit codes: 0 applied or up to date, 2 problem (nothing or not everything applied).`,
    options: {
      'allow-out-of-order': { type: 'boolean' },
      'allow-modified': { type: 'boolean' },
      'lock-wait': { type: 'string' },
      'lock-timeout': { type: 'string' },
      'statement-timeout': { type: 'string' },
      'no-reconcile': { type: 'boolean' },
      'no-lint': { type: 'boolean' },
    },
    needsWorker: true,
    async run({ values, worker, progress, interrupted }) {
      const apply = applyOptionsFrom(values);
      const report = await deploy(worker, {
        migrationsDir: (values.migrations as string | undefined) ?? 'prisma/migrations',
        allowOutOfOrder: values['allow-out-of-order'] === true,
        allowModified: values['allow-modified'] === true,
        lint: values['no-lint'] !== true,
        apply,
        progress,
        format: formatFlag(values.format),
        ...(interrupted ? { interrupted } : {}),
      });
      return { exitCode: report.exitCode, json: report, text: renderDeploy(report) };
    },
  },
  status: {
    summary: 'compare local migrations with the database (pnpm migrate:status)',
    usage: `vpc-migrate status [options]
Shows applied, pending, failed, modified, missing-locally and out-of-order migrations.
Exit codes: 0 up to date, 1 pending migrations, 2 problem (failed, modified, missing locally, out of order, worker error).`,
    options: {},
    needsWorker: true,
    async run({ values, worker }) {
      const report = await status(worker, { migrationsDir: (values.migrations as string | undefined) ?? 'prisma/migrations', format: formatFlag(values.format) });
      return { exitCode: report.exitCode, json: report, text: renderStatus(report) };
    },
  },
  lint: {
    summary: 'static checks of pending migrations with PostgreSQL\'s parser (pnpm migrate:lint)',
    usage: `vpc-migrate lint [NAME...] [options]
Checks migrations with PostgreSQL's own parser; each finding has a rule id, severity, file:line,
why it matters and the fix (the README lists the rules).
  (no NAME, no --all)     the pending migrations, against the applied ones: needs a worker flag, like status
  NAME...                 these migration folders, each against the local history before it (no worker)
  --all                   every local migration, each against the local history before it (no worker)
  --fix                   remove the statements proven to be Prisma's generated noise (many-to-many
                          _AB_pkey/_AB_unique churn, re-creations of indexes the history already has)
                          from the linted files, and nothing else; refused with --all (applied files)
Exit codes: 0 no errors (warnings allowed), 2 errors found or lint could not run.`,
    options: {
      all: { type: 'boolean' },
      fix: { type: 'boolean' },
    },
    needsWorker: (values, positionals) => values.all !== true && positionals.length === 0,
    async run({ values, positionals, worker }) {
      const offline = values.all === true || positionals.length > 0;
      const report = await runLint(offline ? undefined : worker, {
        migrationsDir: (values.migrations as string | undefined) ?? 'prisma/migrations',
        all: values.all === true,
        names: positionals,
        fix: values.fix === true,
      });
      return { exitCode: report.exitCode, json: report, text: renderLint(report) };
    },
  },
  sql: sqlCommand,
  resolve: resolveCommand,
  rehearse: rehearseCommand,
  backfill: backfillCommand,
};

function usage(): string {
  const list = Object.entries(commands).map(([name, c]) => `  ${name.padEnd(10)} ${c.summary}`);
  return `vpc-migrate: apply Prisma migrations through a worker Lambda inside the VPC\n\nUsage: vpc-migrate <command> [options]\n\nCommands:\n${list.join('\n')}\n\n${TARGET_HELP}\n\nRun vpc-migrate <command> --help for a command's options.`;
}

function workerNeeded(command: Command, values: Values, positionals: string[]): boolean {
  return typeof command.needsWorker === 'function' ? command.needsWorker(values, positionals) : command.needsWorker;
}

/** What a command that said it needs no worker gets: any use is refused, nothing is started. */
function noWorker(): Worker {
  const refuse = (): never => {
    throw new MigrateError(ErrorCode.NoTarget, 'This command was run without a worker.', 'Pass --local, --function NAME or --stack NAME.');
  };
  return { target: { functionName: '' }, invocations: 0, ledger: refuse, apply: refuse, runSql: refuse, send: refuse, close: () => undefined };
}

export async function main(argv: string[]): Promise<number> {
  // The SDK warns on every run that releases after January 2027 need Node 22; README says so once.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage() + '\n');
    return name ? 0 : 2;
  }
  const command = commands[name];
  const wantsJson = rest.includes('--json');
  if (!command) return fail(new MigrateError(ErrorCode.UsageError, `Unknown command "${name}".`, `Run one of: ${Object.keys(commands).join(', ')} (see --help).`), wantsJson);
  let values: Values;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({ args: rest, options: { ...TARGET_OPTIONS, ...command.options }, allowPositionals: true, strict: true }) as { values: Values; positionals: string[] });
  } catch (error) {
    return fail(new MigrateError(ErrorCode.UsageError, (error as Error).message, `Run vpc-migrate ${name} --help.`), wantsJson);
  }
  if (values.help) {
    process.stdout.write(`${command.usage}\n\n${TARGET_HELP}\n`);
    return 0;
  }
  const json = values.json === true;
  const progress = (line: string) => process.stderr.write(line + '\n');
  let close = async () => undefined as void;
  try {
    if (!workerNeeded(command, values, positionals)) {
      const output = await command.run({ values, positionals, worker: noWorker(), progress });
      process.stdout.write((json ? JSON.stringify(output.json, null, 2) : output.text) + '\n');
      return output.exitCode;
    }
    const flags: TargetFlags = {};
    if (values.local) flags.local = true;
    for (const [flag, key] of [['function', 'function'], ['endpoint', 'endpoint'], ['stack', 'stack'], ['region', 'region'], ['profile', 'profile'], ['database-url', 'databaseUrl']] as const) {
      if (typeof values[flag] === 'string') flags[key] = values[flag] as string;
    }
    const timeout = functionTimeoutFlag(values);
    if (timeout !== undefined) flags.functionTimeoutMs = timeout;
    const resolved = await resolveTarget(flags);
    close = resolved.close;
    if (resolved.localDatabase && !json) {
      progress(`Local worker: ${resolved.localDatabase.embedded ? 'embedded PostgreSQL (.vpc-migrate/pgdata)' : 'database from DATABASE_URL'} behind the local Invoke endpoint ${resolved.target.endpoint}`);
    }
    const worker = connectForProtocol(values, resolved.target, progress);
    const watch = watchInterrupts(
      statusCommandFor(argv),
      (i, final) => {
        if (final && json) process.stdout.write(JSON.stringify({ ok: false, interrupted: true, exitedAtOnce: true, ...i }, null, 2) + '\n');
        else progress(final ? `Second ${i.signal}: exiting now. ${i.next}` : `${i.message}\n${i.next}\nWaiting for the worker's answer; press Ctrl-C again to exit now.`);
      },
      (code) => process.stdout.write('', () => process.exit(code)),
    );
    try {
      const output = await command.run({ values, positionals, worker, progress, interrupted: watch.current });
      const stop = watch.current();
      const body = stop && json && typeof output.json === 'object' && output.json !== null ? { ...output.json, interrupted: stop } : output.json;
      process.stdout.write((json ? JSON.stringify(body, null, 2) : output.text) + '\n');
      if (stop && !json) progress(`${stop.signal}: ${stop.next}`);
      return stop ? stop.exitCode : output.exitCode;
    } finally {
      watch.stop();
      worker.close();
    }
  } catch (error) {
    return fail(error, json);
  } finally {
    await close().catch(() => undefined);
  }
}

/** `pnpm migrate:status` with the target flags of this run (for the interruption message). */
function statusCommandFor(argv: string[]): string {
  const keep: string[] = [];
  const withValue = new Set(['--function', '--endpoint', '--stack', '--region', '--profile', '--function-timeout', '--migrations', '--format', '--protocol']);
  for (let i = 1; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--local') keep.push(a);
    else if (withValue.has(a) && argv[i + 1] !== undefined) keep.push(a, argv[++i]!);
    else if ([...withValue].some((f) => a.startsWith(`${f}=`))) keep.push(a);
  }
  return ['pnpm migrate:status', ...keep.map(sh)].join(' ');
}

function fail(error: unknown, json: boolean): number {
  const body: ErrorBody =
    error instanceof MigrateError
      ? error.toJSON()
      : { code: 'VPCM_INTERNAL', message: `Unexpected failure: ${(error as Error)?.stack ?? String(error)}`, remedy: 'This is a bug in vpc-migrate; please report it with this output.' };
  if (json) process.stdout.write(JSON.stringify({ ok: false, error: body }, null, 2) + '\n');
  else process.stderr.write(renderError(body) + '\n');
  return 2;
}

const isEntry = process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href;
if (isEntry) {
  // process.exit() right after a large write to a pipe cuts the output at 64 KB: exit once
  // stdout has flushed (the callback of an empty write runs after the writes queued before it).
  const exit = (code: number) => process.stdout.write('', () => process.exit(code));
  main(process.argv.slice(2)).then(exit, (error: unknown) => exit(fail(error, false)));
}
