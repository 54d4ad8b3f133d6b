/**
 * Issue 25: no line over 120 characters in the code we keep (the formatter breaks what it can;
 * long strings and comments it leaves alone, so this holds the rest). Files git tracks, as CI
 * checks them out.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const MAX = 120;

const tracked = execFileSync('git', ['ls-files', '-z', '--', '*.ts', '*.mts', '*.mjs', '*.cjs', '*.json', '*.jsonc'], {
  cwd: repoRoot,
  encoding: 'utf8',
})
  .split('\0')
  .filter((f) => f && f !== 'pnpm-lock.yaml');

describe('line width', () => {
  it(`every tracked source line is at most ${MAX} characters`, () => {
    expect(tracked.length).toBeGreaterThan(50);
    const long = tracked.flatMap((file) =>
      readFileSync(path.join(repoRoot, file), 'utf8')
        .split('\n')
        .flatMap((line, i) => ([...line].length > MAX ? [`${file}:${i + 1} (${[...line].length})`] : [])),
    );
    expect(long).toEqual([]);
  });
});
