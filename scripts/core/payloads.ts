/**
 * Builds the apply payloads from discovered files and their parse, and packs them into as few
 * Invoke requests as the 6 MB limit allows (each migration still atomic on its own).
 */
import {
  encodeSql,
  ErrorCode,
  INVOKE_PAYLOAD_LIMIT_BYTES,
  MigrateError,
  type MigrationPayload,
} from '../../lambda/contract/index.js';
import { NO_PARSE_CACHE, type ParseCache } from '../project/parse-cache.js';
import type { SqlParser } from './sql-parser.js';
import { splitMigration, type SplitParseError, type SplitResult } from './split.js';

/** Room for the event envelope and options inside the Invoke limit. */
export const BATCH_BYTES = INVOKE_PAYLOAD_LIMIT_BYTES - 64 * 1024;

export function buildPayload(m: { name: string; sql: string; checksum: string }, split: SplitResult): MigrationPayload {
  return { name: m.name, checksum: m.checksum, mode: split.mode, statements: split.statements, ...encodeSql(m.sql) };
}

type Migration = { name: string; sql: string; checksum: string };

/**
 * Payloads for the migrations named, in that order, each file split by PostgreSQL's parser.
 * A file the parser rejects is sent whole (the database reports the error); `onParseError`
 * hears of it. Splits found in `cache` are used as they are (the parser may then be undefined:
 * see {@link needsParser}); the others are made and added to it.
 */
export function splitPayloads(
  parser: SqlParser | undefined,
  migrations: readonly Migration[],
  names: readonly string[],
  onParseError: (name: string, error: SplitParseError) => void,
  cache: ParseCache = NO_PARSE_CACHE,
): MigrationPayload[] {
  const byName = new Map(migrations.map((m) => [m.name, m]));
  return names.map((name) => {
    const m = byName.get(name)!;
    let split = cache.split(m);
    if (!split) {
      split = splitMigration(parserFor(parser, name), m.sql);
      cache.rememberSplit(m, split);
    }
    if (split.parseError) onParseError(name, split.parseError);
    return buildPayload(m, split);
  });
}

/** Whether splitting `names` needs the parser: some file's split is not in `cache`. */
export function needsParser(cache: ParseCache, migrations: readonly Migration[], names: readonly string[]): boolean {
  const wanted = new Set(names);
  return migrations.some((m) => wanted.has(m.name) && !cache.split(m));
}

/** The parser, which a caller that found a split missing from the cache must have loaded. */
export function parserFor(parser: SqlParser | undefined, name: string): SqlParser {
  if (parser) return parser;
  throw new MigrateError(
    ErrorCode.ParseFailed,
    `${name}: its parse is not in the parse cache and the parser was not loaded.`,
    'This is a bug in vpc-migrate; run again with VPC_MIGRATE_CACHE=0 and please report it.',
  );
}

export function payloadBytes(p: MigrationPayload): number {
  return Buffer.byteLength(JSON.stringify(p), 'utf8') + 1;
}

export function batchBySize(payloads: MigrationPayload[], limit = BATCH_BYTES): MigrationPayload[][] {
  const batches: MigrationPayload[][] = [];
  let current: MigrationPayload[] = [];
  let size = 0;
  for (const p of payloads) {
    const bytes = payloadBytes(p);
    if (bytes > limit) {
      throw new MigrateError(
        ErrorCode.PayloadTooLarge,
        `Migration ${p.name} is ${formatBytes(bytes)} after ` +
          `compression, over the ${formatBytes(limit)} a single ` +
          `Invoke request can carry; nothing was sent.`,
        'Split it into several migration folders, or move bulk ' +
          'data loading out of the migration (e.g. a backfill ' +
          'from S3).',
        { details: { migration: p.name, bytes, limit } },
      );
    }
    if (size + bytes > limit && current.length > 0) {
      batches.push(current);
      current = [];
      size = 0;
    }
    current.push(p);
    size += bytes;
  }
  if (current.length > 0) batches.push(current);
  return batches;
}

/** Sizes in messages: B, KB, MB as Lambda's limits are stated. */
export function formatBytes(n: number): string {
  if (n >= 1024 * 1024) return `${(n / 1024 / 1024).toFixed(2)} MB`;
  if (n >= 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${n} B`;
}
