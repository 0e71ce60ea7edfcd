import { ApiError, NotFoundError, ValidationError, marketData } from '@alpacahq/alpaca-trade-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Simulator } from '../../src/sim/index.js';
import { type Json, KEY, SECRET, apiError, http, outsideTrade, sdk, startTestSim } from './helpers.js';

let sim: Simulator;
let api: ReturnType<typeof sdk>;

beforeAll(async () => {
  sim = await startTestSim();
  api = sdk(sim);
});
afterAll(async () => {
  await sim.close();
});

describe('placing orders through the real SDK', () => {
  it('places an equity market order and fills it at the current price', async () => {
    const placed = await api.orders.market({ symbol: 'AAPL', qty: 3, side: 'buy', clientOrderId: 'eq-mkt-1' });
    expect(placed.status).toBe('new');
    expect(placed.clientOrderId).toBe('eq-mkt-1');
    expect((placed as unknown as Json).filled_qty).toBe('0');
    expect(placed.filledAvgPrice).toBeUndefined();
    expect((placed as unknown as Json).order_type).toBe('market');

    const got = await api.orders.getOrderByOrderID({ orderId: placed.id! });
    expect(got.status).toBe('filled');
    expect(got.filledQty).toBe('3');
    expect(got.filledAvgPrice).toBe('190');
    expect(got.filledAt).toBeInstanceOf(Date);
    expect((got as unknown as Json).asset_class).toBe('us_equity');
  });

  it('places a crypto limit order (gtc) that rests, then fills on a price move', async () => {
    const placed = await api.orders.limit({
      symbol: 'BTC/USD',
      qty: '0.012345678',
      side: 'buy',
      limitPrice: '64000',
      timeInForce: 'gtc',
    });
    expect(placed.status).toBe('new');
    expect(placed.assetClass).toBe('crypto');
    expect(placed.qty).toBe('0.012345678');
    expect(placed.clientOrderId).toMatch(/^[0-9a-f-]{36}$/);

    const moved = await http(sim, 'POST', '/_sim/price', { symbol: 'BTC/USD', price: '63990.5' }, { auth: false });
    expect(moved.status).toBe(200);
    const got = await api.orders.getOrderByOrderID({ orderId: placed.id! });
    expect(got.status).toBe('filled');
    expect(got.filledAvgPrice).toBe('63990.5');
    // Crypto positions are keyed without the slash (alpaca-py#179, #537).
    const pos = await api.positions.getOpenPosition({ symbolOrAssetId: 'BTCUSD' });
    expect(pos.symbol).toBe('BTCUSD');
    // The 25 bps fee is taken from the coin (docs "Crypto fees"): 0.012345678 - 0.000030864.
    expect(pos.qty).toBe('0.012314814');
    const slashed = await apiError(api.positions.getOpenPosition({ symbolOrAssetId: 'BTC/USD' }));
    expect([slashed.status, slashed.code, slashed.message]).toEqual([404, 40410000, 'position does not exist']);
  });

  it('gets an order by client order id, and 404s an unknown one', async () => {
    const placed = await api.orders.limit({ symbol: 'MSFT', qty: 1, side: 'buy', limitPrice: 300, clientOrderId: 'find-me' });
    const byCoid = await api.orders.getOrderByClientOrderId({ clientOrderId: 'find-me' });
    expect(byCoid.id).toBe(placed.id);
    const err = await apiError(api.orders.getOrderByClientOrderId({ clientOrderId: 'nope' }));
    expect(err).toBeInstanceOf(NotFoundError);
    expect(err.status).toBe(404);
    expect(err.code).toBe(40410000);
  });

  it('rejects a duplicate client_order_id with 422 / 40010001, across all orders ever', async () => {
    const first = await api.orders.limit({ symbol: 'TSLA', qty: 1, side: 'buy', limitPrice: 100, clientOrderId: 'dup-1' });
    await api.orders.deleteOrderByOrderID({ orderId: first.id! });
    const err = await apiError(
      api.orders.limit({ symbol: 'TSLA', qty: 1, side: 'buy', limitPrice: 100, clientOrderId: 'dup-1' }),
    );
    expect(err).toBeInstanceOf(ValidationError);
    expect(err).toBeInstanceOf(ApiError);
    expect(err.status).toBe(422);
    expect(err.code).toBe(40010001);
    expect(err.message).toBe('client_order_id must be unique');
    const raw = await http(sim, 'POST', '/v2/orders', {
      symbol: 'TSLA', qty: '1', side: 'buy', type: 'market', time_in_force: 'day', client_order_id: 'dup-1',
    });
    expect(raw.body).toEqual({ code: 40010001, message: 'client_order_id must be unique' });
  });

  it('cancels an open order (204) and refuses to cancel it again (422)', async () => {
    const placed = await api.orders.limit({ symbol: 'SPY', qty: 2, side: 'buy', limitPrice: 400 });
    await api.orders.deleteOrderByOrderID({ orderId: placed.id! });
    const got = await api.orders.getOrderByOrderID({ orderId: placed.id! });
    expect(got.status).toBe('canceled');
    expect(got.canceledAt).toBeInstanceOf(Date);
    const err = await apiError(api.orders.deleteOrderByOrderID({ orderId: placed.id! }));
    expect(err.status).toBe(422);
    expect(err.code).toBe(42210000);
  });

  it('replaces an order: the old one becomes replaced, the new one replaces it', async () => {
    const placed = await api.orders.limit({ symbol: 'AAPL', qty: 10, side: 'buy', limitPrice: 150 });
    await http(sim, 'POST', '/_sim/fill', { order_id: placed.id, qty: '4' }, { auth: false });
    const next = await api.orders.patchOrderByOrderId({
      orderId: placed.id!,
      patchOrderRequest: { limitPrice: '151.5', clientOrderId: 'replacement-1' },
    });
    expect(next.id).not.toBe(placed.id);
    expect(next.replaces).toBe(placed.id);
    expect(next.clientOrderId).toBe('replacement-1');
    expect(next.limitPrice).toBe('151.5');
    expect(next.qty).toBe('6'); // the unfilled remainder
    expect(next.status).toBe('new');
    const old = await api.orders.getOrderByOrderID({ orderId: placed.id! });
    expect(old.status).toBe('replaced');
    expect(old.replacedBy).toBe(next.id);
    expect(old.replacedAt).toBeInstanceOf(Date);
    expect(old.filledQty).toBe('4');
    const err = await apiError(
      api.orders.patchOrderByOrderId({ orderId: placed.id!, patchOrderRequest: { qty: '1' } }),
    );
    expect(err.status).toBe(422);
  });

  it('refuses a replace that changes nothing: 403 / 40310000 "order parameters are not changed" (alpaca-trade-api-js#123)', async () => {
    const placed = await api.orders.stop({ symbol: 'AAPL', qty: 3, side: 'sell', stopPrice: 90, timeInForce: 'gtc' });
    const same = await http(sim, 'PATCH', `/v2/orders/${placed.id}`, { qty: '3', stop_price: '90.00', client_order_id: 'noop-1' });
    expect(same.status).toBe(403);
    expect(same.body).toEqual({ code: 40310000, message: 'order parameters are not changed' });
    // Nothing was created or changed: the order keeps its id and status, and the client order id stays unused.
    expect((await api.orders.getOrderByOrderID({ orderId: placed.id! })).status).toBe('new');
    expect(await apiError(api.orders.getOrderByClientOrderId({ clientOrderId: 'noop-1' }))).toBeInstanceOf(NotFoundError);
    // A real change still goes through.
    const moved = await api.orders.patchOrderByOrderId({ orderId: placed.id!, patchOrderRequest: { stopPrice: '91' } });
    expect(moved.stopPrice).toBe('91');
  });

  it('cancels all open orders with a 207 multi-status body', async () => {
    await api.orders.limit({ symbol: 'AAPL', qty: 1, side: 'buy', limitPrice: 100 });
    const open = await api.orders.getAllOrders({ status: 'open' });
    expect(open.length).toBeGreaterThan(0);
    const raw = await http<Json[]>(sim, 'DELETE', '/v2/orders');
    expect(raw.status).toBe(207);
    expect(raw.body.map((r) => r.status)).toEqual(open.map(() => 200));
    expect(new Set(raw.body.map((r) => r.id))).toEqual(new Set(open.map((o) => o.id)));
    expect(await api.orders.getAllOrders({ status: 'open' })).toEqual([]);
  });
});

describe('listing and paging orders', () => {
  it('filters by status, symbols and side, and pages with after_order_id / before_order_id', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 7; i++) {
      const o = await api.orders.limit({ symbol: 'F', qty: 1, side: 'buy', limitPrice: '1.5', clientOrderId: `page-${i}` });
      ids.push(o.id!);
    }
    const newest = await api.orders.getAllOrders({ status: 'open', symbols: ['F'], limit: 3 });
    expect(newest.map((o) => o.id)).toEqual([ids[6], ids[5], ids[4]]); // default direction desc

    const asc: string[] = [];
    let cursor: string | undefined;
    for (;;) {
      const page = await api.orders.getAllOrders({
        status: 'all', symbols: ['F'], direction: 'asc', limit: 3, ...(cursor ? { afterOrderId: cursor } : {}),
      });
      asc.push(...page.map((o) => o.id!));
      if (page.length < 3) break;
      cursor = page[page.length - 1]!.id;
    }
    expect(asc).toEqual(ids);

    const desc: string[] = [];
    cursor = undefined;
    for (;;) {
      const page = await api.orders.getAllOrders({
        status: 'open', symbols: ['F'], limit: 2, ...(cursor ? { beforeOrderId: cursor } : {}),
      });
      desc.push(...page.map((o) => o.id!));
      if (page.length < 2) break;
      cursor = page[page.length - 1]!.id;
    }
    expect(desc).toEqual([...ids].reverse());

    expect(await api.orders.getAllOrders({ status: 'closed', symbols: ['F'] })).toEqual([]);
    expect(await api.orders.getAllOrders({ status: 'open', symbols: ['F'], side: 'sell' })).toEqual([]);
    await api.orders.deleteAllOrders();
  });

  it('filters by submission time with after/until (exclusive)', async () => {
    const a = await api.orders.limit({ symbol: 'AMD', qty: 1, side: 'buy', limitPrice: 10 });
    const b = await api.orders.limit({ symbol: 'AMD', qty: 1, side: 'buy', limitPrice: 10 });
    const c = await api.orders.limit({ symbol: 'AMD', qty: 1, side: 'buy', limitPrice: 10 });
    const sa = (a as unknown as Json).submitted_at as string;
    const sc = (c as unknown as Json).submitted_at as string;
    const mid = await api.orders.getAllOrders({ status: 'all', symbols: ['AMD'], after: sa, until: sc });
    expect(mid.map((o) => o.id)).toEqual([b.id]);
    await api.orders.deleteAllOrders();
  });

  it('caps limit at 500 and validates parameters', async () => {
    expect((await http(sim, 'GET', '/v2/orders?status=bogus')).status).toBe(422);
    expect((await http(sim, 'GET', '/v2/orders?direction=sideways')).status).toBe(422);
    expect((await http(sim, 'GET', '/v2/orders?limit=0')).status).toBe(422);
    expect((await http(sim, 'GET', '/v2/orders?after=yesterday')).status).toBe(422);
    expect((await http(sim, 'GET', '/v2/orders?limit=10000&status=all')).status).toBe(200);
  });
});

describe('validation and errors (wire format)', () => {
  const base = { symbol: 'AAPL', side: 'buy', type: 'market', time_in_force: 'day' };
  const post = (body: unknown) => http<Json>(sim, 'POST', '/v2/orders', body);

  it('answers the fixture error bodies', async () => {
    expect((await post(base)).body).toEqual({ code: 40010001, message: 'qty or notional is required' });
    expect((await post({ ...base, qty: '1', notional: '10' })).body).toEqual({
      code: 40010001,
      message: 'only one of qty or notional is accepted',
    });
    const bad = await post({ ...base, symbol: 'NOPE', qty: '1' });
    expect(bad.status).toBe(422);
    expect(bad.body).toEqual({ code: 42210000, message: 'invalid symbol' });
    const missing = await http<Json>(sim, 'GET', '/v2/orders/some_order_id');
    expect(missing.status).toBe(422);
    expect(missing.body).toEqual({ code: 40010001, message: 'order_id is missing' });
    const unknown = await http<Json>(sim, 'GET', '/v2/orders/7b08df51-c1ac-453c-99f9-323a5f075f0d');
    expect(unknown.status).toBe(404);
    expect(unknown.body).toEqual({ code: 40410000, message: 'order not found' });
  });

  it('answers 401 {"message":"unauthorized"} without or with wrong credentials', async () => {
    const res = await http(sim, 'GET', '/v2/account', undefined, { auth: false });
    expect(res.status).toBe(401);
    expect(res.body).toEqual({ message: 'unauthorized' });
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    const strict = await startTestSim({ keyId: 'right', secretKey: 'right-secret' });
    try {
      const wrong = sdk(strict, { keyId: 'right', secret: 'wrong' });
      const err = await apiError(wrong.accounts.getAccount());
      expect(err.status).toBe(401);
      const ok = sdk(strict, { keyId: 'right', secret: 'right-secret' });
      expect((await ok.accounts.getAccount()).status).toBe('ACTIVE');
    } finally {
      await strict.close();
    }
  });

  it('answers 400 for malformed JSON and 404 for unknown endpoints, and never crashes', async () => {
    const res = await http(sim, 'POST', '/v2/orders', undefined, { rawBody: '{"symbol": "AAPL",' });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ code: 40010000, message: 'failed to decode request body' });
    expect((await http(sim, 'POST', '/v2/orders', undefined, { rawBody: '[1,2]' })).status).toBe(400);
    const nf = await http(sim, 'GET', '/v2/nothing/here');
    expect(nf.status).toBe(404);
    expect(nf.body).toEqual({ code: 40410000, message: 'endpoint not found' });
    for (const body of [null, 'x', 42, { qty: {} }, { ...base, qty: -1 }, { ...base, qty: 'abc' }, { ...base, qty: '1e5' }]) {
      const r = await post(body);
      expect([400, 422]).toContain(r.status);
      expect(typeof (r.body as Json).message).toBe('string');
    }
    expect((await http(sim, 'GET', '/v2/orders/%E0%A4%A')).status).toBe(404);
    expect((await http(sim, 'GET', '/v2/clock')).status).toBe(200);
  });

  it('rejects a sub-penny equity limit price', async () => {
    const r = await post({ ...base, type: 'limit', qty: '1', limit_price: '190.123' });
    expect(r.status).toBe(422);
    expect(r.body.code).toBe(42210000);
  });
});

describe('crypto rules', () => {
  const post = (body: Json) => http<Json>(sim, 'POST', '/v2/orders', body);

  it('allows only market, limit and stop_limit', async () => {
    for (const type of ['stop', 'trailing_stop']) {
      const r = await post({
        symbol: 'ETH/USD', qty: '0.1', side: 'buy', type, time_in_force: 'gtc', stop_price: '3000', trail_percent: '2',
      });
      expect(r.status).toBe(422);
      expect(r.body.code).toBe(42210000);
      expect(r.body.message).toMatch(/crypto/);
    }
    const sl = await api.orders.stopLimit({
      symbol: 'ETH/USD', qty: '0.1', side: 'buy', stopPrice: '3300', limitPrice: '3310', timeInForce: 'gtc',
    });
    expect(sl.status).toBe('new');
  });

  it('allows only gtc and ioc time in force', async () => {
    for (const tif of ['day', 'fok', 'opg']) {
      const r = await post({ symbol: 'BTC/USD', qty: '0.001', side: 'buy', type: 'market', time_in_force: tif });
      expect(r.status).toBe(422);
      expect(r.body.message).toMatch(/time_in_force/);
    }
    const err = await apiError(api.orders.market({ symbol: 'BTC/USD', qty: '0.001', side: 'buy' })); // SDK default day
    expect(err).toBeInstanceOf(ValidationError);
    const ok = await api.orders.market({ symbol: 'BTC/USD', qty: '0.001', side: 'buy', timeInForce: 'ioc' });
    expect(ok.status).toBe('new');
  });

  it('cannot sell more crypto than held (403), counting open sell orders', async () => {
    await outsideTrade(sim, { symbol: 'SOL/USD', side: 'buy', qty: '2' });
    const resting = await api.orders.limit({ symbol: 'SOL/USD', qty: '1.5', side: 'sell', limitPrice: '999', timeInForce: 'gtc' });
    const err = await apiError(api.orders.market({ symbol: 'SOL/USD', qty: '1', side: 'sell', timeInForce: 'gtc' }));
    expect(err.status).toBe(403);
    expect(err.code).toBe(40310000);
    // 2 bought leave 1.995 after the 25 bps coin fee; 1.5 are held by the resting sell.
    expect(err.message).toBe('insufficient balance for SOL (requested: 1, available: 0.495)');
    await api.orders.deleteOrderByOrderID({ orderId: resting.id! });
    const sold = await api.orders.market({ symbol: 'SOL/USD', qty: '1.995', side: 'sell', timeInForce: 'gtc' });
    expect((await api.orders.getOrderByOrderID({ orderId: sold.id! })).status).toBe('filled');
    expect((await apiError(api.positions.getOpenPosition({ symbolOrAssetId: 'SOLUSD' }))).status).toBe(404);
  });

  it('lets equities go short', async () => {
    const o = await api.orders.market({ symbol: 'META', qty: 2, side: 'sell' });
    expect((await api.orders.getOrderByOrderID({ orderId: o.id! })).status).toBe('filled');
    const pos = await api.positions.getOpenPosition({ symbolOrAssetId: 'META' });
    expect(pos.qty).toBe('-2');
    expect(pos.side).toBe('short');
  });
});

describe('market data', () => {
  it('serves latest stock and crypto trades from the current prices', async () => {
    await http(sim, 'POST', '/_sim/price', { symbol: 'TSLA', price: '251.37' }, { auth: false });
    // Market data is on its own host (sim.dataUrl), like data.alpaca.markets (test/sim/crypto-rules.test.ts).
    const stock = await http<Json>(sim, 'GET', '/v2/stocks/TSLA/trades/latest', undefined, { base: sim.dataUrl });
    expect(stock.body.symbol).toBe('TSLA');
    expect((stock.body.trade as Json).p).toBe(251.37);
    const crypto = await http<{ trades: Record<string, Json> }>(
      sim, 'GET', '/v1beta3/crypto/us/latest/trades?symbols=BTC/USD,ETH/USD', undefined, { base: sim.dataUrl },
    );
    expect(Object.keys(crypto.body.trades).sort()).toEqual(['BTC/USD', 'ETH/USD']);
    expect(typeof crypto.body.trades['BTC/USD']!.p).toBe('number');
  });

  it('is readable through the SDK market-data clients', async () => {
    const cfg = new marketData.Configuration({ basePath: sim.dataUrl, keyId: KEY, secret: SECRET });
    const latest = await new marketData.StockApi(cfg).stockLatestTradeSingle({ symbol: 'TSLA' });
    expect(latest.trade.p).toBe(251.37);
    expect(latest.trade.t).toBeInstanceOf(Date);
    const crypto = await new marketData.CryptoApi(cfg).cryptoLatestTrades({ loc: 'us', symbols: 'BTC/USD' });
    expect(crypto.trades['BTC/USD']?.p).toBeGreaterThan(0);
  });
});
