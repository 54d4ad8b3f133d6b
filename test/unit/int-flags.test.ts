import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../lambda/contract/index.js';
import { applyOptionsFrom, INT_FLAGS, intFlag } from '../../scripts/commands/flags.js';

const refusal = (fn: () => unknown) => {
  try {
    fn();
  } catch (e) {
    return e as { code: string; message: string; remedy: string };
  }
  throw new Error('accepted');
};

describe('the one numeric flag parser', () => {
  it.each(Object.entries(INT_FLAGS))('%s: takes its bounds, refuses one past them', (name, spec) => {
    const scale = 'scale' in spec ? spec.scale : 1;
    expect(intFlag({ [name]: String(spec.min) }, name, spec)).toBe(spec.min * scale);
    expect(intFlag({ [name]: String(spec.max) }, name, spec)).toBe(spec.max * scale);
    expect(intFlag({}, name, spec)).toBeUndefined();
    const over = refusal(() => intFlag({ [name]: String(spec.max + 1) }, name, spec));
    expect(over.code).toBe(ErrorCode.UsageError);
    expect(over.message).toContain(`--${name} must be a whole number from ${spec.min} to ${spec.max}`);
    if (spec.min > 0)
      expect(refusal(() => intFlag({ [name]: String(spec.min - 1) }, name, spec)).code).toBe(ErrorCode.UsageError);
  });

  it.each([
    '1.5',
    '0x10',
    '1e2',
    '-1',
    '+3',
    ' 7',
    '7 ',
    '',
    '1_000',
    'Infinity',
    'NaN',
    '٣',
    '99999999999999999999',
  ])('statement-timeout %j is refused, naming the flag and the bounds', (value) => {
    const e = refusal(() => applyOptionsFrom({ 'statement-timeout': value }));
    expect(e.code).toBe(ErrorCode.UsageError);
    expect(e.message).toContain('--statement-timeout must be a whole number from 0 to 3600000 ms');
    expect(e.remedy).toContain('between 0 and 3600000 ms');
  });

  it('deploy options: seconds become milliseconds, digits only', () => {
    expect(applyOptionsFrom({ 'lock-wait': '3', 'lock-timeout': '250', 'statement-timeout': '0' })).toEqual({
      lockWaitMs: 3000,
      lockTimeoutMs: 250,
      statementTimeoutMs: 0,
    });
    expect(refusal(() => applyOptionsFrom({ 'lock-wait': '0.3' })).message).toContain(
      '--lock-wait must be a whole number from 0 to 3600 s',
    );
    expect(refusal(() => applyOptionsFrom({ 'lock-timeout': '1e3' })).message).toContain('--lock-timeout must be');
  });
});
