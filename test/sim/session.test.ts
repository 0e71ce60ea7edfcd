/**
 * The simulated market session: GET /v2/clock in Alpaca's shape, POST /_sim/clock, and what the
 * session changes for equity orders (src/sim/README.md "Alpaca rules: equities, orders, session, stream").
 */
import { readFileSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Simulator } from '../../src/sim/index.js';
import { type Json, http, outsideTrade, sdk, startTestSim, waitFor } from './helpers.js';
import { type RawStream, listeningStream } from './stream-helpers.js';

const fixture = (name: string): Json => JSON.parse(readFileSync(new URL(`../fixtures/alpaca/${name}`, import.meta.url), 'utf8')) as Json;

let sim: Simulator;
let api: ReturnType<typeof sdk>;
let stream: RawStream;

beforeAll(async () => {
  sim = await startTestSim({ seed: 31 });
  api = sdk(sim);
  stream = await listeningStream(sim);
});
afterAll(async () => {
  stream.close();
  await sim.close();
});
afterEach(async () => {
  await setOpen(true);
});

const control = (method: string, path: string, body?: unknown) => http<Json>(sim, method, path, body, { auth: false });
const setOpen = (isOpen: boolean) => control('POST', '/_sim/clock', { is_open: isOpen });
const post = (body: Json) => http<Json>(sim, 'POST', '/v2/orders', body);
const getOrder = async (id: string) => (await http<Json>(sim, 'GET', `/v2/orders/${id}`)).body;
const price = (symbol: string, p: string) => control('POST', '/_sim/price', { symbol, price: p });

const NY_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?-0[45]:00$/;

describe('GET /v2/clock (clock.json, clock-closed.json)', () => {
  it('is open by default, in the fixture shape, readable by the SDK', async () => {
    const r = await http<Json>(sim, 'GET', '/v2/clock');
    expect(r.status).toBe(200);
    expect(Object.keys(r.body)).toEqual(Object.keys(fixture('clock.json')));
    expect(r.body.is_open).toBe(true);
    for (const k of ['timestamp', 'next_open', 'next_close']) expect(r.body[k]).toMatch(NY_TIME);
    expect(r.body.next_close as string).toMatch(/T16:00:00-0[45]:00$/);
    expect(r.body.next_open as string).toMatch(/T09:30:00-0[45]:00$/);
    expect(Date.parse(r.body.next_open as string)).toBeGreaterThan(Date.parse(r.body.next_close as string));
    const viaSdk = await api.clock.legacyClock();
    expect(viaSdk.isOpen).toBe(true);
    expect((await control('GET', '/_sim/clock')).body).toMatchObject({ is_open: true });
  });

  it('closes and reopens with POST /_sim/clock; closed, next_open is the coming 09:30 and next_close 16:00 that day', async () => {
    const closed = await setOpen(false);
    expect(closed.status).toBe(200);
    expect(closed.body).toMatchObject({ is_open: false, expired_order_ids: [] });
    const r = (await http<Json>(sim, 'GET', '/v2/clock')).body;
    expect(Object.keys(r)).toEqual(Object.keys(fixture('clock-closed.json')));
    expect(r.is_open).toBe(false);
    const open = r.next_open as string;
    const close = r.next_close as string;
    expect(open).toMatch(/T09:30:00-0[45]:00$/);
    expect(close.slice(0, 10)).toBe(open.slice(0, 10));
    expect(close).toMatch(/T16:00:00-0[45]:00$/);
    expect(Date.parse(open)).toBeGreaterThan(Date.parse(r.timestamp as string));
    expect([0, 6]).not.toContain(new Date(`${open.slice(0, 10)}T12:00:00Z`).getUTCDay());
    // Fixed times, and validation.
    const fixed = await control('POST', '/_sim/clock', { next_open: '2022-05-17T09:30:00-04:00', next_close: '2022-05-17T16:00:00-04:00' });
    expect(fixed.body).toMatchObject({ is_open: false, next_open: '2022-05-17T09:30:00-04:00', next_close: '2022-05-17T16:00:00-04:00' });
    await control('POST', '/_sim/clock', { next_open: null, next_close: null });
    expect((await control('POST', '/_sim/clock', { is_open: 'no' })).status).toBe(422);
    expect((await control('POST', '/_sim/clock', { opens: true })).status).toBe(422);
    expect((await setOpen(true)).body).toMatchObject({ is_open: true });
  });
});

describe('while the session is closed', () => {
  it('equity stops and trailing stops do not trigger; crypto trades on; they trigger at the open', async () => {
    await outsideTrade(sim, { symbol: 'AAPL', side: 'buy', qty: '5' });
    await outsideTrade(sim, { symbol: 'ETH/USD', side: 'buy', qty: '1' });
    const trailing = await post({ symbol: 'AAPL', qty: '3', side: 'sell', type: 'trailing_stop', trail_price: '5', time_in_force: 'gtc' });
    const stop = await post({ symbol: 'AAPL', qty: '2', side: 'sell', type: 'stop', stop_price: '180', time_in_force: 'gtc' });
    const crypto = await post({ symbol: 'ETH/USD', qty: '0.5', side: 'sell', type: 'stop_limit', stop_price: '3100', limit_price: '3000', time_in_force: 'gtc' });
    await setOpen(false);
    await price('AAPL', '170');
    await price('ETH/USD', '3050');
    expect((await getOrder(trailing.body.id as string)).status).toBe('new');
    expect((await getOrder(stop.body.id as string)).status).toBe('new');
    expect((await getOrder(crypto.body.id as string)).status).toBe('filled');
    await setOpen(true);
    expect(await getOrder(trailing.body.id as string)).toMatchObject({ status: 'filled', filled_avg_price: '170' });
    expect(await getOrder(stop.body.id as string)).toMatchObject({ status: 'filled', filled_avg_price: '170' });
    await price('AAPL', '190');
  });

  it('at the close every open equity day order expires (event expired); gtc and crypto orders stay', async () => {
    const day = await post({ symbol: 'MSFT', qty: '1', side: 'buy', type: 'limit', limit_price: '100', time_in_force: 'day' });
    const gtc = await post({ symbol: 'MSFT', qty: '1', side: 'buy', type: 'limit', limit_price: '100', time_in_force: 'gtc' });
    const crypto = await post({ symbol: 'BTC/USD', qty: '0.001', side: 'buy', type: 'limit', limit_price: '1000', time_in_force: 'gtc' });
    const dayId = day.body.id as string;
    const closed = await setOpen(false);
    expect(closed.body.expired_order_ids).toEqual([dayId]);
    await waitFor(() => stream.eventsFor(dayId).includes('expired'), 3000, 'expired');
    expect(stream.eventsFor(dayId)).toEqual(['new', 'expired']);
    const got = await getOrder(dayId);
    expect(got).toMatchObject({ status: 'expired' });
    expect(got.expired_at).toEqual(expect.any(String));
    expect((await getOrder(gtc.body.id as string)).status).toBe('new');
    expect((await getOrder(crypto.body.id as string)).status).toBe('new');
    await setOpen(true);
    await http(sim, 'DELETE', '/v2/orders');
  });

  it('a day order submitted while closed is accepted, waits, cannot be replaced yet, and goes new + fills at the open', async () => {
    await setOpen(false);
    const r = await post({ symbol: 'TSLA', qty: '2', side: 'buy', type: 'market', time_in_force: 'day' });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ status: 'accepted', filled_qty: '0' });
    const id = r.body.id as string;
    expect((await getOrder(id)).status).toBe('accepted');
    expect((await http<Json[]>(sim, 'GET', '/v2/orders?status=open')).body.map((o) => o.id)).toContain(id);
    const p = await http<Json>(sim, 'PATCH', `/v2/orders/${id}`, { qty: '3' });
    expect([p.status, p.body]).toEqual([422, { code: 42210000, message: "unable to replace order, order isn't sent to exchange yet" }]);
    expect(stream.eventsFor(id)).toEqual([]);
    await setOpen(true);
    await waitFor(() => stream.eventsFor(id).length >= 2, 3000, 'new + fill');
    expect(stream.eventsFor(id)).toEqual(['new', 'fill']);
    expect(await getOrder(id)).toMatchObject({ status: 'filled', filled_qty: '2' });
  });
});

describe('done_for_day (docs "Orders": no more fills until the next trading day)', () => {
  it('a trailing stop reported done_for_day is not filled, by /_sim/fill or a price move, until the session reopens', async () => {
    await outsideTrade(sim, { symbol: 'SPY', side: 'buy', qty: '4' });
    const stop = await post({ symbol: 'SPY', qty: '4', side: 'sell', type: 'trailing_stop', trail_price: '10', time_in_force: 'gtc' });
    const id = stop.body.id as string;
    expect((await control('POST', '/_sim/order-event', { order_id: id, event: 'done_for_day' })).body).toMatchObject({ status: 'done_for_day' });
    const fill = await control('POST', '/_sim/fill', { order_id: id });
    expect([fill.status, fill.body]).toEqual([
      422,
      { code: 42210000, message: 'order is done_for_day: no fill before the next session opens (POST /_sim/clock)' },
    ]);
    await price('SPY', '500'); // below the 510 stop
    expect((await getOrder(id)).status).toBe('done_for_day');
    await setOpen(false);
    expect((await getOrder(id)).status).toBe('done_for_day'); // gtc: not expired
    await setOpen(true);
    expect(await getOrder(id)).toMatchObject({ status: 'filled', filled_avg_price: '500' });
    await waitFor(() => stream.eventsFor(id).includes('fill'), 3000, 'fill');
    expect(stream.eventsFor(id)).toEqual(['new', 'done_for_day', 'fill']);
  });

  it('stopped stays fillable at once', async () => {
    const o = await outsideTrade(sim, { symbol: 'F', side: 'buy', qty: '3', type: 'limit', limit_price: '50', time_in_force: 'gtc', fill: 'none' });
    await control('POST', '/_sim/order-event', { order_id: o.id, event: 'stopped' });
    expect((await control('POST', '/_sim/fill', { order_id: o.id })).body).toMatchObject({ status: 'filled' });
  });
});
