/** In-process unit tests of the engine's arithmetic and ids (no HTTP). */
import { describe, expect, it } from 'vitest';
import { AssetCatalog } from '../../src/sim/assets.js';
import { MonotonicClock, nyCompactStamp, parseTimeParam, rfc3339 } from '../../src/sim/clock.js';
import { Dec, fmt, parsePositiveDecimal } from '../../src/sim/decimal.js';
import { Engine } from '../../src/sim/engine.js';
import { IdFactory } from '../../src/sim/ids.js';
import { orderJson } from '../../src/sim/order-json.js';
import { parseOrderRequest } from '../../src/sim/order-request.js';
import { Rng } from '../../src/sim/rng.js';

function engine(seed = 1): Engine {
  return new Engine({ clock: new MonotonicClock(), ids: new IdFactory(new Rng(seed)), assets: new AssetCatalog() });
}

function spec(e: Engine, body: Record<string, unknown>) {
  return parseOrderRequest({ type: 'market', time_in_force: 'gtc', side: 'buy', ...body }, e.assets);
}

describe('decimals', () => {
  it('formats without exponent or trailing zeros and parses strictly', () => {
    expect(fmt(new Dec('1.500'))).toBe('1.5');
    expect(fmt(new Dec('0.000000001'))).toBe('0.000000001');
    expect(fmt(new Dec('-0'))).toBe('0');
    expect(fmt(new Dec('123456789012345678901234.5'))).toBe('123456789012345678901234.5');
    expect(parsePositiveDecimal('0.123456789')).toMatchObject({ ok: true });
    expect(parsePositiveDecimal('0.1234567891')).toEqual({ ok: false, reason: 'too_precise' });
    expect(parsePositiveDecimal(0)).toEqual({ ok: false, reason: 'not_positive' });
    expect(parsePositiveDecimal('1e3')).toEqual({ ok: false, reason: 'invalid' });
    expect(parsePositiveDecimal(1.25)).toMatchObject({ ok: true });
  });
});

describe('fills, VWAP and positions', () => {
  it('computes filled_avg_price as an exact VWAP and tracks position averages', () => {
    const e = engine();
    e.crypto.update({ fee_bps: 0 }); // arithmetic only; fees: crypto-rules.test.ts
    const btc = e.assets.resolve('BTC/USD')!;
    const { order } = e.place(spec(e, { symbol: 'BTC/USD', qty: '0.3', type: 'limit', limit_price: '60000' }), { autoFill: false });
    e.setPrice(btc, new Dec('59999.99'));
    e.forceFill(order.id, new Dec('0.1'));
    e.setPrice(btc, new Dec('59000.01'));
    e.forceFill(order.id, new Dec('0.2'));
    const json = orderJson(order);
    // (0.1×59999.99 + 0.2×59000.01) / 0.3 = 59333.336666666…
    expect(json.filled_avg_price).toBe('59333.336666667');
    expect(json.status).toBe('filled');
    expect(e.fills.map((f) => [f.type, fmt(f.cumQty), fmt(f.leavesQty)])).toEqual([
      ['partial_fill', '0.1', '0.2'],
      ['fill', '0.3', '0'],
    ]);
    const h = e.portfolio.holding('BTC/USD')!;
    expect(fmt(h.qty)).toBe('0.3');
    expect(h.avgEntry.times(h.qty).toFixed()).toBe('17800.001');
    expect(fmt(e.portfolio.cash)).toBe('82199.999');
  });

  it('handles equity shorts crossing through zero', () => {
    const e = engine();
    e.place(spec(e, { symbol: 'AAPL', qty: '5', side: 'sell', time_in_force: 'day' }));
    expect(fmt(e.portfolio.qty('AAPL'))).toBe('-5');
    e.setPrice(e.assets.resolve('AAPL')!, new Dec('180'));
    // One order cannot flip a position at Alpaca (Alpaca-API#90; equity-rules.test.ts): forced here.
    expect(() => e.place(spec(e, { symbol: 'AAPL', qty: '8', time_in_force: 'day' }))).toThrow('insufficient qty available');
    e.place(spec(e, { symbol: 'AAPL', qty: '8', time_in_force: 'day' }), { ignoreHeld: true });
    const h = e.portfolio.holding('AAPL')!;
    expect(fmt(h.qty)).toBe('3');
    expect(fmt(h.avgEntry)).toBe('180');
    expect(fmt(e.portfolio.cash)).toBe(String(100000 + 5 * 190 - 8 * 180));
  });

  it('fills notional market orders in quantity truncated to 9 decimals', () => {
    const e = engine();
    const { order } = e.place(spec(e, { symbol: 'ETH/USD', notional: '100' }));
    expect(orderJson(order)).toMatchObject({ qty: null, notional: '100', filled_qty: '0.03125', status: 'filled' });
  });

  it('cancels an unmarketable ioc limit order', () => {
    const e = engine();
    const { order } = e.place(spec(e, { symbol: 'BTC/USD', qty: '1', type: 'limit', limit_price: '1', time_in_force: 'ioc' }));
    expect(order.status).toBe('canceled');
  });
});

describe('ids and time', () => {
  it('activity ids sort in creation order, even within one millisecond', () => {
    const ids = new IdFactory(new Rng(9));
    const micros = Date.UTC(2024, 2, 5, 15, 0, 0, 123) * 1000;
    const a = ids.activityId(micros);
    const b = ids.activityId(micros);
    const c = ids.activityId(micros - 3_600_000_000); // clock going backwards (DST fall-back)
    expect(a.id < b.id && b.id < c.id).toBe(true);
    expect(a.id.startsWith('20240305100000123::')).toBe(true); // New York time (EST)
    expect(c.id.startsWith('20240305100000123::')).toBe(true);
    expect(a.id.endsWith(a.uuid)).toBe(true);
  });

  it('is deterministic for a seed', () => {
    const r1 = new Rng(123);
    const r2 = new Rng(123);
    expect([r1.uuid(), r1.uuid()]).toEqual([r2.uuid(), r2.uuid()]);
    expect(new Rng(124).uuid()).not.toBe(new Rng(123).uuid());
  });

  it('formats and parses RFC 3339', () => {
    const micros = Date.UTC(2022, 1, 2, 18, 55, 9, 981) * 1000 + 482;
    expect(rfc3339(micros)).toBe('2022-02-02T18:55:09.981482Z');
    expect(nyCompactStamp(micros)).toBe('20220202135509981');
    expect(parseTimeParam('2022-02-02T18:55:09.981482Z')).toBe(micros);
    expect(parseTimeParam('2022-02-02T13:55:09.981482123-05:00')).toBe(micros);
    expect(parseTimeParam('2022-02-02T13:55:09.981482 05:00')).toBe(micros - 10 * 3_600_000_000); // "+" decoded as space
    expect(parseTimeParam('2022-02-02')).toBe(Date.UTC(2022, 1, 2, 5) * 1000);
    expect(parseTimeParam('2022-07-02')).toBe(Date.UTC(2022, 6, 2, 4) * 1000);
    expect(parseTimeParam('nope')).toBeNull();
    const clock = new MonotonicClock();
    const t = [clock.nowMicros(), clock.nowMicros(), clock.nowMicros()];
    expect(t[0]! < t[1]! && t[1]! < t[2]!).toBe(true);
  });
});
