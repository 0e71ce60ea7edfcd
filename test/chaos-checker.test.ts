import { describe, expect, it } from 'vitest';
import { isLive, parseStopId } from './chaos/broker-terms.js';
import { washRefusals, type LoggedRequest } from './chaos/broker-watch.js';
import { coverOf, intervalViolations, longestPerSymbol, needsCover, uncoveredIntervals, type Book, type BookOrder, type CoverSample } from './chaos/coverage.js';

/**
 * The chaos checker's own rules, on synthetic broker states: a checker that cannot fail proves
 * nothing, so each rule is shown failing as well as passing.
 */

const ENTRY = '0a1b2c3d-0000-4000-8000-00000000000f';

const order = (o: Partial<BookOrder> & Pick<BookOrder, 'symbol' | 'side' | 'type' | 'qty'>): BookOrder => ({
  id: `id-${Math.random()}`,
  client_order_id: `ct-stop-${ENTRY}`,
  asset_class: o.symbol.includes('/') ? 'crypto' : 'us_equity',
  time_in_force: 'gtc',
  notional: null,
  filled_qty: '0',
  limit_price: null,
  status: 'new',
  ...o,
});

const book = (positions: Array<[string, string]>, orders: BookOrder[], sessionOpen = true): Book => ({
  at: 0,
  session_open: sessionOpen,
  positions: positions.map(([symbol, qty]) => ({
    symbol,
    qty,
    asset_class: symbol.includes('/') ? 'crypto' : 'us_equity',
    min_order_size: symbol.includes('/') ? '0.0001' : null,
    min_trade_increment: symbol.includes('/') ? '0.000000001' : null,
  })),
  open_orders: orders,
});

describe('stop ids and status groups (the checker writes its own)', () => {
  it('reads an entry, its fraction and its versions from a stop id, and nothing from other ids', () => {
    expect(parseStopId(`ct-stop-${ENTRY}`)).toEqual({ entry: ENTRY, fraction: false, version: 0, family: `ct-stop-${ENTRY}` });
    expect(parseStopId(`ct-stop-${ENTRY}-f`)).toEqual({ entry: ENTRY, fraction: true, version: 0, family: `ct-stop-${ENTRY}-f` });
    expect(parseStopId(`ct-stop-${ENTRY}-v3`)).toEqual({ entry: ENTRY, fraction: false, version: 3, family: `ct-stop-${ENTRY}` });
    expect(parseStopId(`ct-stop-${ENTRY}-f-v12`)).toEqual({ entry: ENTRY, fraction: true, version: 12, family: `ct-stop-${ENTRY}-f` });
    for (const other of ['ct-stop-', `ct-close-${ENTRY}`, `x-ct-stop-${ENTRY}`, `ct-stop-${ENTRY}-v0`, `ct-stop-${ENTRY}-v2-f`, 'outside-1']) expect(parseStopId(other)).toBeNull();
  });

  it('five statuses are final; every other (a new one too) is live', () => {
    for (const s of ['filled', 'canceled', 'expired', 'replaced', 'rejected']) expect(isLive(s)).toBe(false);
    for (const s of ['new', 'partially_filled', 'accepted', 'pending_cancel', 'done_for_day', 'held', 'some_future_status']) expect(isLive(s)).toBe(true);
  });
});

describe('coverage of one book', () => {
  it('2.5 shares are covered by a trailing stop for 2 and a day stop for 0.5; without the day stop 0.5 is short', () => {
    const trailing = order({ symbol: 'AAPL', side: 'sell', type: 'trailing_stop', qty: '2' });
    const fraction = order({ symbol: 'AAPL', side: 'sell', type: 'stop', qty: '0.5', time_in_force: 'day', client_order_id: `ct-stop-${ENTRY}-f` });
    expect(coverOf(book([['AAPL', '2.5']], [trailing, fraction]))).toEqual([
      { symbol: 'AAPL', position: '2.5', covered: '2.5', held: '0', uncovered: '0', excuse: null, crossing: false },
    ]);
    const [short] = coverOf(book([['AAPL', '2.5']], [trailing]));
    expect(short).toMatchObject({ covered: '2', uncovered: '0.5', excuse: null });
    expect(needsCover(short!, 0)).toBe(true);
  });

  it('counts only our stops, on the closing side, for what is left of them', () => {
    const cases: BookOrder[] = [
      order({ symbol: 'AAPL', side: 'buy', type: 'stop', qty: '10' }), // opening side
      order({ symbol: 'AAPL', side: 'sell', type: 'limit', qty: '10', client_order_id: `ct-stop-${ENTRY}` }), // not a stop type
      order({ symbol: 'AAPL', side: 'sell', type: 'stop', qty: '10', status: 'canceled' }), // final
      order({ symbol: 'MSFT', side: 'sell', type: 'stop', qty: '10' }), // another symbol
    ];
    for (const o of cases) expect(coverOf(book([['AAPL', '10']], [o]))[0]).toMatchObject({ covered: '0', uncovered: '10' });
    const partly = order({ symbol: 'AAPL', side: 'sell', type: 'stop', qty: '10', filled_qty: '4', status: 'partially_filled' });
    expect(coverOf(book([['AAPL', '10']], [partly]))[0]).toMatchObject({ covered: '6', uncovered: '4' });
    // A short is covered by a buy stop.
    expect(coverOf(book([['AAPL', '-3']], [order({ symbol: 'AAPL', side: 'buy', type: 'stop', qty: '3' })]))[0]).toMatchObject({ uncovered: '0' });
  });

  it('what an outside order on the closing side holds needs no stop; the rest does', () => {
    const outside = order({ symbol: 'AAPL', side: 'sell', type: 'limit', qty: '4', client_order_id: 'web-1' });
    const stop = order({ symbol: 'AAPL', side: 'sell', type: 'trailing_stop', qty: '6' });
    expect(coverOf(book([['AAPL', '10']], [outside, stop]))[0]).toMatchObject({ held: '4', covered: '6', uncovered: '0' });
    expect(coverOf(book([['AAPL', '10']], [outside]))[0]).toMatchObject({ held: '4', uncovered: '6', excuse: null });
  });

  it('excuses crypto dust below the min order size, a fraction while the session is closed, and what the bot was told not to protect', () => {
    const btcStop = order({ symbol: 'BTC/USD', side: 'sell', type: 'stop_limit', qty: '0.99' });
    expect(coverOf(book([['BTC/USD', '0.99005']], [btcStop]))[0]).toMatchObject({ uncovered: '0.00005', excuse: 'fee_dust' });
    expect(coverOf(book([['BTC/USD', '0.9902']], [btcStop]))[0]).toMatchObject({ uncovered: '0.0002', excuse: null });
    const trailing = order({ symbol: 'AAPL', side: 'sell', type: 'trailing_stop', qty: '2' });
    expect(coverOf(book([['AAPL', '2.5']], [trailing], false))[0]).toMatchObject({ excuse: 'session_closed_fraction' });
    expect(coverOf(book([['AAPL', '3.5']], [trailing], false))[0]).toMatchObject({ uncovered: '1.5', excuse: null });
    expect(coverOf(book([['AAPL', '5']], []), { unprotected: 'all' })[0]).toMatchObject({ excuse: 'told_not_to_protect' });
    expect(coverOf(book([['AAPL', '5']], []), { unprotected: new Set(['MSFT']) })[0]).toMatchObject({ excuse: null });
  });

  it('a crypto shortfall beside a crossing outside order is excused only once the broker refused a stop as a wash trade', () => {
    const crossing = order({ symbol: 'ETH/USD', side: 'buy', type: 'limit', qty: '1', limit_price: '3000', client_order_id: 'web-2' });
    const [c] = coverOf(book([['ETH/USD', '2']], [crossing]));
    expect(c).toMatchObject({ crossing: true, uncovered: '2' });
    const log: LoggedRequest[] = [
      { seq: 1, at: 500, method: 'POST', path: '/v2/orders', status: 403, client_order_id: `ct-stop-${ENTRY}`, symbol: 'ETH/USD', source: null, error: 'potential wash trade detected. use complex orders' },
      { seq: 2, at: 600, method: 'POST', path: '/v2/orders', status: 403, client_order_id: 'web-3', symbol: 'SOL/USD', source: null, error: 'potential wash trade detected. use complex orders' },
      { seq: 3, at: 700, method: 'POST', path: '/v2/orders', status: 403, client_order_id: `ct-stop-${ENTRY}`, symbol: 'LTC/USD', source: null, error: 'insufficient balance' },
    ];
    const wash = washRefusals(log);
    expect([...wash]).toEqual([['ETHUSD', [500]]]);
    expect(needsCover(c!, 400, wash)).toBe(true);
    expect(needsCover(c!, 500, wash)).toBe(false);
    // A trailing stop cannot wash: it crosses nothing.
    expect(coverOf(book([['ETH/USD', '2']], [{ ...crossing, type: 'trailing_stop' }]))[0]).toMatchObject({ crossing: false });
  });
});

describe('uncovered intervals over time', () => {
  const short = (symbol: string, uncovered = '1') => ({ symbol, position: '1', covered: '0', held: '0', uncovered, excuse: null, crossing: false });
  const covered = (symbol: string) => ({ ...short(symbol), covered: '1', uncovered: '0' });
  const at = (t: number, covers: CoverSample['covers'], up = true): CoverSample => ({ at: t, up, covers });

  it('runs from the first short sample to the next covered (or flat) one, charged while a bot was up', () => {
    const samples = [
      at(0, [covered('AAPL')]),
      at(1000, [short('AAPL'), short('MSFT')]),
      at(2000, [short('AAPL'), covered('MSFT')]),
      at(5000, [short('AAPL')], false), // no bot from 5 s to 9 s
      at(9000, [short('AAPL')]),
      at(13_000, []), // AAPL flat
    ];
    const intervals = uncoveredIntervals(samples);
    expect(intervals.map((iv) => [iv.symbol, iv.from, iv.to, iv.wall_ms, iv.charged_ms, iv.open])).toEqual([
      ['AAPL', 1000, 13_000, 12_000, 8000, false],
      ['MSFT', 1000, 2000, 1000, 1000, false],
    ]);
    expect(intervalViolations(intervals, 10)).toEqual([]);
    expect(intervalViolations(intervals, 7)).toHaveLength(1);
    expect(intervalViolations(intervals, 7)[0]).toMatch(/^uncovered: AAPL for 8\.0 s with a bot up \(12\.0 s wall, .*\) > 7 s; at its start the broker had position 1, our stops covering 0/);
  });

  it('charges one bot life at a time: a restart has the grace anew, one life past it is a violation', () => {
    const life = (t: number, id: number | null, covers: CoverSample['covers']): CoverSample => ({ at: t, up: id !== null, life: id, covers });
    // Killed after 6 s, restarted at once, covered 6 s into the second life: 12 s up in all, neither life past 10 s.
    const restarted = uncoveredIntervals([life(0, 1, [short('AAPL')]), life(6000, 2, [short('AAPL')]), life(12_000, 2, [covered('AAPL')])]);
    expect(restarted.map((iv) => iv.charged_ms)).toEqual([6000]);
    expect(intervalViolations(restarted, 10)).toEqual([]);
    // One life that stays 11 s without covering it is a violation.
    const slow = uncoveredIntervals([life(0, 1, [short('AAPL')]), life(6000, 2, [short('AAPL')]), life(17_000, 2, [short('AAPL')]), life(17_250, 2, [covered('AAPL')])]);
    expect(slow.map((iv) => iv.charged_ms)).toEqual([11_250]);
    expect(intervalViolations(slow, 10)).toHaveLength(1);
  });

  it('an interval still short at the last sample is open, and counts to it', () => {
    const intervals = uncoveredIntervals([at(0, [short('BTC/USD')]), at(10_000, [short('BTC/USD')]), at(10_250, [short('BTC/USD')])]);
    expect(intervals).toMatchObject([{ symbol: 'BTC/USD', wall_ms: 10_250, charged_ms: 10_250, open: true }]);
    expect(intervalViolations(intervals, 10)).toHaveLength(1);
  });

  it('keeps the longest interval per symbol, and excused or covered samples end an interval', () => {
    const samples = [
      at(0, [short('AAPL')]),
      at(1000, [{ ...short('AAPL'), excuse: 'session_closed_fraction' as const }]),
      at(2000, [short('AAPL')]),
      at(5000, [short('AAPL')]),
      at(5250, [covered('AAPL')]),
    ];
    const intervals = uncoveredIntervals(samples);
    expect(intervals.map((iv) => iv.charged_ms)).toEqual([1000, 3250]);
    expect(longestPerSymbol(intervals).get('AAPL')).toMatchObject({ from: 2000, charged_ms: 3250 });
  });
});
