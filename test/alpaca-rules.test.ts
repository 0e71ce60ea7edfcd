import { describe, expect, it } from 'vitest';
import type { Simulator } from '../src/sim/index.js';
import { isLiveStatus } from '../src/domain/orders.js';
import { eventually, getJson } from './support/bot-process.js';
import { simsAndBots } from './support/sim-bots.js';
import { simPost } from './support/sim-traffic.js';

/**
 * The bot against a simulator that refuses what Alpaca refuses (src/sim/README.md, "Alpaca rules"):
 * every position ends covered, or reported in /health as unprotected with the reason, within
 * CT_PROTECT_GRACE_S, and is covered again once the cause goes away.
 */
const env = simsAndBots('rules', 'PKRULES', 'rules-secret', { CT_PROTECT_GRACE_S: '2', CT_POLL_MS: '1000' });
const KEYS = env.headers;

async function stopsOf(s: Simulator, entryId: string): Promise<any[]> {
  const res = await fetch(`${s.url}/v2/orders?status=all&limit=500`, { headers: KEYS });
  return ((await res.json()) as any[]).filter((o) => String(o.client_order_id).startsWith(`ct-stop-${entryId}`));
}
const live = (orders: any[]) => orders.filter((o) => isLiveStatus(o.status));

async function ready(s: Simulator, db: string) {
  const b = env.bot(s, db);
  await b.waitFor((l) => l.event === 'reconcile_done');
  return { b, url: await b.apiUrl() };
}

async function unprotected(url: string, symbol: string): Promise<any> {
  const h = await getJson(`${url}/health`);
  return h.body.protection.unprotected.find((u: any) => u.symbol === symbol) ?? null;
}

describe('wash-trade protection (crypto): a crossing buy of the user blocks the stop', () => {
  it('reports the position unprotected with reason wash_trade, and places the stop once the blocker is gone', async () => {
    const s = await env.sim(301);
    const { b, url } = await ready(s, 'wash.db');
    await simPost(s, '/_sim/price', { symbol: 'ETH/USD', price: '3000' });
    // The user's resting buy limit at 2990 sits above where the stop-limit's limit would go (≈ 2910).
    const blocker = await simPost(s, '/_sim/trade', { symbol: 'ETH/USD', side: 'buy', qty: '1', type: 'limit', limit_price: '2990', time_in_force: 'gtc', fill: 'none' });
    const entry = await simPost(s, '/_sim/trade', { symbol: 'ETH/USD', side: 'buy', qty: '2', type: 'market' });
    const report = await eventually(async () => {
      const u = await unprotected(url, 'ETH/USD');
      return u?.past_grace && /wash_trade/.test(u.reason) ? u : null;
    }, 20_000, 250);
    expect(report.reason).toMatch(/^stop_refused: wash_trade: potential wash trade detected/);
    // What to do, in the alarm itself (the /health reason the dashboard's banner shows, the log line):
    // which order crosses, and what clears the way.
    const advice = new RegExp(`crossed by your open buy limit order ${blocker.id} at 2990 \\(qty 1\\): cancel it, or lower its limit below 29\\d\\d(\\.\\d+)? \\(this stop's limit\\); the stop is sent again as soon as that order ends$`);
    expect(report.reason).toMatch(advice);
    const health = await getJson(`${url}/health`);
    expect(health.status).toBe(503);
    expect(health.body.reasons.some((r: string) => r.startsWith('position ETH/USD uncovered') && advice.test(r))).toBe(true);
    expect(b.lines.find((l) => l.event === 'stop_rejected' && l.entry_order_id === entry.id)!.reason).toMatch(advice);
    expect(live(await stopsOf(s, entry.id))).toEqual([]);
    // The refusal is the symbol's (the crossing order's), not the stop's: nothing is sent again while
    // the blocker rests (a minute at most), so the symbol's budget is whole when it goes. How long:
    // the stop's own retry of a wash refusal would come 1 s after it, then 2 s after that
    // (machines/stop-policy.ts); the report above came past the 2 s grace, and 2 s more covers both.
    await new Promise((r) => setTimeout(r, 2000));
    expect(b.lines.filter((l) => l.event === 'stop_rejected' && l.entry_order_id === entry.id)).toHaveLength(1);

    const res = await fetch(`${s.url}/v2/orders/${blocker.id}`, { method: 'DELETE', headers: KEYS });
    expect(res.status).toBe(204);
    // The blocker's end is the cause going away: the refused stop is retried then, not at the end
    // of the block (a minute): placed within one poll (CT_POLL_MS 1000) and a worker pass.
    const gone = Date.now();
    const stop = await eventually(async () => live(await stopsOf(s, entry.id))[0], 20_000, 100);
    expect(Date.now() - gone).toBeLessThan(3000);
    expect(stop).toMatchObject({ type: 'stop_limit', side: 'sell', time_in_force: 'gtc' });
    await eventually(async () => (await unprotected(url, 'ETH/USD')) === null, 10_000, 250);
    b.proc.kill('SIGTERM');
    await b.exited;
  }, 60_000);
});

describe('crypto grids: stop and limit prices on price_increment', () => {
  it('a SHIB/USD position at 0.00002345 gets a stop priced on its grid, never "0"', async () => {
    const s = await env.sim(302);
    const { b } = await ready(s, 'shib.db');
    await simPost(s, '/_sim/price', { symbol: 'SHIB/USD', price: '0.00002345' });
    const entry = await simPost(s, '/_sim/trade', { symbol: 'SHIB/USD', side: 'buy', qty: '1000000', type: 'market' });
    const stop = await eventually(async () => live(await stopsOf(s, entry.id))[0], 20_000, 250);
    expect(stop).toMatchObject({ type: 'stop_limit', side: 'sell', stop_price: '0.00002298' });
    expect(Number(stop.limit_price)).toBeGreaterThan(0);
    b.proc.kill('SIGTERM');
    await b.exited;
  }, 60_000);
});

describe('fractional shares', () => {
  it('a position under one share gets a day stop (fractional orders cannot trail and are day-only)', async () => {
    const s = await env.sim(303);
    const { b } = await ready(s, 'fractional.db');
    await simPost(s, '/_sim/price', { symbol: 'AAPL', price: '200' });
    const entry = await simPost(s, '/_sim/trade', { symbol: 'AAPL', side: 'buy', qty: '0.5', type: 'market', time_in_force: 'day' });
    const stop = await eventually(async () => live(await stopsOf(s, entry.id))[0], 20_000, 250);
    expect(stop).toMatchObject({ type: 'stop', time_in_force: 'day', qty: '0.5', side: 'sell', stop_price: '196' });
    b.proc.kill('SIGTERM');
    await b.exited;
  }, 60_000);

  it('whole shares trail (gtc), the fraction gets a day stop; a fractional resize is cancel-and-replace; the day stop is placed again after the close', async () => {
    const s = await env.sim(304);
    const { b, url } = await ready(s, 'fractional-whole.db');
    await simPost(s, '/_sim/price', { symbol: 'MSFT', price: '400' });
    const entry = await simPost(s, '/_sim/trade', { symbol: 'MSFT', side: 'buy', qty: '2.5', type: 'limit', limit_price: '9999', time_in_force: 'day', fill: 'partial', fill_qty: '1.25' });
    const main = `ct-stop-${entry.id}`;
    const fraction = `${main}-f`;
    // 1.25 filled: 1 share trails, 0.25 is on a day stop (a fractional order cannot trail).
    const first = await eventually(async () => {
      const l = live(await stopsOf(s, entry.id));
      return l.length === 2 && l.some((o) => o.qty === '0.25') ? l : null;
    }, 20_000, 250);
    expect(first.find((o) => o.client_order_id === main)).toMatchObject({ type: 'trailing_stop', time_in_force: 'gtc', qty: '1', side: 'sell' });
    expect(first.find((o) => o.client_order_id === fraction)).toMatchObject({ type: 'stop', time_in_force: 'day', qty: '0.25', side: 'sell', stop_price: '392' });

    // The rest fills (2.5): the trailing stop is replaced for 2 whole shares; the day stop's qty cannot
    // be replaced, so it is canceled and placed again for 0.5 under its next client order id.
    await simPost(s, '/_sim/fill', { order_id: entry.id });
    const grown = await eventually(async () => {
      const l = live(await stopsOf(s, entry.id));
      const day = l.find((o) => o.type === 'stop');
      return l.length === 2 && l.some((o) => o.type === 'trailing_stop' && o.qty === '2') && day?.qty === '0.5' ? day : null;
    }, 20_000, 250);
    expect(grown).toMatchObject({ client_order_id: `${fraction}-v1`, time_in_force: 'day' });
    expect((await stopsOf(s, entry.id)).find((o) => o.client_order_id === fraction)?.status).toBe('canceled');
    await eventually(async () => (await unprotected(url, 'MSFT')) === null, 10_000, 250);
    expect(b.lines.filter((l) => l.event === 'stop_rejected')).toEqual([]);

    // The close: the day stop expires; it is placed again (for the next session) while the position is held.
    await simPost(s, '/_sim/clock', { is_open: false });
    const again = await eventually(async () => live(await stopsOf(s, entry.id)).find((o) => o.client_order_id === `${fraction}-v2`), 20_000, 250);
    expect(again).toMatchObject({ type: 'stop', time_in_force: 'day', qty: '0.5' });
    await b.waitFor((l) => l.event === 'stop_expired' && l.client_order_id === `${fraction}-v1`, 10_000);
    await simPost(s, '/_sim/clock', { is_open: true });
    expect(live(await stopsOf(s, entry.id)).map((o) => o.qty).sort()).toEqual(['0.5', '2']);
    b.proc.kill('SIGTERM');
    await b.exited;
  }, 90_000);
});

describe('held_for_orders (equities): shares held by another open sell', () => {
  it('covers what is available, and the rest once the holder is gone', async () => {
    const s = await env.sim(305);
    const { b, url } = await ready(s, 'held.db');
    const entry = await simPost(s, '/_sim/trade', { symbol: 'TSLA', side: 'buy', qty: '10', type: 'market' });
    const first = await eventually(async () => live(await stopsOf(s, entry.id)).find((o) => o.qty === '10'), 20_000, 250);
    expect(first).toMatchObject({ side: 'sell', type: 'trailing_stop', time_in_force: 'gtc' });
    // Another tool's take-profit for 4: Alpaca would refuse it while the stop holds all 10, so it
    // goes in while the stop is briefly canceled (the user's own doing), as a user would place it.
    const res = await fetch(`${s.url}/v2/orders/${first.id}`, { method: 'DELETE', headers: KEYS });
    expect(res.status).toBe(204);
    const tp = await simPost(s, '/_sim/trade', { symbol: 'TSLA', side: 'sell', qty: '4', type: 'limit', limit_price: '9999', time_in_force: 'gtc', fill: 'none' });
    const partial = await eventually(async () => live(await stopsOf(s, entry.id)).find((o) => o.qty === '6'), 20_000, 250);
    expect(partial).toMatchObject({ side: 'sell', type: 'trailing_stop', replaces: null });
    expect(live(await stopsOf(s, entry.id))).toHaveLength(1);
    await b.waitFor((l) => l.event === 'stop_partial' && l.entry_order_id === entry.id, 10_000);
    const u = await eventually(async () => unprotected(url, 'TSLA'), 10_000, 250);
    expect(u).toMatchObject({ position: '10', covered: '6', uncovered: '4' });
    expect(u.reason).toBe(`held_for_orders: stop placed for 6 of 10; the rest is held by open order(s) ${tp.id} (${tp.client_order_id}): cancel or reduce them and the stop grows to cover what they free`);

    await fetch(`${s.url}/v2/orders/${tp.id}`, { method: 'DELETE', headers: KEYS });
    // The holder's end wakes the short stop (not its 30 s recheck): covered again within a poll or two.
    await eventually(async () => live(await stopsOf(s, entry.id)).find((o) => o.qty === '10'), 8_000, 250);
    b.proc.kill('SIGTERM');
    await b.exited;
  }, 90_000);
});

describe('pattern-day-trader protection', () => {
  it('a refused stop is classified pdt and reported; it is placed once the refusal stops', async () => {
    const s = await env.sim(306);
    const { b, url } = await ready(s, 'pdt.db');
    await simPost(s, '/_sim/faults', { pdt: ['SPY'] });
    const entry = await simPost(s, '/_sim/trade', { symbol: 'SPY', side: 'buy', qty: '3', type: 'market' });
    const u = await eventually(async () => {
      const x = await unprotected(url, 'SPY');
      return x && /pdt/.test(x.reason) ? x : null;
    }, 20_000, 250);
    expect(u.reason).toMatch(/^stop_refused: pdt: trade denied due to pattern day trading protection/);
    await b.waitFor((l) => l.event === 'stop_rejected' && /^pdt:/.test(String(l.reason)), 10_000);
    expect(live(await stopsOf(s, entry.id))).toEqual([]);
    // The refusal stops (a new day): the stop goes in on its next retry, and the alarm clears.
    await fetch(`${s.url}/_sim/faults`, { method: 'DELETE' });
    await eventually(async () => live(await stopsOf(s, entry.id))[0], 40_000, 500);
    await eventually(async () => (await unprotected(url, 'SPY')) === null, 10_000, 250);
    b.proc.kill('SIGTERM');
    await b.exited;
  }, 90_000);
});

describe('legacy crypto symbols (BTCUSD in older orders and activities)', () => {
  it('one position and one stop under the pair name, whichever spelling the broker used', async () => {
    const s = await env.sim(307);
    const { b, url } = await ready(s, 'legacy.db');
    await simPost(s, '/_sim/crypto', { legacy_symbols: true });
    const old = await simPost(s, '/_sim/trade', { symbol: 'BTC/USD', side: 'buy', qty: '0.1', type: 'market' });
    await simPost(s, '/_sim/crypto', { legacy_symbols: false });
    const recent = await simPost(s, '/_sim/trade', { symbol: 'BTC/USD', side: 'buy', qty: '0.2', type: 'market' });
    expect([old.symbol, recent.symbol]).toEqual(['BTCUSD', 'BTC/USD']);
    await eventually(async () => live(await stopsOf(s, old.id)).length === 1 && live(await stopsOf(s, recent.id)).length === 1, 20_000, 250);
    const positions = (await getJson(`${url}/positions`)).body.positions.map((p: any) => p.symbol);
    expect(positions).toEqual(['BTC/USD']);
    const fills = (await getJson(`${url}/fills?limit=100`)).body.fills.map((f: any) => f.symbol);
    expect(new Set(fills)).toEqual(new Set(['BTC/USD']));
    for (const stop of [...live(await stopsOf(s, old.id)), ...live(await stopsOf(s, recent.id))]) expect(stop.symbol).toBe('BTC/USD');
    b.proc.kill('SIGTERM');
    await b.exited;
  }, 60_000);
});

describe('a replace the broker rejects (order_replace_rejected)', () => {
  it('the original stop filled first: its fill is recorded once, the entry is protected for what is left, no second stop while the first was open', async () => {
    const s = await env.sim(308);
    const { b, url } = await ready(s, 'replace-race.db');
    // Sampled at every change of the simulator's book, not only at the end: how many of each
    // entry's stops were live at once. A pending replacement is its original's order (Alpaca:
    // the original stays open until the replacement is accepted), so it is not counted apart.
    const mostLive = new Map<string, number>();
    const unwatch = s.engine.onEvent(() => {
      const byEntry = new Map<string, number>();
      for (const o of s.engine.orders) {
        if (!o.clientOrderId.startsWith('ct-stop-') || !isLiveStatus(o.status)) continue;
        if (o.replaces && s.engine.orders.some((x) => x.id === o.replaces && isLiveStatus(x.status))) continue;
        const entryId = o.clientOrderId.slice('ct-stop-'.length, 'ct-stop-'.length + 36);
        byEntry.set(entryId, (byEntry.get(entryId) ?? 0) + 1);
      }
      for (const [id, n] of byEntry) mostLive.set(id, Math.max(n, mostLive.get(id) ?? 0));
    });
    const entry = await simPost(s, '/_sim/trade', { symbol: 'AAPL', side: 'buy', qty: '10', type: 'limit', limit_price: '900', time_in_force: 'gtc', fill: 'partial', fill_qty: '4' });
    const first = await eventually(async () => live(await stopsOf(s, entry.id)).find((o) => o.qty === '4'), 20_000, 250);
    // The resize to 10 races the original's fill: the PATCH answers with the replacement, then the
    // original fills (4 sold), the replacement is rejected and the stream says order_replace_rejected.
    await simPost(s, '/_sim/replace-race', { order_id: first.id });
    await simPost(s, '/_sim/fill', { order_id: entry.id });
    await eventually(async () => (await stopsOf(s, entry.id)).some((o) => o.id === first.id && o.status === 'filled'), 20_000, 250);
    // 6 are left: covered by one live stop for 6, and never two live at once.
    const rest = await eventually(async () => {
      const open = live(await stopsOf(s, entry.id));
      return open.length === 1 && open[0].qty === '6' ? open[0] : null;
    }, 30_000, 250);
    expect(rest.side).toBe('sell');
    unwatch();
    expect(mostLive.get(entry.id)).toBe(1);
    const fills = (await getJson(`${url}/fills?limit=100`)).body.fills.filter((f: any) => f.order_id === first.id);
    expect(fills.map((f: any) => f.qty)).toEqual(['4']);
    expect(b.lines.filter((l) => l.event === 'ledger_drift')).toEqual([]);
    b.proc.kill('SIGTERM');
    await b.exited;
  }, 60_000);
});
