/**
 * The fault matrix as data: every cell of test/faults records how many times it ran its fault
 * and whether the invariant held; test/faults/setup.ts collects the records after the run,
 * writes test/faults/RESULTS.md and prints the table.
 */
import { appendFileSync } from 'node:fs';
import path from 'node:path';
import { inject, it } from 'vitest';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Where fault cells append their records (one JSON line each). */
    faultResultsDir: string;
  }
}

export interface CellRecord {
  /** Row of the matrix, e.g. "Worker killed · transactional file". */
  cell: string;
  /** The PostgreSQL the cell ran on (embedded / system). */
  target: string;
  /** Faults injected (kill points, events, deploys…). */
  runs: number;
  held: boolean;
  /** The test file proving it. */
  file: string;
  /** One line on what was checked. */
  invariant: string;
  error?: string;
}

export interface CellContext {
  /** Counts one injected fault. */
  ran(n?: number): void;
}

/**
 * A matrix cell: a vitest test whose outcome is recorded. The cell holds when the test passes;
 * its runs are what `ran()` counted (zero runs never holds).
 */
export function cell(
  name: string,
  meta: { target: string; file: string; invariant: string; timeout?: number },
  body: (ctx: CellContext) => Promise<void>,
): void {
  it(
    name,
    async () => {
      let runs = 0;
      const record: CellRecord = {
        cell: name,
        target: meta.target,
        runs: 0,
        held: false,
        file: meta.file,
        invariant: meta.invariant,
      };
      try {
        await body({ ran: (n = 1) => void (runs += n) });
        if (runs === 0) throw new Error(`cell "${name}" injected no fault`);
        record.held = true;
      } catch (error) {
        record.error = (error as Error)?.message?.split('\n')[0]?.slice(0, 300) ?? String(error);
        throw error;
      } finally {
        record.runs = runs;
        writeRecord(record);
      }
    },
    meta.timeout,
  );
}

function writeRecord(record: CellRecord): void {
  const dir = inject('faultResultsDir');
  if (!dir) return;
  appendFileSync(path.join(dir, `cells-${process.pid}.jsonl`), JSON.stringify(record) + '\n');
}
