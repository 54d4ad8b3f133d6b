/** scripts/interrupt.ts: what the first Ctrl-C says, the migrating commands' text or a command's own (drift). */
import { describe, expect, it } from 'vitest';
import { driftCommand } from '../../scripts/commands/drift.js';
import { interruptionOf } from '../../scripts/interrupt.js';

describe('the first signal', () => {
  it('speaks of the migration lock for the migrating commands, with the status next step', () => {
    const i = interruptionOf('SIGINT', 'See the outcome with `vpc-migrate status`.');
    expect(i).toMatchObject({ signal: 'SIGINT', exitCode: 130, next: 'See the outcome with `vpc-migrate status`.' });
    expect(i.message).toContain('pg_advisory_lock');
  });

  it("is drift's own for drift, which changes nothing on the target, and points at drift again", () => {
    const own = driftCommand.interrupt!;
    const i = interruptionOf('SIGTERM', own.next, own.message);
    expect(i.exitCode).toBe(143);
    expect(i.message).toContain('Interrupted (SIGTERM). Drift changes nothing on the target');
    expect(i.message).not.toContain('pg_advisory_lock');
    expect(i.next).toBe('Run `vpc-migrate drift` again for the answer.');
  });
});
