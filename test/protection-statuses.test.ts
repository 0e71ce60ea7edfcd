import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { eventually, getJson } from './support/bot-process.js';
import { live, OUTSIDE_CLOSE, posted, passes, protectionKit } from './support/protection-kit.js';
import { simPost } from './support/sim-traffic.js';

const { dir, sim, bot, stopsOf, protectedLong, byRoute } = protectionKit('prot-status');

describe('statuses that are not final (done_for_day, stopped)', () => {
  it.each(['done_for_day', 'stopped'])('an entry reported %s keeps working: the next fill is recorded once, no drift, one stop', async (event) => {
    const s = await sim(event === 'stopped' ? 71 : 72);
    const b = await bot(s, join(dir, `nonfinal-${event}.db`), { CT_POLL_MS: '500' });
    const entry = await simPost(s, '/_sim/trade', { symbol: 'AAPL', side: 'buy', qty: '10', type: 'limit', limit_price: '500', time_in_force: 'gtc', fill: 'partial', fill_qty: '4' });
    await eventually(async () => live(await stopsOf(s, entry.id)).find((o) => o.qty === '4'), 15_000);
    expect((await simPost(s, '/_sim/order-event', { order_id: entry.id, event })).status).toBe(event);
    // Seen on the stream, and by a reconcile that lists it among the open orders.
    const seen = b.lines.length;
    await b.waitFor((l) => l.event === 'reconcile_done' && b.lines.indexOf(l) > seen, 10_000);
    const url = await b.apiUrl();
    expect((await getJson(`${url}/orders/${entry.id}`)).body.state).toBe('partiallyFilled');

    // done_for_day: no fill before the next session (the entry is gtc, so it lives through the close).
    if (event === 'done_for_day') {
      await simPost(s, '/_sim/clock', { is_open: false });
      await simPost(s, '/_sim/clock', { is_open: true });
    }
    await simPost(s, '/_sim/fill', { order_id: entry.id, qty: '6' });
    const stop = await eventually(async () => {
      const open = live(await stopsOf(s, entry.id));
      return open.length === 1 && open[0].qty === '10' ? open[0] : null;
    }, 15_000);
    await eventually(async () => (await getJson(`${url}/orders/${entry.id}`)).body.state === 'protected');
    const fills = (await getJson(`${url}/fills?limit=100`)).body.fills.filter((f: any) => f.order_id === entry.id);
    expect(fills.map((f: any) => [f.cum_qty, f.qty]).sort()).toEqual([
      ['10', '6'],
      ['4', '4'],
    ]);
    expect(b.lines.filter((l) => l.event === 'ledger_drift')).toEqual([]);
    // One stop: placed once by POST, resized by replace.
    const stops = await stopsOf(s, entry.id);
    expect(posted(stops)).toHaveLength(1);
    expect((await byRoute(s))['POST /v2/orders']).toBe(1);
    expect(stop.client_order_id).toBe(`ct-stop-${entry.id}-v1`);
    b.proc.kill('SIGTERM');
    await b.exited;
  }, 60_000);

  it('a stop reported done_for_day is still the stop: no second one, across a restart', async () => {
    const s = await sim(73);
    const db = join(dir, 'stop-dfd.db');
    const b = await bot(s, db, { CT_POLL_MS: '500' });
    const entry = await protectedLong(s, '5');
    const stop = live(await stopsOf(s, entry.id))[0];
    await simPost(s, '/_sim/order-event', { order_id: stop.id, event: 'done_for_day' });
    await passes(b, 3);
    b.proc.kill('SIGTERM');
    await b.exited;
    const again = await bot(s, db, { CT_POLL_MS: '500' });
    await passes(again, 3);
    expect((await stopsOf(s, entry.id)).map((o) => [o.id, o.status])).toEqual([[stop.id, 'done_for_day']]);
    expect((await byRoute(s))['POST /v2/orders']).toBe(1);
    expect([...b.lines, ...again.lines].filter((l) => l.event === 'stop_lost' || l.event === 'ledger_drift')).toEqual([]);
    again.proc.kill('SIGTERM');
    await again.exited;
  }, 60_000);
});

describe('the stop worker reads the position after the book has the fills', () => {
  it('an entry filled 4 + 6 while the bot was down gets one stop POST for 10, no resize', async () => {
    const s = await sim(74);
    const db = join(dir, 'down-fills.db');
    const first = await bot(s, db);
    first.proc.kill('SIGTERM');
    await first.exited;
    const entry = await simPost(s, '/_sim/trade', { symbol: 'AAPL', side: 'buy', qty: '10', type: 'market', fill: 'partial', fill_qty: '4' });
    await simPost(s, '/_sim/fill', { order_id: entry.id, qty: '6' });
    const b = await bot(s, db, { CT_POLL_MS: '500' });
    const stop = await eventually(async () => live(await stopsOf(s, entry.id))[0], 15_000);
    await passes(b, 3);
    expect(stop).toMatchObject({ qty: '10', client_order_id: `ct-stop-${entry.id}`, type: 'trailing_stop' });
    expect(await stopsOf(s, entry.id)).toHaveLength(1);
    const routes = await byRoute(s);
    expect(routes['POST /v2/orders']).toBe(1);
    expect(routes['PATCH /v2/orders/{order_id}'] ?? 0).toBe(0);
    expect(b.lines.filter((l) => l.event === 'stop_not_needed')).toEqual([]);
    b.proc.kill('SIGTERM');
    await b.exited;
  }, 60_000);
});

describe('crypto positions are keyed without the slash', () => {
  it('a crypto entry on an idle bot gets its stop-limit; no position lookup by BTC/USD', async () => {
    const s = await sim(75);
    const b = await bot(s, join(dir, 'crypto-idle.db'));
    const entry = await simPost(s, '/_sim/trade', { symbol: 'BTC/USD', side: 'buy', qty: '0.5', type: 'market' });
    const stop = await eventually(async () => live(await stopsOf(s, entry.id))[0], 15_000);
    expect(stop).toMatchObject({ type: 'stop_limit', side: 'sell', qty: '0.49875', time_in_force: 'gtc', symbol: 'BTC/USD' });
    expect((await byRoute(s))['GET /v2/positions/{base}/{quote}']).toBeUndefined();
    b.proc.kill('SIGTERM');
    await b.exited;
  }, 40_000);

  it('looks the position up as BTCUSD when another sell holds part of it, and protects the rest', async () => {
    const s = await sim(76);
    const db = join(dir, 'crypto-held.db');
    const first = await bot(s, db);
    first.proc.kill('SIGTERM');
    await first.exited;
    const entry = await simPost(s, '/_sim/trade', { symbol: 'BTC/USD', side: 'buy', qty: '0.5', type: 'market' });
    // A take-profit sell placed by hand holds 0.2 of it: a stop for all 0.5 is refused (403).
    await simPost(s, '/_sim/trade', { symbol: 'BTC/USD', side: 'sell', qty: '0.2', type: 'limit', limit_price: '99000', fill: 'none' });
    const b = await bot(s, db);
    const stop = await eventually(async () => live(await stopsOf(s, entry.id))[0], 15_000);
    // 0.5 bought, 0.00125 taken by the fee, 0.2 held by the take-profit.
    expect(stop).toMatchObject({ type: 'stop_limit', side: 'sell', qty: '0.29875' });
    const routes = await byRoute(s);
    expect(routes['GET /v2/positions/{symbol_or_asset_id}']).toBeGreaterThanOrEqual(1);
    expect(routes['GET /v2/positions/{base}/{quote}']).toBeUndefined();
    await b.waitFor((l) => l.event === 'stop_partial' && l.entry_order_id === entry.id);
    b.proc.kill('SIGTERM');
    await b.exited;
  }, 40_000);
});

describe('a position reduced by hand', () => {
  it('cancels the stop left with nothing to cover and says the position is still held, then closed when it is', async () => {
    const s = await sim(62);
    const b = await bot(s, join(dir, 'manual-reduce.db'));
    const first = await simPost(s, '/_sim/trade', { symbol: 'TSLA', side: 'buy', qty: '2', type: 'market' });
    await eventually(async () => live(await stopsOf(s, first.id))[0], 15_000);
    const second = await simPost(s, '/_sim/trade', { symbol: 'TSLA', side: 'buy', qty: '2', type: 'market' });
    await eventually(async () => live(await stopsOf(s, second.id))[0], 15_000);
    // The first shares bought are the first sold: the first entry's stop has nothing left to cover.
    await simPost(s, '/_sim/trade', { symbol: 'TSLA', side: 'sell', qty: '2', type: 'market', ...OUTSIDE_CLOSE });
    const reduced = await b.waitFor((l) => l.event === 'stop_canceled' && l.entry_order_id === first.id, 15_000);
    expect(reduced).toMatchObject({ position: '2', msg: 'protective stop for TSLA canceled; 2 TSLA still held, covered by its other stops' });
    await simPost(s, '/_sim/trade', { symbol: 'TSLA', side: 'sell', qty: '2', type: 'market', ...OUTSIDE_CLOSE });
    const closed = await b.waitFor((l) => l.event === 'stop_canceled' && l.entry_order_id === second.id, 15_000);
    expect(closed).toMatchObject({ position: '0', msg: 'position closed: protective stop for TSLA canceled' });
    b.proc.kill('SIGTERM');
    await b.exited;
  }, 40_000);
});

describe('an entry protected, then closed from outside', () => {
  it('ends exited once its stop is canceled, and is not rehydrated after a restart', async () => {
    const s = await sim(77);
    const db = join(dir, 'closed-outside.db');
    const b = await bot(s, db);
    const entry = await protectedLong(s, '10');
    const url = await b.apiUrl();
    await eventually(async () => (await getJson(`${url}/orders/${entry.id}`)).body.state === 'protected');
    await simPost(s, '/_sim/trade', { symbol: 'AAPL', side: 'sell', qty: '10', type: 'market', ...OUTSIDE_CLOSE });
    await b.waitFor((l) => l.event === 'stop_canceled' && l.entry_order_id === entry.id, 15_000);
    await b.waitFor((l) => l.event === 'cooldown_started' && l.symbol === 'AAPL');
    await eventually(async () => (await getJson(`${url}/orders/${entry.id}`)).body.state === 'exited');
    const protectedNow = (await getJson(`${url}/orders?state=protected`)).body.orders.map((o: any) => o.id);
    expect(protectedNow).not.toContain(entry.id);
    b.proc.kill('SIGTERM');
    await b.exited;
    const d = new BetterSqlite3(db, { readonly: true });
    expect(d.prepare('select state, terminal from orders where order_id = ?').get(entry.id)).toEqual({ state: 'exited', terminal: 1 });
    d.close();

    // At debug: each rehydrated actor's line (info has only their count).
    const again = await bot(s, db, { CT_LOG_LEVEL: 'debug' });
    const againUrl = await again.apiUrl();
    expect(again.lines.some((l) => l.event === 'actors_rehydrated')).toBe(true);
    expect(again.lines.filter((l) => l.event === 'actor_rehydrated' && l.order_id === entry.id)).toEqual([]);
    expect((await getJson(`${againUrl}/orders?state=protected`)).body.orders).toEqual([]);
    expect((await stopsOf(s, entry.id)).map((o) => o.status)).toEqual(['canceled']);
    again.proc.kill('SIGTERM');
    await again.exited;
  }, 60_000);
});

describe('a stop whose order ended while no process knew the order', () => {
  it('is looked up and placed again (a fraction stop placed just before a crash, expired at the close meanwhile)', async () => {
    const s = await sim(161);
    const dbPath = join(dir, 'unseen-stop.db');
    const first = await bot(s, dbPath);
    const entry = await simPost(s, '/_sim/trade', { symbol: 'AAPL', side: 'buy', qty: '2.5', type: 'market' });
    const fraction = await eventually(async () => live(await stopsOf(s, entry.id)).find((o) => String(o.client_order_id).endsWith('-f')), 15_000);
    first.proc.kill('SIGKILL');
    await first.exited;
    // As if the crash came right after the POST: no order actor ever knew the fraction stop's order.
    const raw = new BetterSqlite3(dbPath);
    raw.prepare('delete from orders where order_id = ?').run(fraction.id);
    raw.prepare('delete from order_history where order_id = ?').run(fraction.id);
    raw.close();
    // The session closes while nobody watches (the day stop expires), then opens again.
    await simPost(s, '/_sim/clock', { is_open: false });
    await simPost(s, '/_sim/clock', { is_open: true });
    expect((await stopsOf(s, entry.id)).find((o) => o.id === fraction.id)?.status).toBe('expired');

    const again = await bot(s, dbPath);
    // The next start finds it ended, and the 0.5 is covered again by a new fraction stop.
    const replaced = await eventually(async () => live(await stopsOf(s, entry.id)).find((o) => /-f(-v\d+)?$/.test(String(o.client_order_id)) && o.id !== fraction.id), 20_000);
    expect(replaced.qty).toBe('0.5');
    again.proc.kill('SIGTERM');
    await again.exited;
  }, 60_000);
});
