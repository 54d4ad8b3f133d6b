#!/usr/bin/env node
/**
 * The `vpc-migrate` command line: argument parsing, target set-up, the choice between text and
 * JSON, and exit codes only. Each command (commands/*) returns a report; render/report.ts
 * writes its text.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { type ErrorBody, ErrorCode, MigrateError, remedyCommand } from '../lambda/contract/index.js';
import type { Command } from './commands/command.js';
import { type AnyValues, type Options, TARGET_HELP, TARGET_OPTIONS, targetFlags } from './commands/flags.js';
import { CARRIED_FLAGS, currentLaunch, type Invocation, invocationOf } from './invocation.js';
import { renderError } from './render/common.js';
import { visible, visibleReport } from './render/escape.js';
import { protocolFlag } from './compat/protocol-flag.js';
import { beginTimings, timed } from './core/timings.js';
import { targetFor, type Worker } from './core/worker-client.js';
import { watchInterrupts } from './interrupt.js';
import type { Report } from './render/report.js';
import { deferredWorker } from './transport/deferred.js';
import { targetWorkers } from './transport/rollout-target.js';
import { checkTargetFlags, plannedLocalTarget, resolveTarget } from './transport/target.js';

/** A command as the command line lists it: its one-line summary, and its module, loaded only when it runs. */
export interface CommandEntry {
  summary: string;
  load(): Promise<Command<Options, Report>>;
}

/**
 * Every command. Each is imported only when it runs (`await import`, a chunk of its own in the
 * bundle): `--help` loads none, `status` never compiles deploy's parser or lint's rules.
 */
export const commands: Record<string, CommandEntry> = {
  deploy: {
    summary: 'apply pending migrations through the worker',
    load: async () => (await import('./commands/deploy.js')).deployCommand,
  },
  status: {
    summary: 'compare local migrations with the database',
    load: async () => (await import('./commands/status.js')).statusCommand,
  },
  lint: {
    summary: "static checks of pending migrations with PostgreSQL's parser",
    load: async () => (await import('./commands/lint.js')).lintCommand,
  },
  sql: {
    summary: 'run SQL through the worker, read-only unless --write',
    load: async () => (await import('./commands/sql.js')).sqlCommand,
  },
  resolve: {
    summary: 'mark a failed migration applied or rolled back, as Prisma does',
    load: async () => (await import('./commands/resolve.js')).resolveCommand,
  },
  baseline: {
    summary: 'record the migrations through NAME as applied, after checking their objects exist',
    load: async () => (await import('./commands/baseline.js')).baselineCommand,
  },
  rehearse: {
    summary: 'apply pending migrations in one transaction, measure, roll back',
    load: async () => (await import('./commands/rehearse.js')).rehearseCommand,
  },
  drift: {
    summary: 'compare the live schema with the one its applied migrations produce',
    load: async () => (await import('./commands/drift.js')).driftCommand,
  },
  backfill: {
    summary: 'run a tracked data backfill once, in one transaction',
    load: async () => (await import('./commands/backfill.js')).backfillCommand,
  },
};

/**
 * The package's version. package.json sits one folder above both this file (scripts/cli.ts) and
 * the bundle made of it (dist/cli.mjs), in a checkout and in an installed package alike.
 */
export function version(): string {
  return (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
}

function usage(): string {
  const list = Object.entries(commands).map(([name, c]) => `  ${name.padEnd(10)} ${c.summary}`);
  return (
    `vpc-migrate: apply Prisma migrations through a worker ` +
    `Lambda inside the VPC\n\nUsage: vpc-migrate <command> ` +
    `[options]\n       vpc-migrate --version\n\nCommands:\n` +
    `${list.join('\n')}\n\n${TARGET_HELP}\n\nRun vpc-migrate ` +
    `<command> --help for a command's options.`
  );
}

function workerNeeded(command: Command, values: AnyValues, positionals: string[]): boolean {
  return typeof command.needsWorker === 'function' ? command.needsWorker(values, positionals) : command.needsWorker;
}

type Token = NonNullable<ReturnType<typeof parseArgs>['tokens']>[number];

/**
 * Arguments the command does not take: more positionals than it declares, or a literal `--`
 * (pnpm and yarn pass it on to the script; after it a flag would be read as an argument, so
 * `deploy -- --allow-modified` would deploy without it). npm strips the first `--` itself.
 */
function strayArguments(
  name: string,
  command: Command,
  args: string[],
  tokens: Token[],
  values: AnyValues,
  positionals: string[],
): MigrateError | undefined {
  const end = tokens.find((t) => t.kind === 'option-terminator');
  if (end) {
    const options: Options = { ...TARGET_OPTIONS, ...command.options };
    const after = args.slice(end.index + 1);
    const flags = after.filter(
      (a) =>
        /^--?[^-]/.test(a) &&
        (a.startsWith('--')
          ? a.slice(2).split('=')[0]! in options
          : Object.values(options).some((o) => o.short === a.slice(1))),
    );
    if (command.positionals === 0 || flags.length > 0) {
      const shown = flags.length > 0 ? flags : after;
      const reads =
        command.positionals === 0 ? 'takes no arguments' : 'would read what follows it as arguments, not flags';
      return new MigrateError(
        ErrorCode.UsageError,
        `Unexpected "--" before ${shown.join(' ') || 'nothing'}: ` + `${name} ${reads}.`,
        `Pass the flags directly, without "--": ${suggestion(
          name,
          command,
          args.filter((_, i) => i !== end.index),
          values,
        )} ` + '(pnpm and yarn pass a "--" on to the script; only npm run strips it).',
      );
    }
  }
  if (positionals.length > command.positionals) {
    const extra = positionals.slice(command.positionals);
    return new MigrateError(
      ErrorCode.UsageError,
      `${name} takes ${command.positionals === 0 ? 'no arguments' : `at most ${command.positionals} argument(s)`}; ` +
        `got ${extra.map((a) => JSON.stringify(a)).join(' ')}.`,
      `Flags start with "--"; ${remedyCommand(name, '--help')} lists them.`,
    );
  }
  return undefined;
}

/**
 *  The canonical command for these arguments; the printed form adds the target flags that are in `values` (given before
 *  the `--`).
 */
function suggestion(name: string, command: Command, args: string[], values: AnyValues): string {
  try {
    const { tokens } = parseArgs({
      args,
      options: { ...TARGET_OPTIONS, ...command.options },
      allowPositionals: true,
      strict: true,
      tokens: true,
    });
    const carried = new Set<string>(CARRIED_FLAGS.filter((flag) => values[flag] !== undefined));
    const own = tokens.flatMap((t) => {
      if (t.kind === 'positional') return [t.value];
      if (t.kind !== 'option' || carried.has(t.name)) return [];
      return t.value === undefined || t.inlineValue ? [args[t.index]!] : [t.rawName, t.value];
    });
    return remedyCommand(name, ...own);
  } catch {
    return remedyCommand(name, '--help');
  }
}

/** What a command that said it needs no worker gets: any use is refused, nothing is started. */
function noWorker(): Worker {
  const refuse = (): never => {
    throw new MigrateError(
      ErrorCode.NoTarget,
      'This command was run without a worker.',
      'Pass --local, --function NAME or --stack NAME.',
    );
  };
  return {
    target: { functionName: '' },
    invocations: 0,
    ledger: refuse,
    apply: refuse,
    runSql: refuse,
    resolve: refuse,
    rehearse: refuse,
    backfill: refuse,
    baseline: refuse,
    drift: refuse,
    send: refuse,
    close: () => undefined,
  };
}

export async function main(argv: string[]): Promise<number> {
  // The SDK warns on every run that releases after January 2027 need Node 22; README says so once.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const [name, ...rest] = argv;
  beginTimings(name); // VPC_MIGRATE_TIMINGS: the split of this run (core/timings.ts)
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage() + '\n');
    return name ? 0 : 2;
  }
  if (name === '--version' || name === '-v') {
    process.stdout.write(`${version()}\n`);
    return 0;
  }
  const entry = Object.hasOwn(commands, name) ? commands[name] : undefined;
  const wantsJson = rest.includes('--json');
  // How the user runs us, for every command printed below (invocation.ts): until the flags are
  // parsed, without target flags.
  const launch = currentLaunch();
  let say = invocationOf(launch, {});
  if (!entry)
    return fail(
      new MigrateError(
        ErrorCode.UsageError,
        `Unknown command "${name}".`,
        `Run one of: ${Object.keys(commands).join(', ')} (see --help).`,
      ),
      wantsJson,
      say,
    );
  const command = await entry.load();
  let values: AnyValues;
  let positionals: string[];
  let tokens: Token[];
  try {
    const options: typeof TARGET_OPTIONS & Options = { ...TARGET_OPTIONS, ...command.options };
    const config = { args: rest, options, allowPositionals: true, strict: true, tokens: true } as const;
    ({ values, positionals, tokens } = parseArgs(config));
  } catch (error) {
    return fail(
      new MigrateError(ErrorCode.UsageError, (error as Error).message, `Run ${remedyCommand(name, '--help')}.`),
      wantsJson,
      say,
    );
  }
  if (values.help) {
    process.stdout.write(`${command.usage}\n\n${TARGET_HELP}\n`);
    return 0;
  }
  const json = values.json === true;
  say = invocationOf(launch, values);
  const stray = strayArguments(name, command, rest, tokens, values, positionals);
  if (stray) return fail(stray, json, say);
  // Progress lines may name commands; the report's strings are rewritten once, before rendering,
  // so what renderers and the interruption hint print (already rewritten) goes out as it is.
  const write = (line: string) => process.stderr.write(line + '\n');
  const progress = (line: string) => write(visible(say.rewrite(line), { keepLines: true }));
  let close: () => Promise<void> = async () => {};
  try {
    // The renderers load while the command runs.
    const rendering = import('./render/report.js');
    if (!workerNeeded(command, values, positionals)) {
      // A targets file (--targets): the command reaches each target through these (transport/rollout-target.ts).
      const output = await command.run({ values, positionals, worker: noWorker(), progress, targetWorkers });
      const report = say.rewriteAll(output.report);
      const { renderReport } = await rendering;
      const text = await renderReport(visibleReport(report), { csv: values.csv === true }, write);
      process.stdout.write((json ? JSON.stringify(report, null, 2) : text) + '\n');
      return output.exitCode;
    }
    // transport/target.ts: --function / --stack name a deployed worker; --local starts the local
    // Invoke endpoint (scripts/local/) with the worker inside, on DATABASE_URL or embedded PostgreSQL.
    const flags = targetFlags(values);
    checkTargetFlags(flags);
    // The SDK client's chunk loads while the target resolves.
    const invoking = import('./transport/invoke.js');
    const resolving = timed('endpoint', () => resolveTarget(flags, process.env));
    // Stops the local worker once it has started, even when the command finished (failed) first.
    close = async () => (await resolving.catch(() => undefined))?.close();
    const ready = resolving.then(async (resolved) => {
      if (resolved.localDatabase && !json) {
        const { embedded, dataDir } = resolved.localDatabase;
        const database = embedded
          ? `embedded PostgreSQL (${dataDir ?? '.vpc-migrate/pgdata'})`
          : `database from ${typeof values['database-url'] === 'string' ? '--database-url' : 'DATABASE_URL'}`;
        progress(`Local worker: ${database} ` + `behind the local Invoke endpoint ${resolved.target.endpoint}`);
      }
      // The reader function for what only reads (status, lint, sql without --write), the migrator for the rest
      // (core/worker-client.ts).
      const target = targetFor(name, resolved.target, { write: values.write === true });
      // Our worker through Lambda Invoke (transport/invoke.ts), or a plain run-sql one (compat/).
      if (protocolFlag(values) === 'run-sql')
        return (await import('./compat/protocol.js')).connectRunSql(values, target, progress);
      return (await invoking).connectWorker(target);
    });
    // A deployed target resolves before the command starts, as it always did. --local starts its
    // endpoint (and the worker's database connection) while the command reads the migrations
    // folder: its calls wait for it (transport/deferred.ts).
    const worker = flags.local
      ? deferredWorker(ready, targetFor(name, plannedLocalTarget(flags), { write: values.write === true }))
      : await ready;
    // A failed start is the error, as when the command waited for it: whatever the command made of it.
    const started = ready.then(
      () => undefined,
      (error: unknown) => error,
    );
    const watch = watchInterrupts(
      say.rewrite(command.interrupt?.next ?? `See the outcome with ${remedyCommand('status')}.`),
      (i, final) => {
        if (final && json)
          process.stdout.write(
            JSON.stringify({ ok: false, interrupted: true, exitedAtOnce: true, ...i }, null, 2) + '\n',
          );
        else
          write(
            final
              ? `Second ${i.signal}: exiting now. ${i.next}`
              : `${i.message}\n${i.next}\nWaiting for the worker's answer; press Ctrl-C again to exit now.`,
          );
      },
      (code) => process.stdout.write('', () => process.exit(code)),
      command.interrupt?.message,
    );
    try {
      let output: Awaited<ReturnType<typeof command.run>>;
      try {
        output = await command.run({ values, positionals, worker, progress, interrupted: watch.current });
      } catch (error) {
        throw (await started) ?? error;
      }
      const failedStart = await started;
      if (failedStart) throw failedStart;
      const report = say.rewriteAll(output.report);
      const { renderReport } = await rendering;
      const text = await renderReport(visibleReport(report), { csv: values.csv === true }, write);
      const stop = watch.current();
      const body = stop && json ? { ...report, interrupted: stop } : report;
      process.stdout.write((json ? JSON.stringify(body, null, 2) : text) + '\n');
      if (stop && !json) write(`${stop.signal}: ${stop.next}`);
      return stop ? stop.exitCode : output.exitCode;
    } finally {
      watch.stop();
      worker.close();
    }
  } catch (error) {
    return fail(error, json, say);
  } finally {
    await close().catch(() => undefined);
  }
}

/** Prints the error (text on stderr, or JSON on stdout), its commands as the user runs them; exit code 2. */
function fail(error: unknown, json: boolean, say: Invocation = invocationOf(currentLaunch(), {})): number {
  const body: ErrorBody = say.rewriteAll(
    error instanceof MigrateError
      ? error.toJSON()
      : {
          code: 'VPCM_INTERNAL',
          message: `Unexpected failure: ${(error as Error)?.stack ?? String(error)}`,
          remedy: 'This is a bug in vpc-migrate; please report it with this output.',
        },
  );
  if (json) process.stdout.write(JSON.stringify({ ok: false, error: body }, null, 2) + '\n');
  else process.stderr.write(renderError(visibleReport(body)) + '\n');
  return 2;
}

const isEntry = process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href;
if (isEntry) {
  // process.exit() right after a large write to a pipe cuts the output at 64 KB: exit once
  // stdout has flushed (the callback of an empty write runs after the writes queued before it).
  const exit = (code: number) => process.stdout.write('', () => process.exit(code));
  main(process.argv.slice(2)).then(exit, (error: unknown) => exit(fail(error, false)));
}
