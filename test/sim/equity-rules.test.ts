/**
 * Alpaca's equity and order-lifecycle rules (src/sim/README.md
 * "Alpaca rules: equities, orders, session, stream"), driven over HTTP and the stream.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Simulator } from '../../src/sim/index.js';
import { type Json, apiError, http, outsideTrade, sdk, startTestSim, waitFor } from './helpers.js';
import { type RawStream, listeningStream } from './stream-helpers.js';

let sim: Simulator;
let api: ReturnType<typeof sdk>;
let stream: RawStream;

beforeAll(async () => {
  sim = await startTestSim({ seed: 21 });
  api = sdk(sim);
  stream = await listeningStream(sim);
});
afterAll(async () => {
  stream.close();
  await sim.close();
});
afterEach(async () => {
  await control('DELETE', '/_sim/faults');
});

const control = (method: string, path: string, body?: unknown) => http<Json>(sim, method, path, body, { auth: false });
const post = (body: Json) => http<Json>(sim, 'POST', '/v2/orders', body);
const patch = (id: string, body: Json) => http<Json>(sim, 'PATCH', `/v2/orders/${id}`, body);
const getOrder = async (id: string) => (await http<Json>(sim, 'GET', `/v2/orders/${id}`)).body;
/** The raw response text, to check key order as well as values. */
const exact = (body: unknown) => JSON.stringify(body);

describe('fractional equity quantities (docs "Fractional trading"; Petersoj/alpaca-java#140)', () => {
  it('refuses a fractional trailing stop, whatever its time in force, but keeps whole-share trailing stops', async () => {
    await outsideTrade(sim, { symbol: 'AAPL', side: 'buy', qty: '3' });
    for (const tif of ['gtc', 'day']) {
      const r = await post({ symbol: 'AAPL', qty: '0.5', side: 'sell', type: 'trailing_stop', trail_percent: '2', time_in_force: tif });
      expect([r.status, r.body]).toEqual([
        422,
        { code: 42210000, message: 'fractional orders must be market, limit, stop, or stop_limit orders' },
      ]);
    }
    const whole = await post({ symbol: 'AAPL', qty: '2', side: 'sell', type: 'trailing_stop', trail_percent: '2', time_in_force: 'gtc' });
    expect(whole.status).toBe(200);
    expect(whole.body).toMatchObject({ status: 'new', qty: '2', type: 'trailing_stop' });
    await http(sim, 'DELETE', `/v2/orders/${whole.body.id as string}`);
  });

  it('refuses fractional orders that are not DAY orders (qty or notional)', async () => {
    const dayOnly = { code: 42210000, message: 'fractional orders must be DAY orders' };
    const a = await post({ symbol: 'MSFT', qty: '1.5', side: 'buy', type: 'limit', limit_price: '100', time_in_force: 'gtc' });
    expect([a.status, a.body]).toEqual([422, dayOnly]);
    const b = await post({ symbol: 'MSFT', notional: '50', side: 'buy', type: 'market', time_in_force: 'gtc' });
    expect([b.status, b.body]).toEqual([422, dayOnly]);
    // Through the SDK: the same refusal as an ApiError.
    const err = await apiError(api.orders.limit({ symbol: 'MSFT', qty: '0.25', side: 'buy', limitPrice: '100', timeInForce: 'gtc' }));
    expect([err.status, err.code, err.message]).toEqual([422, 42210000, 'fractional orders must be DAY orders']);
    const ok = await post({ symbol: 'MSFT', qty: '1.5', side: 'buy', type: 'limit', limit_price: '100', time_in_force: 'day' });
    expect(ok.body).toMatchObject({ status: 'new', qty: '1.5', time_in_force: 'day' });
    await http(sim, 'DELETE', `/v2/orders/${ok.body.id as string}`);
  });

  it('never sells short a fractional quantity', async () => {
    const noShort = { code: 40310000, message: 'fractional orders are not allowed to short' };
    const flat = await post({ symbol: 'TSLA', qty: '0.5', side: 'sell', type: 'market', time_in_force: 'day' });
    expect([flat.status, flat.body]).toEqual([403, noShort]);
    await post({ symbol: 'TSLA', qty: '1.5', side: 'buy', type: 'market', time_in_force: 'day' });
    const beyond = await post({ symbol: 'TSLA', qty: '2.5', side: 'sell', type: 'market', time_in_force: 'day' });
    expect([beyond.status, beyond.body]).toEqual([403, noShort]);
    const all = await post({ symbol: 'TSLA', qty: '1.5', side: 'sell', type: 'market', time_in_force: 'day' });
    expect(all.status).toBe(200);
    expect((await getOrder(all.body.id as string)).status).toBe('filled');
  });

  it('PATCH: qty must be a whole number, a fractional order keeps its qty and stays a DAY order', async () => {
    const frac = await post({ symbol: 'SPY', qty: '1.5', side: 'buy', type: 'limit', limit_price: '100', time_in_force: 'day' });
    const id = frac.body.id as string;
    const qty = await patch(id, { qty: '2' });
    expect([qty.status, qty.body]).toEqual([422, { code: 42210000, message: 'qty of a fractional order cannot be replaced' }]);
    const tif = await patch(id, { time_in_force: 'gtc' });
    expect([tif.status, tif.body]).toEqual([422, { code: 42210000, message: 'fractional orders must be DAY orders' }]);
    const price = await patch(id, { limit_price: '101' });
    expect(price.body).toMatchObject({ qty: '1.5', limit_price: '101', replaces: id });

    const whole = await post({ symbol: 'SPY', qty: '2', side: 'buy', type: 'limit', limit_price: '100', time_in_force: 'gtc' });
    const r = await patch(whole.body.id as string, { qty: '2.5' });
    // The py-legacy SDK's test body for this PATCH (fixtures error-422-qty-must-be-integer.json).
    expect([r.status, r.body]).toEqual([422, { code: 40010001, message: 'qty must be integer' }]);
    await http(sim, 'DELETE', '/v2/orders');
  });
});

describe('held_for_orders (alpaca-trade-api-python#129, alpaca-trade-api-csharp#247, #386)', () => {
  it('refuses a further sell of shares another open sell holds, with the counts, and shows qty_available', async () => {
    await outsideTrade(sim, { symbol: 'QQQ', side: 'buy', qty: '10' });
    const takeProfit = await post({ symbol: 'QQQ', qty: '10', side: 'sell', type: 'limit', limit_price: '500', time_in_force: 'gtc' });
    expect(takeProfit.status).toBe(200);
    const stop = await post({ symbol: 'QQQ', qty: '10', side: 'sell', type: 'trailing_stop', trail_percent: '2', time_in_force: 'gtc' });
    expect(stop.status).toBe(403);
    expect(exact(stop.body)).toBe(
      exact({
        available: '0',
        code: 40310000,
        existing_qty: '10',
        held_for_orders: '10',
        message: 'insufficient qty available for order (requested: 10, available: 0)',
      }),
    );
    const sdkErr = await apiError(api.orders.market({ symbol: 'QQQ', qty: 1, side: 'sell' }));
    expect([sdkErr.status, sdkErr.code, sdkErr.message]).toEqual([403, 40310000, 'insufficient qty available for order (requested: 1, available: 0)']);

    const pos = await http<Json>(sim, 'GET', '/v2/positions/QQQ');
    expect(pos.body).toMatchObject({ qty: '10', qty_available: '0' });
    const list = await http<Json[]>(sim, 'GET', '/v2/positions');
    expect(list.body.find((p) => p.symbol === 'QQQ')).toMatchObject({ qty: '10', qty_available: '0' });
    expect((await api.positions.getOpenPosition({ symbolOrAssetId: 'QQQ' })).qtyAvailable).toBe('0');

    // Free 6 of them: the stop for 6 goes through, 4 stay held.
    await http(sim, 'DELETE', `/v2/orders/${takeProfit.body.id as string}`);
    const tp4 = await post({ symbol: 'QQQ', qty: '4', side: 'sell', type: 'limit', limit_price: '500', time_in_force: 'gtc' });
    const stop6 = await post({ symbol: 'QQQ', qty: '6', side: 'sell', type: 'trailing_stop', trail_percent: '2', time_in_force: 'gtc' });
    expect(stop6.status).toBe(200);
    expect((await http<Json>(sim, 'GET', '/v2/positions/QQQ')).body).toMatchObject({ qty_available: '0' });

    // A PATCH that raises the stop beyond what the take-profit leaves (Alpaca-API#282).
    const raise = await patch(stop6.body.id as string, { qty: '7' });
    expect(raise.status).toBe(403);
    expect(exact(raise.body)).toBe(
      exact({
        available: '6',
        code: 40310000,
        existing_qty: '10',
        held_for_orders: '4',
        message: 'insufficient qty available for order (requested: 7, available: 6)',
      }),
    );
    expect((await patch(stop6.body.id as string, { trail: '3' })).status).toBe(200);
    await http(sim, 'DELETE', `/v2/orders/${tp4.body.id as string}`);
    await http(sim, 'DELETE', '/v2/orders');

    // Nothing held: still no flipping long to short in one order (Alpaca-API#90).
    const over = await post({ symbol: 'QQQ', qty: '15', side: 'sell', type: 'market', time_in_force: 'day' });
    expect(over.status).toBe(403);
    expect(over.body).toMatchObject({ available: '10', held_for_orders: '0', message: 'insufficient qty available for order (requested: 15, available: 10)' });
  });

  it('holds a short position the same way: buys to cover, and no flip to long in one order', async () => {
    const short = await post({ symbol: 'IWM', qty: '5', side: 'sell', type: 'market', time_in_force: 'day' });
    expect((await getOrder(short.body.id as string)).status).toBe('filled');
    expect((await http<Json>(sim, 'GET', '/v2/positions/IWM')).body).toMatchObject({ qty: '-5', qty_available: '-5', side: 'short' });
    const cover = await post({ symbol: 'IWM', qty: '5', side: 'buy', type: 'stop', stop_price: '300', time_in_force: 'gtc' });
    expect(cover.status).toBe(200);
    expect((await http<Json>(sim, 'GET', '/v2/positions/IWM')).body).toMatchObject({ qty_available: '0' });
    const more = await post({ symbol: 'IWM', qty: '1', side: 'buy', type: 'market', time_in_force: 'day' });
    expect([more.status, more.body]).toEqual([
      403,
      { available: '0', code: 40310000, existing_qty: '5', held_for_orders: '5', message: 'insufficient qty available for order (requested: 1, available: 0)' },
    ]);
    await http(sim, 'DELETE', `/v2/orders/${cover.body.id as string}`);
    const flip = await post({ symbol: 'IWM', qty: '8', side: 'buy', type: 'market', time_in_force: 'day' });
    expect(flip.body).toMatchObject({ available: '5', message: 'insufficient qty available for order (requested: 8, available: 5)' });
    // The sim's escape hatch for scenario tests (not an Alpaca behaviour): /_sim/trade ignore_held.
    await outsideTrade(sim, { symbol: 'IWM', side: 'buy', qty: '8', ignore_held: true });
    expect((await http<Json>(sim, 'GET', '/v2/positions/IWM')).body).toMatchObject({ qty: '3', side: 'long' });
  });
});

describe('pattern day trader protection (docs "User protection")', () => {
  it('is off by default; on, it refuses orders (all, or the listed symbols) with 403 40310100', async () => {
    expect((await control('GET', '/_sim/faults')).body).toMatchObject({ pdt: false });
    const pdt = { code: 40310100, message: 'trade denied due to pattern day trading protection' };
    await control('POST', '/_sim/faults', { pdt: true });
    const before = sim.engine.orders.length;
    const r = await post({ symbol: 'IWM', qty: '1', side: 'buy', type: 'market', time_in_force: 'day' });
    expect([r.status, r.body]).toEqual([403, pdt]);
    expect(sim.engine.orders.length).toBe(before);
    const err = await apiError(api.orders.market({ symbol: 'IWM', qty: 1, side: 'buy' }));
    expect([err.status, err.code, err.message]).toEqual([403, 40310100, pdt.message]);

    expect((await control('POST', '/_sim/faults', { pdt: ['nvda'] })).body).toMatchObject({ pdt: ['NVDA'] });
    expect((await post({ symbol: 'NVDA', qty: '1', side: 'buy', type: 'market', time_in_force: 'day' })).status).toBe(403);
    expect((await post({ symbol: 'IWM', qty: '1', side: 'buy', type: 'market', time_in_force: 'day' })).status).toBe(200);
    expect((await control('POST', '/_sim/faults', { pdt: 'yes' })).status).toBe(422);
    await control('DELETE', '/_sim/faults');
    expect((await post({ symbol: 'NVDA', qty: '1', side: 'buy', type: 'market', time_in_force: 'day' })).status).toBe(200);
  });
});

describe('accepted, then rejected (docs "Orders")', () => {
  it('answers 200 new, then the order is rejected: status rejected, stream event rejected', async () => {
    await control('POST', '/_sim/faults', { reject_after_accept_symbols: ['AMZN'] });
    const r = await post({ symbol: 'AMZN', qty: '2', side: 'buy', type: 'market', time_in_force: 'day' });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ status: 'new', filled_qty: '0' });
    const id = r.body.id as string;
    await waitFor(() => stream.eventsFor(id).includes('rejected'), 3000, 'rejected event');
    expect(stream.eventsFor(id)).toEqual(['new', 'rejected']);
    const got = await getOrder(id);
    expect(got).toMatchObject({ status: 'rejected', filled_qty: '0' });
    expect(got.failed_at).toEqual(expect.any(String));
    // Other symbols are untouched; the rate works the same way (1 = every order).
    expect((await getOrder((await post({ symbol: 'F', qty: '1', side: 'buy', type: 'market', time_in_force: 'day' })).body.id as string)).status).toBe('filled');
    await control('POST', '/_sim/faults', { reject_after_accept_symbols: [], reject_after_accept_rate: 1 });
    const any = await post({ symbol: 'F', qty: '1', side: 'buy', type: 'market', time_in_force: 'day' });
    await waitFor(() => stream.eventsFor(any.body.id as string).includes('rejected'), 3000, 'rejected event');
    expect((await control('POST', '/_sim/faults', { reject_after_accept_rate: 2 })).status).toBe(422);
  });

  it('keeps POST /_sim/reject', async () => {
    const o = await post({ symbol: 'F', qty: '1', side: 'buy', type: 'limit', limit_price: '1', time_in_force: 'gtc' });
    expect((await control('POST', '/_sim/reject', { order_id: o.body.id })).body).toMatchObject({ status: 'rejected' });
  });
});

describe('replacing orders (spec PATCH /v2/orders/{order_id}; docs "Orders")', () => {
  it('goes through pending_replace, then replaced (and new for the replacement)', async () => {
    const o = await post({ symbol: 'GOOGL', qty: '3', side: 'buy', type: 'limit', limit_price: '100', time_in_force: 'gtc' });
    const next = await patch(o.body.id as string, { limit_price: '101' });
    expect(next.status).toBe(200);
    const nextId = next.body.id as string;
    await waitFor(() => stream.eventsFor(nextId).length >= 1, 3000, 'replacement new');
    expect(stream.eventsFor(o.body.id as string)).toEqual(['new', 'pending_replace', 'replaced']);
    expect(stream.eventsFor(nextId)).toEqual(['new']);
    await http(sim, 'DELETE', `/v2/orders/${nextId}`);
  });

  it.each(['pending_new', 'pending_cancel', 'pending_replace'] as const)('refuses a PATCH while the order is %s', async (status) => {
    const o = await post({ symbol: 'AMD', qty: '1', side: 'buy', type: 'limit', limit_price: '100', time_in_force: 'gtc' });
    const id = o.body.id as string;
    expect((await control('POST', '/_sim/order-event', { order_id: id, event: status })).body).toMatchObject({ status });
    await waitFor(() => stream.eventsFor(id).includes(status), 3000, status);
    const r = await patch(id, { limit_price: '101' });
    const message = status === 'pending_new' ? "unable to replace order, order isn't sent to exchange yet" : `unable to replace order, order is ${status}`;
    expect([r.status, r.body]).toEqual([422, { code: 42210000, message }]);
    expect((await getOrder(id)).status).toBe(status);
    await http(sim, 'DELETE', `/v2/orders/${id}`);
  });

  it('loses the race with a fill: the original fills, order_replace_rejected, the replacement is rejected', async () => {
    const o = await post({ symbol: 'META', qty: '5', side: 'buy', type: 'limit', limit_price: '400', time_in_force: 'gtc' });
    const id = o.body.id as string;
    expect((await control('POST', '/_sim/replace-race', { order_id: id })).body).toEqual({ order_id: id, replace_race: true });
    const r = await patch(id, { limit_price: '401' });
    // The PATCH itself succeeds: "A success return code from a replaced order does NOT guarantee ...".
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ replaces: id, status: 'new', limit_price: '401' });
    const nextId = r.body.id as string;
    await waitFor(() => stream.eventsFor(nextId).includes('rejected'), 3000, 'replacement rejected');
    expect(stream.eventsFor(id)).toEqual(['new', 'pending_replace', 'fill', 'order_replace_rejected']);
    expect(stream.eventsFor(nextId)).toEqual(['rejected']);
    const rejectedFrame = stream.updates().find((u) => u.event === 'order_replace_rejected')!;
    expect(rejectedFrame.order).toMatchObject({ id, status: 'filled', filled_qty: '5' });
    expect(await getOrder(id)).toMatchObject({ status: 'filled', filled_qty: '5', filled_avg_price: '400', replaced_by: null });
    expect(await getOrder(nextId)).toMatchObject({ status: 'rejected', replaces: id, filled_qty: '0' });

    // The one-shot switch: the next PATCH (of any order) races, the one after does not.
    expect((await control('POST', '/_sim/faults', { replace_race: true })).body).toMatchObject({ replace_race: true });
    const a = await post({ symbol: 'META', qty: '1', side: 'buy', type: 'limit', limit_price: '400', time_in_force: 'gtc' });
    const b = await post({ symbol: 'META', qty: '1', side: 'buy', type: 'limit', limit_price: '400', time_in_force: 'gtc' });
    await patch(a.body.id as string, { limit_price: '401' });
    expect((await getOrder(a.body.id as string)).status).toBe('filled');
    expect((await control('GET', '/_sim/faults')).body).toMatchObject({ replace_race: false });
    await patch(b.body.id as string, { limit_price: '401' });
    expect((await getOrder(b.body.id as string)).status).toBe('replaced');
    await http(sim, 'DELETE', '/v2/orders');
  });

  it('a trailing stop PATCH changes trail and whole-share qty, never trail_price <-> trail_percent', async () => {
    await outsideTrade(sim, { symbol: 'AMD', side: 'buy', qty: '10' });
    const byPrice = await post({ symbol: 'AMD', qty: '4', side: 'sell', type: 'trailing_stop', trail_price: '5', time_in_force: 'gtc' });
    const switched = await patch(byPrice.body.id as string, { trail_percent: '2' });
    expect([switched.status, switched.body]).toEqual([
      422,
      { code: 42210000, message: 'a trailing stop cannot switch between trail_price and trail_percent' },
    ]);
    const trail = await patch(byPrice.body.id as string, { trail: '6', qty: '5' });
    expect(trail.body).toMatchObject({ trail_price: '6', trail_percent: null, qty: '5', stop_price: '154' });
    const same = await patch(trail.body.id as string, { trail_price: '7' });
    expect(same.body).toMatchObject({ trail_price: '7', stop_price: '153' });
    const frac = await patch(same.body.id as string, { qty: '5.5' });
    expect([frac.status, frac.body]).toEqual([422, { code: 40010001, message: 'qty must be integer' }]);
    const pct = await post({ symbol: 'AMD', qty: '1', side: 'sell', type: 'trailing_stop', trail_percent: '2', time_in_force: 'day' });
    expect((await patch(pct.body.id as string, { trail_price: '3' })).status).toBe(422);
    expect((await patch(pct.body.id as string, { trail: '3' })).body).toMatchObject({ trail_percent: '3', trail_price: null });
    await http(sim, 'DELETE', '/v2/orders');
  });
});
