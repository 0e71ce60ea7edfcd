import pg from 'pg';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AccountLeader } from '../src/runtime/account-leader.js';
import { LEADERS_TABLE } from '../src/store/leader-table.js';
import { LeadershipLost } from '../src/store/leadership-lost.js';
import { freshDatabase, startPgCluster, type PgCluster } from './support/pg-cluster.js';

/**
 * AccountLeader.assertLease (src/runtime/account-leader.ts), the broker client's last step before an
 * order leaves: an order may leave only while the leader's session was heard from within half the
 * timeout. An epoch read is not enough: a leader stopped with that read on its way back reads it once
 * resumed, after another instance took over (test/failover.test.ts's SIGSTOP case). Here the session
 * is kept silent without stopping this process: another connection holds the leaders row, so the
 * heartbeat's update waits on it.
 */
let cluster: PgCluster | undefined;
let skip: string | undefined;

beforeAll(async () => {
  const started = await startPgCluster({ name: 'leader-lease' });
  if ('skip' in started) skip = started.skip;
  else cluster = started.cluster;
});
afterAll(async () => {
  await cluster?.stop();
});

/** Settles with what `p` gave within `ms`, or `pending`. */
const within = <T>(p: Promise<T>, ms: number): Promise<{ value: T } | { error: unknown } | 'pending'> =>
  Promise.race([p.then((value) => ({ value }), (error: unknown) => ({ error })), new Promise<'pending'>((r) => setTimeout(() => r('pending'), ms))]);

describe('the lease an order leaves under', () => {
  it('lets an order leave only while the leader session was heard from lately, and refuses once it is lost', async (ctx) => {
    if (skip !== undefined) ctx.skip(skip);
    const db = await freshDatabase(cluster!);
    const holder = new pg.Client({ connectionString: db.url });
    await holder.connect();
    // 2 s timeout: a heartbeat every 500 ms; an order leaves while the last answer was sent under 1 s ago.
    let led!: (epoch: number) => void;
    const leading = new Promise<number>((r) => (led = r));
    const leader = new AccountLeader({ url: db.url, accountId: 'acct-1', accountName: 'main', instance: 'a', timeoutS: 2, log: pino({ level: 'silent' }), lead: async (epoch) => (led(epoch), { close: async () => {} }) });
    leader.start();
    try {
      const epoch = await leading;
      // Heard from: at once.
      expect(await within(leader.assertLease(epoch), 200)).toEqual({ value: undefined });
      // Under another epoch (a term that ended): refused.
      expect(await within(leader.assertLease(epoch + 1), 200)).toMatchObject({ error: expect.any(LeadershipLost) });

      // The row held elsewhere: the heartbeat waits, and nothing is heard for longer than half the timeout.
      await holder.query('begin');
      await holder.query(`select * from ${LEADERS_TABLE} where account_id = $1 for update`, ['acct-1']);
      const heldAt = Date.now();
      // 1.2 s: past the 1 s an order may leave after the last answered query was sent (the last one
      // answered went out at most one 500 ms heartbeat before the row was held).
      await new Promise((r) => setTimeout(r, 1200));
      const waiting = leader.assertLease(epoch);
      // Still silent: the order waits (for 300 ms here, and while the row stays held).
      expect(await within(waiting, 300)).toBe('pending');
      // Heard again: the waiting heartbeat goes through. It was sent before the row was held, so its
      // answer says nothing of the session since: the order waits for the next heartbeat, sent 500 ms
      // after it (150 ms is well inside that, and far above a loopback answer's few ms), and then leaves.
      await holder.query('commit');
      expect(await within(waiting, 150)).toBe('pending');
      expect(await within(waiting, 1500)).toEqual({ value: undefined });
      expect(Date.now() - heldAt).toBeLessThan(4000);

      // Held past the session's lock_timeout (2 s): the heartbeat fails, the session is lost, and an
      // order waiting for it is refused.
      await holder.query('begin');
      await holder.query(`select * from ${LEADERS_TABLE} where account_id = $1 for update`, ['acct-1']);
      await new Promise((r) => setTimeout(r, 1200));
      const refused = await within(leader.assertLease(epoch), 4000);
      expect(refused).toMatchObject({ error: expect.any(LeadershipLost) });
      expect(String((refused as { error: Error }).error.message)).toMatch(/leader session/);
      await holder.query('rollback');
    } finally {
      await leader.stop();
      await holder.end();
      await db.drop();
    }
  }, 30_000);
});
