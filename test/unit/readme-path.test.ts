/**
 * The README's Layout section draws the path of one Prisma migration through the code (at most
 * 12 files, none opened twice). This keeps the drawing true: every file exists, none is listed
 * twice, and each is named by a file before it (an import or its path in the text), so a reader
 * who reads them in order is never sent somewhere the path has not led. The side doors the path
 * skips are listed too, each with the path file and the call where a comment sums it up; that
 * comment must name the side door, so skipping it is a choice the code supports.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { importsOf } from '../helpers/imports.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const read = (file: string) => readFileSync(path.join(repoRoot, file), 'utf8');

/** The `n`-th code block (0-based) under `## Layout`. */
function layoutBlock(readme: string, n: number): string {
  return readme.slice(readme.indexOf('\n## Layout\n')).split('```')[2 * n + 1] ?? '';
}

/** The numbered lines of the first code block under `## Layout`: ` 1 package.json   …`. */
export function drawnPath(readme: string): string[] {
  return [...layoutBlock(readme, 0).matchAll(/^\s*\d+\s+(\S+)/gm)].map((m) => m[1] as string);
}

/** The second code block under `## Layout`: `lambda/session.ts   in batch.ts at runInOrder: …`. */
export function sideDoors(readme: string): { file: string; summedUpIn: string; at: string }[] {
  return [...layoutBlock(readme, 1).matchAll(/^(\S+)\s+in (\S+) at (\w+):/gm)].map((m) => ({ file: m[1] as string, summedUpIn: m[2] as string, at: m[3] as string }));
}

/** Whether `earlier` leads a reader to `file`: it imports it or names its path. */
function leadsTo(earlier: string, file: string): boolean {
  const text = read(earlier);
  return text.includes(file) || importsOf(earlier, text).some((e) => e.to === file);
}

describe('the README draws the path of one Prisma migration', () => {
  const steps = drawnPath(read('README.md'));

  it('from the package script to the ledger row in at most 12 files, none twice', () => {
    expect(steps[0]).toBe('package.json');
    expect(steps.at(-1)).toBe('lambda/prisma/ledger.ts');
    expect(steps.length).toBeLessThanOrEqual(12);
    expect(new Set(steps).size).toBe(steps.length);
    expect(steps.filter((f) => !existsSync(path.join(repoRoot, f)))).toEqual([]);
  });

  it('each file is named by one before it', () => {
    const unreached = steps.slice(1).filter((file, i) => !steps.slice(0, i + 1).some((earlier) => leadsTo(earlier, file)));
    expect(unreached).toEqual([]);
  });

  it('the package script is the one the README tells users to run', () => {
    const scripts = (JSON.parse(read('package.json')) as { scripts: Record<string, string> }).scripts;
    expect(scripts['migrate:remote']).toContain(steps[1]);
  });

  it('the ledger row is written where the path ends', () => {
    // The table is schema-qualified when the ledger is opened (issue 24); the statement's text is
    // the contract's, shared with compatibility mode (issue 25).
    expect(read(steps.at(-1) as string)).toMatch(/insertLedgerRowSql\(this\.table/);
    expect(read(steps.at(-1) as string)).toContain('PRISMA_LEDGER_TABLE');
    expect(read('lambda/contract/prisma-ledger-sql.ts')).toMatch(/INSERT INTO \$\{table\}/);
  });

  describe('the side doors the path skips', () => {
    const doors = sideDoors(read('README.md'));

    it('are listed, exist and are not on the path', () => {
      expect(doors.length).toBeGreaterThan(0);
      expect(doors.filter((d) => !existsSync(path.join(repoRoot, d.file)))).toEqual([]);
      expect(doors.filter((d) => steps.includes(d.file))).toEqual([]);
    });

    it('are each summed up on the path: in the named path file, in the comment above the call or member named, naming the side door', () => {
      const isComment = (l: string) => /^\s*(\/\/|\*|\/\*\*)/.test(l);
      const misses = doors.filter((d) => {
        const home = steps.find((s) => s.endsWith('/' + d.summedUpIn));
        if (!home) return true;
        const lines = read(home).split('\n');
        return !lines.some((line, i) => {
          if (isComment(line) || !new RegExp(`\\b${d.at}\\b`).test(line)) return false;
          let from = i;
          while (from > 0 && isComment(lines[from - 1] as string)) from--;
          const comment = lines.slice(from, i).join('\n');
          // Its file name is enough (the full path and the folder/name forms contain it).
          return comment.includes(path.basename(d.file));
        });
      });
      expect(misses).toEqual([]);
    });
  });
});
