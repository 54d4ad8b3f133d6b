import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { sh } from '../../lambda/contract/remedy-command.js';
import { visible, visibleReport } from '../../scripts/render/escape.js';

const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

describe('control characters never reach the terminal', () => {
  it('visible: C0, DEL and C1 as \\xNN; keepLines keeps newlines, CRLF and tabs only', () => {
    const all = Array.from({ length: 0x20 }, (_, i) => String.fromCharCode(i)).join('') + '\u007f\u0085\u009b';
    expect(visible(all)).not.toMatch(CONTROL);
    expect(visible('001_\u001b[31mred\n')).toBe('001_\\x1b[31mred\\x0a');
    expect(visible('a\u009bb\u007f')).toBe('a\\x9bb\\x7f');
    expect(visible('a\r\nb\tc\rd\u001b', { keepLines: true })).toBe('a\r\nb\tc\\x0dd\\x1b');
    expect(visible('plain, ünïcode ✓')).toBe('plain, ünïcode ✓');
  });

  it(
    'visibleReport: every string of a report, one-line fields ' +
      'fully, DETAIL keeps its lines, rows left to the table',
    () => {
      const report = {
        command: 'status',
        plan: {
          pending: ['002_\u001b]0;owned\u0007'],
          problems: [{ message: 'Migration 003_\nfake failed', remedy: 'x', detail: 'a\nb\u001b' }],
        },
        result: { rows: [{ v: '\u001b' }] },
        n: 3,
      };
      const safe = visibleReport(report);
      expect(safe.plan.pending[0]).toBe('002_\\x1b]0;owned\\x07');
      expect(safe.plan.problems[0]!.message).toBe('Migration 003_\\x0afake failed');
      expect(safe.plan.problems[0]!.detail).toBe('a\nb\\x1b');
      expect(safe.result.rows[0]!.v).toBe('\u001b');
      expect(safe.n).toBe(3);
    },
  );

  it.each([
    '002_\u001b[31mred',
    '003_new\nline',
    "004_it's\u0007",
    '005_back\\slash\t',
    '006_c1\u009b',
  ])('sh(%j) prints no control character and bash reads back the same word', (word) => {
    const quoted = sh(word);
    expect(quoted).not.toMatch(CONTROL);
    expect(quoted.startsWith("$'")).toBe(true);
    const echoed = execFileSync('bash', ['-c', `printf '%s' ${quoted}`]).toString('utf8');
    expect(echoed).toBe(word);
  });

  it('sh keeps plain words and single-quotes the rest as before', () => {
    expect(sh('001_init')).toBe('001_init');
    expect(sh('with space')).toBe("'with space'");
  });
});
