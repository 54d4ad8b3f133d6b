/**
 * The secret audit of the fault suite. Every cell's worker connects with a role that has a
 * password; every log line the worker wrote, every answer it gave and every error or report the
 * CLI produced is kept here and, at the end of each test file, searched for the password (raw
 * and URL-encoded) and for the connection string carrying it.
 */
import { appendFileSync } from 'node:fs';
import path from 'node:path';
import { inject } from 'vitest';
import type { CellRecord } from './fault-matrix.js';
import type { SecretServer } from './fault-db.js';

const texts: string[] = [];

/** Keeps an error, a report or any value the CLI or worker produced, for the audit. */
export function witness(value: unknown): void {
  texts.push(describe(value));
}

function describe(value: unknown): string {
  if (value instanceof Error) {
    const e = value as Error & { remedy?: unknown; details?: unknown; cause?: unknown };
    return JSON.stringify({
      name: e.name,
      message: e.message,
      remedy: e.remedy,
      details: e.details,
      stack: e.stack,
      cause: e.cause instanceof Error ? describe(e.cause) : e.cause,
    });
  }
  try {
    return typeof value === 'string' ? value : (JSON.stringify(value) ?? String(value));
  } catch {
    return String(value);
  }
}

export interface AuditResult {
  scanned: number;
  leaks: string[];
}

export function scanForSecrets(secrets: string[], lines: string[]): AuditResult {
  const leaks: string[] = [];
  for (const line of lines) {
    for (const secret of secrets) {
      if (line.includes(secret)) {
        leaks.push(line.slice(Math.max(0, line.indexOf(secret) - 120), line.indexOf(secret) + secret.length + 40));
        break;
      }
    }
  }
  return { scanned: lines.length, leaks };
}

/**
 * Scans what this test file saw (its workers' logs and answers plus everything `witness`ed),
 * records the result as a matrix row and throws on a leak.
 */
export function auditSecrets(file: string, server: SecretServer | undefined, ...sources: string[][]): void {
  if (!server) return;
  const lines = [...texts, ...sources.flat()];
  const result = scanForSecrets(server.secrets, lines);
  const record: CellRecord = {
    cell: `Security · no secret in any log line, answer or error (${path.basename(file)})`,
    target: targetOf(server.adminUrl),
    runs: result.scanned,
    held: result.leaks.length === 0 && result.scanned > 0,
    file,
    invariant: "the worker role's password and its connection string appear nowhere",
  };
  if (!record.held) record.error = result.leaks[0] ?? 'nothing was scanned';
  const dir = inject('faultResultsDir');
  if (dir) appendFileSync(path.join(dir, `cells-${process.pid}.jsonl`), JSON.stringify(record) + '\n');
  texts.length = 0;
  if (result.leaks.length > 0)
    throw new Error(`secret found in ${result.leaks.length} line(s), e.g. ${result.leaks[0]}`);
}

function targetOf(adminUrl: string): string {
  return new URL(adminUrl).port === '5432' ? 'system' : 'embedded';
}
