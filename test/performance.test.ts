import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { computePerformance, type PerformanceFee, type PerformanceFill, type PerformanceReport, type PerformanceStats } from '../src/performance/fifo.js';
import { D } from '../src/decimal.js';
import { insertFee } from '../src/store/fees.js';
import { openDatabase, type Database } from '../src/store/database.js';
import { startApi, type ApiServer } from '../src/api/server.js';
import { captureLogger } from './support/log-capture.js';

/** Fills in ledger order from [symbol, side, qty, price] rows; filled_at t1, t2, … */
const ledger = (rows: Array<[string, 'buy' | 'sell', string, string]>): PerformanceFill[] =>
  rows.map(([symbol, side, qty, price], i) => ({ id: i + 1, symbol, side, qty, price, filled_at: `t${i + 1}` }));

/** Curve points [at, realized_pnl, net_pnl]; net defaults to realized (no fees). */
const curve = (...points: Array<[string, string, string?]>) => points.map(([at, realized_pnl, net_pnl]) => ({ at, realized_pnl, net_pnl: net_pnl ?? realized_pnl }));

const dec = (s: string) => new D(s);

/** The figures add up, checked in decimals for one PerformanceStats. */
function expectAddsUp(s: PerformanceStats): void {
  // realized = gross profit − gross loss, exactly, over the same closed lots.
  expect(dec(s.realized_pnl).eq(dec(s.gross_profit).minus(s.gross_loss))).toBe(true);
  expect(dec(s.gross_profit).gte(0) && dec(s.gross_loss).gte(0) && dec(s.fees).gte(0)).toBe(true);
  // net = realized − fees.
  expect(dec(s.net_pnl).eq(dec(s.realized_pnl).minus(s.fees))).toBe(true);
  // profit factor: null without a loss, 0 with losses and no profit, else the ratio (10 places).
  if (dec(s.gross_loss).isZero()) expect(s.profit_factor).toBeNull();
  else if (dec(s.gross_profit).isZero()) expect(s.profit_factor).toBe('0');
  else expect(dec(s.profit_factor!).eq(dec(s.gross_profit).div(s.gross_loss).toDecimalPlaces(10, D.ROUND_HALF_EVEN))).toBe(true);
  expect(s.wins + s.losses).toBeLessThanOrEqual(s.round_trips);
  // The curve ends where the figures are; each point's net is its realized less the fees so far.
  const last = s.equity_curve.at(-1);
  if (last) expect(last).toMatchObject({ realized_pnl: s.realized_pnl, net_pnl: s.net_pnl });
  else expect([s.realized_pnl, s.fees]).toEqual(['0', '0']);
  for (const p of s.equity_curve) expect(dec(p.net_pnl).lte(p.realized_pnl)).toBe(true);
}

/** Every stats of a report adds up, and the per-symbol figures sum to the total. */
function expectReportAddsUp(r: PerformanceReport): void {
  expectAddsUp(r.total);
  const symbols = Object.values(r.by_symbol);
  symbols.forEach(expectAddsUp);
  if (symbols.length === 0) return;
  for (const k of ['realized_pnl', 'gross_profit', 'gross_loss', 'fees', 'net_pnl'] as const) {
    expect(symbols.reduce((sum, s) => sum.plus(s[k]), new D(0)).eq(r.total[k])).toBe(true);
  }
  for (const k of ['closed_lots', 'round_trips', 'wins', 'losses'] as const) expect(symbols.reduce((n, s) => n + s[k], 0)).toBe(r.total[k]);
}

/** computePerformance, with every report it gives checked to add up. */
function perf(fills: readonly PerformanceFill[], opts: { symbol?: string; fees?: readonly PerformanceFee[] } = {}): PerformanceReport {
  const r = computePerformance(fills, opts);
  expectReportAddsUp(r);
  return r;
}

describe('computePerformance (FIFO)', () => {
  it('a long round trip that wins', () => {
    const r = perf(ledger([['AAPL', 'buy', '10', '100'], ['AAPL', 'sell', '10', '110']]));
    const expected = {
      realized_pnl: '100',
      gross_profit: '100',
      gross_loss: '0',
      closed_lots: 1,
      fees: '0',
      net_pnl: '100',
      round_trips: 1,
      wins: 1,
      losses: 0,
      win_rate: '1',
      profit_factor: null,
      expectancy: '100',
      max_drawdown: '0',
      open_qty: '0',
      equity_curve: curve(['t2', '100']),
    };
    expect(r).toEqual({ total: expected, by_symbol: { AAPL: expected } });
  });

  it('a long round trip that loses', () => {
    const r = perf(ledger([['AAPL', 'buy', '5', '50.25'], ['AAPL', 'sell', '5', '48.75']]));
    expect(r.total).toMatchObject({
      realized_pnl: '-7.5',
      round_trips: 1,
      wins: 0,
      losses: 1,
      win_rate: '0',
      gross_profit: '0',
      gross_loss: '7.5',
      profit_factor: '0',
      expectancy: '-7.5',
      max_drawdown: '7.5', // the curve starts at 0
    });
  });

  it('closes the oldest lot first, across two lots, with partial closes', () => {
    const fills = ledger([
      ['AAPL', 'buy', '10', '100'],
      ['AAPL', 'buy', '10', '120'],
      ['AAPL', 'sell', '15', '130'],
    ]);
    // FIFO: 10×(130−100) + 5×(130−120) = 350; LIFO would give 10×10 + 5×30 = 250.
    const open = perf(fills).total;
    // Two closed lots (the whole 100 lot, 5 of the 120 lot), counted although the trip is open.
    expect(open).toMatchObject({ realized_pnl: '350', gross_profit: '350', gross_loss: '0', closed_lots: 2, round_trips: 0, win_rate: null, expectancy: null, open_qty: '5' });
    expect(open.equity_curve).toEqual(curve(['t3', '350']));

    // The last 5 come from the 120 lot: 5×(110−120) = −50; the trip closes at 300.
    const done = perf([...fills, { id: 4, symbol: 'AAPL', side: 'sell', qty: '5', price: '110', filled_at: 't4' }]).total;
    expect(done).toMatchObject({ realized_pnl: '300', round_trips: 1, wins: 1, expectancy: '300', max_drawdown: '50', open_qty: '0' });
    // Gross figures are per closed lot: the last 5 lost 50 although the trip as a whole won 300.
    expect(done).toMatchObject({ gross_profit: '350', gross_loss: '50', closed_lots: 3, profit_factor: '7' });
    expect(done.equity_curve).toEqual(curve(['t3', '350'], ['t4', '300']));
  });

  it('a short round trip: a sell with no long lots opens a short', () => {
    const fills = ledger([
      ['TSLA', 'sell', '4', '50'],
      ['TSLA', 'buy', '1', '55'], // 1×(50−55) = −5
      ['TSLA', 'buy', '3', '40'], // 3×(50−40) = 30
    ]);
    expect(perf(fills.slice(0, 2)).total.open_qty).toBe('-3');
    const r = perf(fills).total;
    expect(r).toMatchObject({
      realized_pnl: '25',
      round_trips: 1,
      wins: 1,
      losses: 0,
      gross_profit: '30', // the lot closed at 40
      gross_loss: '5', // the lot closed at 55
      profit_factor: '6',
      max_drawdown: '5',
      open_qty: '0',
    });
    expect(r.equity_curve).toEqual(curve(['t2', '-5'], ['t3', '25']));
  });

  it('one fill larger than the position closes it and opens the rest the other way', () => {
    const r = computePerformance(
      ledger([
        ['AAPL', 'buy', '10', '100'],
        ['AAPL', 'sell', '15', '105'], // long closes +50 (trip 1); short 5 @ 105 opens
        ['AAPL', 'buy', '8', '107'], // short closes 5×(105−107) = −10 (trip 2); long 3 @ 107 opens
      ]),
    ).total;
    expect(r).toEqual({
      realized_pnl: '40',
      gross_profit: '50',
      gross_loss: '10',
      closed_lots: 2,
      fees: '0',
      net_pnl: '40',
      round_trips: 2,
      wins: 1,
      losses: 1,
      win_rate: '0.5',
      profit_factor: '5',
      expectancy: '20',
      max_drawdown: '10',
      open_qty: '3',
      equity_curve: curve(['t2', '50'], ['t3', '40']),
    });
  });

  it('crypto quantities with 9 decimals stay exact', () => {
    const fills = ledger([
      ['BTC/USD', 'buy', '1.000000001', '30000.1'],
      ['BTC/USD', 'sell', '0.333333333', '30000.3'], // 0.0666666666
      ['BTC/USD', 'sell', '0.666666668', '30000.2'], // 0.0666666668
    ]);
    expect(perf(fills.slice(0, 2)).total.open_qty).toBe('0.666666668');
    // Floats would say 0.13333333340169773.
    expect(perf(fills).total).toMatchObject({
      realized_pnl: '0.1333333334',
      round_trips: 1,
      open_qty: '0',
      equity_curve: curve(['t2', '0.0666666666'], ['t3', '0.1333333334']),
    });
  });

  it('max drawdown over win, loss, loss, win', () => {
    const r = computePerformance(
      ledger([
        ['AAPL', 'buy', '1', '100'],
        ['AAPL', 'sell', '1', '110'], // +10 → 10 (peak)
        ['AAPL', 'buy', '1', '100'],
        ['AAPL', 'sell', '1', '96'], // −4 → 6
        ['AAPL', 'buy', '2', '50'],
        ['AAPL', 'sell', '2', '46'], // −8 → −2 (trough: 12 below the peak)
        ['AAPL', 'buy', '1', '20'],
        ['AAPL', 'sell', '1', '25'], // +5 → 3
      ]),
    ).total;
    expect(r).toMatchObject({
      realized_pnl: '3',
      round_trips: 4,
      wins: 2,
      losses: 2,
      win_rate: '0.5',
      gross_profit: '15',
      gross_loss: '12',
      profit_factor: '1.25',
      expectancy: '0.75',
      max_drawdown: '12',
    });
    expect(r.equity_curve.map((p) => p.realized_pnl)).toEqual(['10', '6', '-2', '3']);
  });

  it('profit factor is null without losses; a break-even trip is neither win nor loss', () => {
    const r = computePerformance(
      ledger([
        ['AAPL', 'buy', '1', '10'],
        ['AAPL', 'sell', '1', '11'],
        ['AAPL', 'buy', '1', '10'],
        ['AAPL', 'sell', '1', '10'],
        ['AAPL', 'buy', '1', '10'],
        ['AAPL', 'sell', '1', '12'],
      ]),
    ).total;
    expect(r).toMatchObject({
      round_trips: 3,
      wins: 2,
      losses: 0,
      win_rate: '0.6666666667', // 10 places, half-even
      gross_loss: '0',
      profit_factor: null,
      expectancy: '1',
      max_drawdown: '0',
    });
  });

  it('splits by symbol; the total interleaves them in ledger order', () => {
    const fills = ledger([
      ['AAPL', 'buy', '2', '100'],
      ['MSFT', 'buy', '3', '300'],
      ['AAPL', 'sell', '2', '110'], // +20
      ['MSFT', 'sell', '3', '298'], // −6
      ['AAPL', 'buy', '1', '105'],
    ]);
    const r = perf(fills);
    expect(Object.keys(r.by_symbol)).toEqual(['AAPL', 'MSFT']);
    expect(r.total).toEqual({
      realized_pnl: '14',
      gross_profit: '20',
      gross_loss: '6',
      closed_lots: 2,
      fees: '0',
      net_pnl: '14',
      round_trips: 2,
      wins: 1,
      losses: 1,
      win_rate: '0.5',
      profit_factor: '3.3333333333',
      expectancy: '7',
      max_drawdown: '6',
      open_qty: null, // shares of different stocks do not add up
      equity_curve: curve(['t3', '20'], ['t4', '14']),
    });
    expect(r.by_symbol.AAPL).toMatchObject({ realized_pnl: '20', round_trips: 1, wins: 1, max_drawdown: '0', open_qty: '1', equity_curve: curve(['t3', '20']) });
    const msft = { realized_pnl: '-6', round_trips: 1, losses: 1, profit_factor: '0', max_drawdown: '6', open_qty: '0', equity_curve: curve(['t4', '-6']) };
    expect(r.by_symbol.MSFT).toMatchObject(msft);

    const only = perf(fills, { symbol: 'MSFT' });
    expect(Object.keys(only.by_symbol)).toEqual(['MSFT']);
    expect(only.total).toEqual(only.by_symbol.MSFT);
    expect(only.total).toMatchObject(msft);
  });

  it('an empty ledger reports zeros and nulls', () => {
    expect(perf([])).toEqual({
      total: {
        realized_pnl: '0',
        gross_profit: '0',
        gross_loss: '0',
        closed_lots: 0,
        fees: '0',
        net_pnl: '0',
        round_trips: 0,
        wins: 0,
        losses: 0,
        win_rate: null,
        profit_factor: null,
        expectancy: null,
        max_drawdown: '0',
        open_qty: '0',
        equity_curve: [],
      },
      by_symbol: {},
    });
  });
});

describe('GET /performance', () => {
  let db: Database;
  let api: ApiServer;

  beforeAll(async () => {
    db = await openDatabase(':memory:');
    const rows: Array<[string, 'buy' | 'sell', string, string, string]> = [
      ['AAPL', 'buy', '10', '100', '2026-01-02T14:30:00Z'],
      ['AAPL', 'sell', '10', '101.5', '2026-01-02T15:00:00Z'], // +15
      ['BTC/USD', 'buy', '0.5', '60000', '2026-01-03T00:00:00.123456789Z'],
      ['BTC/USD', 'sell', '0.5', '59000', '2026-01-03T01:00:00Z'], // −500
      ['AAPL', 'sell', '4', '102', '2026-01-04T10:00:00-05:00'], // 15:00Z, opens a short
      ['AAPL', 'buy', '4', '100', '2026-01-04T16:00:00Z'], // +8
    ];
    rows.forEach(([symbol, side, qty, price, filled_at], i) => {
      db.run(
        db.kysely.insertInto('fills').values({
          order_id: `o${i + 1}`,
          cum_qty: qty,
          qty,
          price,
          symbol,
          side,
          exec_id: null,
          source: 'stream',
          filled_at,
          recorded_at: '2026-01-05T00:00:00Z',
        }),
      );
    });
    const { log } = captureLogger();
    api = await startApi({ host: '127.0.0.1', port: 0, db, log, health: { mode: 'paper', streamState: () => 'connected', drift: () => [] } });
  });
  afterAll(async () => {
    await api.close();
    await db.close();
  });

  const get = async (path: string) => {
    const res = await fetch(api.url + path);
    return { status: res.status, body: (await res.json()) as any };
  };

  it('reports the whole ledger, total and per symbol', async () => {
    const r = await get('/performance');
    expect(r.status).toBe(200);
    expect(Object.keys(r.body)).toEqual(['total', 'by_symbol']);
    expectReportAddsUp(r.body);
    expect(r.body.total).toEqual({
      realized_pnl: '-477',
      gross_profit: '23',
      gross_loss: '500',
      closed_lots: 3,
      fees: '0',
      net_pnl: '-477',
      round_trips: 3,
      wins: 2,
      losses: 1,
      win_rate: '0.6666666667',
      profit_factor: '0.046',
      expectancy: '-159',
      max_drawdown: '500',
      open_qty: null,
      equity_curve: [
        { at: '2026-01-02T15:00:00Z', realized_pnl: '15', net_pnl: '15' },
        { at: '2026-01-03T01:00:00Z', realized_pnl: '-485', net_pnl: '-485' },
        { at: '2026-01-04T16:00:00Z', realized_pnl: '-477', net_pnl: '-477' },
      ],
    });
    expect(Object.keys(r.body.by_symbol)).toEqual(['AAPL', 'BTC/USD']);
    expect(r.body.by_symbol.AAPL).toMatchObject({ realized_pnl: '23', round_trips: 2, wins: 2, open_qty: '0' });
    expect(r.body.by_symbol['BTC/USD']).toMatchObject({ realized_pnl: '-500', round_trips: 1, losses: 1, open_qty: '0' });
    // Empty parameters are no filter, as elsewhere in the status API.
    expect((await get('/performance?symbol=&since=')).body).toEqual(r.body);
  });

  it('?symbol= narrows to one symbol', async () => {
    const r = await get('/performance?symbol=BTC%2FUSD');
    expect(r.status).toBe(200);
    expect(Object.keys(r.body.by_symbol)).toEqual(['BTC/USD']);
    expect(r.body.total).toEqual(r.body.by_symbol['BTC/USD']);
    expect(r.body.total).toMatchObject({ realized_pnl: '-500', round_trips: 1, max_drawdown: '500', open_qty: '0' });

    // Alpaca's legacy crypto symbol names the same pair, as on the other routes.
    expect((await get('/performance?symbol=BTCUSD')).body).toEqual(r.body);

    const none = await get('/performance?symbol=ZZZZ');
    expect(none.status).toBe(200);
    expect(none.body).toMatchObject({ total: { realized_pnl: '0', round_trips: 0, open_qty: '0' }, by_symbol: {} });
  });

  it('?since= keeps fills at or after that instant, compared as instants, not text', async () => {
    // Exactly the BTC buy's nanosecond: it is kept.
    const at = await get('/performance?since=2026-01-03T00:00:00.123456789Z');
    expect(at.body.total).toMatchObject({ realized_pnl: '-492', round_trips: 2 });
    // One nanosecond later the buy is gone, so the sell opens a short.
    const after = await get('/performance?since=2026-01-03T00:00:00.12345679Z');
    expect(after.body.by_symbol['BTC/USD']).toMatchObject({ realized_pnl: '0', round_trips: 0, open_qty: '-0.5' });
    // The -05:00 fill is 15:00Z: after 14:59:59Z although its text sorts before it.
    const offset = await get('/performance?since=2026-01-04T09:59:59-05:00');
    expect(offset.body.total).toMatchObject({ realized_pnl: '8', round_trips: 1, wins: 1 });
    expect(Object.keys(offset.body.by_symbol)).toEqual(['AAPL']);
    // Both filters together.
    const both = await get('/performance?symbol=AAPL&since=2026-01-04T14:59:59Z');
    expect(both.body.total).toMatchObject({ realized_pnl: '8', round_trips: 1, open_qty: '0' });
  });

  it.each([
    [`/performance?symbol=${'A'.repeat(33)}`, /symbol/],
    ['/performance?symbol=AA%20PL', /symbol/],
    ['/performance?symbol=%3Cx%3E', /symbol/],
    ['/performance?symbol=AAPL&symbol=MSFT', /symbol/],
    ['/performance?since=yesterday', /since/],
    ['/performance?since=2026-01-01', /since/],
    ['/performance?since=2026-01-01T00:00:00', /since/],
    ['/performance?since=2026-02-30T00:00:00Z', /since/],
    ['/performance?since=2026-01-01T24:00:00Z', /since/],
    ['/performance?since=2026-01-01T00:00:00Z&since=2026-01-02T00:00:00Z', /since/],
  ])('%s → 400', async (path, message) => {
    const r = await get(path);
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe('bad_request');
    expect(r.body.error.message).toMatch(message);
  });
});

describe('computePerformance with crypto fees taken in the coin', () => {
  const t = (s: string) => `2026-03-02T15:00:0${s}Z`;
  const fills: PerformanceFill[] = [
    { id: 1, symbol: 'BTC/USD', side: 'buy', qty: '0.5', price: '100', filled_at: t('1.123456000') },
    { id: 2, symbol: 'BTC/USD', side: 'sell', qty: '0.49875', price: '110', filled_at: t('2.000000000') },
  ];
  // The fee's time is its activity id's, to the millisecond: it goes after the buy of that millisecond.
  const fees = [{ symbol: 'BTC/USD', qty: '0.00125', at: t('1.123000000') }];

  it('the fee is reported apart at what its coin cost, and the fee-net sell completes the round trip', () => {
    const r = perf(fills, { fees }).by_symbol['BTC/USD']!;
    // The sell closes 0.49875 at +10: gross 4.9875; the fee took 0.00125 that cost 100 each.
    expect(r).toMatchObject({
      realized_pnl: '4.9875',
      gross_profit: '4.9875',
      gross_loss: '0',
      closed_lots: 1,
      fees: '0.125',
      net_pnl: '4.8625', // the cash result: 0.49875 × 110 − 0.5 × 100
      profit_factor: null,
      round_trips: 1,
      wins: 1,
      open_qty: '0',
      max_drawdown: '0',
    });
    expect(r.equity_curve).toEqual(curve([t('1.123000000'), '0', '-0.125'], [t('2.000000000'), '4.9875', '4.8625']));
  });

  it('without its fee the same fills leave dust open (the ledger would disagree with the broker)', () => {
    expect(perf(fills).by_symbol['BTC/USD']).toMatchObject({ realized_pnl: '4.9875', round_trips: 0, open_qty: '0.00125' });
  });

  it('a fee of another symbol, or on no long, changes nothing', () => {
    expect(perf(fills, { fees: [{ ...fees[0]!, symbol: 'ETH/USD' }] }).by_symbol['ETH/USD']).toBeUndefined();
    expect(perf(fills, { symbol: 'BTC/USD', fees: [{ ...fees[0]!, at: '2026-03-02T14:00:00.000000000Z' }] }).total).toMatchObject({ open_qty: '0.00125' });
  });
});

describe('figures that add up: realized = gross profit − gross loss, fees apart (issue 15 item 7)', () => {
  it('only losses: profit factor 0', () => {
    const r = perf(
      ledger([
        ['AAPL', 'buy', '3', '10.10'],
        ['AAPL', 'sell', '3', '9.81'], // −0.87
        ['AAPL', 'buy', '1', '50'],
        ['AAPL', 'sell', '1', '47'], // −3
      ]),
    ).total;
    expect(r).toMatchObject({ realized_pnl: '-3.87', gross_profit: '0', gross_loss: '3.87', closed_lots: 2, fees: '0', net_pnl: '-3.87' });
    expect(r).toMatchObject({ profit_factor: '0', round_trips: 2, wins: 0, losses: 2, win_rate: '0', expectancy: '-1.935' });
  });

  it('only wins: profit factor null', () => {
    const r = perf(
      ledger([
        ['AAPL', 'buy', '2', '10'],
        ['AAPL', 'sell', '1', '10.5'], // +0.5, partial
        ['AAPL', 'sell', '1', '11'], // +1
      ]),
    ).total;
    expect(r).toMatchObject({ realized_pnl: '1.5', gross_profit: '1.5', gross_loss: '0', closed_lots: 2, profit_factor: null, round_trips: 1, wins: 1, losses: 0 });
  });

  it('mixed wins and losses: profit factor = gross profit / gross loss, rounded to 10 places', () => {
    const r = perf(
      ledger([
        ['AAPL', 'buy', '1', '100'],
        ['AAPL', 'sell', '1', '101'], // +1
        ['MSFT', 'sell', '2', '300'], // a short
        ['MSFT', 'buy', '2', '301.5'], // −3
        ['AAPL', 'buy', '1', '100'],
        ['AAPL', 'sell', '1', '101'], // +1
      ]),
    ).total;
    expect(r).toMatchObject({ realized_pnl: '-1', gross_profit: '2', gross_loss: '3', profit_factor: '0.6666666667', round_trips: 3, wins: 2, losses: 1, win_rate: '0.6666666667' });
  });

  it('partial closes of a position still open count on both sides alike (the −4.37 vs 3.87 report)', () => {
    const r = perf(
      ledger([
        ['AAPL', 'buy', '1', '100'],
        ['AAPL', 'sell', '1', '96.13'], // −3.87, a completed round trip
        ['AAPL', 'buy', '2', '100'],
        ['AAPL', 'sell', '1', '99.5'], // −0.5, a partial close: the trip is still open
      ]),
    ).total;
    // Before: realized −4.37 but gross loss 3.87 (completed round trips only).
    expect(r).toMatchObject({ realized_pnl: '-4.37', gross_profit: '0', gross_loss: '4.37', closed_lots: 2, profit_factor: '0', round_trips: 1, losses: 1, expectancy: '-3.87', open_qty: '1' });
  });

  it('one fill closing two lots, one at a profit and one at a loss, is two closed lots', () => {
    const r = perf(
      ledger([
        ['AAPL', 'buy', '1', '90'],
        ['AAPL', 'buy', '1', '110'],
        ['AAPL', 'sell', '1.5', '100'], // +10 on the 90 lot, −5 on half the 110 lot
      ]),
    ).total;
    expect(r).toMatchObject({ realized_pnl: '5', gross_profit: '10', gross_loss: '5', closed_lots: 2, profit_factor: '2', round_trips: 0, open_qty: '0.5' });
  });

  it('a crypto position with a CFEE: the fee is its own figure, not in gross loss (the −4.37 vs 3.87 report)', () => {
    const t = (n: number) => `2026-03-02T15:00:0${n}.000000000Z`;
    const fills: PerformanceFill[] = [
      { id: 1, symbol: 'ETH/USD', side: 'buy', qty: '1', price: '100', filled_at: t(1) },
      { id: 2, symbol: 'ETH/USD', side: 'sell', qty: '1', price: '96.13', filled_at: t(2) }, // −3.87
      { id: 3, symbol: 'ETH/USD', side: 'buy', qty: '2', price: '100', filled_at: t(3) }, // still open
    ];
    const fees: PerformanceFee[] = [{ symbol: 'ETH/USD', qty: '0.005', at: t(3) }]; // 0.005 × 100 = 0.5
    const r = perf(fills, { fees });
    // Before: realized −4.37 (the fee as a realized loss) but gross loss 3.87 (completed trips only).
    expect(r.total).toMatchObject({ realized_pnl: '-3.87', gross_profit: '0', gross_loss: '3.87', fees: '0.5', net_pnl: '-4.37', profit_factor: '0', open_qty: '1.995' });
    expect(r.total.equity_curve).toEqual(curve([t(2), '-3.87'], [t(3), '-3.87', '-4.37']));
    expect(r.by_symbol['ETH/USD']).toEqual(r.total);
  });

  it('a round trip that wins before fees and loses after them: gross profit only, the fee apart', () => {
    const t = (n: number) => `2026-03-02T15:00:0${n}.000000000Z`;
    const fills: PerformanceFill[] = [
      { id: 1, symbol: 'BTC/USD', side: 'buy', qty: '0.01', price: '60000.5', filled_at: t(1) },
      { id: 2, symbol: 'BTC/USD', side: 'sell', qty: '0.009975', price: '60050', filled_at: t(2) },
    ];
    const fees: PerformanceFee[] = [{ symbol: 'BTC/USD', qty: '0.000025', at: t(1) }];
    const r = perf(fills, { fees }).total;
    // 0.009975 × 49.5 = 0.4937625; the fee's coin cost 0.000025 × 60000.5 = 1.5000125.
    expect(r).toMatchObject({
      realized_pnl: '0.4937625',
      gross_profit: '0.4937625',
      gross_loss: '0',
      closed_lots: 1,
      fees: '1.5000125',
      net_pnl: '-1.00625',
      profit_factor: null,
      round_trips: 1,
      wins: 1, // round trips are judged before fees, like gross profit and loss
      expectancy: '0.4937625',
      open_qty: '0',
    });
    // net is the cash result: 0.009975 × 60050 − 0.01 × 60000.5
    expect(dec('0.009975').times('60050').minus(dec('0.01').times('60000.5')).eq(r.net_pnl)).toBe(true);
  });

  it('the identity holds on random ledgers (longs, shorts, crosses, partial closes, fees)', () => {
    let seed = 157; // mulberry32: deterministic
    const rand = (n: number) => {
      seed = (seed + 0x6d2b79f5) | 0;
      let x = Math.imul(seed ^ (seed >>> 15), 1 | seed);
      x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
      return Math.floor((((x ^ (x >>> 14)) >>> 0) / 2 ** 32) * n);
    };
    let lots = 0;
    let feesSeen = false;
    let mixed = false;
    for (let run = 0; run < 50; run += 1) {
      const fills: PerformanceFill[] = [];
      const fees: PerformanceFee[] = [];
      for (let i = 0; i < 40; i += 1) {
        const at = `2026-03-02T15:${String(Math.floor(i / 60)).padStart(2, '0')}:${String(i % 60).padStart(2, '0')}.000000000Z`;
        const symbol = ['AAPL', 'BTC/USD', 'ETH/USD'][rand(3)]!;
        const side = rand(2) === 0 ? 'buy' : 'sell';
        fills.push({ id: i + 1, symbol, side, qty: `${rand(5)}.${String(rand(1000)).padStart(3, '0')}`, price: `${90 + rand(20)}.${String(rand(100)).padStart(2, '0')}`, filled_at: at });
        if (symbol !== 'AAPL' && side === 'buy' && rand(2) === 0) fees.push({ symbol, qty: `0.00${rand(10)}${rand(10)}`, at });
      }
      const r = perf(fills, { fees });
      perf(fills, { fees, symbol: 'BTC/USD' });
      expect(r.total.closed_lots).toBeGreaterThan(0);
      lots += r.total.closed_lots;
      feesSeen ||= !dec(r.total.fees).isZero();
      mixed ||= !dec(r.total.gross_profit).isZero() && !dec(r.total.gross_loss).isZero();
    }
    expect([lots > 500, feesSeen, mixed]).toEqual([true, true, true]);
  });
});

describe('GET /performance with a crypto fee recorded', () => {
  let db: Database;
  let api: ApiServer;

  beforeAll(async () => {
    db = await openDatabase(':memory:');
    const rows: Array<[string, 'buy' | 'sell', string, string, string]> = [
      ['ETH/USD', 'buy', '1', '100', '2026-01-02T14:30:00.000000000Z'],
      ['ETH/USD', 'sell', '0.9975', '96.13', '2026-01-02T15:00:00.000000000Z'], // 0.9975 × −3.87
      ['ETH/USD', 'buy', '2', '100', '2026-01-02T16:00:00.000000000Z'],
    ];
    rows.forEach(([symbol, side, qty, price, filled_at], i) => {
      db.run(
        db.kysely.insertInto('fills').values({ order_id: `o${i + 1}`, cum_qty: qty, qty, price, symbol, side, exec_id: null, source: 'stream', filled_at, recorded_at: '2026-01-05T00:00:00Z' }),
      );
    });
    insertFee(db, { activityId: 'f1', symbol: 'ETH/USD', qty: '0.0025', price: '100', at: '2026-01-02T14:30:00.000000000Z', timed: true });
    insertFee(db, { activityId: 'f2', symbol: 'ETH/USD', qty: '0.005', price: '100', at: '2026-01-02T16:00:00.000000000Z', timed: true });
    const { log } = captureLogger();
    api = await startApi({ host: '127.0.0.1', port: 0, db, log, health: { mode: 'paper', streamState: () => 'connected', drift: () => [] } });
  });
  afterAll(async () => {
    await api.close();
    await db.close();
  });

  it('reports the fees as their own figure and net = realized − fees', async () => {
    const res = await fetch(`${api.url}/performance`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as PerformanceReport;
    expectReportAddsUp(body);
    expect(body.total).toMatchObject({
      realized_pnl: '-3.860325',
      gross_profit: '0',
      gross_loss: '3.860325',
      fees: '0.75', // 0.0025 × 100 + 0.005 × 100
      net_pnl: '-4.610325',
      profit_factor: '0',
      round_trips: 1,
      losses: 1,
      open_qty: '1.995',
    });
    // ?since= after the first fee's buy: that trip and its fee are out, the open buy's fee is in.
    const since = (await (await fetch(`${api.url}/performance?since=2026-01-02T15:30:00Z`)).json()) as PerformanceReport;
    expectReportAddsUp(since);
    expect(since.total).toMatchObject({ realized_pnl: '0', gross_loss: '0', fees: '0.5', net_pnl: '-0.5', profit_factor: null, open_qty: '1.995' });
  });
});
