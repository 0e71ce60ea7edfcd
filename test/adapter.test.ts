import { describe, expect, it } from 'vitest';
import { parseActivity, parseFeeActivity, parseFillActivity, parseOrder, parseTradeUpdate } from '../src/broker/adapter.js';
import { executionFromOrder } from '../src/domain/reports.js';
import { pairSymbol, positionPathSymbol } from '../src/domain/symbols.js';
import { fixture } from './support/fixtures.js';

const ORDER_FIXTURES = [
  'order-limit-accepted.json',
  'order-market-notional-accepted.json',
  'order-crypto-market-pending-new-js-sdk.json',
  'order-option-limit-pending-new.json',
  'order-ipo-market-notional-accepted.json',
];

describe('broker adapter: real Alpaca payloads', () => {
  it.each(ORDER_FIXTURES)('parses %s', (name) => {
    const raw = fixture(name);
    const r = parseOrder(raw);
    expect(r.ok, !r.ok ? r.reason : '').toBe(true);
    if (!r.ok) return;
    expect(r.value.orderId).toBe(raw.id);
    expect(r.value.clientOrderId).toBe(raw.client_order_id);
    expect(r.value.filledQty).toBe('0');
    expect(executionFromOrder(r.value)).toBeNull();
  });

  it('parses the orders list and the close-position body', () => {
    for (const o of fixture<any[]>('orders-list.json')) expect(parseOrder(o).ok).toBe(true);
    expect(parseOrder(fixture('close-position-response.json').body).ok).toBe(true);
  });

  it('turns the trade_updates fill into an order report and a stream execution', () => {
    const msg = fixture('trade-update-fill.json');
    const r = parseTradeUpdate(msg.data);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value.event).toBe('fill');
    expect(r.value.order.status).toBe('filled');
    expect(r.value.positionQty).toBe('0');
    expect(r.value.execution).toEqual({
      orderId: 'a5be8f5e-fdfa-41f5-a644-7a74fe947a8f',
      // The 2022 payload names the pair the legacy way (SOLUSD): read as the pair the service uses.
      symbol: 'SOL/USD',
      side: 'sell',
      source: 'stream',
      cumQty: '1790.86',
      qty: '1790.86',
      price: '105.8988475',
      avgPrice: '105.8988475',
      execId: '2f63ea93-423d-4169-b3f6-3fdafc10c418',
      executionId: '2f63ea93-423d-4169-b3f6-3fdafc10c418',
      orderStatus: 'filled',
      at: '2022-04-19T17:45:05.024916716Z',
    });
  });

  it('parses the broker API trade events that share the trading stream fields', () => {
    for (const name of ['broker-sse-trade-event-fill.json', 'broker-sse-trade-event-new.json']) {
      const raw = fixture(name);
      for (const ev of Array.isArray(raw) ? raw : [raw]) {
        const r = parseTradeUpdate(ev);
        expect(r.ok, !r.ok ? `${name}: ${r.reason}` : '').toBe(true);
      }
    }
  });

  it('parses FILL activities with their cumulative quantity as identity', () => {
    const one = parseFillActivity(fixture('activity-fill.json'));
    expect(one).toMatchObject({ ok: true, value: { orderId: 'b5abe576-6a8a-49f3-a353-46b72c1ccae9', cumQty: '2', qty: '2', price: '174.78', source: 'activity' } });
    expect(parseFillActivity(fixture('activity-fill-lpcn.json')).ok).toBe(true);
    const partials = fixture<any[]>('activities-fills-with-partial-fills.json').map(parseFillActivity);
    expect(partials.every((p) => p.ok)).toBe(true);
    expect(partials.map((p) => (p.ok ? p.value.cumQty : null))).toEqual(['1.792161878', '2.792161878', '0.058773239', '1.998065556', '5.998065556']);
  });

  it('refuses non-FILL activities with a reason', () => {
    const [csd, fill] = fixture<any[]>('activities-mixed.json');
    const r = parseFillActivity(csd);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toMatch(/activity_type/);
    expect(parseFillActivity(fill)).toMatchObject({ ok: true, value: { cumQty: '10.177047834', qty: '9' } });
    expect(parseFillActivity(fixture('activity-nontrade-div.json')).ok).toBe(false);
    expect(parseFillActivity(fixture('activity-cfee.json')).ok).toBe(false);
  });

  it('normalises decimals so equal quantities have one key', () => {
    const raw = { ...fixture('activity-fill.json'), cum_qty: '2.000', qty: '2.0' };
    expect(parseFillActivity(raw)).toMatchObject({ ok: true, value: { cumQty: '2', qty: '2' } });
  });
});

describe('broker adapter: malformed payloads are refused, never thrown', () => {
  const order = fixture('order-limit-accepted.json');
  const fill = fixture('trade-update-fill.json').data;
  const cases: Array<[string, () => unknown]> = [
    ['null', () => null],
    ['a string', () => 'fill'],
    ['an array', () => [fill]],
    ['no order', () => ({ ...fill, order: undefined })],
    ['float quantity', () => ({ ...fill, order: { ...fill.order, filled_qty: 1790.86 } })],
    ['exponent quantity', () => ({ ...fill, order: { ...fill.order, filled_qty: '1e3' } })],
    ['negative fill qty', () => ({ ...fill, qty: '-1' })],
    ['unknown side', () => ({ ...fill, order: { ...fill.order, side: 'short' } })],
    ['missing id', () => ({ ...fill, order: { ...fill.order, id: '' } })],
    ['bad timestamp', () => ({ ...fill, timestamp: 'yesterday' })],
    ['fill without avg price', () => ({ ...fill, order: { ...fill.order, filled_avg_price: null } })],
    ['fill event with nothing filled', () => ({ ...fill, order: { ...fill.order, filled_qty: '0' } })],
  ];
  it.each(cases)('trade update: %s', (_name, make) => {
    const r = parseTradeUpdate(make());
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason.length).toBeGreaterThan(5);
  });

  it.each([
    ['qty as number', { ...order, qty: 2 }],
    ['status missing', { ...order, status: undefined }],
    ['prototype junk', Object.create({ id: 'x' })],
  ])('order: %s', (_n, raw) => {
    expect(parseOrder(raw).ok).toBe(false);
  });

  it.each([
    ['zero qty', { ...fixture('activity-fill.json'), qty: '0' }],
    ['missing cum_qty', { ...fixture('activity-fill.json'), cum_qty: undefined }],
    ['price NaN', { ...fixture('activity-fill.json'), price: 'NaN' }],
  ])('activity: %s', (_n, raw) => {
    expect(parseFillActivity(raw).ok).toBe(false);
  });
});

describe('position symbols (crypto positions are keyed without the slash)', () => {
  it('looks pairs up un-slashed and maps listed symbols back to pairs', () => {
    expect(positionPathSymbol('BTC/USD')).toBe('BTCUSD');
    expect(positionPathSymbol('AAPL')).toBe('AAPL');
    expect(pairSymbol('BTCUSD', 'crypto')).toBe('BTC/USD');
    expect(pairSymbol('ETHBTC', 'crypto')).toBe('ETH/BTC');
    expect(pairSymbol('USDTUSD', 'crypto')).toBe('USDT/USD');
    expect(pairSymbol('SOLUSDT', 'crypto')).toBe('SOL/USDT');
    expect(pairSymbol('BTC/USD', 'crypto')).toBe('BTC/USD');
    expect(pairSymbol('MSFT', 'us_equity')).toBe('MSFT');
  });
});

describe('CFEE activities (crypto fees taken in the coin)', () => {
  const cfee = fixture('activity-cfee.json');

  it('parses the documented CFEE: the pair form, the coin taken as a positive quantity, the day only (a midnight id), placed at that New York day\'s end', () => {
    // After every fill of 2022-08-12 in New York (EDT): its buy's included, whatever its time.
    expect(parseFeeActivity(cfee)).toEqual({
      ok: true,
      value: { activityId: cfee.id, symbol: 'ETH/USD', qty: '0.000195', price: '1884.5', at: '2022-08-13T03:59:59.999999999Z', timed: false },
    });
    // No id time at all: its date's day, the same way (EST in January).
    expect(parseFeeActivity({ ...cfee, id: 'x', date: '2022-01-05' })).toMatchObject({ ok: true, value: { at: '2022-01-06T04:59:59.999999999Z', timed: false } });
    // Read during its day: it was taken by the time it was read, so it is placed then.
    expect(parseFeeActivity(cfee, new Date('2022-08-12T15:00:00.250Z'))).toMatchObject({ ok: true, value: { at: '2022-08-12T15:00:00.250000000Z', timed: false } });
  });

  it("takes the time from the id (New York, to the millisecond) when it is one, or the transaction time; the SDK's Date for date", () => {
    const sim = { ...cfee, id: '20260302101530123::0000000000a1-x', symbol: 'BTCUSD', qty: '-0.00125', date: new Date('2026-03-02T00:00:00Z') };
    expect(parseFeeActivity(sim)).toMatchObject({ ok: true, value: { symbol: 'BTC/USD', qty: '0.00125', at: '2026-03-02T15:15:30.123000000Z', timed: true } });
    expect(parseFeeActivity({ ...cfee, transaction_time: '2022-08-12T20:00:00.5Z' })).toMatchObject({ ok: true, value: { at: '2022-08-12T20:00:00.500000000Z', timed: true } });
  });

  it.each([
    ['a positive qty', { ...cfee, qty: '0.000195' }],
    ['a zero qty', { ...cfee, qty: '0' }],
    ['no symbol', { ...cfee, symbol: undefined }],
    ['a canceled fee', { ...cfee, status: 'canceled' }],
    ['no time at all', { ...cfee, id: 'x', date: undefined }],
    ['a FILL', fixture('activity-fill.json')],
  ])('refuses %s', (_n, raw) => {
    expect(parseFeeActivity(raw).ok).toBe(false);
  });

  it('parseActivity routes FILL and CFEE and refuses anything else', () => {
    expect(parseActivity(fixture('activity-fill.json'))).toMatchObject({ ok: true, value: { type: 'fill', fill: { cumQty: '2' } } });
    expect(parseActivity(cfee)).toMatchObject({ ok: true, value: { type: 'fee', fee: { symbol: 'ETH/USD' } } });
    expect(parseActivity(fixture('activity-nontrade-div.json'))).toMatchObject({ ok: false, reason: expect.stringMatching(/activity_type DIV/) });
    expect(parseActivity({ ...cfee, qty: 'abc' }).ok).toBe(false);
  });
});

// Older orders and activities name crypto pairs the legacy way (BTCUSD); newer ones BTC/USD (docs
// "Crypto trading (broker)"). The service names them one way: the pair.
describe('legacy crypto symbols are read as pairs', () => {
  it('orders by their asset class, FILL activities (no asset class) by their shape', () => {
    const order = fixture<any>('order-crypto-market-pending-new-js-sdk.json');
    const legacy = parseOrder({ ...order, symbol: 'BTCUSD', asset_class: 'crypto' });
    expect(legacy.ok && legacy.value.symbol).toBe('BTC/USD');
    const fill = fixture<any>('activity-fill.json');
    for (const [raw, want] of [['ETHUSD', 'ETH/USD'], ['SHIBUSD', 'SHIB/USD'], ['BTCUSDT', 'BTC/USDT'], ['AAPL', 'AAPL'], ['GOOGL', 'GOOGL'], ['BTC/USD', 'BTC/USD']]) {
      const parsed = parseFillActivity({ ...fill, symbol: raw });
      expect(parsed.ok && parsed.value.symbol).toBe(want);
    }
  });
});
