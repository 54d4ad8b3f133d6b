import { describe, expect, it } from 'vitest';
import { CHECKSUM_HEX_LENGTH, checksumMatches, sha256Hex } from '../../scripts/core/checksum.js';

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);

// Known SHA-256 vectors (FIPS 180-2 for "abc"; the "hello" value is the one asserted in Prisma's
// own checksum.rs test), with the old unpadded format worked out by hand from each digest.
const EMPTY = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
const ABC = 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad';
const ABC_OLD = 'ba7816bf8f1cfea414140de5dae2223b0361a396177a9cb410ff61f2015ad'; // 01→1, 00→0, 03→3, 00→0
const HELLO = '2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824';
const LF_SCRIPT = 'ab\ncd\n';
const CRLF_SCRIPT = 'ab\r\ncd\r\n';
const LF_SUM = '5141648ccbe924f6462cfc7085ccd21779b89d8cee1438281bf1b4cd8d63ac2a';
const CRLF_SUM = '6b17e13ebaef28d20fa58db44dcdfb1ecaf9af34a7784e05b1824820d99d98ea';
const CRLF_SUM_OLD = '6b17e13ebaef28d2fa58db44dcdfb1ecaf9af34a7784e5b1824820d99d98ea';

describe('sha256Hex', () => {
  it.each([
    ['', EMPTY],
    ['abc', ABC],
    ['hello', HELLO],
    [LF_SCRIPT, LF_SUM],
    [CRLF_SCRIPT, CRLF_SUM],
  ])('hashes %j to the known vector', (input, expected) => {
    // Act
    const hex = sha256Hex(bytes(input));

    // Assess
    expect(hex).toBe(expected);
    expect(hex).toHaveLength(CHECKSUM_HEX_LENGTH);
  });

  it('hashes raw bytes, a byte order mark included', () => {
    // Prepare
    const withBom = new Uint8Array([0xef, 0xbb, 0xbf, ...bytes('abc')]);

    // Act / Assess
    expect(sha256Hex(withBom)).not.toBe(ABC);
    expect(sha256Hex(withBom)).toBe(sha256Hex(Uint8Array.from(withBom)));
  });
});

describe('checksumMatches', () => {
  it('matches the exact checksum', () => {
    expect(checksumMatches(bytes('abc'), ABC)).toBe(true);
    expect(checksumMatches(bytes(''), EMPTY)).toBe(true);
  });

  it('rejects another script, and a missing or extra trailing newline (Prisma negative cases)', () => {
    expect(checksumMatches(bytes('abc'), sha256Hex(bytes('abcd')))).toBe(false);
    expect(checksumMatches(bytes('abc\n'), ABC)).toBe(false);
  });

  it('is case-sensitive and rejects an empty recorded checksum, as Prisma compares strings exactly', () => {
    expect(checksumMatches(bytes('abc'), ABC.toUpperCase())).toBe(false);
    expect(checksumMatches(bytes('abc'), '')).toBe(false);
  });

  it('accepts an LF file against the checksum of its CRLF version, and the reverse', () => {
    expect(checksumMatches(bytes(LF_SCRIPT), CRLF_SUM)).toBe(true);
    expect(checksumMatches(bytes(CRLF_SCRIPT), LF_SUM)).toBe(true);
  });

  it('matches every pair of Prisma line-ending test scripts (checksum.rs)', () => {
    // Prepare: the two groups from script_matches_checksum_is_line_ending_agnostic; a lone CR stays.
    const groups = [
      ['ab\ncd\nef\ngh\rab', 'ab\r\ncd\r\nef\r\ngh\rab'],
      ['ab\ncd\nef\ngh\rab\n', 'ab\r\ncd\r\nef\r\ngh\rab\r\n'],
    ];

    // Act / Assess
    for (const group of groups) {
      for (const script of group) {
        for (const other of group) expect(checksumMatches(bytes(script), sha256Hex(bytes(other)))).toBe(true);
      }
    }
  });

  it('does not treat a lone CR as a line ending', () => {
    expect(checksumMatches(bytes('ab\rcd'), sha256Hex(bytes('ab\ncd')))).toBe(false);
    expect(checksumMatches(bytes('ab\rcd'), sha256Hex(bytes('ab\r\ncd')))).toBe(false);
  });

  it('expands every LF like Prisma, so a mixed file matches its all-LF or doubled-CR variant only', () => {
    // Prepare: Prisma's `replace('\n', "\r\n")` turns an existing CRLF into CR CR LF.
    const mixed = bytes('a\r\nb\nc');

    // Act / Assess
    expect(checksumMatches(mixed, sha256Hex(bytes('a\nb\nc')))).toBe(true);
    expect(checksumMatches(mixed, sha256Hex(bytes('a\r\r\nb\r\nc')))).toBe(true);
    expect(checksumMatches(mixed, sha256Hex(bytes('a\r\nb\r\nc')))).toBe(false);
  });

  it('accepts the historical checksum that dropped leading zeros of each byte', () => {
    // Prepare
    expect(ABC_OLD).toHaveLength(61);

    // Act / Assess
    expect(checksumMatches(bytes('abc'), ABC_OLD)).toBe(true);
    expect(checksumMatches(bytes('abd'), ABC_OLD)).toBe(false);
  });

  it('combines both leniencies: an old-format checksum of the CRLF version matches the LF file', () => {
    expect(CRLF_SUM_OLD).toHaveLength(62);
    expect(checksumMatches(bytes(LF_SCRIPT), CRLF_SUM_OLD)).toBe(true);
  });

  it('does not accept the padded checksum truncated to another length', () => {
    // Prisma picks the format from the recorded length: a 63-character prefix is compared in the
    // old format, which for "hello" is 62 characters, so it cannot match.
    expect(checksumMatches(bytes('hello'), HELLO.slice(0, 63))).toBe(false);
  });

  it('handles a file with non-ASCII UTF-8 text byte-wise', () => {
    // Prepare
    const script = "SELECT 'héllo → 世界';\r\n";
    const lf = script.replace(/\r\n/g, '\n');

    // Act / Assess
    expect(checksumMatches(bytes(script), sha256Hex(bytes(lf)))).toBe(true);
  });
});
