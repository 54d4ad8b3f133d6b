/** Migration text travels plain or gzip+base64 (large files); both sides use these two functions. */
import { gzipSync, gunzipSync } from 'node:zlib';
import { COMPRESS_THRESHOLD_BYTES } from './limits.js';

export function encodeSql(sql: string): { sql: string } | { sqlGzipBase64: string } {
  const bytes = Buffer.from(sql, 'utf8');
  if (bytes.length < COMPRESS_THRESHOLD_BYTES) return { sql };
  return { sqlGzipBase64: gzipSync(bytes, { level: 6 }).toString('base64') };
}

/** @param maxBytes refuse to inflate past this (a gzip bomb must not exhaust the worker's memory) */
export function decodeSql(gzipBase64: string, maxBytes: number): string {
  return gunzipSync(Buffer.from(gzipBase64, 'base64'), { maxOutputLength: maxBytes }).toString('utf8');
}
