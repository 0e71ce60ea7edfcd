import { pagination } from '@alpacahq/alpaca-trade-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Simulator } from '../../src/sim/index.js';
import { type Json, http, outsideTrade, sdk, startTestSim } from './helpers.js';

let sim: Simulator;
let api: ReturnType<typeof sdk>;

beforeAll(async () => {
  sim = await startTestSim({ seed: 7 });
  api = sdk(sim);
  // 240 full fills plus 5 orders filled in two parts = 250 fills.
  for (let i = 0; i < 240; i++) {
    await outsideTrade(sim, { symbol: i % 2 ? 'AAPL' : 'BTC/USD', side: 'buy', qty: i % 2 ? '1' : '0.001' });
  }
  for (let i = 0; i < 5; i++) {
    const o = await outsideTrade(sim, { symbol: 'MSFT', side: 'buy', qty: '4', fill: 'partial' });
    expect(o.status).toBe('partially_filled');
    await http(sim, 'POST', '/_sim/fill', { order_id: o.id }, { auth: false });
  }
});
afterAll(async () => {
  await sim.close();
});

const ACTIVITY_ID = /^\d{17}::[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('FILL activities', () => {
  it('pages 250 fills asc with page_token via the SDK, each exactly once in id order', async () => {
    const seen = await pagination.collectCursor({
      fetchPage: (pageToken) =>
        api.activities.getAccountActivitiesByActivityType({
          activityType: 'FILL',
          direction: 'asc',
          pageSize: 100,
          ...(pageToken ? { pageToken } : {}),
        }),
      getCursor: (a) => a.id,
      pageSize: 100,
    });
    const ids = seen.map((a) => a.id!);
    expect(ids).toHaveLength(250);
    expect(new Set(ids).size).toBe(250);
    expect([...ids].sort()).toEqual(ids);
    for (const id of ids) expect(id).toMatch(ACTIVITY_ID);
    expect(ids).toEqual(sim.engine.fills.map((f) => f.id));
  });

  it('returns the activity-fill.json shape, with partial fills then the closing fill', async () => {
    const page = await http<Json[]>(sim, 'GET', '/v2/account/activities/FILL?direction=desc&page_size=3');
    expect(page.status).toBe(200);
    expect(page.body).toHaveLength(3);
    const [last, prev] = page.body;
    expect(Object.keys(last!)).toEqual([
      'activity_type', 'cum_qty', 'id', 'leaves_qty', 'order_id', 'order_status', 'price', 'qty', 'side', 'symbol',
      'transaction_time', 'type',
    ]);
    expect(last).toMatchObject({
      activity_type: 'FILL', cum_qty: '4', leaves_qty: '0', order_status: 'filled', qty: '2', side: 'buy', symbol: 'MSFT',
      type: 'fill', price: '410',
    });
    expect(prev).toMatchObject({ cum_qty: '2', leaves_qty: '2', order_status: 'partially_filled', type: 'partial_fill' });
    expect(prev!.order_id).toBe(last!.order_id);
    expect(last!.transaction_time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
  });

  it('pages desc with page_token, and supports the activity_types list endpoint', async () => {
    const all: string[] = [];
    let token: string | undefined;
    for (;;) {
      const q = `direction=desc&page_size=100${token ? `&page_token=${encodeURIComponent(token)}` : ''}`;
      const page = await http<Json[]>(sim, 'GET', `/v2/account/activities?activity_types=FILL&${q}`);
      all.push(...page.body.map((a) => a.id as string));
      if (page.body.length < 100) break;
      token = all[all.length - 1];
    }
    expect(all).toEqual(sim.engine.fills.map((f) => f.id).reverse());
    const none = await http<Json[]>(sim, 'GET', '/v2/account/activities/DIV');
    expect(none.body).toEqual([]);
  });

  it('filters by after/until/date and validates page_size', async () => {
    const fills = sim.engine.fills;
    const asc = (await http<Json[]>(sim, 'GET', '/v2/account/activities/FILL?direction=asc&page_size=10')).body;
    const time = (i: number): string => encodeURIComponent(asc[i]!.transaction_time as string);
    const after = await http<Json[]>(sim, 'GET', `/v2/account/activities/FILL?direction=asc&after=${time(0)}`);
    expect(after.body[0]!.id).toBe(fills[1]!.id);
    const until = await http<Json[]>(sim, 'GET', `/v2/account/activities/FILL?direction=asc&until=${time(9)}`);
    expect(until.body.map((a) => a.id)).toEqual(fills.slice(0, 9).map((f) => f.id));
    const stamp = (asc[0]!.id as string).slice(0, 8);
    const date = `${stamp.slice(0, 4)}-${stamp.slice(4, 6)}-${stamp.slice(6, 8)}`;
    const byDate = await http<Json[]>(sim, 'GET', `/v2/account/activities/FILL?date=${date}`);
    expect(byDate.body.length).toBeGreaterThan(0);
    const big = await http<Json>(sim, 'GET', '/v2/account/activities/FILL?page_size=101');
    expect(big.status).toBe(422);
    expect(big.body.code).toBe(40010001);
    expect((await http(sim, 'GET', '/v2/account/activities/BOGUS')).status).toBe(422);
  });

  it('order_id (changelog 2026-07-29) keeps that order\'s FILLs only, in one page, whatever types are asked', async () => {
    const split = sim.engine.fills.filter((f) => f.symbol === 'MSFT');
    const orderId = split[0]!.orderId;
    const own = split.filter((f) => f.orderId === orderId).map((f) => f.id);
    expect(own).toHaveLength(2);
    const one = await http<Json[]>(sim, 'GET', `/v2/account/activities?order_id=${orderId}&direction=asc`);
    expect(one.body.map((a) => a.id)).toEqual(own);
    expect(one.body.every((a) => a.order_id === orderId && a.activity_type === 'FILL')).toBe(true);
    const typed = await http<Json[]>(sim, 'GET', `/v2/account/activities?activity_types=FILL,CFEE&order_id=${orderId}&direction=desc&page_size=1`);
    expect(typed.body.map((a) => a.id)).toEqual([own[1]]);
    expect((await http<Json[]>(sim, 'GET', `/v2/account/activities?activity_types=CFEE&order_id=${orderId}`)).body).toEqual([]);
    expect((await http<Json[]>(sim, 'GET', '/v2/account/activities?order_id=no-such-order')).body).toEqual([]);
  });

  it('SDK quirk: typed FILL items lose order_id/cum_qty/price; the *Raw call keeps the wire JSON', async () => {
    // SDK 4.0.2 maps every activity through NonTradeActivitiesFromJSON (its oneOf check always
    // matches NonTrade first), which keeps id/qty/symbol but drops order_id, cum_qty, price, side, ...
    const [typed] = await api.activities.getAccountActivitiesByActivityType({ activityType: 'FILL', pageSize: 1 });
    const last = sim.engine.fills[sim.engine.fills.length - 1]!;
    expect(typed?.id).toBe(last.id);
    expect((typed as Record<string, unknown>).orderId).toBeUndefined();
    const res = await api.activities.getAccountActivitiesByActivityTypeRaw({ activityType: 'FILL', pageSize: 1 });
    const [raw] = (await res.raw.json()) as Json[];
    expect(raw).toMatchObject({ id: last.id, order_id: last.orderId, cum_qty: '4', type: 'fill' });
  });
});
