/**
 * What an apply batch writes at INFO (lambda/batch-log.ts): no line per migration (those are
 * DEBUG; a failure is WARN), progress at most every 10 s, and one summary — so an 820-file
 * history writes a handful of INFO lines, not 820.
 */
import { describe, expect, it } from 'vitest';
import { BatchLog, PROGRESS_EVERY_MS } from '../../lambda/batch-log.js';
import type { MigrationResult } from '../../lambda/contract/index.js';
import { createLogger } from '../../lambda/log.js';

const result = (name: string, status: MigrationResult['status'] = 'applied'): MigrationResult => ({
  name,
  status,
  mode: 'transactional',
  durationMs: 1,
  ...(status === 'failed' ? { error: { code: '42703', message: 'column "nope" does not exist' } } : {}),
});

function logged(level: 'info' | 'debug') {
  const lines: { level: string; message: string; [k: string]: unknown }[] = [];
  const log = createLogger({ service: 't' }, (line) => lines.push(JSON.parse(line)), level);
  return { log, lines };
}

describe('BatchLog', () => {
  it('at INFO: progress at most every 10 s, then one summary; nothing per migration', () => {
    const { log, lines } = logged('info');
    let now = 0;
    const batch = new BatchLog(log, 'prisma', 820, () => now);
    for (let i = 0; i < 820; i++) {
      now += 50; // 41 s in all
      batch.finished(result(`m${i}`));
    }
    batch.summary(Array.from({ length: 820 }, (_, i) => result(`m${i}`)));
    const progress = lines.filter((l) => l.message === 'batch progress');
    expect(progress).toHaveLength(4);
    expect(progress[0]).toMatchObject({ level: 'INFO', ran: PROGRESS_EVERY_MS / 50, total: 820, applied: 200 });
    expect(lines.filter((l) => l.message === 'migration finished')).toHaveLength(0);
    expect(lines.at(-1)).toMatchObject({ message: 'batch finished', total: 820, ran: 820, applied: 820 });
    expect(lines).toHaveLength(5);
  });

  it('a failed migration is a WARN line; the summary says the batch stopped', () => {
    const { log, lines } = logged('info');
    const batch = new BatchLog(log, 'prisma', 3, () => 0);
    batch.finished(result('a'));
    batch.finished(result('b', 'failed'));
    batch.summary([result('a'), result('b', 'failed'), result('c', 'not-started')], 'failed');
    expect(lines.map((l) => [l.level, l.message])).toEqual([
      ['WARN', 'migration failed'],
      ['INFO', 'batch finished'],
    ]);
    expect(lines[0]).toMatchObject({ migration: 'b', code: '42703' });
    expect(lines[1]).toMatchObject({ applied: 1, failed: 1, 'not-started': 1, stopped: 'failed', ran: 2 });
  });

  it('at DEBUG every migration has its line', () => {
    const { log, lines } = logged('debug');
    const batch = new BatchLog(log, 'drizzle', 2, () => 0);
    batch.finished(result('a'));
    batch.finished(result('b', 'reconciled'));
    expect(lines.filter((l) => l.message === 'migration finished').map((l) => [l.migration, l.status])).toEqual([
      ['a', 'applied'],
      ['b', 'reconciled'],
    ]);
  });
});
