import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../lambda/contract/index.js';
import { nulBytePosition, refuseNulByte } from '../../scripts/formats/read-files.js';

describe('a NUL byte in a SQL file', () => {
  it('is found by line and column (characters, not bytes)', () => {
    expect(nulBytePosition(Buffer.from('select 1;\n'))).toBeNull();
    expect(nulBytePosition(Buffer.from('\0'))).toEqual({ offset: 0, line: 1, column: 1 });
    expect(nulBytePosition(Buffer.from("a;\nb;\r\nselect 'é\0';\n"))).toEqual({ offset: 17, line: 3, column: 10 });
  });

  it('is refused with VPCM_NUL_BYTE naming the file, line and column', () => {
    let error: { code?: string; message?: string; details?: unknown } = {};
    try {
      refuseNulByte('m/001_x/migration.sql', Buffer.from('CREATE TABLE t (id int);\nINSERT INTO t VALUES (1)\0;\n'));
    } catch (e) {
      error = e as typeof error;
    }
    expect(error.code).toBe(ErrorCode.NulByte);
    expect(error.message).toContain('m/001_x/migration.sql holds a NUL byte');
    expect(error.message).toContain('line 2, column 25');
    expect(error.details).toMatchObject({ line: 2, column: 25 });
  });
});
