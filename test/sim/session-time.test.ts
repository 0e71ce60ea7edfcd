/**
 * The simulator on a moved clock (POST /_sim/clock {"now"}): GET /v2/clock and /v2/calendar in
 * Alpaca's shape, what each session lets act, day orders ended at the close, and aged GTC orders
 * ended when the clock passes their `expires_at` (src/sim/README.md "Sessions, 24/5 and aged orders").
 * Each case starts its own simulator: the clock moves back only before the first order.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Simulator } from '../../src/sim/index.js';
import { fixture } from '../support/fixtures.js';
import { type Json, http, outsideTrade, sdk, startTestSim, waitFor } from './helpers.js';
import { type RawStream, listeningStream } from './stream-helpers.js';

let sim: Simulator;
let stream: RawStream | null = null;
afterEach(async () => {
  stream?.close();
  stream = null;
  await sim?.close();
});

const control = (method: string, path: string, body?: unknown) => http<Json>(sim, method, path, body, { auth: false });
const moveTo = (now: string) => control('POST', '/_sim/clock', { now });
const post = (body: Json) => http<Json>(sim, 'POST', '/v2/orders', body);
const getOrder = async (id: string) => (await http<Json>(sim, 'GET', `/v2/orders/${id}`)).body;
const price = (symbol: string, p: string) => control('POST', '/_sim/price', { symbol, price: p });

describe('GET /v2/clock and /v2/calendar on a moved clock', () => {
  it('answers the fixtures’ clocks for the fixtures’ instants (open and closed)', async () => {
    sim = await startTestSim({ seed: 81 });
    const open = fixture<Json>('clock.json');
    expect((await moveTo(open.timestamp as string)).body).toMatchObject({ session: 'regular', timed: true, expired_order_ids: [] });
    const c1 = (await http<Json>(sim, 'GET', '/v2/clock')).body;
    expect(Object.keys(c1)).toEqual(Object.keys(open));
    expect({ ...c1, timestamp: null }).toEqual({ ...open, timestamp: null });
    expect((c1.timestamp as string).slice(0, 19)).toBe((open.timestamp as string).slice(0, 19));

    const closed = fixture<Json>('clock-closed.json');
    await moveTo(closed.timestamp as string);
    const c2 = (await http<Json>(sim, 'GET', '/v2/clock')).body;
    expect({ ...c2, timestamp: null }).toEqual({ ...closed, timestamp: null });
    expect((await control('GET', '/_sim/clock')).body).toMatchObject({ is_open: false, session: 'after', timed: true });
    // Read through the SDK (ClockApi, CalendarApi) as the bot does.
    const api = sdk(sim);
    expect((await api.clock.legacyClock()).isOpen).toBe(false);
  });

  it('skips holidays in next_open, and serves the calendar by the dates given (the SDK sends RFC 3339)', async () => {
    sim = await startTestSim({ seed: 82 });
    await moveTo('2025-07-03T14:30:00-04:00'); // early close: after-hours
    const c = (await http<Json>(sim, 'GET', '/v2/clock')).body;
    expect(c).toMatchObject({ is_open: false, next_open: '2025-07-07T09:30:00-04:00', next_close: '2025-07-07T16:00:00-04:00' });
    const cal = await http<Json[]>(sim, 'GET', '/v2/calendar?start=2025-07-02T00:00:00.000Z&end=2025-07-07T00:00:00.000Z');
    expect(cal.body.map((d) => [d.date, d.close])).toEqual([['2025-07-02', '16:00'], ['2025-07-03', '13:00'], ['2025-07-07', '16:00']]);
    const { trading } = await import('@alpacahq/alpaca-trade-api');
    const calendarApi = new trading.CalendarApi(sdk(sim).cfg);
    const days = await calendarApi.legacyCalendar({ start: new Date('2025-01-02T00:00:00Z'), end: new Date('2025-01-02T00:00:00Z') });
    expect(days).toEqual([expect.objectContaining({ open: '09:30', close: '16:00', sessionOpen: '0400', sessionClose: '2000' })]);
    expect((await http(sim, 'GET', '/v2/calendar?start=yesterday')).status).toBe(422);
  });

  it('the clock moves back only before the first order; is_open is refused once it follows a time', async () => {
    sim = await startTestSim({ seed: 83 });
    await moveTo('2025-06-03T10:00:00-04:00');
    expect((await moveTo('2025-06-02T10:00:00-04:00')).status).toBe(200);
    expect((await control('POST', '/_sim/clock', { is_open: false })).body).toEqual({
      code: 42210000,
      message: 'is_open cannot be set once the clock follows a simulated time (move it with now)',
    });
    await post({ symbol: 'AAPL', qty: '1', side: 'buy', type: 'market', time_in_force: 'day' });
    const back = await moveTo('2025-06-02T09:00:00-04:00');
    expect([back.status, back.body.message]).toEqual([422, 'now is before the simulated time: once an order exists the clock only moves forward']);
    expect((await control('POST', '/_sim/clock', { now: 'soon' })).status).toBe(422);
    // Timestamps follow the simulated time.
    const o = (await http<Json[]>(sim, 'GET', '/v2/orders?status=all')).body[0]!;
    expect((o.created_at as string).slice(0, 10)).toBe('2025-06-02');
  });
});

describe('what acts in each session', () => {
  it('pre-market: stops and trailing stops wait, extended-hours limits fill, other orders are queued; at 09:30 the crossed stops fill', async () => {
    sim = await startTestSim({ seed: 84 });
    await moveTo('2025-06-02T11:00:00-04:00'); // Monday, regular: buy the shares
    await outsideTrade(sim, { symbol: 'AAPL', side: 'buy', qty: '10' });
    await price('AAPL', '190');
    await moveTo('2025-06-03T08:00:00-04:00'); // Tuesday, pre-market
    stream = await listeningStream(sim);
    const trailing = await post({ symbol: 'AAPL', qty: '4', side: 'sell', type: 'trailing_stop', trail_percent: '2', time_in_force: 'gtc' });
    const stop = await post({ symbol: 'AAPL', qty: '2', side: 'sell', type: 'stop', stop_price: '185', time_in_force: 'gtc' });
    const ext = await post({ symbol: 'AAPL', qty: '1', side: 'sell', type: 'limit', limit_price: '180', time_in_force: 'gtc', extended_hours: true });
    const plain = await post({ symbol: 'MSFT', qty: '1', side: 'buy', type: 'market', time_in_force: 'day' });
    expect([trailing.body.status, stop.body.status, ext.body.status, plain.body.status]).toEqual(['accepted', 'accepted', 'new', 'accepted']);
    await price('AAPL', '181'); // through both stops and the extended limit
    expect((await getOrder(ext.body.id as string)).status).toBe('filled');
    expect((await getOrder(trailing.body.id as string)).status).toBe('accepted');
    expect((await getOrder(stop.body.id as string)).status).toBe('accepted');
    expect(stream.eventsFor(trailing.body.id as string)).toEqual([]);

    await moveTo('2025-06-03T09:31:00-04:00');
    expect(await getOrder(trailing.body.id as string)).toMatchObject({ status: 'filled', filled_avg_price: '181' });
    expect(await getOrder(stop.body.id as string)).toMatchObject({ status: 'filled', filled_avg_price: '181' });
    expect((await getOrder(plain.body.id as string)).status).toBe('filled');
    await waitFor(() => stream!.eventsFor(trailing.body.id as string).length >= 2, 3000, 'new + fill');
    expect(stream.eventsFor(trailing.body.id as string)).toEqual(['new', 'fill']);
  });

  it('after an early close, a holiday and a weekend nothing acts but crypto; overnight, extended-hours limits do; the trailing stop waits for Monday', async () => {
    sim = await startTestSim({ seed: 85 });
    await moveTo('2025-07-03T11:00:00-04:00'); // Thursday, regular (closes at 13:00)
    await outsideTrade(sim, { symbol: 'SPY', side: 'buy', qty: '10' });
    await outsideTrade(sim, { symbol: 'ETH/USD', side: 'buy', qty: '1' });
    await price('SPY', '500');
    const trailing = await post({ symbol: 'SPY', qty: '5', side: 'sell', type: 'trailing_stop', trail_price: '10', time_in_force: 'gtc' });
    expect(trailing.body.status).toBe('new');
    const session = async () => (await control('GET', '/_sim/clock')).body.session;

    await moveTo('2025-07-03T14:00:00-04:00');
    expect(await session()).toBe('after');
    await price('SPY', '480'); // through the 490 stop
    expect((await getOrder(trailing.body.id as string)).status).toBe('new');
    await moveTo('2025-07-03T17:30:00-04:00'); // the late session ended at 17:00
    expect(await session()).toBe('closed');
    await moveTo('2025-07-03T22:00:00-04:00'); // no overnight session before a holiday
    expect(await session()).toBe('closed');
    const ext = await post({ symbol: 'SPY', qty: '1', side: 'sell', type: 'limit', limit_price: '470', time_in_force: 'gtc', extended_hours: true });
    expect(ext.body.status).toBe('accepted');
    const crypto = await post({ symbol: 'ETH/USD', qty: '0.5', side: 'sell', type: 'stop_limit', stop_price: '3100', limit_price: '3000', time_in_force: 'gtc' });
    await price('ETH/USD', '3050');
    expect((await getOrder(crypto.body.id as string)).status).toBe('filled');

    await moveTo('2025-07-04T12:00:00-04:00'); // Independence Day
    expect(await session()).toBe('closed');
    await moveTo('2025-07-06T21:00:00-04:00'); // Sunday evening: the overnight session leads into Monday
    expect(await session()).toBe('overnight');
    expect((await getOrder(ext.body.id as string)).status).toBe('filled'); // released and marketable
    const plainLimit = await post({ symbol: 'SPY', qty: '1', side: 'sell', type: 'limit', limit_price: '470', time_in_force: 'gtc' });
    const overnight = await post({ symbol: 'SPY', qty: '1', side: 'sell', type: 'limit', limit_price: '470', time_in_force: 'day', extended_hours: true });
    expect([plainLimit.body.status, overnight.body.status]).toEqual(['accepted', 'new']);
    expect((await getOrder(overnight.body.id as string)).status).toBe('filled');
    expect((await getOrder(trailing.body.id as string)).status).toBe('new');

    // Monday's regular open: the trailing stop (hwm 500, stop 490) triggers at last, the plain limit goes live.
    await moveTo('2025-07-07T09:45:00-04:00');
    expect(await getOrder(trailing.body.id as string)).toMatchObject({ status: 'filled', filled_avg_price: '480' });
    expect((await getOrder(plainLimit.body.id as string)).status).toBe('filled');
  });

  it('extended_hours takes limit day or gtc only', async () => {
    sim = await startTestSim({ seed: 86 });
    const msg = { code: 42210000, message: 'extended hours orders must be limit orders with time_in_force day or gtc' };
    for (const body of [
      { type: 'market', time_in_force: 'day' },
      { type: 'limit', limit_price: '10', time_in_force: 'ioc' },
      { type: 'stop', stop_price: '10', time_in_force: 'gtc' },
    ]) {
      const r = await post({ symbol: 'F', qty: '1', side: 'buy', extended_hours: true, ...body });
      expect([r.status, r.body]).toEqual([422, msg]);
    }
    expect((await post({ symbol: 'F', qty: '1', side: 'buy', type: 'limit', limit_price: '1', time_in_force: 'gtc', extended_hours: true })).status).toBe(200);
  });
});

describe('what time ends', () => {
  it('a day order at the 16:00 close, an extended-hours day order at 20:00; gtc stays', async () => {
    sim = await startTestSim({ seed: 87 });
    await moveTo('2025-06-03T15:00:00-04:00');
    stream = await listeningStream(sim);
    const day = await post({ symbol: 'MSFT', qty: '1', side: 'buy', type: 'limit', limit_price: '100', time_in_force: 'day' });
    const extDay = await post({ symbol: 'MSFT', qty: '1', side: 'buy', type: 'limit', limit_price: '100', time_in_force: 'day', extended_hours: true });
    const gtc = await post({ symbol: 'MSFT', qty: '1', side: 'buy', type: 'limit', limit_price: '100', time_in_force: 'gtc' });
    const atClose = await moveTo('2025-06-03T17:00:00-04:00');
    expect(atClose.body.expired_order_ids).toEqual([day.body.id]);
    await waitFor(() => stream!.eventsFor(day.body.id as string).includes('expired'), 3000, 'expired');
    expect((await getOrder(extDay.body.id as string)).status).toBe('new');
    expect((await moveTo('2025-06-03T20:30:00-04:00')).body.expired_order_ids).toEqual([extDay.body.id]);
    expect((await getOrder(gtc.body.id as string)).status).toBe('new');
  });

  it('aged orders: a GTC order shows expires_at (16:15 ET, 90 days on) and expires when the clock passes it; a jump closes each day on the way', async () => {
    sim = await startTestSim({ seed: 88 });
    await moveTo('2025-06-03T10:00:00-04:00');
    stream = await listeningStream(sim);
    await outsideTrade(sim, { symbol: 'AAPL', side: 'buy', qty: '3' });
    const stop = await post({ symbol: 'AAPL', qty: '3', side: 'sell', type: 'trailing_stop', trail_percent: '50', time_in_force: 'gtc' });
    const day = await post({ symbol: 'AAPL', qty: '1', side: 'buy', type: 'limit', limit_price: '1', time_in_force: 'day' });
    expect(stop.body.expires_at).toBe('2025-09-01T20:15:00Z');
    expect(day.body).not.toHaveProperty('expires_at');
    const viaSdk = await sdk(sim).orders.getOrderByOrderID({ orderId: stop.body.id as string });
    expect(viaSdk.expiresAt?.toISOString()).toBe('2025-09-01T20:15:00.000Z');

    const before = await moveTo('2025-09-01T16:14:00-04:00');
    expect(before.body.expired_order_ids).toEqual([day.body.id]); // the first close on the way
    expect((await getOrder(stop.body.id as string)).status).toBe('new');
    const after = await moveTo('2025-09-01T16:16:00-04:00');
    expect(after.body.expired_order_ids).toEqual([stop.body.id]);
    const got = await getOrder(stop.body.id as string);
    expect(got).toMatchObject({ status: 'expired', expires_at: '2025-09-01T20:15:00Z' });
    expect((got.expired_at as string).slice(0, 16)).toBe('2025-09-01T20:16');
    await waitFor(() => stream!.eventsFor(stop.body.id as string).includes('expired'), 3000, 'expired');
    expect(stream.eventsFor(stop.body.id as string)).toEqual(['new', 'expired']);
  });

  it('the clock runs on by itself: a close passes without a request', async () => {
    sim = await startTestSim({ seed: 89 });
    await moveTo('2025-06-03T15:59:59.300-04:00');
    const day = await post({ symbol: 'MSFT', qty: '1', side: 'buy', type: 'limit', limit_price: '100', time_in_force: 'day' });
    // The simulator's own timer applies the close (< 1 s of wall time from here).
    await waitFor(() => sim.engine.getOrder(day.body.id as string)?.status === 'expired', 3000, 'the close');
    expect(sim.engine.session.now).toBe('after');
  });
});
