import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { CRASH_POINTS } from '../src/runtime/crash-points.js';
import { eventually, getJson } from './support/bot-process.js';
import { live, passes, protectionKit } from './support/protection-kit.js';
import { simPost } from './support/sim-traffic.js';

const { dir, sim, bot, stopsOf } = protectionKit('prot-crash');

describe('exactly one stop per entry, across crashes', () => {
  // after_guard_post is on the extended-hours guard's path, which this test does not take: test/extended-hours-guard.test.ts kills there;
  // before_change_commit on a trade bust's: test/fill-changes-process.test.ts kills there.
  it.each(CRASH_POINTS.filter((p) => p !== 'after_guard_post' && p !== 'before_change_commit'))('SIGKILL at %s: the restarted bot ends with exactly one stop for the entry', async (point) => {
    const s = await sim(31 + CRASH_POINTS.indexOf(point));
    const db = join(dir, `crash-${point}.db`);
    const doomed = await bot(s, db, { CT_CRASH_AT: point });
    const entry = await simPost(s, '/_sim/trade', { symbol: 'AAPL', side: 'buy', qty: '5', type: 'market' });
    expect((await doomed.exited).signal).toBe('SIGKILL');
    // The kill landed where it was aimed: before the commit nothing of the fill is on disk.
    const d = new BetterSqlite3(db, { readonly: true });
    const onDisk = (d.prepare('select count(*) as n from fills where order_id = ?').get(entry.id) as { n: number }).n;
    const intents = (d.prepare('select count(*) as n from stops').get() as { n: number }).n;
    d.close();
    expect([onDisk, intents]).toEqual(point === 'before_intent_commit' ? [0, 0] : [1, 1]);
    expect(await stopsOf(s, entry.id)).toHaveLength(point === 'after_stop_post' ? 1 : 0);

    const after = await bot(s, db, { CT_POLL_MS: '500' });
    const stop = await eventually(async () => {
      const all = await stopsOf(s, entry.id);
      return all.length === 1 && live(all).length === 1 ? all[0] : null;
    }, 20_000);
    expect(stop).toMatchObject({ side: 'sell', type: 'trailing_stop', trail_percent: '2', qty: '5', time_in_force: 'gtc', client_order_id: `ct-stop-${entry.id}` });
    const url = await after.apiUrl();
    await eventually(async () => (await getJson(`${url}/orders/${entry.id}`)).body.state === 'protected');
    // Nothing more is sent: three reconcile passes would each have placed a stop they found missing.
    await passes(after, 3);
    expect(await stopsOf(s, entry.id)).toHaveLength(1);
    const placedOrAdopted = [...doomed.lines, ...after.lines].filter((l) => (l.event === 'stop_placed' || l.event === 'stop_adopted') && l.entry_order_id === entry.id);
    expect(placedOrAdopted).toHaveLength(1);
    if (point === 'after_stop_post') expect(placedOrAdopted[0]!.event).toBe('stop_adopted');
    after.proc.kill('SIGTERM');
    await after.exited;
  }, 60_000);
});
