/**
 * The worker's boundary: an untrusted event becomes a typed, decoded request or a
 * `VPCM_INVALID_EVENT` listing every problem. Nothing reaches the database before this passes.
 *
 * The shape is checked by the wire schemas (./wire.ts); what a schema cannot see is checked
 * here: the SQL decoded and within its budget, statement spans inside the decoded text, names
 * unique in a batch, the format's own fields, and the checksum of what arrived.
 */
import { createHash } from 'node:crypto';
import * as v from 'valibot';
import { decodeSql } from './codec.js';
import { ErrorCode, MigrateError } from './errors.js';
import {
  type ApplyEventSchema,
  type BaselineEventSchema,
  type BackfillEventSchema,
  type DriftEventSchema,
  type LedgerEventSchema,
  MAX_SQL_BYTES,
  type MigrationFormat,
  type MigrationPayloadSchema,
  type RehearseEventSchema,
  type ResolveEventSchema,
  type RunSqlEventSchema,
  type SetupEventSchema,
  type StatementSpan,
  WORKER_ACTIONS,
  type WorkerAction,
  WorkerEventSchema,
} from './wire.js';

type Payload = v.InferOutput<typeof MigrationPayloadSchema>;

/** A decoded migration: its text is plain and its checksum verified. */
export type DecodedMigration = Omit<Payload, 'sql' | 'sqlGzipBase64' | 'statements'> & {
  sql: string;
  statements: StatementSpan[];
};

/** An event's migrations, decoded. */
type Decoded<E> = Omit<E, 'migrations'> & { migrations: DecodedMigration[] };

export type ParsedLedger = v.InferOutput<typeof LedgerEventSchema>;
export type ParsedSetup = v.InferOutput<typeof SetupEventSchema>;
export type ParsedApply = Decoded<v.InferOutput<typeof ApplyEventSchema>>;
export type ParsedRunSql = v.InferOutput<typeof RunSqlEventSchema>;
export type ParsedResolve = v.InferOutput<typeof ResolveEventSchema>;
export type ParsedRehearse = Decoded<v.InferOutput<typeof RehearseEventSchema>>;
/** `migrations`: from the first local migration through the one to baseline up to (the last). */
export type ParsedBaseline = Decoded<v.InferOutput<typeof BaselineEventSchema>>;
export type ParsedBackfill = v.InferOutput<typeof BackfillEventSchema>;
/** `migrations` decoded when present (the `apply` step). */
export type ParsedDrift = Omit<v.InferOutput<typeof DriftEventSchema>, 'migrations'> & {
  migrations?: DecodedMigration[];
};

export type ParsedEvent =
  | ParsedLedger
  | ParsedSetup
  | ParsedApply
  | ParsedRunSql
  | ParsedResolve
  | ParsedRehearse
  | ParsedBackfill
  | ParsedBaseline
  | ParsedDrift;

const isObj = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
const isAction = (value: unknown): value is WorkerAction =>
  typeof value === 'string' && WORKER_ACTIONS.some((a) => a === value);

export function parseEvent(raw: unknown): ParsedEvent {
  if (!isObj(raw)) throw invalid(['the event must be a JSON object']);
  const action = raw.action;
  if (!isAction(action)) {
    throw new MigrateError(
      ErrorCode.UnknownAction,
      `Unknown action ${JSON.stringify(action)}; this worker answers ${WORKER_ACTIONS.join(', ')}.`,
      'Upgrade the worker (redeploy the stack) or the CLI so both speak the same protocol.',
      { details: { action: typeof action === 'string' ? action.slice(0, 64) : typeof action } },
    );
  }
  const checked = v.safeParse(WorkerEventSchema, raw);
  if (!checked.success) {
    // Unknown fields first (a sender of another version is the likeliest cause), then in field order.
    const problems = checked.issues.map((issue) => problemOf(issue, action));
    throw invalid([...problems.filter(isUnknownField), ...problems.filter((p) => !isUnknownField(p))]);
  }
  const event = checked.output;
  switch (event.action) {
    case 'ledger': {
      // Absent means prisma, and a Prisma-only worker expects no format: it stays absent.
      const { format, ...rest } = event;
      return format === 'drizzle' ? { ...rest, format } : rest;
    }
    case 'apply': {
      const problems: string[] = [];
      const { format, ...rest } = event;
      const migrations = decodeMigrations(event.migrations, problems);
      problems.push(...formatFieldProblems(migrations, format ?? 'prisma'));
      done(problems);
      return { ...rest, migrations, ...(format === 'drizzle' ? { format } : {}) };
    }
    case 'rehearse':
    case 'baseline': {
      const problems: string[] = [];
      const migrations = decodeMigrations(event.migrations, problems);
      // Prisma's ledger only for now: Drizzle's fields are refused, not silently ignored.
      problems.push(...formatFieldProblems(migrations, 'prisma'));
      done(problems);
      return { ...event, migrations };
    }
    case 'drift': {
      const problems = driftStepProblems(event);
      const { migrations: payloads, ...rest } = event;
      const migrations = payloads ? decodeMigrations(payloads, problems) : undefined;
      if (migrations) problems.push(...formatFieldProblems(migrations, event.format ?? 'prisma'));
      done(problems);
      return migrations ? { ...rest, migrations } : rest;
    }
    case 'backfill':
      verifyChecksum(event.sql, event.checksum, `Backfill ${event.name}`, { backfill: event.name });
      return event;
    default:
      return event;
  }
}

/** `migrations[2].statements[0].kind: one of …`: where the problem is, then what is expected. */
function problemOf(issue: v.BaseIssue<unknown>, action: WorkerAction): string {
  const keys = (issue.path ?? []).map((item) => item.key);
  const path = keys
    .map((key) => (typeof key === 'number' ? `[${key}]` : `.${String(key)}`))
    .join('')
    .replace(/^\./, '');
  const objectIssue = issue.kind === 'schema' && (issue.type === 'strict_object' || issue.type === 'object');
  let what = issue.message;
  if (objectIssue && issue.expected === 'never') what = 'unknown field';
  else if (objectIssue && issue.received === 'undefined') what = missingField(action, keys);
  return path === '' ? what : `${path}: ${what}`;
}

const UNKNOWN_FIELD = ': unknown field';
const isUnknownField = (problem: string) => problem.endsWith(UNKNOWN_FIELD);

/**
 * A required field that is absent: what the field itself expects (`checksum: 64 lowercase hex
 * characters`), found by walking the action's schema along the path and asking it about nothing.
 */
function missingField(action: WorkerAction, keys: unknown[]): string {
  let schema: unknown = WorkerEventSchema.options.find((option) => option.entries.action.literal === action);
  for (const key of keys) {
    schema = unwrapped(schema);
    if (!isObj(schema)) break;
    if (typeof key === 'number') schema = schema.item;
    else schema = isObj(schema.entries) ? schema.entries[String(key)] : undefined;
  }
  schema = unwrapped(schema);
  return (isSchema(schema) && v.safeParse(schema, undefined).issues?.[0]?.message) || 'required';
}

/** The schema inside `v.optional(…)` and `v.lazy(…)` (the migration lists), for the walk above. */
function unwrapped(schema: unknown): unknown {
  for (;;) {
    if (isObj(schema) && 'wrapped' in schema) schema = schema.wrapped;
    else if (isObj(schema) && typeof schema.getter === 'function') schema = schema.getter(undefined);
    else return schema;
  }
}

const isSchema = (value: unknown): value is v.GenericSchema =>
  isObj(value) && value.kind === 'schema' && typeof value['~run'] === 'function';

/** Decodes each migration's SQL within the batch's budget and checks what needs the text. */
function decodeMigrations(list: Payload[], problems: string[]): DecodedMigration[] {
  const migrations: DecodedMigration[] = [];
  let total = 0;
  const seen = new Set<string>();
  list.forEach((item, i) => {
    const m = decodeMigration(item, `migrations[${i}]`, problems, MAX_SQL_BYTES - total);
    if (!m) return;
    if (seen.has(m.name)) problems.push(`migrations[${i}].name: ${JSON.stringify(m.name)} appears twice`);
    seen.add(m.name);
    total += m.sql.length;
    migrations.push(m);
  });
  return migrations;
}

function decodeMigration(item: Payload, at: string, problems: string[], budget: number): DecodedMigration | undefined {
  const before = problems.length;
  const { sql: plain, sqlGzipBase64, statements, chunks, ...rest } = item;
  let sql = plain;
  if (sql === undefined && sqlGzipBase64 !== undefined) {
    try {
      sql = decodeSql(sqlGzipBase64, Math.max(0, budget));
    } catch {
      problems.push(`${at}.sqlGzipBase64: not valid gzip+base64, or larger than ${MAX_SQL_BYTES} bytes decoded`);
    }
  }
  if (sql !== undefined && Buffer.byteLength(sql, 'utf8') > budget) {
    problems.push(`${at}: the batch's SQL exceeds ${MAX_SQL_BYTES} bytes`);
    sql = undefined;
  }
  const limit = sql?.length ?? Number.MAX_SAFE_INTEGER;
  spanProblem(statements ?? [], limit, `${at}.statements`, problems);
  if (chunks !== undefined) spanProblem(chunks, limit, `${at}.chunks`, problems);
  if (problems.length > before || sql === undefined) return undefined;
  verifyChecksum(sql, item.checksum, `Migration ${item.name}`, { migration: item.name });
  const decoded: DecodedMigration = { ...rest, sql, statements: statements ?? [] };
  if (chunks !== undefined) decoded.chunks = chunks;
  return decoded;
}

/** Spans must be in order, non-empty, non-overlapping and inside the text; the first that is not is reported. */
function spanProblem(spans: StatementSpan[], limit: number, at: string, problems: string[]): void {
  let previousEnd = 0;
  for (const [i, s] of spans.entries()) {
    if (s.start < previousEnd || s.end <= s.start || s.end > limit || s.line < 1) {
      problems.push(`${at}[${i}]: spans must be in order, non-empty, non-overlapping and inside the text`);
      return;
    }
    previousEnd = s.end;
  }
}

function verifyChecksum(sql: string, checksum: string, what: string, details: Record<string, unknown>): void {
  const actual = createHash('sha256').update(sql, 'utf8').digest('hex');
  if (actual === checksum) return;
  throw new MigrateError(
    ErrorCode.ChecksumInTransit,
    `${what}: the SQL received hashes to ${actual}, the event says ${checksum}.`,
    'The payload was altered in transit or the CLI is broken; nothing was executed. Re-run the command.',
    { details },
  );
}

function done(problems: string[]): void {
  if (problems.length > 0) throw invalid(problems);
}

function invalid(problems: string[]): MigrateError {
  const shown = problems.slice(0, 20);
  return new MigrateError(
    ErrorCode.InvalidEvent,
    `The worker rejected the event (${problems.length} problem` +
      `${problems.length === 1 ? '' : 's'}): ${shown.join('; ')}`,
    'Nothing was executed. Use the vpc-migrate CLI of the same version as the worker, or fix the event.',
    { details: { problems: shown } },
  );
}

/** What a drift step needs: `begin` creates the scratch database, every later step names it (or the dev database). */
function driftStepProblems(e: v.InferOutput<typeof DriftEventSchema>): string[] {
  const problems: string[] = [];
  if (e.scratch !== undefined && e.devDatabase !== undefined) problems.push('scratch: not with devDatabase');
  if (e.step === 'begin' && e.scratch !== undefined) problems.push('scratch: not with step "begin" (it creates one)');
  if (e.step !== 'begin' && e.scratch === undefined && e.devDatabase === undefined)
    problems.push(`scratch: required with step "${e.step}" (or devDatabase)`);
  if (e.step === 'apply' && e.migrations === undefined) problems.push('migrations: required with step "apply"');
  if (e.step !== 'apply' && e.migrations !== undefined) problems.push('migrations: only with step "apply"');
  if (e.step !== 'compare' && e.exclude !== undefined) problems.push('exclude: only with step "compare"');
  return problems;
}

/** Drizzle migrations need `createdAt` and `chunks`; Prisma ones must not carry them (docs/drizzle.md). */
export function formatFieldProblems(migrations: DecodedMigration[], format: MigrationFormat): string[] {
  const problems: string[] = [];
  migrations.forEach((m, i) => {
    const at = `migrations[${i}]`;
    if (format === 'drizzle') {
      if (m.createdAt === undefined) problems.push(`${at}.createdAt: required with format "drizzle"`);
      if (m.chunks === undefined) problems.push(`${at}.chunks: required with format "drizzle"`);
    } else {
      if (m.createdAt !== undefined) problems.push(`${at}.createdAt: only with format "drizzle"`);
      if (m.chunks !== undefined) problems.push(`${at}.chunks: only with format "drizzle"`);
    }
  });
  return problems;
}
