/**
 * Two reader set-ups at once (two stacks on one cluster, the parallel local workers of a test run)
 * must both succeed: the second takes its turn instead of failing with "tuple concurrently
 * updated" from two ALTER ROLEs of the same role (seen in CI on a shared server).
 */
import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { clientConfigFromUrl, close, connect } from '../../lambda/db.js';
import { setupReader } from '../../lambda/reader.js';
import { databaseTargets, query } from '../helpers/db.js';

for (const { name, adminUrl } of databaseTargets()) {
  describe(`reader set-ups at once, on the ${name} PostgreSQL`, () => {
    const role = `vpcm_race_${randomBytes(4).toString('hex')}`;
    afterAll(async () => {
      await query(adminUrl, `DROP OWNED BY ${role}; DROP ROLE IF EXISTS ${role}`).catch(() => undefined);
    });

    it('eight concurrent set-ups of one role all succeed, and the role ends read-only', async () => {
      const sessions = await Promise.all(Array.from({ length: 8 }, () => connect(clientConfigFromUrl(adminUrl))));
      try {
        // Every session is connected before any set-up starts, so they run together.
        const results = await Promise.allSettled(
          sessions.map((db, i) => setupReader(db, { role, password: `pw-${i}-${randomBytes(6).toString('hex')}` })),
        );
        const failed = results.flatMap((r) => (r.status === 'rejected' ? [String(r.reason)] : []));
        expect(failed).toEqual([]);
      } finally {
        await Promise.all(sessions.map((db) => close(db)));
      }
      const [row] = await query<{ config: string[] | null }>(
        adminUrl,
        'SELECT rolconfig AS config FROM pg_roles WHERE rolname = $1',
        [role],
      );
      expect(row?.config).toContain('default_transaction_read_only=on');
    });
  });
}
