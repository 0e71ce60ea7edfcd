/**
 * Alpaca's crypto rules, the late-activity fault and the separate market-data host, driven over HTTP
 * (sources in src/sim/README.md, "Alpaca rules: crypto, activities, market data").
 */
import { marketData } from '@alpacahq/alpaca-trade-api';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Simulator } from '../../src/sim/index.js';
import { fixture } from '../support/fixtures.js';
import { type Json, KEY, SECRET, http, outsideTrade, startTestSim } from './helpers.js';

const sims: Simulator[] = [];
async function start(opts: Parameters<typeof startTestSim>[0] = {}): Promise<Simulator> {
  const sim = await startTestSim(opts);
  sims.push(sim);
  return sim;
}
afterAll(async () => {
  await Promise.all(sims.map((s) => s.close()));
});

const control = (sim: Simulator, method: string, path: string, body?: unknown) => http<Json>(sim, method, path, body, { auth: false });
const order = (sim: Simulator, body: Json) =>
  http<Json>(sim, 'POST', '/v2/orders', { type: 'market', time_in_force: 'gtc', ...body });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('crypto fee taken from the coin received (docs "Crypto fees"; alpaca-py#374)', () => {
  let sim: Simulator;
  beforeAll(async () => {
    sim = await start({ seed: 11 });
  });

  it('a 0.1 BTC buy leaves 0.09975 BTC, a CFEE activity records the 0.00025 taken, and selling 0.1 is refused', async () => {
    const buy = await order(sim, { symbol: 'BTC/USD', qty: '0.1', side: 'buy' });
    expect(buy.status).toBe(200);
    const pos = await http<Json>(sim, 'GET', '/v2/positions/BTCUSD');
    expect(pos.body).toMatchObject({ symbol: 'BTCUSD', qty: '0.09975', qty_available: '0.09975', avg_entry_price: '65000' });

    const all = await http<Json[]>(sim, 'GET', '/v2/account/activities?direction=asc');
    // The fee's id is its day at midnight (activity-cfee.json): it sorts before the day's fills.
    expect(all.body.map((a) => a.activity_type)).toEqual(['CFEE', 'FILL']);
    const [cfee, fill] = all.body as [Json, Json];
    expect(fill).toMatchObject({ symbol: 'BTC/USD', qty: '0.1', price: '65000', order_id: buy.body.id });
    expect(Object.keys(cfee)).toEqual(Object.keys(fixture<Json>('activity-cfee.json')));
    expect(cfee).toMatchObject({
      activity_type: 'CFEE',
      net_amount: '0',
      description: 'Coin Pair Transaction Fee (Non USD)',
      symbol: 'BTCUSD',
      qty: '-0.00025',
      price: '65000',
      status: 'executed',
    });
    expect(String(cfee.id)).toMatch(new RegExp(`^${String(fill.id).slice(0, 8)}000000000::[0-9a-f-]{36}$`));
    expect(String(cfee.id) < String(fill.id)).toBe(true);
    expect(cfee.date).toBe(`${String(fill.id).slice(0, 4)}-${String(fill.id).slice(4, 6)}-${String(fill.id).slice(6, 8)}`);
    expect(cfee).not.toHaveProperty('transaction_time');
    expect((await http<Json[]>(sim, 'GET', '/v2/account/activities/CFEE')).body).toEqual([cfee]);
    expect((await http<Json[]>(sim, 'GET', '/v2/account/activities?activity_types=CFEE')).body).toEqual([cfee]);
    expect((await http<Json[]>(sim, 'GET', '/v2/account/activities/FILL')).body).toEqual([fill]);
    expect((await http<Json[]>(sim, 'GET', '/v2/account/activities?activity_types=FILL')).body).toEqual([fill]);

    const sell = await order(sim, { symbol: 'BTC/USD', qty: '0.1', side: 'sell' });
    expect([sell.status, sell.body]).toEqual([
      403,
      { code: 40310000, message: 'insufficient balance for BTC (requested: 0.1, available: 0.09975)' },
    ]);
  });

  it('a sell takes its fee from the USD received, publishes no CFEE, and may sell the whole fee-net position', async () => {
    const cashBefore = (await http<Json>(sim, 'GET', '/v2/account')).body.cash as string;
    const sell = await order(sim, { symbol: 'BTC/USD', qty: '0.09975', side: 'sell' });
    expect(sell.status).toBe(200);
    const cashAfter = (await http<Json>(sim, 'GET', '/v2/account')).body.cash as string;
    // 0.09975 × 65000 = 6483.75, less 25 bps = 16.209375.
    expect(Number(cashAfter) - Number(cashBefore)).toBeCloseTo(6467.540625, 6);
    expect((await http<Json>(sim, 'GET', '/v2/positions/BTCUSD')).status).toBe(404);
    expect((await http<Json[]>(sim, 'GET', '/v2/account/activities/CFEE')).body).toHaveLength(1);
  });

  it('the rate is settable: POST /_sim/crypto {fee_bps} and the feeBps option', async () => {
    expect((await control(sim, 'GET', '/_sim/crypto')).body).toEqual({ fee_bps: 25, legacy_symbols: false, wash_trade: 'crypto', fee_delay_ms: 0 });
    expect((await control(sim, 'POST', '/_sim/crypto', { fee_bps: 10 })).body).toMatchObject({ fee_bps: 10 });
    await order(sim, { symbol: 'ETH/USD', qty: '1', side: 'buy' });
    expect((await http<Json>(sim, 'GET', '/v2/positions/ETHUSD')).body.qty).toBe('0.999');
    const bad = await control(sim, 'POST', '/_sim/crypto', { fee_bps: -1 });
    expect([bad.status, bad.body]).toEqual([422, { code: 40010001, message: 'fee_bps must be a number between 0 and 1000' }]);

    const free = await start({ seed: 12, feeBps: 0 });
    await order(free, { symbol: 'ETH/USD', qty: '1', side: 'buy' });
    expect((await http<Json>(free, 'GET', '/v2/positions/ETHUSD')).body.qty).toBe('1');
    expect((await http<Json[]>(free, 'GET', '/v2/account/activities/CFEE')).body).toEqual([]);
  });
});

describe('positions show the fee-net qty and qty_available (spec Position.qty_available)', () => {
  it('lists and gets BTCUSD with qty net of the fee and qty_available net of open sells', async () => {
    const sim = await start({ seed: 13 });
    await outsideTrade(sim, { symbol: 'BTC/USD', side: 'buy', qty: '0.1' });
    const resting = await order(sim, { symbol: 'BTC/USD', qty: '0.05', side: 'sell', type: 'limit', limit_price: '99000' });
    expect(resting.status).toBe(200);
    const list = (await http<Json[]>(sim, 'GET', '/v2/positions')).body;
    expect(list).toHaveLength(1);
    expect(list[0]).toMatchObject({ symbol: 'BTCUSD', qty: '0.09975', qty_available: '0.04975', side: 'long' });
    expect((await http<Json>(sim, 'GET', '/v2/positions/BTCUSD')).body).toEqual(list[0]);
    const over = await order(sim, { symbol: 'BTC/USD', qty: '0.05', side: 'sell', type: 'limit', limit_price: '99000' });
    expect([over.status, over.body]).toEqual([
      403,
      { code: 40310000, message: 'insufficient balance for BTC (requested: 0.05, available: 0.04975)' },
    ]);
  });
});

describe('per-asset grids (docs "Crypto Spot Trading" assets; alpaca-py#161)', () => {
  let sim: Simulator;
  beforeAll(async () => {
    sim = await start({ seed: 14 });
  });

  it('GET /v2/assets/{symbol} answers BTC/USD (%2F or raw slash) and legacy BTCUSD with the same pair', async () => {
    const encoded = await http<Json>(sim, 'GET', '/v2/assets/BTC%2FUSD');
    expect(encoded.status).toBe(200);
    expect(Object.keys(encoded.body)).toEqual(Object.keys(fixture<Json>('asset-crypto.json')));
    expect(encoded.body).toMatchObject({
      class: 'crypto',
      symbol: 'BTC/USD',
      tradable: true,
      fractionable: true,
      min_order_size: '0.0001',
      min_trade_increment: '0.000000001',
      price_increment: '1',
    });
    expect((await http<Json>(sim, 'GET', '/v2/assets/BTCUSD')).body).toEqual(encoded.body);
    expect((await http<Json>(sim, 'GET', '/v2/assets/BTC/USD')).body).toEqual(encoded.body);
    expect((await http<Json>(sim, 'GET', `/v2/assets/${encoded.body.id as string}`)).body).toEqual(encoded.body);
    const shib = await http<Json>(sim, 'GET', '/v2/assets/SHIB%2FUSD');
    expect(shib.body).toMatchObject({ symbol: 'SHIB/USD', price_increment: '0.00000001', min_order_size: '100000', min_trade_increment: '1' });
    const trades = await http<{ trades: Record<string, Json> }>(sim, 'GET', '/v1beta3/crypto/us/latest/trades?symbols=SHIB/USD', undefined, {
      base: sim.dataUrl,
    });
    expect(trades.body.trades['SHIB/USD']?.p).toBe(0.00002345);
    const aapl = await http<Json>(sim, 'GET', '/v2/assets/AAPL');
    expect(aapl.body).toMatchObject({ class: 'us_equity', symbol: 'AAPL' });
    expect(aapl.body).not.toHaveProperty('price_increment');
    const list = (await http<Json[]>(sim, 'GET', '/v2/assets?asset_class=crypto')).body;
    expect(list.map((a) => a.symbol)).toContain('SHIB/USD');
    expect(list.every((a) => a.class === 'crypto')).toBe(true);
    const missing = await http<Json>(sim, 'GET', '/v2/assets/NOPE');
    expect([missing.status, missing.body]).toEqual([404, { code: 40410000, message: 'asset not found for NOPE' }]);
  });

  it('refuses qty below min_order_size or off min_trade_increment, and prices off price_increment (422)', async () => {
    const cases: [Json, string][] = [
      [{ symbol: 'BTC/USD', qty: '0.00005', side: 'buy' }, 'invalid qty 0.00005. qty must be >= min_order_size 0.0001 for BTC/USD'],
      [{ symbol: 'DOGE/USD', qty: '10.5', side: 'buy' }, 'invalid qty 10.5. qty must be a multiple of min_trade_increment 1 for DOGE/USD'],
      [{ symbol: 'SHIB/USD', qty: '99999', side: 'buy' }, 'invalid qty 99999. qty must be >= min_order_size 100000 for SHIB/USD'],
      [
        { symbol: 'BTC/USD', qty: '0.001', side: 'buy', type: 'limit', limit_price: '64000.5' },
        'invalid limit_price 64000.5. limit_price must be a multiple of price_increment 1 for BTC/USD',
      ],
      [
        { symbol: 'BTC/USD', qty: '0.001', side: 'buy', type: 'stop_limit', stop_price: '66000.25', limit_price: '66100' },
        'invalid stop_price 66000.25. stop_price must be a multiple of price_increment 1 for BTC/USD',
      ],
      [
        { symbol: 'SHIB/USD', qty: '100000', side: 'buy', type: 'limit', limit_price: '0.000023455' },
        'invalid limit_price 0.000023455. limit_price must be a multiple of price_increment 0.00000001 for SHIB/USD',
      ],
    ];
    for (const [body, message] of cases) {
      const r = await order(sim, body);
      expect([r.status, r.body]).toEqual([422, { code: 42210000, message }]);
    }
    expect(sim.engine.orders).toHaveLength(0);
  });

  it('accepts orders on the grids, sub-cent prices included, and checks a replace too', async () => {
    const shib = await order(sim, { symbol: 'SHIB/USD', qty: '100000', side: 'buy', type: 'limit', limit_price: '0.00002344' });
    expect([shib.status, shib.body.limit_price]).toEqual([200, '0.00002344']);
    const btc = await order(sim, { symbol: 'BTC/USD', qty: '0.000123456', side: 'buy', type: 'limit', limit_price: '60000' });
    expect(btc.status).toBe(200);
    const patch = await http<Json>(sim, 'PATCH', `/v2/orders/${btc.body.id as string}`, { limit_price: '60000.5' });
    expect([patch.status, patch.body]).toEqual([
      422,
      { code: 42210000, message: 'invalid limit_price 60000.5. limit_price must be a multiple of price_increment 1 for BTC/USD' },
    ]);
    const small = await http<Json>(sim, 'PATCH', `/v2/orders/${btc.body.id as string}`, { qty: '0.00001' });
    expect([small.status, small.body]).toEqual([
      422,
      { code: 42210000, message: 'invalid qty 0.00001. qty must be >= min_order_size 0.0001 for BTC/USD' },
    ]);
    expect((await http<Json>(sim, 'PATCH', `/v2/orders/${btc.body.id as string}`, { limit_price: '60001' })).status).toBe(200);
  });
});

describe('wash-trade protection for crypto (docs "User Protection"; Petersoj/alpaca-java#145)', () => {
  const WASH = { code: 40310000, message: 'potential wash trade detected. use complex orders' };
  let sim: Simulator;
  beforeAll(async () => {
    sim = await start({ seed: 15 });
    await outsideTrade(sim, { symbol: 'BTC/USD', side: 'buy', qty: '0.5' });
  });
  afterEach(async () => {
    await http(sim, 'DELETE', '/v2/orders');
    await control(sim, 'POST', '/_sim/crypto', { wash_trade: 'crypto' });
  });

  it('a resting sell stop_limit refuses a market buy and a limit buy at or above its limit; a lower limit buy rests', async () => {
    const stop = await order(sim, { symbol: 'BTC/USD', qty: '0.4', side: 'sell', type: 'stop_limit', stop_price: '60000', limit_price: '59900' });
    expect(stop.status).toBe(200);
    for (const body of [
      { symbol: 'BTC/USD', qty: '0.01', side: 'buy' },
      { symbol: 'BTCUSD', qty: '0.01', side: 'buy' },
      { symbol: 'BTC/USD', notional: '100', side: 'buy' },
      { symbol: 'BTC/USD', qty: '0.01', side: 'buy', type: 'limit', limit_price: '59900' },
      { symbol: 'BTC/USD', qty: '0.01', side: 'buy', type: 'limit', limit_price: '64000' },
      { symbol: 'BTC/USD', qty: '0.01', side: 'buy', type: 'stop_limit', stop_price: '70000', limit_price: '70100' },
    ]) {
      const r = await order(sim, body);
      expect([r.status, r.body]).toEqual([403, WASH]);
    }
    const below = await order(sim, { symbol: 'BTC/USD', qty: '0.01', side: 'buy', type: 'limit', limit_price: '59899' });
    expect(below.status).toBe(200);
    // Another symbol is not affected.
    expect((await order(sim, { symbol: 'ETH/USD', qty: '0.01', side: 'buy' })).status).toBe(200);
  });

  it('the mirror: a resting buy limit refuses a market sell and a sell limit at or below it', async () => {
    const bid = await order(sim, { symbol: 'BTC/USD', qty: '0.01', side: 'buy', type: 'limit', limit_price: '60000' });
    expect(bid.status).toBe(200);
    for (const body of [
      { symbol: 'BTC/USD', qty: '0.01', side: 'sell' },
      { symbol: 'BTC/USD', qty: '0.01', side: 'sell', type: 'limit', limit_price: '60000' },
      { symbol: 'BTC/USD', qty: '0.01', side: 'sell', type: 'stop_limit', stop_price: '59000', limit_price: '58000' },
    ]) {
      const r = await order(sim, body);
      expect([r.status, r.body]).toEqual([403, WASH]);
    }
    expect((await order(sim, { symbol: 'BTC/USD', qty: '0.01', side: 'sell', type: 'limit', limit_price: '60001' })).status).toBe(200);
  });

  it('a replace that would cross is refused too', async () => {
    await order(sim, { symbol: 'BTC/USD', qty: '0.01', side: 'sell', type: 'limit', limit_price: '70000' });
    const bid = await order(sim, { symbol: 'BTC/USD', qty: '0.01', side: 'buy', type: 'limit', limit_price: '60000' });
    const r = await http<Json>(sim, 'PATCH', `/v2/orders/${bid.body.id as string}`, { limit_price: '70000' });
    expect([r.status, r.body]).toEqual([403, WASH]);
  });

  it('the outside trader is the same account: its orders count and are refused alike (/_sim/trade)', async () => {
    await order(sim, { symbol: 'BTC/USD', qty: '0.4', side: 'sell', type: 'stop_limit', stop_price: '60000', limit_price: '59900' });
    const r = await control(sim, 'POST', '/_sim/trade', { symbol: 'BTC/USD', side: 'buy', qty: '0.01' });
    expect([r.status, r.body]).toEqual([403, WASH]);
    await http(sim, 'DELETE', '/v2/orders');
    await outsideTrade(sim, { symbol: 'BTC/USD', side: 'sell', qty: '0.01', type: 'limit', limit_price: '99000', fill: 'none' });
    const api = await order(sim, { symbol: 'BTC/USD', qty: '0.01', side: 'buy' });
    expect([api.status, api.body]).toEqual([403, WASH]);
  });

  it('equities are exempt by default (wash_trade "crypto"); "all" covers them and "off" nothing', async () => {
    await outsideTrade(sim, { symbol: 'AAPL', side: 'buy', qty: '2' });
    await order(sim, { symbol: 'AAPL', qty: '1', side: 'sell', type: 'limit', limit_price: '999', time_in_force: 'day' });
    expect((await order(sim, { symbol: 'AAPL', qty: '1', side: 'buy', time_in_force: 'day' })).status).toBe(200);
    await control(sim, 'POST', '/_sim/crypto', { wash_trade: 'all' });
    const r = await order(sim, { symbol: 'AAPL', qty: '1', side: 'buy', time_in_force: 'day' });
    expect([r.status, r.body]).toEqual([403, WASH]);
    await control(sim, 'POST', '/_sim/crypto', { wash_trade: 'off' });
    await order(sim, { symbol: 'BTC/USD', qty: '0.4', side: 'sell', type: 'stop_limit', stop_price: '60000', limit_price: '59900' });
    expect((await order(sim, { symbol: 'BTC/USD', qty: '0.01', side: 'buy' })).status).toBe(200);
    const bad = await control(sim, 'POST', '/_sim/crypto', { wash_trade: 'sometimes' });
    expect([bad.status, bad.body]).toEqual([422, { code: 40010001, message: 'wash_trade must be one of crypto, all, off' }]);
  });
});

describe('legacy crypto symbols (docs "Crypto trading (broker)": older activities and orders say BTCUSD)', () => {
  it('orders made while legacy_symbols is on, and their FILL activities, say BTCUSD for the same asset, and keep it', async () => {
    const sim = await start({ seed: 16 });
    const modern = await order(sim, { symbol: 'BTC/USD', qty: '0.01', side: 'buy' });
    await control(sim, 'POST', '/_sim/crypto', { legacy_symbols: true });
    const old = await order(sim, { symbol: 'BTC/USD', qty: '0.01', side: 'buy' });
    expect(old.body).toMatchObject({ symbol: 'BTCUSD', asset_id: modern.body.asset_id, asset_class: 'crypto' });
    await control(sim, 'POST', '/_sim/crypto', { legacy_symbols: false });
    expect((await http<Json>(sim, 'GET', `/v2/orders/${old.body.id as string}`)).body.symbol).toBe('BTCUSD');
    expect((await http<Json>(sim, 'GET', `/v2/orders/${modern.body.id as string}`)).body.symbol).toBe('BTC/USD');
    const fills = (await http<Json[]>(sim, 'GET', '/v2/account/activities/FILL?direction=asc')).body;
    expect(fills.map((f) => [f.order_id, f.symbol])).toEqual([
      [modern.body.id, 'BTC/USD'],
      [old.body.id, 'BTCUSD'],
    ]);
    // One position for both: the same asset.
    expect((await http<Json[]>(sim, 'GET', '/v2/positions')).body.map((p) => [p.symbol, p.qty])).toEqual([['BTCUSD', '0.01995']]);
    // Orders are found by either symbol.
    const bySymbol = (await http<Json[]>(sim, 'GET', '/v2/orders?status=all&symbols=BTCUSD')).body;
    expect(bySymbol.map((o) => o.id).sort()).toEqual([modern.body.id, old.body.id].sort());
  });

  it('the legacyCryptoSymbols option starts with it on (default off)', async () => {
    const sim = await start({ seed: 17, legacyCryptoSymbols: true });
    expect((await control(sim, 'GET', '/_sim/crypto')).body.legacy_symbols).toBe(true);
    expect((await order(sim, { symbol: 'ETH/USD', qty: '0.1', side: 'buy' })).body.symbol).toBe('ETHUSD');
  });
});

describe('CFEE ids and posting time (activity-cfee.json; 2022 docs: fees post at the end of the day; spec `date`/`after`/`until`: creation date)', () => {
  const q = (t: unknown) => encodeURIComponent(String(t));

  it('fee_delay_ms posts the CFEE later: the position is fee-net at once, the fee is served after the delay with an id before the fill already read', async () => {
    const sim = await start({ seed: 21 });
    expect((await control(sim, 'POST', '/_sim/crypto', { fee_delay_ms: 400 })).body).toMatchObject({ fee_delay_ms: 400 });
    await outsideTrade(sim, { symbol: 'ETH/USD', side: 'buy', qty: '1' });
    expect((await http<Json>(sim, 'GET', '/v2/positions/ETHUSD')).body.qty).toBe('0.9975');
    const early = (await http<Json[]>(sim, 'GET', '/v2/account/activities?direction=asc')).body;
    expect(early.map((a) => a.activity_type)).toEqual(['FILL']);
    const fill = early[0]!;
    const feeId = sim.engine.activities.fees[0]!.id;
    expect((await control(sim, 'GET', '/_sim/activities/pending')).body).toEqual({ ids: [feeId] });

    await sleep(450);
    // Paging on from the fill already read never returns it: its id is the day at midnight.
    expect((await http<Json[]>(sim, 'GET', `/v2/account/activities?direction=asc&page_token=${q(fill.id)}`)).body).toEqual([]);
    const cfee = (await http<Json[]>(sim, 'GET', '/v2/account/activities/CFEE')).body;
    expect(cfee).toEqual([expect.objectContaining({ id: feeId, activity_type: 'CFEE', qty: '-0.0025', symbol: 'ETHUSD' })]);
    expect(feeId < String(fill.id)).toBe(true);
    expect(feeId.slice(0, 17)).toBe(`${String(fill.id).slice(0, 8)}000000000`);
    // `date` is the fill's day, whenever the fee was posted.
    expect(cfee[0]!.date).toBe(`${feeId.slice(0, 4)}-${feeId.slice(4, 6)}-${feeId.slice(6, 8)}`);
  });

  it('after / until / date filter a CFEE by when it was posted, not by the midnight of its id', async () => {
    const sim = await start({ seed: 22, feeDelayMs: 300 });
    await outsideTrade(sim, { symbol: 'BTC/USD', side: 'buy', qty: '0.1' });
    await sleep(350);
    const [cfee, fill] = (await http<Json[]>(sim, 'GET', '/v2/account/activities?direction=asc')).body as [Json, Json];
    expect([cfee.activity_type, fill.activity_type]).toEqual(['CFEE', 'FILL']);
    const filled = Date.parse(String(fill.transaction_time));
    const iso = (ms: number) => new Date(ms).toISOString();
    const types = (path: string) => http<Json[]>(sim, 'GET', path).then((r) => r.body.map((a) => a.activity_type));
    // Both are after a time just before the fill (the fee was posted later still, its id says midnight).
    expect(await types(`/v2/account/activities?direction=asc&after=${q(iso(filled - 1000))}`)).toEqual(['CFEE', 'FILL']);
    expect(await types(`/v2/account/activities?activity_types=CFEE&after=${q(iso(filled - 1000))}`)).toEqual(['CFEE']);
    // Until just after the fill: the fee, posted 300 ms later, is not in it.
    expect(await types(`/v2/account/activities?direction=asc&until=${q(iso(filled + 100))}`)).toEqual(['FILL']);
    // After the fill but before the posting: only the fee.
    expect(await types(`/v2/account/activities?direction=asc&after=${q(iso(filled + 100))}`)).toEqual(['CFEE']);
    expect(await types(`/v2/account/activities/CFEE?after=${q(iso(filled + 1000))}`)).toEqual([]);
    // date= is the day it was created (New York): today for both here.
    expect(await types(`/v2/account/activities?direction=asc&date=${cfee.date}`)).toEqual(['CFEE', 'FILL']);
    expect(await types(`/v2/account/activities?activity_types=CFEE&date=2000-01-01`)).toEqual([]);
  });

  it('fee_delay_ms is validated (an integer up to a day) and shown by GET /_sim/crypto', async () => {
    const sim = await start({ seed: 23 });
    for (const value of [-1, 1.5, 86_400_001, '10']) {
      const r = await control(sim, 'POST', '/_sim/crypto', { fee_delay_ms: value });
      expect([r.status, r.body]).toEqual([422, { code: 40010001, message: 'fee_delay_ms must be an integer between 0 and 86400000' }]);
    }
    expect((await control(sim, 'GET', '/_sim/crypto')).body).toMatchObject({ fee_delay_ms: 0 });
    // Ids of fees made on one day stay unique and in creation order among themselves.
    await outsideTrade(sim, { symbol: 'BTC/USD', side: 'buy', qty: '0.1' });
    await outsideTrade(sim, { symbol: 'ETH/USD', side: 'buy', qty: '1' });
    const ids = (await http<Json[]>(sim, 'GET', '/v2/account/activities/CFEE?direction=asc')).body.map((a) => String(a.id));
    expect(ids).toHaveLength(2);
    expect(new Set(ids).size).toBe(2);
    expect([...ids].sort()).toEqual(ids);
    expect(ids.map((id) => id.slice(8, 17))).toEqual(['000000000', '000000000']);
  });
});

describe('late activities (alpacahq/Alpaca-API#176: activities can be missing and show up later)', () => {
  it('late_activity_ms makes the next FILL activity appear late, with an id before ids already served', async () => {
    const sim = await start({ seed: 18 });
    const armed = await control(sim, 'POST', '/_sim/faults', { late_activity_ms: 400 });
    expect(armed.body).toMatchObject({ late_activity_ms: 400, late_activity_next: 1, late_activity_rate: 0 });
    const a = await outsideTrade(sim, { symbol: 'AAPL', side: 'buy', qty: '1' });
    expect((await control(sim, 'GET', '/_sim/faults')).body.late_activity_next).toBe(0);
    const b = await outsideTrade(sim, { symbol: 'AAPL', side: 'buy', qty: '1' });

    const first = (await http<Json[]>(sim, 'GET', '/v2/account/activities/FILL?direction=asc')).body;
    expect(first.map((f) => f.order_id)).toEqual([b.id]);
    const watermark = String(first[0]!.id);
    const lateId = sim.engine.fills[0]!.id;
    expect((await control(sim, 'GET', '/_sim/activities/pending')).body).toEqual({ ids: [lateId] });

    await sleep(450);
    expect((await http<Json[]>(sim, 'GET', `/v2/account/activities/FILL?direction=asc&page_token=${encodeURIComponent(watermark)}`)).body).toEqual([]);
    const later = (await http<Json[]>(sim, 'GET', '/v2/account/activities/FILL?direction=asc')).body;
    expect(later.map((f) => f.order_id)).toEqual([a.id, b.id]);
    expect(String(later[0]!.id) < watermark).toBe(true);
    expect((await control(sim, 'GET', '/_sim/activities/pending')).body).toEqual({ ids: [] });
  });

  it('late_activity_rate delays each FILL (and its CFEE) by chance; the keys are validated', async () => {
    const sim = await start({ seed: 19 });
    await control(sim, 'POST', '/_sim/faults', { late_activity_rate: 1, late_activity_ms: 300 });
    expect((await control(sim, 'GET', '/_sim/faults')).body).toMatchObject({ late_activity_rate: 1, late_activity_next: 0 });
    await outsideTrade(sim, { symbol: 'ETH/USD', side: 'buy', qty: '0.1' });
    expect((await http<Json[]>(sim, 'GET', '/v2/account/activities')).body).toEqual([]);
    await sleep(350);
    expect((await http<Json[]>(sim, 'GET', '/v2/account/activities?direction=asc')).body.map((x) => x.activity_type)).toEqual(['CFEE', 'FILL']);
    for (const [body, message] of [
      [{ late_activity_rate: 2 }, 'late_activity_rate must be a number between 0 and 1'],
      [{ late_activity_ms: -1 }, 'late_activity_ms must be a number between 0 and 600000'],
      [{ late_activity_next: 1.5 }, 'late_activity_next must be an integer between 0 and 1000'],
    ] as const) {
      const r = await control(sim, 'POST', '/_sim/faults', body);
      expect([r.status, r.body]).toEqual([422, { code: 40010001, message }]);
    }
    expect((await control(sim, 'DELETE', '/_sim/faults')).body).toMatchObject({ late_activity_ms: 0, late_activity_next: 0, late_activity_rate: 0 });
  });
});

describe('market data on its own host (docs "Market data": data.alpaca.markets)', () => {
  it('serves /v1beta3 and /v2/stocks on dataUrl only; the trading host answers 404', async () => {
    const sim = await start({ seed: 20 });
    expect(sim.dataUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(sim.dataUrl).not.toBe(sim.url);
    for (const path of ['/v1beta3/crypto/us/latest/trades?symbols=BTC/USD', '/v2/stocks/AAPL/trades/latest', '/v2/stocks/trades/latest?symbols=AAPL']) {
      const trading = await http<Json>(sim, 'GET', path);
      expect([trading.status, trading.body]).toEqual([404, { code: 40410000, message: 'endpoint not found' }]);
      expect((await http<Json>(sim, 'GET', path, undefined, { base: sim.dataUrl })).status).toBe(200);
    }
    // The data host serves no trading or control endpoints.
    expect((await http<Json>(sim, 'GET', '/v2/account', undefined, { base: sim.dataUrl })).status).toBe(404);
    expect((await http<Json>(sim, 'GET', '/_sim/state', undefined, { base: sim.dataUrl, auth: false })).status).toBe(404);
    // Stock data needs the keys there too; crypto data does not.
    expect((await http<Json>(sim, 'GET', '/v2/stocks/AAPL/trades/latest', undefined, { base: sim.dataUrl, auth: false })).status).toBe(401);
    const cfg = new marketData.Configuration({ basePath: sim.dataUrl, keyId: KEY, secret: SECRET });
    const crypto = await new marketData.CryptoApi(cfg).cryptoLatestTrades({ loc: 'us', symbols: 'BTC/USD' });
    expect(crypto.trades['BTC/USD']?.p).toBe(65000);
    // Requests on either host count in /_sim/stats.
    const stats = (await control(sim, 'GET', '/_sim/stats')).body as { requests: { by_route: Record<string, number> } };
    expect(stats.requests.by_route['GET /v1beta3/crypto/{loc}/latest/trades']).toBe(2);
  });
});
