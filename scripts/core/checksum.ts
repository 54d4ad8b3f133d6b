/**
 * Migration checksums, computed and compared exactly as Prisma's schema engine does.
 *
 * Reference: prisma/prisma-engines `schema-engine/connectors/schema-connector/src/checksum.rs`
 * (`render_checksum`, `script_matches_checksum`, `format_checksum_old`). Prisma writes
 * SHA-256 of the script as 64 lowercase hex characters, and when *comparing* it accepts:
 * - the script as it is, the script with every CRLF turned into LF, and the script with every
 *   LF turned into CRLF (git may rewrite line endings on checkout);
 * - when the recorded string is non-empty and not 64 characters long, the historical format that
 *   printed each byte with `{:x}` instead of `{:02x}`, dropping the leading zero of bytes below
 *   0x10 (prisma/prisma-engines#1887).
 *
 * Prisma hashes the UTF-8 text of the file; for valid UTF-8 that is the file's bytes, so we
 * work on bytes directly (formats/prisma/discover.ts refuses files that are not UTF-8). CR and LF never occur
 * inside a multi-byte UTF-8 sequence, so replacing them byte-wise equals Prisma's `str::replace`.
 */
import { createHash } from 'node:crypto';

/** Length of a checksum in the current format (Prisma's `CHECKSUM_STR_LEN`). */
export const CHECKSUM_HEX_LENGTH = 64;

const CR = 0x0d;
const LF = 0x0a;

/**
 * SHA-256 of `bytes` as 64 lowercase hex characters: the value Prisma writes to
 * `_prisma_migrations.checksum`.
 *
 * @example
 * sha256Hex(new TextEncoder().encode('hello'));
 * // '2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824'
 */
export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/**
 * Whether a local migration.sql matches a checksum recorded in `_prisma_migrations`, with
 * Prisma's leniency: CRLF↔LF variants of the file, and old checksums that lost the leading
 * zero of each byte's hex. The comparison is otherwise exact (case-sensitive), as in Prisma.
 *
 * @example
 * const bytes = await readFile('prisma/migrations/20240101000000_init/migration.sql');
 * if (!checksumMatches(bytes, row.checksum)) console.log('modified since it was applied');
 */
export function checksumMatches(fileBytes: Uint8Array, recorded: string): boolean {
  // Decided once from the recorded string, as Prisma does: a 64-character value (or an empty
  // one) is compared in the current format, anything else in the old one.
  const legacy = recorded.length !== 0 && recorded.length !== CHECKSUM_HEX_LENGTH;
  const matches = (bytes: Uint8Array): boolean => {
    const digest = createHash('sha256').update(bytes).digest();
    return (legacy ? legacyHex(digest) : digest.toString('hex')) === recorded;
  };

  if (matches(fileBytes)) return true;
  // The variants are built lazily like Prisma's `once_with`, and skipped when they would equal
  // the original (no CRLF to collapse, no LF to expand), which changes no result.
  if (hasCrlf(fileBytes) && matches(crlfToLf(fileBytes))) return true;
  if (fileBytes.includes(LF) && matches(lfToCrlf(fileBytes))) return true;
  return false;
}

/** Prisma's obsolete `format_checksum_old`: each byte as `{:x}`, so `0x0a` became `a`. */
function legacyHex(digest: Uint8Array): string {
  let out = '';
  for (const byte of digest) out += byte.toString(16);
  return out;
}

function hasCrlf(bytes: Uint8Array): boolean {
  for (let i = bytes.indexOf(CR); i !== -1 && i < bytes.length - 1; i = bytes.indexOf(CR, i + 1)) {
    if (bytes[i + 1] === LF) return true;
  }
  return false;
}

/** `script.replace("\r\n", "\n")`. */
function crlfToLf(bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(bytes.length);
  let n = 0;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    if (b === CR && bytes[i + 1] === LF) continue;
    out[n++] = b;
  }
  return out.subarray(0, n);
}

/**
 * `script.replace('\n', "\r\n")`: every LF, including one already preceded by CR (which then
 * becomes CR CR LF) — Prisma does not special-case it, so neither do we.
 */
function lfToCrlf(bytes: Uint8Array): Uint8Array {
  let lfs = 0;
  for (const b of bytes) if (b === LF) lfs++;
  const out = new Uint8Array(bytes.length + lfs);
  let n = 0;
  for (const b of bytes) {
    if (b === LF) out[n++] = CR;
    out[n++] = b;
  }
  return out;
}
