/**
 * `drift`: does the database match its migrations? The worker builds the expected schema (the
 * migrations the ledger records as applied, applied through deploy's own path) in a scratch
 * database on the target's server or in `--dev-database`, compares it with the live schema and
 * drops it (lambda/drift/). This side picks the migrations, sends them in as many invocations as
 * the time budget needs, and always asks for the clean-up when a step fails. docs/drift.md.
 */
import { randomUUID } from 'node:crypto';
import {
  type ApplyOptions,
  type DriftDifference,
  ErrorCode,
  LAMBDA_MAX_TIMEOUT_SECONDS,
  MigrateError,
  type MigrationFormat,
  type MigrationPayload,
  remedyCommand,
  type ServerFacts,
} from '../../lambda/contract/index.js';
import { sendInBatches } from '../core/send-in-batches.js';
import type { AppliedEntry, Problem } from '../core/plan.js';
import { sqlParser } from '../core/sql-parser.js';
import type { Request, Worker } from '../core/worker-client.js';
import type { DriftEvent } from '../../lambda/contract/index.js';
import { loadState } from '../formats/select.js';
import { givenLocation, type MigrationsLocation } from '../project/migrations-dir.js';
import { openParseCache } from '../project/parse-cache.js';
import type { DriftMatrixReport } from '../rollout/drift-matrix.js';
import { TARGETS_HELP, TARGETS_OPTIONS, wantsTargets } from '../rollout/flags.js';
import { type CommandOutput, defineCommand } from './command.js';
import { APPLY_OPTIONS, applyOptionsFrom, devDatabaseFlag, formatFlag, migrationsFlag } from './flags.js';

/** Exit codes (docs/commands.md, beside status's 0/1/2): 3 is drift, never a status code. */
export const DRIFT_EXIT = { none: 0, problem: 2, drift: 3 } as const;

export interface DriftReport {
  command: 'drift';
  migrationsDir: string;
  migrations: MigrationsLocation;
  server: ServerFacts;
  format?: MigrationFormat;
  /** Where the expected schema was built. */
  builtIn?: { kind: 'scratch'; name: string } | { kind: 'dev-database'; name: string };
  /** Migrations the ledger records as applied: the expected schema is made of these. */
  applied: number;
  /** Pending migrations: status's business, never drift. */
  pending: number;
  differences: DriftDifference[];
  /** Objects read on each side (the ledgers left out). */
  objects?: { expected: number; live: number };
  /** `--exclude` and the Prisma config's external tables and enums. */
  excluded: string[];
  /** What the ledger says that makes the expected schema uncertain (a checksum that differs from the local file). */
  findings: Problem[];
  /** Why the check could not be completed. */
  problems: Problem[];
  warnings: string[];
  /** Scratch databases a killed earlier run left, removed now. */
  removedStale: string[];
  /** The scratch database was dropped (the dev database emptied) at the end. */
  cleanedUp: boolean;
  invocations: number;
  durationMs: number;
  exitCode: 0 | 2 | 3;
}

export interface DriftOptions {
  migrationsDir: string;
  location?: MigrationsLocation;
  format?: MigrationFormat;
  apply?: ApplyOptions;
  exclude?: string[];
  /** A database of the worker's allow-list to build the expected schema in, instead of a scratch database. */
  devDatabase?: string;
  progress?: (line: string) => void;
  interrupted?: () => { message: string; next: string } | undefined;
}

export async function drift(worker: Worker, opts: DriftOptions): Promise<DriftReport> {
  const started = Date.now();
  const progress = opts.progress ?? (() => undefined);
  const migrations = givenLocation(opts.migrationsDir, opts.location);
  const state = await loadState(worker, migrations.dir, opts.format ? { format: opts.format } : {});
  const { plan, format } = state;
  const excluded = [...(opts.exclude ?? []), ...externalPatterns(opts.location ?? migrations)];
  const report: DriftReport = {
    command: 'drift',
    migrationsDir: migrations.dir,
    migrations,
    server: state.ledger.server,
    applied: 0,
    pending: plan.pending.length,
    differences: [],
    excluded,
    findings: plan.problems.filter((p) => p.code === ErrorCode.ChecksumModified),
    problems: plan.problems.filter((p) => p.code === ErrorCode.MissingLocally),
    warnings: [...state.warnings],
    removedStale: [],
    cleanedUp: false,
    invocations: 0,
    durationMs: 0,
    exitCode: DRIFT_EXIT.problem,
  };
  if (format.wire) report.format = format.wire;
  const finish = () => {
    report.invocations = worker.invocations;
    report.durationMs = Date.now() - started;
    report.exitCode =
      report.problems.length > 0 || report.findings.length > 0
        ? DRIFT_EXIT.problem
        : report.differences.length > 0
          ? DRIFT_EXIT.drift
          : DRIFT_EXIT.none;
    return report;
  };
  if (!state.ledger.tableExists) {
    // Baseline is Prisma's (commands/baseline.ts); the command as printed names a migration, as it must.
    const last = plan.pending[plan.pending.length - 1];
    report.warnings.push(
      `The database has no ${format.ledgerTable}: no migration is recorded as applied, so the expected schema is ` +
        'empty and everything in the database shows as only in live' +
        (format.name === 'prisma' && last !== undefined
          ? `; if it was migrated by other means, ${remedyCommand('baseline', '--up-to', last)} (or the name of ` +
            'the last migration it already has) records those as applied.'
          : '.'),
    );
  }
  for (const f of plan.failed)
    report.warnings.push(
      `${f.name} has a failed row in the ledger: it is not part of the expected schema, so what it left ` +
        'behind shows as drift.',
    );
  // The database is ahead of this code: the expected schema cannot be built.
  if (report.problems.length > 0) return finish();

  const local = plan.applied.filter((a) => a.local);
  // Drizzle's ledger records no application time (its created_at is the journal's): journal order.
  const names = (format.name === 'prisma' ? inLedgerOrder(local) : local).map((a) => a.name);
  report.applied = names.length;
  const cache = await openParseCache({ onWriteError: () => undefined });
  const payloads = await format.payloads(() => sqlParser(), state.discovery, names, report.warnings, cache);
  await cache.save();

  const requestId = randomUUID();
  const where: Pick<Request<DriftEvent>, 'run' | 'devDatabase' | 'format'> = {
    run: requestId,
    ...(opts.devDatabase !== undefined ? { devDatabase: opts.devDatabase } : {}),
    ...(format.wire ? { format: format.wire } : {}),
  };
  progress(
    opts.devDatabase !== undefined
      ? `Building the expected schema in the dev database "${opts.devDatabase}"…`
      : 'Creating a scratch database on the target server for the expected schema…',
  );
  const begun = await worker.drift({ requestId: `${requestId}-begin`, step: 'begin', ...where });
  report.removedStale = begun.removedStale ?? [];
  if (begun.keptStale?.length)
    for (const k of begun.keptStale) report.warnings.push(`Stale scratch database ${k.name} left: ${k.why}.`);
  const place = { ...where, ...(begun.scratch ? { scratch: begun.scratch } : {}) };
  report.builtIn = begun.scratch
    ? { kind: 'scratch', name: begun.scratch }
    : { kind: 'dev-database', name: opts.devDatabase ?? '' };
  try {
    const built = await applyAll(worker, payloads, report, { ...opts, requestId, place });
    // A signal during the last apply: no compare is sent; `finally` drops the scratch database.
    const stop = built ? opts.interrupted?.() : undefined;
    if (stop)
      report.problems.push({ code: ErrorCode.Interrupted, migration: '', message: stop.message, remedy: stop.next });
    else if (built) {
      progress('Comparing the expected schema with the live one…');
      const compared = await worker.drift({
        requestId: `${requestId}-compare`,
        step: 'compare',
        ...place,
        ...(excluded.length ? { exclude: excluded } : {}),
      });
      report.differences = compared.differences ?? [];
      // Within Lambda's 6 MB answer (lambda/drift/answer-size.ts): still drift, said plainly.
      if (compared.omitted)
        report.warnings.push(
          `${compared.omitted} more difference(s) were left out of the worker's answer (Lambda's 6 MB limit); ` +
            'use --exclude for what is managed elsewhere, or compare in parts.',
        );
      if (compared.shortened)
        report.warnings.push(`${compared.shortened} definition(s) were cut short to fit the worker's answer.`);
      if (compared.objects) report.objects = compared.objects;
      report.cleanedUp = compared.cleanedUp === true;
    }
  } catch (error) {
    // A worker that crashed or timed out mid-check is the report's problem: the report still says
    // whether the scratch database was dropped after it.
    if (!(error instanceof MigrateError)) throw error;
    report.problems.push({ code: error.code, migration: '', message: error.message, remedy: error.remedy });
  } finally {
    if (!report.cleanedUp) {
      // After a failure, a timeout or a signal: the worker drops what this run made.
      const ended = await worker
        .drift({ requestId: `${requestId}-end`, step: 'end', ...place })
        .catch((error: unknown) => {
          report.warnings.push(
            `The ${report.builtIn?.kind === 'scratch' ? `scratch database ${report.builtIn.name}` : 'dev database'} ` +
              `could not be cleaned up now (${(error as Error).message}); the next drift removes it once its lease ` +
              'expires.',
          );
          return undefined;
        });
      report.cleanedUp = ended?.cleanedUp === true;
    }
  }
  return finish();
}

/**
 * Prisma's applied migrations in the order the live database ran them: by the ledger's
 * finished_at, folder order on a tie (the rows of one transaction, as baseline writes them). A
 * folder deployed out of order (--allow-out-of-order) ran after newer ones, and built in folder
 * order an enum's labels or a function both replace would come out otherwise than live. A row
 * that records a migration no tool ran (`resolve --applied`, baseline: applied_steps_count 0)
 * says nothing of when it happened: it keeps its place after its folder predecessor.
 */
export function inLedgerOrder<T extends Pick<AppliedEntry, 'finishedAt' | 'appliedStepsCount'>>(
  applied: readonly T[],
): T[] {
  let previous = Number.NEGATIVE_INFINITY;
  const keyed = applied.map((a, i) => {
    const ran = Date.parse(a.finishedAt);
    if (a.appliedStepsCount > 0 && !Number.isNaN(ran)) previous = ran;
    return { a, i, at: previous };
  });
  return keyed.sort((x, y) => x.at - y.at || x.i - y.i).map(({ a }) => a);
}

/**
 * The applied migrations into the scratch database, as deploy sends them (scripts/core/send-in-batches.ts):
 * as many per Invoke as fit, the next invocation carrying on where the time budget stopped the last. Answers whether
 * all were applied; otherwise the reason is in `report.problems`.
 */
async function applyAll(
  worker: Worker,
  payloads: MigrationPayload[],
  report: DriftReport,
  opts: DriftOptions & {
    requestId: string;
    place: Pick<Request<DriftEvent>, 'run' | 'scratch' | 'devDatabase' | 'format'>;
  },
): Promise<boolean> {
  const progress = opts.progress ?? (() => undefined);
  return sendInBatches(payloads, {
    interrupted: opts.interrupted,
    onInterrupt: (stop, remaining) =>
      report.problems.push({
        code: ErrorCode.Interrupted,
        migration: remaining[0]!.name,
        message: stop.message,
        remedy: stop.next,
      }),
    send: async (batch, round, left) => {
      progress(`Applying ${batch.length} of ${left.migrations} applied migration(s) to the expected schema…`);
      const { apply } = await worker.drift({
        requestId: `${opts.requestId}-apply-${round}`,
        step: 'apply',
        ...opts.place,
        migrations: batch,
        ...(opts.apply && Object.keys(opts.apply).length ? { options: opts.apply } : {}),
      });
      const results = apply?.results ?? [];
      const failed = results.find((r) => r.status === 'failed');
      if (failed) {
        report.problems.push({
          code: ErrorCode.DriftFailed,
          migration: failed.name,
          message:
            `Migration ${failed.name} failed while building the expected schema` +
            `${failed.error?.code ? ` (${failed.error.code})` : ''}: ${failed.error?.message ?? 'unknown error'}. ` +
            'It is recorded as applied on the target, so the expected schema cannot be built from these files.',
          remedy:
            'Check that the local file is the one that was applied (`vpc-migrate status` shows modified ones) ' +
            'and that it runs on an empty database; nothing was changed on the target.',
        });
        return undefined;
      }
      if (apply?.stopped === 'blocked' || apply?.stopped === 'failed') {
        report.problems.push({
          code: ErrorCode.DriftFailed,
          migration: batch[0]!.name,
          message: apply.stoppedBecause ?? `Building the expected schema stopped (${apply.stopped}).`,
          remedy: 'Run drift again.',
        });
        return undefined;
      }
      const started = results.filter((r) => r.status !== 'not-started').length;
      if (apply?.stopped === 'time-budget' && started === 0) {
        report.problems.push({
          code: ErrorCode.InvokeTimeout,
          migration: batch[0]!.name,
          message: `The worker's time budget ran out before ${batch[0]!.name} could be applied to the expected schema.`,
          remedy: `Raise the function timeout (at most ${LAMBDA_MAX_TIMEOUT_SECONDS} s), then run drift again.`,
        });
        return undefined;
      }
      return results;
    },
  });
}

/** The Prisma config's `tables.external` / `enums.external` as exclude patterns (unqualified names in any schema). */
export function externalPatterns(location: MigrationsLocation): string[] {
  const names = [...(location.external?.tables ?? []), ...(location.external?.enums ?? [])];
  return names.flatMap((n) => (n.includes('.') ? [n] : [n, `*.${n}`]));
}

export const driftCommand = defineCommand({
  // Drift changes nothing on the target: no migration lock or ledger to speak of, only the scratch database.
  interrupt: {
    message: (signal) =>
      `Interrupted (${signal}). Drift changes nothing on the target: the step in flight finishes, no further ` +
      'step is sent, and the scratch database is dropped now (or by a later drift once its lease expires).',
    next: `Run ${remedyCommand('drift')} again for the answer.`,
  },
  usage: `vpc-migrate drift [options]
Compares the live schema with the one the migrations the ledger records as applied produce (docs/drift.md).
The worker builds that expected schema in a scratch database vpcm_drift_<id> on the target's server (its
login needs CREATEDB) and drops it afterwards; pending migrations are status's business, never drift.
  --exclude PATTERN       objects not to compare (repeatable): * any run of characters, ? one; a table's
                          pattern covers its columns, indexes and triggers, e.g. public.audit_*;
                          the ledger tables never count, nor the Prisma config's tables.external / enums.external
  --dev-database NAME|URL build the expected schema in this database instead of a scratch one: a NAME of the
                          worker's allow-list (the construct's databases prop), or with --local a database URL;
                          it must be empty, and is emptied again afterwards
  --lock-wait SEC, --lock-timeout MS, --statement-timeout MS, --no-reconcile
                          as for deploy, for applying the migrations to the expected schema
Exit codes: 0 no drift, 3 drift (differences listed), 2 problem (the check could not be completed, or an
            applied migration's file changed since: its checksum differs from the ledger's).
${TARGETS_HELP}
  With --targets: a matrix of the targets; exit 2 a problem on any target, else 3 drift on any, else 0.`,
  positionals: 0,
  options: {
    exclude: { type: 'string', multiple: true },
    'dev-database': { type: 'string' },
    ...APPLY_OPTIONS,
    ...TARGETS_OPTIONS,
  },
  needsWorker: (values) => !wantsTargets(values),
  async run({
    values,
    worker,
    progress,
    interrupted,
    targetWorkers,
  }): Promise<CommandOutput<DriftReport | DriftMatrixReport>> {
    const location = await migrationsFlag(values);
    const format = formatFlag(values.format);
    // A URL (with --local) is served by the local worker under a name (targetFlags): the name goes out.
    const dev = devDatabaseFlag(values)?.name;
    const each: DriftOptions = {
      migrationsDir: location.dir,
      location,
      apply: applyOptionsFrom(values),
      exclude: values.exclude ?? [],
      ...(format ? { format } : {}),
      ...(dev !== undefined ? { devDatabase: dev } : {}),
    };
    if (wantsTargets(values)) {
      const report = await (await import('../rollout/commands.js')).driftTargets(values, {
        migrationsDir: location.dir,
        run: (w) => drift(w, each),
        targetWorkers,
      });
      return { exitCode: report.exitCode, report };
    }
    const report = await drift(worker, { ...each, progress, ...(interrupted ? { interrupted } : {}) });
    return { exitCode: report.exitCode, report };
  },
});
