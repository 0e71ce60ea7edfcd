/**
 * GET /v2beta1/events/activities (src/sim/activity-sse.ts): the query rules, history then live events,
 * until_id, the slow-reader and internal-error comments, the duplicate fault, and the SDK's EventsApi.
 */
import { trading } from '@alpacahq/alpaca-trade-api';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { rfc3339 } from '../../src/sim/clock.js';
import type { Simulator } from '../../src/sim/index.js';
import { KEY, SECRET, type Json, http, outsideTrade, startTestSim, waitFor } from './helpers.js';
import { openSse, type SseStream } from './sse-helpers.js';

let sim: Simulator;
const opened: SseStream[] = [];
const ULID = /^[0-9A-HJKMNP-TV-Z]{26}$/;

beforeAll(async () => {
  sim = await startTestSim({ seed: 5 });
});
afterEach(async () => {
  for (const s of opened.splice(0)) s.close();
  await http(sim, 'DELETE', '/_sim/faults', undefined, { auth: false });
});
afterAll(async () => {
  await sim.close();
});

async function sse(query = '', opts: { paused?: boolean } = {}): Promise<SseStream> {
  const s = await openSse(sim, query, opts);
  opened.push(s);
  return s;
}

/** A market buy of one share; returns the execution id its fill got. */
async function fill(symbol = 'AAPL'): Promise<string> {
  const order = await outsideTrade(sim, { symbol, side: 'buy', qty: '1' });
  const f = sim.engine.fills.find((x) => x.orderId === order.id);
  if (!f) throw new Error('no fill');
  return f.executionId;
}

const lastEventId = (): string => sim.engine.events.events.at(-1)!.eventId;
const refIds = (s: SseStream): unknown[] => s.messages.map((m) => m.ref_id);

describe('query rules', () => {
  it.each([
    ['?since=2026-01-01T00:00:00Z&since_id=01J00000000000000000000000', 'since and since_id cannot be used together'],
    ['?until=2026-01-01T00:00:00Z', 'since is required if until is specified'],
    ['?until_id=01J00000000000000000000000', 'since_id is required if until_id is specified'],
    ['?since=yesterday', 'invalid since: yesterday'],
  ])('%s → 400', async (query, message) => {
    const res = await http<Json>(sim, 'GET', `/v2beta1/events/activities${query}`);
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ code: 40010000, message });
  });

  it('needs the API keys like every trading route', async () => {
    const res = await http<Json>(sim, 'GET', '/v2beta1/events/activities', undefined, { auth: false });
    expect(res.status).toBe(401);
  });
});

describe('history and live events', () => {
  it('sends no history without since/since_id, only what happens after', async () => {
    const before = await fill();
    const s = await sse();
    expect(s.status).toBe(200);
    const after = await fill();
    await waitFor(() => s.messages.length >= 1, 3000, 'the live event');
    await new Promise((r) => setTimeout(r, 100));
    expect(refIds(s)).toEqual([after]);
    expect(refIds(s)).not.toContain(before);
  });

  it('replays from since_id (exclusive) in event order, then goes on live', async () => {
    const first = await fill();
    const cursor = lastEventId();
    const second = await fill('MSFT');
    const third = await fill('TSLA');
    const s = await sse(`?since_id=${cursor}`);
    await waitFor(() => s.messages.length >= 2, 3000, 'history');
    const live = await fill('SPY');
    await waitFor(() => s.messages.length >= 3, 3000, 'the live event');
    expect(refIds(s)).toEqual([second, third, live]);
    expect(refIds(s)).not.toContain(first);
    const ids = s.messages.map((m) => String(m.event_id));
    for (const id of ids) expect(id).toMatch(ULID);
    expect([...ids].sort()).toEqual(ids);
    expect(ids[0]! > cursor).toBe(true);
  });

  it('until_id ends the stream after the last matching historical event', async () => {
    await fill();
    const cursor = lastEventId();
    const a = await fill();
    const stop = lastEventId();
    await fill();
    const s = await sse(`?since_id=${cursor}&until_id=${stop}`);
    await s.ended;
    expect(refIds(s)).toEqual([a]);
  });

  it('since/until select by event time', async () => {
    const t0 = new Date(Date.now() - 1).toISOString();
    await new Promise((r) => setTimeout(r, 5));
    const a = await fill();
    const b = await fill();
    const t1 = new Date(sim.engine.events.events.at(-1)!.atMicros / 1000 + 1).toISOString();
    await new Promise((r) => setTimeout(r, 5));
    await fill();
    const s = await sse(`?since=${t0}&until=${t1}`);
    await s.ended;
    expect(refIds(s)).toEqual([a, b]);
  });
});

describe('the trade event', () => {
  it('carries the fill as ActivityEventV2 with ref_id = the execution_id', async () => {
    const s = await sse();
    const order = await outsideTrade(sim, { symbol: 'QQQ', side: 'sell', qty: '3' }); // a short sale from flat
    await waitFor(() => s.messages.length >= 1, 3000, 'the event');
    const f = sim.engine.fills.find((x) => x.orderId === order.id)!;
    const ev = s.messages[0]!;
    expect(ev).toMatchObject({
      activity_type: 'TRD',
      currency: 'USD',
      net_amount: '1320',
      price: '440',
      qty: '3',
      ref_id: f.executionId,
      status: 'executed',
      details: {
        asset_id: order.asset_id, client_order_id: order.client_order_id, cum_qty: '3', execution_type: 'fill',
        leaves_qty: '0', order_id: order.id, order_status: 'filled', side: 'sell', symbol: 'QQQ',
      },
      asset: { id: order.asset_id, symbol: 'QQQ' },
    });
    expect(ev).not.toHaveProperty('previous_id');
    expect(String(ev.settle_date)).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    expect(ev.executed_at).toBe(rfc3339(f.micros)); // the FILL activity's transaction_time
    expect(Date.parse(String(ev.at))).toBeGreaterThanOrEqual(Date.parse(String(ev.executed_at)));
  });

  it('a partial fill is execution_type partial_fill; a crypto buy also sends its CFEE', async () => {
    const s = await sse();
    const order = await outsideTrade(sim, { symbol: 'AMD', side: 'buy', qty: '4', fill: 'partial' });
    await outsideTrade(sim, { symbol: 'BTC/USD', side: 'buy', qty: '0.01' });
    await waitFor(() => s.messages.length >= 3, 3000, 'three events');
    expect(s.messages.map((m) => [m.activity_type, (m.details as Json).execution_type ?? null])).toEqual([
      ['TRD', 'partial_fill'],
      ['TRD', 'fill'],
      ['CFEE', null],
    ]);
    expect((s.messages[0]!.details as Json).order_id).toBe(order.id);
    expect(s.messages[2]).toMatchObject({ qty: '-0.000025', net_amount: '0', details: { symbol: 'BTCUSD' } });
  });
});

describe('slow readers, errors and duplicates', () => {
  it('drops messages while a reader lags, then says how many it dropped', async () => {
    await http(sim, 'POST', '/_sim/events', { slow_reader_bytes: 4096 }, { auth: false });
    try {
      const cursor = lastEventId();
      const s = await sse('', { paused: true });
      // Enough events, made in one go, to fill the socket buffers of a reader that reads nothing.
      const spec = { symbol: 'F', side: 'buy', qty: '1', type: 'market', time_in_force: 'day' };
      const { parseOrderRequest } = await import('../../src/sim/order-request.js');
      for (let i = 0; i < 6000; i++) sim.engine.place(parseOrderRequest(spec, sim.engine.assets));
      const made = sim.engine.events.events.filter((e) => e.eventId > cursor).length;
      expect(made).toBe(6000);
      s.resume();
      await waitFor(() => s.comments.some((c) => c.startsWith('you are reading too slowly')), 10_000, 'the slow-reader comment');
      const comment = s.comments.find((c) => c.startsWith('you are reading too slowly'))!;
      const dropped = Number(/dropped (\d+) messages$/.exec(comment)?.[1]);
      expect(dropped).toBeGreaterThan(0);
      await waitFor(() => s.messages.length + dropped >= made, 10_000, 'the rest');
      expect(s.messages.length + dropped).toBe(made);
      // Nothing was sent twice and what came is in order.
      const ids = s.messages.map((m) => String(m.event_id));
      expect(new Set(ids).size).toBe(ids.length);
      expect([...ids].sort()).toEqual(ids);
    } finally {
      await http(sim, 'POST', '/_sim/events', { slow_reader_bytes: 1 << 20 }, { auth: false });
    }
  });

  it('POST /_sim/events/error ends open streams with ": internal server error"', async () => {
    const s = await sse();
    const res = await http<Json>(sim, 'POST', '/_sim/events/error', undefined, { auth: false });
    expect(res.body.ended).toBeGreaterThanOrEqual(1);
    await s.ended;
    expect(s.comments).toEqual(['internal server error']);
  });

  it('POST /_sim/events/drop drops the next messages of each open stream, then says how many', async () => {
    const s = await sse();
    const res = await http<Json>(sim, 'POST', '/_sim/events/drop', { count: 2 }, { auth: false });
    expect(res.body).toEqual({ streams: 1 });
    await fill();
    await fill('MSFT');
    const third = await fill('TSLA');
    await waitFor(() => s.messages.length >= 1, 3000, 'the message after the gap');
    expect(s.comments).toEqual(['you are reading too slowly, dropped 2 messages']);
    expect(refIds(s)).toEqual([third]);
  });

  it('POST /_sim/events {available: false} makes the endpoint answer 404 until it is back', async () => {
    await http(sim, 'POST', '/_sim/events', { available: false }, { auth: false });
    try {
      const res = await http<Json>(sim, 'GET', '/v2beta1/events/activities');
      expect(res.status).toBe(404);
      expect(res.body).toEqual({ code: 40410000, message: 'endpoint not found' });
    } finally {
      await http(sim, 'POST', '/_sim/events', { available: true }, { auth: false });
    }
    const s = await sse();
    expect(s.status).toBe(200);
  });

  it('sse_duplicate_rate sends messages twice', async () => {
    await http(sim, 'POST', '/_sim/faults', { sse_duplicate_rate: 1 }, { auth: false });
    const s = await sse();
    const id = await fill();
    await waitFor(() => s.messages.length >= 2, 3000, 'two copies');
    expect(refIds(s)).toEqual([id, id]);
    expect(s.messages[0]!.event_id).toBe(s.messages[1]!.event_id);
  });
});

describe("the SDK's EventsApi", () => {
  it('subscribeToActivitiesSSERaw with since_id/until_id gets a stream that ends', async () => {
    const cursor = lastEventId();
    const id = await fill();
    const stop = lastEventId();
    const api = new trading.EventsApi(new trading.Configuration({ basePath: sim.url, keyId: KEY, secret: SECRET }));
    const res = await api.subscribeToActivitiesSSERaw({ sinceId: cursor, untilId: stop });
    expect(res.raw.headers.get('content-type')).toBe('text/event-stream');
    const text = await res.raw.text();
    const events = text.split('\n\n').filter((b) => b.startsWith('data: ')).map((b) => trading.ActivityEventV2FromJSON(JSON.parse(b.slice(6))));
    expect(events.map((e) => e.refId)).toEqual([id]);
    expect(events[0]!.eventId).toBe(stop);
    expect(events[0]!.activityType).toBe('TRD');
  });
});
