/**
 * The worker's boundary: an untrusted event becomes a typed, decoded request or a
 * `VPCM_INVALID_EVENT` listing every problem. Nothing reaches the database before this passes.
 */
import { createHash } from 'node:crypto';
import { ErrorCode, MigrateError } from './errors.js';
import { decodeSql } from './codec.js';
import {
  MIGRATION_FORMATS,
  WORKER_ACTIONS,
  type ApplyOptions,
  type ExecutionMode,
  type MigrationFormat,
  CREATED_KINDS,
  STATEMENT_KINDS,
  type CreatedKind,
  type CreatedObject,
  type StatementKind,
  type StatementSpan,
} from './wire.js';

/** A decoded migration: its text is plain and its checksum verified. */
export interface DecodedMigration {
  name: string;
  checksum: string;
  sql: string;
  mode: ExecutionMode;
  statements: StatementSpan[];
  /** Drizzle: the journal's `when` and the breakpoint chunks (wire.ts, MigrationPayload). */
  createdAt?: number;
  chunks?: StatementSpan[];
}

export type ParsedEvent =
  | { action: 'ledger'; requestId?: string; format?: MigrationFormat }
  | { action: 'setup'; requestId?: string }
  | { action: 'apply'; requestId: string; migrations: DecodedMigration[]; options: ApplyOptions; format?: MigrationFormat }
  | {
      action: 'run-sql';
      requestId?: string;
      sql: string;
      write: boolean;
      params?: unknown[];
      maxRows: number;
      statementTimeoutMs?: number;
    }
  | ParsedResolve
  | ParsedRehearse
  | ParsedBackfill
  | ParsedBaseline;

/** The most SQL one event may carry once decoded (the 6 MB Invoke limit applies to the wire form). */
export const MAX_SQL_BYTES = 64 * 1024 * 1024;
export const MAX_MIGRATIONS_PER_BATCH = 5000;
export const DEFAULT_MAX_ROWS = 1000;
export const MAX_ROWS_LIMIT = 100_000;

const MODES: readonly ExecutionMode[] = ['transactional', 'non-transactional', 'script'];
const KINDS: readonly StatementKind[] = STATEMENT_KINDS;
const HEX64 = /^[0-9a-f]{64}$/;

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v);

export function parseEvent(raw: unknown): ParsedEvent {
  const problems: string[] = [];
  if (!isObj(raw)) throw invalid(['the event must be a JSON object']);
  const action = raw.action;
  if (typeof action !== 'string' || !(WORKER_ACTIONS as readonly string[]).includes(action)) {
    throw new MigrateError(
      ErrorCode.UnknownAction,
      `Unknown action ${JSON.stringify(action)}; this worker answers ${WORKER_ACTIONS.join(', ')}.`,
      'Upgrade the worker (redeploy the stack) or the CLI so both speak the same protocol.',
      { details: { action: typeof action === 'string' ? action.slice(0, 64) : typeof action } },
    );
  }
  const requestId = optionalString(raw, 'requestId', problems, 128);
  switch (action) {
    case 'ledger': {
      onlyKeys(raw, ['action', 'requestId', 'format'], problems);
      const format = parseFormat(raw.format, problems);
      done(problems);
      const event: ParsedEvent = requestId === undefined ? { action } : { action, requestId };
      return format === 'drizzle' ? { ...event, format } : event;
    }
    case 'setup': {
      onlyKeys(raw, ['action', 'requestId'], problems);
      done(problems);
      return requestId === undefined ? { action } : { action, requestId };
    }
    case 'apply':
      return parseApply(raw, requestId, problems);
    case 'resolve':
      return parseResolve(raw, requestId, problems);
    case 'rehearse':
      return parseRehearse(raw, requestId, problems);
    case 'backfill':
      return parseBackfill(raw, requestId, problems);
    case 'baseline':
      return parseBaseline(raw, requestId, problems);
    default:
      return parseRunSql(raw, requestId, problems);
  }
}

function parseApply(raw: Obj, requestId: string | undefined, problems: string[]): ParsedEvent {
  onlyKeys(raw, ['action', 'requestId', 'migrations', 'options', 'format'], problems);
  if (requestId === undefined) problems.push('requestId: required for apply');
  const format = parseFormat(raw.format, problems);
  const options = parseOptions(raw.options, problems);
  const migrations = parseMigrationList(raw.migrations, problems, 'batch');
  problems.push(...formatFieldProblems(migrations, format));
  done(problems);
  return { action: 'apply', requestId: requestId as string, migrations, options, ...(format === 'drizzle' ? { format } : {}) };
}

/** A batch's migrations: non-empty, bounded, unique names, SQL within MAX_SQL_BYTES in all. */
function parseMigrationList(list: unknown, problems: string[], noun: string): DecodedMigration[] {
  const migrations: DecodedMigration[] = [];
  if (!Array.isArray(list) || list.length === 0) {
    problems.push('migrations: must be a non-empty array');
    return migrations;
  }
  if (list.length > MAX_MIGRATIONS_PER_BATCH) {
    problems.push(`migrations: at most ${MAX_MIGRATIONS_PER_BATCH} per ${noun}, got ${list.length}`);
    return migrations;
  }
  let total = 0;
  const seen = new Set<string>();
  list.forEach((item, i) => {
    const m = parseMigration(item, `migrations[${i}]`, problems, MAX_SQL_BYTES - total);
    if (!m) return;
    if (seen.has(m.name)) problems.push(`migrations[${i}].name: ${JSON.stringify(m.name)} appears twice`);
    seen.add(m.name);
    total += m.sql.length;
    migrations.push(m);
  });
  return migrations;
}

function parseMigration(item: unknown, at: string, problems: string[], budget: number): DecodedMigration | undefined {
  if (!isObj(item)) {
    problems.push(`${at}: must be an object`);
    return undefined;
  }
  const before = problems.length;
  onlyKeys(item, ['name', 'checksum', 'sql', 'sqlGzipBase64', 'mode', 'statements', 'createdAt', 'chunks'], problems, at);
  const name = item.name;
  if (typeof name !== 'string' || name.length === 0 || name.length > 255 || /[/\\\0]/.test(name)) {
    problems.push(`${at}.name: a folder name of 1-255 characters without / \\ or NUL`);
  }
  const checksum = item.checksum;
  if (typeof checksum !== 'string' || !HEX64.test(checksum)) problems.push(`${at}.checksum: 64 lowercase hex characters`);
  const mode = item.mode as ExecutionMode;
  if (!MODES.includes(mode)) problems.push(`${at}.mode: one of ${MODES.join(', ')}`);
  let sql: string | undefined;
  const hasPlain = typeof item.sql === 'string';
  const hasGzip = typeof item.sqlGzipBase64 === 'string';
  if (hasPlain === hasGzip || (item.sql !== undefined && !hasPlain) || (item.sqlGzipBase64 !== undefined && !hasGzip)) {
    problems.push(`${at}: exactly one of sql (string) or sqlGzipBase64 (string)`);
  } else if (hasPlain) {
    sql = item.sql as string;
  } else {
    try {
      sql = decodeSql(item.sqlGzipBase64 as string, Math.max(0, budget));
    } catch {
      problems.push(`${at}.sqlGzipBase64: not valid gzip+base64, or larger than ${MAX_SQL_BYTES} bytes decoded`);
    }
  }
  if (sql !== undefined && Buffer.byteLength(sql, 'utf8') > budget) {
    problems.push(`${at}: the batch's SQL exceeds ${MAX_SQL_BYTES} bytes`);
    sql = undefined;
  }
  const statements = parseStatements(item.statements, sql, `${at}.statements`, problems);
  const createdAt = parseCreatedAt(item.createdAt, at, problems);
  const chunks = item.chunks === undefined ? undefined : parseStatements(item.chunks, sql, `${at}.chunks`, problems);
  if (problems.length > before || sql === undefined) return undefined;
  const actual = createHash('sha256').update(sql, 'utf8').digest('hex');
  if (actual !== checksum) {
    throw new MigrateError(
      ErrorCode.ChecksumInTransit,
      `Migration ${name as string}: the SQL received hashes to ${actual}, the event says ${checksum as string}.`,
      'The payload was altered in transit or the CLI is broken; nothing was executed. Re-run the command.',
      { details: { migration: name } },
    );
  }
  const decoded: DecodedMigration = { name: name as string, checksum: checksum as string, sql, mode, statements };
  if (createdAt !== undefined) decoded.createdAt = createdAt;
  if (chunks !== undefined) decoded.chunks = chunks;
  return decoded;
}

function parseStatements(value: unknown, sql: string | undefined, at: string, problems: string[]): StatementSpan[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) {
    problems.push(`${at}: must be an array`);
    return [];
  }
  const spans: StatementSpan[] = [];
  let previousEnd = 0;
  for (let i = 0; i < value.length; i++) {
    const s = value[i];
    if (!isObj(s) || !isInt(s.start) || !isInt(s.end) || !isInt(s.line) || !KINDS.includes(s.kind as StatementKind)) {
      problems.push(`${at}[${i}]: {start, end, line: integers; kind: ${KINDS.join('|')}}`);
      return [];
    }
    const limit = sql?.length ?? Number.MAX_SAFE_INTEGER;
    if (s.start < previousEnd || s.end <= s.start || s.end > limit || s.line < 1) {
      problems.push(`${at}[${i}]: spans must be in order, non-empty, non-overlapping and inside the text`);
      return [];
    }
    previousEnd = s.end;
    const span: StatementSpan = { start: s.start, end: s.end, line: s.line, kind: s.kind as StatementKind };
    if (s.creates !== undefined) {
      const creates = parseCreates(s.creates);
      if (!creates) {
        problems.push(`${at}[${i}].creates: a list of {kind: ${CREATED_KINDS.join('|')}; name, schema?, table?: names}`);
        return [];
      }
      span.creates = creates;
    }
    if (s.comparable !== undefined) {
      if (typeof s.comparable !== 'string' || s.comparable.length === 0 || s.comparable.length > s.end - s.start) {
        problems.push(`${at}[${i}].comparable: a non-empty string no longer than the statement`);
        return [];
      }
      span.comparable = s.comparable;
    }
    spans.push(span);
  }
  return spans;
}

/** PostgreSQL names are at most 63 bytes; a little room for the unusual. */
const isPgName = (v: unknown): v is string => typeof v === "string" && v.length > 0 && v.length <= 256 && !v.includes("\u0000");

function parseCreates(value: unknown): CreatedObject[] | undefined {
  if (!Array.isArray(value) || value.length > 100) return undefined;
  const out: CreatedObject[] = [];
  for (const c of value) {
    if (!isObj(c) || !CREATED_KINDS.includes(c.kind as CreatedKind) || !isPgName(c.name)) return undefined;
    if ((c.schema !== undefined && !isPgName(c.schema)) || (c.table !== undefined && !isPgName(c.table))) return undefined;
    if (Object.keys(c).some((k) => !['kind', 'name', 'schema', 'table'].includes(k))) return undefined;
    const o: CreatedObject = { kind: c.kind as CreatedKind, name: c.name };
    if (c.schema !== undefined) o.schema = c.schema as string;
    if (c.table !== undefined) o.table = c.table as string;
    out.push(o);
  }
  return out;
}

function parseOptions(value: unknown, problems: string[]): ApplyOptions {
  if (value === undefined) return {};
  if (!isObj(value)) {
    problems.push('options: must be an object');
    return {};
  }
  onlyKeys(value, ['statementTimeoutMs', 'lockTimeoutMs', 'lockWaitMs', 'reconcileExisting', 'baseline'], problems, 'options');
  const options: ApplyOptions = {};
  for (const key of ['statementTimeoutMs', 'lockTimeoutMs', 'lockWaitMs'] as const) {
    const v = value[key];
    if (v === undefined) continue;
    if (!isInt(v) || v < 0 || v > 3_600_000) problems.push(`options.${key}: an integer from 0 to 3600000`);
    else options[key] = v;
  }
  if (value.reconcileExisting !== undefined) {
    if (typeof value.reconcileExisting !== 'boolean') problems.push('options.reconcileExisting: a boolean');
    else options.reconcileExisting = value.reconcileExisting;
  }
  if (value.baseline !== undefined) {
    if (typeof value.baseline !== 'boolean') problems.push('options.baseline: a boolean');
    else options.baseline = value.baseline;
  }
  return options;
}

function parseRunSql(raw: Obj, requestId: string | undefined, problems: string[]): ParsedEvent {
  onlyKeys(raw, ['action', 'requestId', 'sql', 'write', 'params', 'maxRows', 'statementTimeoutMs'], problems);
  const sql = raw.sql;
  if (typeof sql !== 'string' || sql.trim().length === 0) problems.push('sql: a non-empty string');
  else if (Buffer.byteLength(sql, 'utf8') > MAX_SQL_BYTES) problems.push(`sql: larger than ${MAX_SQL_BYTES} bytes`);
  if (raw.write !== undefined && typeof raw.write !== 'boolean') problems.push('write: a boolean');
  if (raw.params !== undefined && !Array.isArray(raw.params)) problems.push('params: an array');
  const maxRows = raw.maxRows ?? DEFAULT_MAX_ROWS;
  if (!isInt(maxRows) || maxRows < 0 || maxRows > MAX_ROWS_LIMIT) problems.push(`maxRows: an integer from 0 to ${MAX_ROWS_LIMIT}`);
  const timeout = raw.statementTimeoutMs;
  if (timeout !== undefined && (!isInt(timeout) || timeout < 1 || timeout > 3_600_000)) {
    problems.push('statementTimeoutMs: an integer from 1 to 3600000');
  }
  done(problems);
  const event: ParsedEvent = { action: 'run-sql', sql: sql as string, write: raw.write === true, maxRows: maxRows as number };
  if (requestId !== undefined) event.requestId = requestId;
  if (raw.params !== undefined) event.params = raw.params as unknown[];
  if (timeout !== undefined) event.statementTimeoutMs = timeout as number;
  return event;
}

function optionalString(raw: Obj, key: string, problems: string[], max: number): string | undefined {
  const v = raw[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || v.length === 0 || v.length > max) {
    problems.push(`${key}: a string of 1-${max} characters`);
    return undefined;
  }
  return v;
}

function onlyKeys(obj: Obj, allowed: string[], problems: string[], at?: string): void {
  for (const key of Object.keys(obj)) {
    if (!allowed.includes(key)) problems.push(`${at ? at + '.' : ''}${key}: unknown field`);
  }
}

function done(problems: string[]): void {
  if (problems.length > 0) throw invalid(problems);
}

function invalid(problems: string[]): MigrateError {
  const shown = problems.slice(0, 20);
  return new MigrateError(
    ErrorCode.InvalidEvent,
    `The worker rejected the event (${problems.length} problem${problems.length === 1 ? '' : 's'}): ${shown.join('; ')}`,
    'Nothing was executed. Use the vpc-migrate CLI of the same version as the worker, or fix the event.',
    { details: { problems: shown } },
  );
}

// ---------------------------------------------------------------------------------------------
// Operator actions: resolve, rehearse, backfill

export interface ParsedResolve {
  action: 'resolve';
  requestId?: string;
  name: string;
  to: 'applied' | 'rolled-back';
  checksum?: string;
  lockWaitMs?: number;
}

export interface ParsedRehearse {
  action: 'rehearse';
  requestId?: string;
  migrations: DecodedMigration[];
  options: ApplyOptions;
}

export interface ParsedBaseline {
  action: 'baseline';
  requestId?: string;
  /** From the first local migration through the one to baseline up to (the last). */
  migrations: DecodedMigration[];
  lockWaitMs?: number;
}

export interface ParsedBackfill {
  action: 'backfill';
  requestId?: string;
  name: string;
  checksum: string;
  sql: string;
  again: boolean;
  runBy?: string;
  statementTimeoutMs?: number;
  lockTimeoutMs?: number;
}

const MAX_TIMEOUT_MS = 3_600_000;
const isName = (v: unknown, max: number): v is string => typeof v === 'string' && v.length > 0 && v.length <= max && !/[/\\\0]/.test(v);

function optionalTimeout(raw: Obj, key: string, problems: string[]): number | undefined {
  const v = raw[key];
  if (v === undefined) return undefined;
  if (!isInt(v) || v < 0 || v > MAX_TIMEOUT_MS) {
    problems.push(`${key}: an integer from 0 to ${MAX_TIMEOUT_MS}`);
    return undefined;
  }
  return v;
}

function parseResolve(raw: Obj, requestId: string | undefined, problems: string[]): ParsedResolve {
  onlyKeys(raw, ['action', 'requestId', 'name', 'checksum', 'to', 'lockWaitMs'], problems);
  if (!isName(raw.name, 255)) problems.push('name: a folder name of 1-255 characters without / \\ or NUL');
  const to = raw.to;
  if (to !== 'applied' && to !== 'rolled-back') problems.push('to: "applied" or "rolled-back"');
  const checksum = raw.checksum;
  if (checksum !== undefined && (typeof checksum !== 'string' || !HEX64.test(checksum))) problems.push('checksum: 64 lowercase hex characters');
  if (to === 'applied' && checksum === undefined) problems.push('checksum: required when to is "applied" (the new row records it)');
  const lockWaitMs = optionalTimeout(raw, 'lockWaitMs', problems);
  done(problems);
  const event: ParsedResolve = { action: 'resolve', name: raw.name as string, to: to as ParsedResolve['to'] };
  if (requestId !== undefined) event.requestId = requestId;
  if (checksum !== undefined) event.checksum = checksum as string;
  if (lockWaitMs !== undefined) event.lockWaitMs = lockWaitMs;
  return event;
}

function parseRehearse(raw: Obj, requestId: string | undefined, problems: string[]): ParsedRehearse {
  onlyKeys(raw, ['action', 'requestId', 'migrations', 'options'], problems);
  const options = parseOptions(raw.options, problems);
  const migrations = parseMigrationList(raw.migrations, problems, 'rehearsal');
  // Rehearsal is Prisma-only for now: Drizzle's fields are refused, not silently ignored.
  problems.push(...formatFieldProblems(migrations, 'prisma'));
  done(problems);
  const event: ParsedRehearse = { action: 'rehearse', migrations, options };
  if (requestId !== undefined) event.requestId = requestId;
  return event;
}

function parseBaseline(raw: Obj, requestId: string | undefined, problems: string[]): ParsedBaseline {
  onlyKeys(raw, ['action', 'requestId', 'migrations', 'lockWaitMs'], problems);
  const migrations = parseMigrationList(raw.migrations, problems, 'baseline');
  // Prisma's ledger only (the CLI refuses Drizzle): Drizzle's fields are refused, not ignored.
  problems.push(...formatFieldProblems(migrations, 'prisma'));
  const lockWaitMs = optionalTimeout(raw, 'lockWaitMs', problems);
  done(problems);
  const event: ParsedBaseline = { action: 'baseline', migrations };
  if (requestId !== undefined) event.requestId = requestId;
  if (lockWaitMs !== undefined) event.lockWaitMs = lockWaitMs;
  return event;
}

function parseBackfill(raw: Obj, requestId: string | undefined, problems: string[]): ParsedBackfill {
  onlyKeys(raw, ['action', 'requestId', 'name', 'checksum', 'sql', 'again', 'runBy', 'statementTimeoutMs', 'lockTimeoutMs'], problems);
  if (!isName(raw.name, 200)) problems.push('name: a backfill name of 1-200 characters without / \\ or NUL');
  const checksum = raw.checksum;
  if (typeof checksum !== 'string' || !HEX64.test(checksum)) problems.push('checksum: 64 lowercase hex characters');
  const sql = raw.sql;
  if (typeof sql !== 'string' || sql.trim().length === 0) problems.push('sql: a non-empty string');
  else if (Buffer.byteLength(sql, 'utf8') > MAX_SQL_BYTES) problems.push(`sql: larger than ${MAX_SQL_BYTES} bytes`);
  if (raw.again !== undefined && typeof raw.again !== 'boolean') problems.push('again: a boolean');
  const runBy = optionalString(raw, 'runBy', problems, 200);
  const statementTimeoutMs = optionalTimeout(raw, 'statementTimeoutMs', problems);
  const lockTimeoutMs = optionalTimeout(raw, 'lockTimeoutMs', problems);
  done(problems);
  const actual = createHash('sha256').update(sql as string, 'utf8').digest('hex');
  if (actual !== checksum) {
    throw new MigrateError(
      ErrorCode.ChecksumInTransit,
      `Backfill ${raw.name as string}: the SQL received hashes to ${actual}, the event says ${checksum as string}.`,
      'The payload was altered in transit or the CLI is broken; nothing was executed. Re-run the command.',
      { details: { backfill: raw.name } },
    );
  }
  const event: ParsedBackfill = { action: 'backfill', name: raw.name as string, checksum: checksum as string, sql: sql as string, again: raw.again === true };
  if (requestId !== undefined) event.requestId = requestId;
  if (runBy !== undefined) event.runBy = runBy;
  if (statementTimeoutMs !== undefined) event.statementTimeoutMs = statementTimeoutMs;
  if (lockTimeoutMs !== undefined) event.lockTimeoutMs = lockTimeoutMs;
  return event;
}

// The event fields of the second format (docs/drizzle.md): `format` on `ledger` and `apply` (absent =
// prisma), and on each Drizzle migration its `createdAt` (the journal's `when`) and `chunks`.

export function parseFormat(value: unknown, problems: string[]): MigrationFormat {
  if (value === undefined) return 'prisma';
  if (typeof value !== 'string' || !(MIGRATION_FORMATS as readonly string[]).includes(value)) {
    problems.push(`format: one of ${MIGRATION_FORMATS.join(', ')}`);
    return 'prisma';
  }
  return value as MigrationFormat;
}

/** A journal `when`: milliseconds since the epoch, a non-negative safe integer (the ledger's bigint). */
export function parseCreatedAt(value: unknown, at: string, problems: string[]): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    problems.push(`${at}.createdAt: a non-negative integer (the journal entry's when)`);
    return undefined;
  }
  return value;
}

/** Drizzle migrations need `createdAt` and `chunks`; Prisma ones must not carry them. */
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
