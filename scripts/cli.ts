#!/usr/bin/env node
/**
 * The `vpc-migrate` command line: argument parsing, target set-up, the choice between text and
 * JSON, and exit codes only. Each command (commands/*) returns a report; render/report.ts
 * writes its text.
 */
import { parseArgs } from 'node:util';
import { type ErrorBody, ErrorCode, MigrateError } from '../lambda/contract/index.js';
import { backfillCommand } from './commands/backfill.js';
import type { Command } from './commands/command.js';
import { deployCommand } from './commands/deploy.js';
import { statusCommandFor, TARGET_HELP, TARGET_OPTIONS, targetFlags, type Values } from './commands/flags.js';
import { lintCommand } from './commands/lint.js';
import { rehearseCommand } from './commands/rehearse.js';
import { resolveCommand } from './commands/resolve.js';
import { sqlCommand } from './commands/sql.js';
import { statusCommand } from './commands/status.js';
import { connectRunSql, protocolFlag } from './compat/protocol.js';
import type { Worker } from './core/worker.js';
import { watchInterrupts } from './interrupt.js';
import { renderError } from './render/common.js';
import { renderReport } from './render/report.js';
import { connectWorker } from './transport/invoke.js';
import { resolveTarget } from './transport/target.js';

export const commands: Record<string, Command> = {
  deploy: deployCommand,
  status: statusCommand,
  lint: lintCommand,
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
      const text = await renderReport(output.report, values, progress);
      process.stdout.write((json ? JSON.stringify(output.report, null, 2) : text) + '\n');
      return output.exitCode;
    }
    // transport/target.ts: --function / --stack name a deployed worker; --local starts the local
    // Invoke endpoint (scripts/local/) with the worker inside, on DATABASE_URL or embedded PostgreSQL.
    const resolved = await resolveTarget(targetFlags(values));
    close = resolved.close;
    if (resolved.localDatabase && !json) {
      progress(`Local worker: ${resolved.localDatabase.embedded ? `embedded PostgreSQL (${resolved.localDatabase.dataDir ?? '.vpc-migrate/pgdata'})` : 'database from DATABASE_URL'} behind the local Invoke endpoint ${resolved.target.endpoint}`);
    }
    // Our worker through Lambda Invoke (transport/invoke.ts), or a plain run-sql one (compat/).
    const worker = protocolFlag(values) === 'run-sql' ? connectRunSql(values, resolved.target, progress) : connectWorker(resolved.target);
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
      const text = await renderReport(output.report, values, progress);
      const stop = watch.current();
      const body = stop && json ? { ...output.report, interrupted: stop } : output.report;
      process.stdout.write((json ? JSON.stringify(body, null, 2) : text) + '\n');
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
