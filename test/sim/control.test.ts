import { RateLimitError } from '@alpacahq/alpaca-trade-api';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import type { Simulator } from '../../src/sim/index.js';
import { type Json, apiError, http, outsideTrade, sdk, startTestSim, waitFor } from './helpers.js';

let sim: Simulator;
let api: ReturnType<typeof sdk>;
const control = (method: string, path: string, body?: unknown) => http<Json>(sim, method, path, body, { auth: false });
const price = (symbol: string, p: string) => control('POST', '/_sim/price', { symbol, price: p });

beforeAll(async () => {
  sim = await startTestSim({ seed: 5 });
  api = sdk(sim);
});
afterAll(async () => {
  await sim.close();
});
beforeEach(async () => {
  await control('DELETE', '/_sim/faults');
});

describe('/_sim/stats', () => {
  it('counts /v2 and market-data requests by route template, not /_sim requests', async () => {
    const before = (await control('GET', '/_sim/stats')).body as { requests: { total: number; by_route: Record<string, number> } };
    const o = await api.orders.limit({ symbol: 'AAPL', qty: 1, side: 'buy', limitPrice: 100 });
    await api.orders.getOrderByOrderID({ orderId: o.id! });
    await api.orders.getOrderByOrderID({ orderId: o.id! });
    await api.orders.getAllOrders({});
    await http(sim, 'GET', '/v2/stocks/AAPL/trades/latest', undefined, { base: sim.dataUrl });
    await http(sim, 'GET', '/v2/account', undefined, { auth: false }); // 401 still counts
    await control('GET', '/_sim/state');
    const after = (await control('GET', '/_sim/stats')).body as {
      requests: { total: number; by_route: Record<string, number> };
      orders: number;
      fills: number;
    };
    const delta = (k: string) => (after.requests.by_route[k] ?? 0) - (before.requests.by_route[k] ?? 0);
    expect(delta('POST /v2/orders')).toBe(1);
    expect(delta('GET /v2/orders/{order_id}')).toBe(2);
    expect(delta('GET /v2/orders')).toBe(1);
    expect(delta('GET /v2/stocks/{symbol}/trades/latest')).toBe(1);
    expect(delta('GET /v2/account')).toBe(1);
    expect(after.requests.total - before.requests.total).toBe(6);
    expect(Object.keys(after.requests.by_route).some((k) => k.includes('_sim'))).toBe(false);
    expect(after.orders).toBe(sim.engine.orders.length);
    expect(after.fills).toBe(sim.engine.fills.length);
    await api.orders.deleteOrderByOrderID({ orderId: o.id! });
  });
});

describe('crypto positions are keyed without the slash (alpaca-py#179, #537)', () => {
  it('finds BTCUSD, answers 404 to BTC/USD raw or encoded, lists BTCUSD, and counts slashed lookups apart', async () => {
    await outsideTrade(sim, { symbol: 'LTC/USD', side: 'buy', qty: '2' });
    const before = (await control('GET', '/_sim/stats')).body as { requests: { by_route: Record<string, number> } };
    // 2 bought, less the 25 bps coin fee.
    expect((await http<Json>(sim, 'GET', '/v2/positions/LTCUSD')).body).toMatchObject({ symbol: 'LTCUSD', qty: '1.995', asset_class: 'crypto' });
    for (const path of ['/v2/positions/LTC/USD', '/v2/positions/LTC%2FUSD']) {
      const r = await http<Json>(sim, 'GET', path);
      expect([r.status, r.body]).toEqual([404, { code: 40410000, message: 'position does not exist' }]);
    }
    const list = (await http<Json[]>(sim, 'GET', '/v2/positions')).body;
    expect(list.filter((p) => p.asset_class === 'crypto').map((p) => p.symbol)).toContain('LTCUSD');
    expect(list.some((p) => String(p.symbol).includes('/'))).toBe(false);
    const after = (await control('GET', '/_sim/stats')).body as { requests: { by_route: Record<string, number> } };
    const delta = (k: string) => (after.requests.by_route[k] ?? 0) - (before.requests.by_route[k] ?? 0);
    expect(delta('GET /v2/positions/{symbol_or_asset_id}')).toBe(1);
    expect(delta('GET /v2/positions/{base}/{quote}')).toBe(2);
    await outsideTrade(sim, { symbol: 'LTC/USD', side: 'sell', qty: '1.995' });
  });
});

describe('/_sim/trade and /_sim/fill', () => {
  it('places outside orders: full (default for market), partial (default half), none', async () => {
    const full = await outsideTrade(sim, { symbol: 'TSLA', side: 'buy', qty: '3' });
    expect(full).toMatchObject({ status: 'filled', filled_qty: '3', filled_avg_price: '250', type: 'market', time_in_force: 'day' });
    const partial = await outsideTrade(sim, { symbol: 'TSLA', side: 'buy', qty: '5', fill: 'partial' });
    expect(partial).toMatchObject({ status: 'partially_filled', filled_qty: '2' });
    const partialCrypto = await outsideTrade(sim, { symbol: 'BTC/USD', side: 'buy', qty: '0.003', fill: 'partial', fill_qty: '0.001' });
    expect(partialCrypto).toMatchObject({ status: 'partially_filled', filled_qty: '0.001', time_in_force: 'gtc' });
    const none = await outsideTrade(sim, { symbol: 'TSLA', side: 'sell', qty: '1', fill: 'none' });
    expect(none).toMatchObject({ status: 'new', filled_qty: '0' });
    // Manual orders do not fill on their own, even though a market order would.
    await price('TSLA', '251');
    expect((await api.orders.getOrderByOrderID({ orderId: none.id as string })).status).toBe('new');

    const rest = await control('POST', '/_sim/fill', { order_id: partial.id });
    expect(rest.body).toMatchObject({ status: 'filled', filled_qty: '5' });
    expect(rest.body.filled_avg_price).toBe('250.6'); // (2×250 + 3×251) / 5
    const one = await control('POST', '/_sim/fill', { order_id: none.id, qty: '1' });
    expect(one.body).toMatchObject({ status: 'filled', filled_avg_price: '251' });
  });

  it('limit outside orders rest until marketable; fill "full" forces them', async () => {
    const resting = await outsideTrade(sim, { symbol: 'NVDA', side: 'buy', qty: '1', type: 'limit', limit_price: '850' });
    expect(resting.status).toBe('new');
    const forced = await outsideTrade(sim, { symbol: 'NVDA', side: 'buy', qty: '1', type: 'limit', limit_price: '850', fill: 'full' });
    expect(forced).toMatchObject({ status: 'filled', filled_avg_price: '850' }); // never through the limit
    await price('NVDA', '849.99');
    expect((await api.orders.getOrderByOrderID({ orderId: resting.id as string })).filledAvgPrice).toBe('849.99');
  });

  it('validates control bodies', async () => {
    expect((await control('POST', '/_sim/fill', { order_id: 'x' })).status).toBe(404);
    expect((await control('POST', '/_sim/fill', {})).status).toBe(422);
    const done = await outsideTrade(sim, { symbol: 'AAPL', side: 'buy', qty: '1' });
    expect((await control('POST', '/_sim/fill', { order_id: done.id })).status).toBe(422);
    const open = await outsideTrade(sim, { symbol: 'AAPL', side: 'buy', qty: '2', fill: 'none' });
    expect((await control('POST', '/_sim/fill', { order_id: open.id, qty: '3' })).status).toBe(422);
    expect((await control('POST', '/_sim/trade', { symbol: 'AAPL', side: 'buy', qty: '1', fill: 'some' })).status).toBe(422);
    expect((await control('POST', '/_sim/price', { symbol: 'AAPL', price: '-1' })).status).toBe(422);
    expect((await control('POST', '/_sim/price', { symbol: 'ZZZZ', price: '1' })).status).toBe(422);
    expect((await control('POST', '/_sim/faults', { rate_429: 2 })).status).toBe(422);
    expect((await control('POST', '/_sim/faults', { bogus: 1 })).status).toBe(422);
    expect((await http(sim, 'POST', '/_sim/trade', undefined, { auth: false, rawBody: '{' })).status).toBe(400);
    await control('POST', '/_sim/fill', { order_id: open.id });
  });
});

describe('/_sim/liquidity', () => {
  it('a thin market: a marketable limit rests while the symbol is illiquid, /_sim/fill still fills, liquid again it is worked', async () => {
    await outsideTrade(sim, { symbol: 'AMD', side: 'buy', qty: '3' });
    expect((await control('POST', '/_sim/liquidity', { symbol: 'AMD', liquid: false })).body).toEqual({ symbol: 'AMD', liquid: false });
    const px = (await control('GET', '/_sim/state')).body as { prices: Record<string, string> };
    const below = String(Number(px.prices.AMD) - 1);
    const a = await api.orders.limit({ symbol: 'AMD', qty: 1, side: 'sell', limitPrice: Number(below) });
    const b = await api.orders.limit({ symbol: 'AMD', qty: 1, side: 'sell', limitPrice: Number(below) });
    expect((await api.orders.getOrderByOrderID({ orderId: a.id! })).status).toBe('new');
    expect((await control('POST', '/_sim/fill', { order_id: b.id })).body).toMatchObject({ status: 'filled' });
    expect((await control('POST', '/_sim/liquidity', { symbol: 'AMD', liquid: true })).status).toBe(200);
    expect((await api.orders.getOrderByOrderID({ orderId: a.id! })).status).toBe('filled');
    expect((await control('POST', '/_sim/liquidity', { symbol: 'AMD' })).status).toBe(422);
    expect((await control('POST', '/_sim/liquidity', { symbol: 'ZZZZ', liquid: true })).status).toBe(422);
  });
});

describe('/_sim/price triggers stops', () => {
  it('moves a trailing stop high-water mark and triggers it on the pullback', async () => {
    await outsideTrade(sim, { symbol: 'GOOGL', side: 'buy', qty: '10' });
    const ts = await api.orders.trailingStop({ symbol: 'GOOGL', qty: 10, side: 'sell', trailPercent: 2, timeInForce: 'gtc' });
    expect(ts.hwm).toBe('170');
    expect(ts.stopPrice).toBe('166.6');
    await price('GOOGL', '180');
    let o = await api.orders.getOrderByOrderID({ orderId: ts.id! });
    expect(o.hwm).toBe('180');
    expect(o.stopPrice).toBe('176.4');
    expect(o.status).toBe('new');
    await price('GOOGL', '177'); // above the stop: nothing
    o = await api.orders.getOrderByOrderID({ orderId: ts.id! });
    expect(o.hwm).toBe('180');
    expect(o.status).toBe('new');
    await price('GOOGL', '176.2');
    o = await api.orders.getOrderByOrderID({ orderId: ts.id! });
    expect(o.status).toBe('filled');
    expect(o.filledAvgPrice).toBe('176.2');
    expect((await apiError(api.positions.getOpenPosition({ symbolOrAssetId: 'GOOGL' }))).status).toBe(404);
  });

  it('trails by trail_price for buys (low-water mark)', async () => {
    const ts = await api.orders.trailingStop({ symbol: 'AMZN', qty: 1, side: 'buy', trailPrice: 5, timeInForce: 'day' });
    await price('AMZN', '170');
    expect((await api.orders.getOrderByOrderID({ orderId: ts.id! })).stopPrice).toBe('175');
    await price('AMZN', '175.01');
    expect((await api.orders.getOrderByOrderID({ orderId: ts.id! })).status).toBe('filled');
  });

  it('triggers stop (market) and stop_limit orders', async () => {
    await outsideTrade(sim, { symbol: 'ETH/USD', side: 'buy', qty: '1' });
    const stop = await api.orders.stop({ symbol: 'QQQ', qty: 1, side: 'sell', stopPrice: 430 });
    const sl = await api.orders.stopLimit({
      symbol: 'ETH/USD', qty: '0.9975', side: 'sell', stopPrice: '3100', limitPrice: '3050', timeInForce: 'gtc', // 1 less the coin fee
    });
    await price('QQQ', '429.5');
    expect((await api.orders.getOrderByOrderID({ orderId: stop.id! })).status).toBe('filled');
    await price('ETH/USD', '3000'); // gapped through the limit: triggered but not marketable
    expect((await api.orders.getOrderByOrderID({ orderId: sl.id! })).status).toBe('new');
    await price('ETH/USD', '3060');
    const filled = await api.orders.getOrderByOrderID({ orderId: sl.id! });
    expect(filled.status).toBe('filled');
    expect(filled.filledAvgPrice).toBe('3060');
  });
});

describe('/_sim/faults', () => {
  it('merges and returns the config', async () => {
    const r = await control('POST', '/_sim/faults', { latency_ms: 5 });
    expect(r.body).toMatchObject({ latency_ms: 5, rate_429: 0 });
    const r2 = await control('POST', '/_sim/faults', { rate_5xx: 0.1 });
    expect(r2.body).toMatchObject({ latency_ms: 5, rate_5xx: 0.1 });
  });

  it('answers some requests with 429 / 5xx, and a faulted POST creates no order', async () => {
    await control('POST', '/_sim/faults', { rate_429: 0.3, rate_5xx: 0.3 });
    const statuses: number[] = [];
    const ordersBefore = sim.engine.orders.length;
    let created = 0;
    for (let i = 0; i < 60; i++) {
      const r = await http<Json>(sim, 'POST', '/v2/orders', {
        symbol: 'AAPL', qty: '1', side: 'buy', type: 'limit', limit_price: '50', time_in_force: 'gtc',
      });
      statuses.push(r.status);
      if (r.status === 200) created += 1;
      if (r.status === 429) {
        expect(r.body).toEqual({ code: 42910000, message: 'rate limit exceeded' });
        expect(r.headers.get('retry-after')).toBe('0');
      }
      if (r.status >= 500) expect(typeof r.body.code).toBe('number');
    }
    expect(statuses).toContain(200);
    expect(statuses).toContain(429);
    expect(statuses.some((s) => s === 500 || s === 503)).toBe(true);
    expect(sim.engine.orders.length - ordersBefore).toBe(created);
    expect((await control('GET', '/_sim/stats')).status).toBe(200); // control endpoints are never faulted

    const err = await apiError(
      (async () => {
        for (;;) await api.clock.legacyClock();
      })(),
    );
    expect([429, 500, 503]).toContain(err.status);
    await control('POST', '/_sim/faults', { rate_429: 1, rate_5xx: 0 });
    expect(await apiError(api.accounts.getAccount())).toBeInstanceOf(RateLimitError);
    const retrying = sdk(sim, { retry: { maxRetries: 8, retryDelayMs: 1 } });
    await control('POST', '/_sim/faults', { rate_429: 0.3 });
    for (let i = 0; i < 5; i++) expect((await retrying.accounts.getAccount()).status).toBe('ACTIVE');
    await api.orders.deleteAllOrders().catch(() => undefined);
  });

  it('adds latency', async () => {
    await control('POST', '/_sim/faults', { latency_ms: 60 });
    const t0 = Date.now();
    await http(sim, 'GET', '/v2/clock');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(55);
  });

  it('drops, duplicates and reorders trade_updates frames', async () => {
    const connect = async () => {
      const ws = new WebSocket(sim.streamUrl);
      const frames: Json[] = [];
      let closed = false;
      ws.on('message', (d) => frames.push(JSON.parse(d.toString()) as Json));
      ws.on('close', () => {
        closed = true;
      });
      await new Promise((r) => ws.once('open', r));
      ws.send(JSON.stringify({ action: 'authenticate', data: { key_id: 'k', secret_key: 's' } }));
      ws.send(JSON.stringify({ action: 'listen', data: { streams: ['trade_updates'] } }));
      await waitFor(() => frames.length >= 2);
      return { ws, updates: () => frames.filter((f) => f.stream === 'trade_updates').map((f) => f.data as Json), closed: () => closed };
    };

    await control('POST', '/_sim/faults', { ws_duplicate_rate: 1 });
    const dup = await connect();
    const o1 = await outsideTrade(sim, { symbol: 'AAPL', side: 'buy', qty: '1' });
    await waitFor(() => dup.updates().length >= 4);
    expect(dup.updates().map((u) => u.event)).toEqual(['new', 'new', 'fill', 'fill']);
    expect((dup.updates()[0]!.order as Json).id).toBe(o1.id);
    dup.ws.close();

    await control('POST', '/_sim/faults', { ws_duplicate_rate: 0, ws_reorder_rate: 1 });
    const re = await connect();
    await outsideTrade(sim, { symbol: 'AAPL', side: 'buy', qty: '1' });
    await waitFor(() => re.updates().length >= 2);
    expect(re.updates().map((u) => u.event)).toEqual(['fill', 'new']);
    // A held frame with nothing after it is flushed after ~50 ms.
    const lone = await outsideTrade(sim, { symbol: 'AAPL', side: 'buy', qty: '1', fill: 'none' });
    await waitFor(() => re.updates().length >= 3, 1000, 'flushed frame');
    expect((re.updates()[2]!.order as Json).id).toBe(lone.id);
    re.ws.close();
    await control('POST', '/_sim/faults', { ws_reorder_rate: 0 });
    await control('POST', '/_sim/fill', { order_id: lone.id });

    await control('POST', '/_sim/faults', { ws_drop_rate: 1 });
    const drop = await connect();
    await outsideTrade(sim, { symbol: 'AAPL', side: 'buy', qty: '1' });
    await waitFor(() => drop.closed(), 3000, 'dropped socket');
    expect(drop.updates()).toEqual([]);
  });
});
