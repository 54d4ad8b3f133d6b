/**
 * The construct's example in docs/aws.md is the consumer sample's CDK app, word for word: that
 * app is type-checked and synthesised against the packed package by `pnpm test:consumer`, so the
 * documented code is code that runs.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const read = (file: string) => readFileSync(path.join(repoRoot, file), 'utf8');

/** The fenced blocks of a markdown section, in order. */
function codeBlocks(markdown: string, heading: string): string[] {
  const start = markdown.indexOf(`\n## ${heading}\n`);
  if (start < 0) throw new Error(`no section "${heading}"`);
  const rest = markdown.slice(start + heading.length + 5);
  const section = rest.slice(0, rest.search(/\n## /) >>> 0 || rest.length);
  return [...section.matchAll(/```\w*\n([\s\S]*?)```/g)].map((m) => m[1]!);
}

describe('docs/aws.md', () => {
  it('shows the consumer sample app as it is tested', () => {
    const blocks = codeBlocks(read('docs/aws.md'), 'Use the construct in your stack');
    expect(blocks[0]).toBe(read('test/consumer/app/bin/app.ts'));
  });

  it('imports the construct from the package, not from inside this repository', () => {
    const blocks = codeBlocks(read('docs/aws.md'), 'Use the construct in your stack');
    expect(blocks[0]).toContain("from 'vpc-migrate/cdk'");
    expect(blocks.join('\n')).not.toMatch(/from '\.\.?\//);
  });
});
