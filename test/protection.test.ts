import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { D } from '../src/decimal.js';
import { eventually, getJson } from './support/bot-process.js';
import { live, OUTSIDE_CLOSE, passes, protectionKit } from './support/protection-kit.js';
import { simPost } from './support/sim-traffic.js';

const { dir, sim, bot, stopsOf, protectedLong, byRoute } = protectionKit('prot');

describe('stop follows the entry', () => {
  it('resizes the stop by replace as a partially filled entry fills', async () => {
    const s = await sim(41);
    const b = await bot(s, join(dir, 'resize.db'));
    const entry = await simPost(s, '/_sim/trade', { symbol: 'MSFT', side: 'buy', qty: '10', type: 'limit', limit_price: '900', time_in_force: 'gtc', fill: 'partial', fill_qty: '4' });
    await eventually(async () => live(await stopsOf(s, entry.id)).find((o) => o.qty === '4'), 15_000);
    await simPost(s, '/_sim/fill', { order_id: entry.id, qty: '6' });
    const resized = await eventually(async () => {
      const open = live(await stopsOf(s, entry.id));
      return open.length === 1 && open[0].qty === '10' ? open[0] : null;
    }, 15_000);
    expect(resized.client_order_id).toBe(`ct-stop-${entry.id}-v1`);
    const all = await stopsOf(s, entry.id);
    expect(all.map((o) => o.status).sort()).toEqual(['new', 'replaced']);
    expect(all.find((o) => o.status === 'replaced').replaced_by).toBe(resized.id);
    b.proc.kill('SIGTERM');
    await b.exited;
  }, 40_000);

  it('a fill that lands while the stop is being sent: the stop grows as soon as it is placed (not half a minute later)', async () => {
    const s = await sim(43);
    const b = await bot(s, join(dir, 'resize-in-flight.db'));
    // Each API request takes 1 s: the next fill arrives while the stop's POST is out.
    await simPost(s, '/_sim/faults', { latency_ms: 1000 });
    const entry = await simPost(s, '/_sim/trade', { symbol: 'MSFT', side: 'buy', qty: '10', type: 'limit', limit_price: '900', time_in_force: 'gtc', fill: 'partial', fill_qty: '4' });
    // The stop's POST has reached the broker (counted on arrival, answered a second later): the next
    // fill lands while it is out.
    await eventually(async () => ((await byRoute(s))['POST /v2/orders'] ?? 0) >= 1, 10_000, 20);
    await simPost(s, '/_sim/fill', { order_id: entry.id, qty: '6' });
    const filled = Date.now();
    await eventually(async () => {
      const open = live(await stopsOf(s, entry.id));
      return open.length === 1 && open[0].qty === '10' ? open[0] : null;
    }, 15_000);
    // The POST, then the PATCH, a second each: well under the 30 s a stop short for want of shares waits.
    expect(Date.now() - filled).toBeLessThan(10_000);
    // The race happened: the stop for 4 was placed after the fill to 10 was recorded.
    const at = (pred: (l: Record<string, any>) => boolean) => b.lines.findIndex(pred);
    expect(at((l) => l.event === 'stop_placed' && l.qty === '4')).toBeGreaterThan(at((l) => l.event === 'fill_received' && l.cum_qty === '10'));
    b.proc.kill('SIGTERM');
    await b.exited;
  }, 40_000);

  it('ratchets a crypto stop-limit up as the price rises, never down', async () => {
    const s = await sim(42);
    const b = await bot(s, join(dir, 'ratchet.db'), { CT_RATCHET_MS: '300' });
    await simPost(s, '/_sim/price', { symbol: 'BTC/USD', price: '60000' });
    const entry = await simPost(s, '/_sim/trade', { symbol: 'BTC/USD', side: 'buy', qty: '0.5', type: 'market' });
    const first = await eventually(async () => live(await stopsOf(s, entry.id))[0], 15_000);
    // The fee (25 bps) is taken from the coin received: 0.49875 BTC is held, and covered (docs "Crypto fees").
    expect(first).toMatchObject({ type: 'stop_limit', side: 'sell', qty: '0.49875', stop_price: '58800', time_in_force: 'gtc' });
    expect(new D(first.limit_price).lt(first.stop_price)).toBe(true);

    await simPost(s, '/_sim/price', { symbol: 'BTC/USD', price: '63000' });
    const raised = await eventually(async () => {
      const open = live(await stopsOf(s, entry.id));
      return open.length === 1 && open[0].stop_price === '61740' ? open[0] : null;
    }, 15_000);
    expect(raised.qty).toBe('0.49875');
    // A dip does not lower it.
    await simPost(s, '/_sim/price', { symbol: 'BTC/USD', price: '62500' });
    await new Promise((r) => setTimeout(r, 1500));
    const open = live(await stopsOf(s, entry.id));
    expect(open).toHaveLength(1);
    expect(open[0].stop_price).toBe('61740');
    expect(b.lines.filter((l) => l.event === 'stop_ratchet')).toHaveLength(1);
    b.proc.kill('SIGTERM');
    await b.exited;
  }, 40_000);
});

describe('a position closed by hand', () => {
  it('cancels the protective stop (it would open a new position) and starts the cooldown', async () => {
    const s = await sim(61);
    const b = await bot(s, join(dir, 'manual-exit.db'), { CT_POLL_MS: '500' });
    const entry = await simPost(s, '/_sim/trade', { symbol: 'TSLA', side: 'buy', qty: '2', type: 'market' });
    await eventually(async () => live(await stopsOf(s, entry.id))[0], 15_000);
    await simPost(s, '/_sim/trade', { symbol: 'TSLA', side: 'sell', qty: '2', type: 'market', ...OUTSIDE_CLOSE });
    await b.waitFor((l) => l.event === 'stop_canceled' && l.entry_order_id === entry.id, 15_000);
    await b.waitFor((l) => l.event === 'cooldown_started' && l.symbol === 'TSLA');
    await passes(b, 3);
    const stops = await stopsOf(s, entry.id);
    expect(stops.map((o) => o.status)).toEqual(['canceled']);
    expect(b.lines.filter((l) => l.event === 'stop_lost')).toEqual([]);
    b.proc.kill('SIGTERM');
    await b.exited;
  }, 40_000);
});

describe('protection follows the position', () => {
  it('shrinks the stop when an outside exit reduces the position, and protects the other side after a flip', async () => {
    const s = await sim(62);
    const b = await bot(s, join(dir, 'shrink-flip.db'));
    const entry = await protectedLong(s, '5');

    await simPost(s, '/_sim/trade', { symbol: 'AAPL', side: 'sell', qty: '2', type: 'market', ...OUTSIDE_CLOSE });
    const shrunk = await eventually(async () => {
      const open = live(await stopsOf(s, entry.id));
      return open.length === 1 && open[0].qty === '3' ? open[0] : null;
    }, 15_000);
    expect(shrunk.side).toBe('sell');

    // Sell 5 against a long of 3: the long closes (its stop goes) and a short of 2 opens.
    const flip = await simPost(s, '/_sim/trade', { symbol: 'AAPL', side: 'sell', qty: '5', type: 'market', ...OUTSIDE_CLOSE });
    const cover = await eventually(async () => live(await stopsOf(s, flip.id))[0], 15_000);
    expect(cover).toMatchObject({ side: 'buy', type: 'trailing_stop', qty: '2', client_order_id: `ct-stop-${flip.id}` });
    await eventually(async () => live(await stopsOf(s, entry.id)).length === 0, 15_000);
    b.proc.kill('SIGTERM');
    await b.exited;
  }, 40_000);
});

describe('an order that crosses flat twice', () => {
  it('protects its second short with a new stop after its first was canceled', async () => {
    const s = await sim(63);
    const b = await bot(s, join(dir, 'recross.db'));
    const entry = await protectedLong(s, '5');

    // Sell 8, of which 7 fill: the long of 5 closes and 2 are short, covered by the sell's own stop.
    const flip = await simPost(s, '/_sim/trade', { symbol: 'AAPL', side: 'sell', qty: '8', type: 'limit', limit_price: '1', fill: 'partial', fill_qty: '7', ...OUTSIDE_CLOSE });
    await eventually(async () => live(await stopsOf(s, flip.id)).find((o) => o.qty === '2'), 15_000);
    // Bought back by hand: flat, so the sell's stop is canceled.
    await simPost(s, '/_sim/trade', { symbol: 'AAPL', side: 'buy', qty: '2', type: 'market', ...OUTSIDE_CLOSE });
    await eventually(async () => {
      const all = await stopsOf(s, flip.id);
      return all.length === 1 && all[0].status === 'canceled';
    }, 15_000);
    // The rest of the sell fills: short 1 again, under a stop with the next client order id.
    await simPost(s, '/_sim/fill', { order_id: flip.id });
    const again = await eventually(async () => live(await stopsOf(s, flip.id))[0], 15_000);
    expect(again).toMatchObject({ side: 'buy', qty: '1', client_order_id: `ct-stop-${flip.id}-v1` });
    expect(live(await stopsOf(s, entry.id))).toHaveLength(0);
    b.proc.kill('SIGTERM');
    await b.exited;
  }, 60_000);
});

describe('cooldown once per exit', () => {
  it('a stop fill starts one cooldown, and a restart does not start another', async () => {
    const s = await sim(51);
    const db = join(dir, 'cooldown.db');
    const b = await bot(s, db);
    await simPost(s, '/_sim/price', { symbol: 'SPY', price: '500' });
    const entry = await simPost(s, '/_sim/trade', { symbol: 'SPY', side: 'buy', qty: '3', type: 'market' });
    await eventually(async () => live(await stopsOf(s, entry.id))[0], 15_000);
    await simPost(s, '/_sim/price', { symbol: 'SPY', price: '480' });
    const started = await b.waitFor((l) => l.event === 'cooldown_started' && l.symbol === 'SPY', 15_000);
    const stop = (await stopsOf(s, entry.id))[0];
    expect(stop.status).toBe('filled');
    expect(started.exit_fill_id).toBe(`${stop.id}:3`);
    const url = await b.apiUrl();
    await eventually(async () => (await getJson(`${url}/orders/${entry.id}`)).body.state === 'exited');

    b.proc.kill('SIGKILL');
    await b.exited;
    const again = await bot(s, db, { CT_POLL_MS: '500' });
    await passes(again, 3);
    expect(again.lines.filter((l) => l.event === 'cooldown_started')).toHaveLength(0);
    const d = new BetterSqlite3(db, { readonly: true });
    const rows = d.prepare('select exit_fill_id, symbol from cooldowns').all();
    d.close();
    expect(rows).toEqual([{ exit_fill_id: `${stop.id}:3`, symbol: 'SPY' }]);

    // An outside entry during the cooldown is still protected, and flagged.
    const during = await simPost(s, '/_sim/trade', { symbol: 'SPY', side: 'buy', qty: '1', type: 'market' });
    await again.waitFor((l) => l.event === 'entry_during_cooldown' && l.order_id === during.id, 10_000);
    await eventually(async () => live(await stopsOf(s, during.id))[0], 15_000);
    again.proc.kill('SIGTERM');
    await again.exited;
  }, 60_000);
});
