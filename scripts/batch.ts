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
} from '../lambda/contract/index.js';
import { formatBytes } from './invoke.js';
import type { SplitResult } from './split.js';

/** Room for the event envelope and options inside the Invoke limit. */
export const BATCH_BYTES = INVOKE_PAYLOAD_LIMIT_BYTES - 64 * 1024;

export function buildPayload(m: { name: string; sql: string; checksum: string }, split: SplitResult): MigrationPayload {
  return { name: m.name, checksum: m.checksum, mode: split.mode, statements: split.statements, ...encodeSql(m.sql) };
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
        `Migration ${p.name} is ${formatBytes(bytes)} after compression, over the ${formatBytes(limit)} a single Invoke request can carry; nothing was sent.`,
        'Split it into several migration folders, or move bulk data loading out of the migration (e.g. a backfill from S3).',
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
