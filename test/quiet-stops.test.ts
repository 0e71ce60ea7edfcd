import { basename, join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { D } from '../src/decimal.js';
import type { Simulator } from '../src/sim/index.js';
import { eventually, getJson } from './support/bot-process.js';
import { simsAndBots } from './support/sim-bots.js';
import { simPost } from './support/sim-traffic.js';

/**
 * Once a position's stops are accepted and the price is flat, the bot leaves them alone: no order
 * request at all (issue: identical crypto PATCHes every ~30 s, forever, for a fee-net position, which
 * real Alpaca refuses with 403 "order parameters are not changed"). Crypto fee-net, whole and
 * fractional shares, judged from the simulator's request counters.
 */
const env = simsAndBots('quiet', 'PKQUIET', 'quiet-secret');
const ORDER_REQUESTS = /^(POST \/v2\/orders|PATCH \/v2\/orders|DELETE \/v2\/orders)/;
/**
 * How long "nothing happens" is watched, and why that is enough. The loops behind the issue were
 * clocks in the stop rows (the order machine's 30 s re-ask, the 30 s short-stop recheck): the test
 * first checks that no stop row waits for a clock at all (IDLE below), which rules those out however
 * long one would watch. What is left are the bot's periodic passes: the poll (CT_POLL_MS) and the
 * crypto ratchet (CT_RATCHET_MS, 5 s by default), each at 500 ms here, the stop worker and the
 * coverage watch, each at 1 s. Five seconds is ten of the first two and five of the others: a pass
 * that sends a request for a stop at rest would be seen five times over or more.
 */
const QUIET_WINDOW_MS = 5_000;
/** What the machine writes as "nothing to do until something changes" (machines/stop-policy.ts IDLE). */
const IDLE = 8_640_000_000_000_000;

async function orderRequests(s: Simulator): Promise<number> {
  const byRoute: Record<string, number> = (await getJson(`${s.url}/_sim/stats`)).body.requests.by_route;
  return Object.entries(byRoute).reduce((n, [route, count]) => (ORDER_REQUESTS.test(route) ? n + count : n), 0);
}

async function liveStops(s: Simulator): Promise<any[]> {
  const res = await fetch(`${s.url}/v2/orders?status=open&limit=500`, { headers: env.headers });
  return ((await res.json()) as any[]).filter((o) => String(o.client_order_id).startsWith('ct-stop-'));
}

const held = (stops: any[], symbol: string) => stops.filter((o) => o.symbol === symbol).reduce((sum, o) => sum.plus(o.qty), new D(0));

describe('stops at rest', () => {
  it('with a flat price, accepted stops get zero order requests: crypto fee-net, whole and fractional shares', async () => {
    const s = await env.sim(2201);
    const db = join(env.dir, 'quiet.db');
    const b = env.bot(s, basename(db), { CT_POLL_MS: '500', CT_RATCHET_MS: '500' });
    await b.waitFor((l) => l.event === 'reconcile_done');
    await simPost(s, '/_sim/price', { symbol: 'BTC/USD', price: '60000' });
    await simPost(s, '/_sim/trade', { symbol: 'BTC/USD', side: 'buy', qty: '0.1', type: 'market' });
    // DOGE trades in whole coins: 1000 bought is 997.5 after the fee, and a stop can hold only 997.
    await simPost(s, '/_sim/price', { symbol: 'DOGE/USD', price: '0.25' });
    await simPost(s, '/_sim/trade', { symbol: 'DOGE/USD', side: 'buy', qty: '1000', type: 'market' });
    await simPost(s, '/_sim/trade', { symbol: 'AAPL', side: 'buy', qty: '2.5', type: 'market', time_in_force: 'day' });
    await simPost(s, '/_sim/trade', { symbol: 'MSFT', side: 'buy', qty: '3', type: 'market' });

    // Covered at the broker: the fee-net coin, the whole shares by a trailing stop and the fraction by a day stop.
    const stops = await eventually(async () => {
      const open = await liveStops(s);
      const ok = held(open, 'BTC/USD').eq('0.09975') && held(open, 'DOGE/USD').eq('997') && held(open, 'AAPL').eq('2.5') && held(open, 'MSFT').eq('3');
      return ok ? open : null;
    }, 20_000);
    expect(stops.filter((o) => o.symbol === 'AAPL').map((o) => [o.type, o.qty]).sort()).toEqual([
      ['stop', '0.5'],
      ['trailing_stop', '2'],
    ]);
    // Nothing is scheduled: every stop row waits for a change, none for a clock.
    await eventually(async () => {
      const d = new BetterSqlite3(db, { readonly: true });
      const rows = d.prepare("select client_order_id, next_attempt_at from stops where status != 'done'").all() as Array<{ next_attempt_at: number }>;
      d.close();
      return rows.length === 5 && rows.every((r) => r.next_attempt_at === IDLE);
    }, 10_000);

    const before = await orderRequests(s);
    await new Promise((r) => setTimeout(r, QUIET_WINDOW_MS));
    expect(await orderRequests(s)).toBe(before);
    // And the dashboard's truth agrees: every position covered (DOGE's half coin is dust no order can hold).
    const health = await getJson(`${await b.apiUrl()}/health`);
    expect(health.body.status).toBe('ok');
    b.proc.kill('SIGTERM');
    await b.exited;
  }, 60_000);
});
