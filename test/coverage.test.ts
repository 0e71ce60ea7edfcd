import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { assessCoverage, holderAsks, uncoveredReason, type StopCover } from '../src/protection/coverage.js';
import { CoverageWatch } from '../src/protection/coverage-watch.js';
import { openDatabase, type Database } from '../src/store/database.js';
import { updateStopRow } from '../src/store/stops.js';
import { upsertStop } from '../src/protection/stop-transitions.js';
import { insertFills } from '../src/store/ledger.js';
import { upsertOrderRow } from '../src/store/order-rows.js';
import { openOrdersHolding, type OrderHolder } from '../src/store/order-holders.js';
import { healthReport } from '../src/api/health.js';
import { createMetrics } from '../src/metrics.js';
import { captureLogger } from './support/log-capture.js';

const stop = (over: Partial<StopCover> = {}): StopCover => ({
  symbol: 'AAPL',
  side: 'sell',
  status: 'confirmed',
  placedQty: '10',
  cancelRequested: false,
  attempts: 0,
  lastError: null,
  ...over,
});
const PROTECT = { adopt: 'protect' as const };
const one = (positions: Record<string, string>, stops: StopCover[], opts: { adopt: 'protect' | 'record' } = PROTECT) =>
  assessCoverage(new Map(Object.entries(positions)), stops, opts);

describe('assessCoverage', () => {
  it('a sell stop covers a long, a buy stop a short', () => {
    const r = one({ AAPL: '10', TSLA: '-3' }, [stop(), stop({ symbol: 'TSLA', side: 'buy', placedQty: '3' })]);
    expect(r.positions).toEqual([
      { symbol: 'AAPL', position: '10', covered: '10', uncovered: '0', reason: null },
      { symbol: 'TSLA', position: '-3', covered: '3', uncovered: '0', reason: null },
    ]);
    expect(r.unprotected).toEqual([]);
    expect(r.overprotected).toEqual([]);
  });

  it('a stop on the wrong side covers nothing (and is excess)', () => {
    const r = one({ TSLA: '-3' }, [stop({ symbol: 'TSLA', side: 'sell', placedQty: '3' })]);
    expect(r.unprotected).toEqual([{ symbol: 'TSLA', position: '-3', covered: '0', uncovered: '3', reason: 'no_stop' }]);
    expect(r.overprotected).toEqual([{ symbol: 'TSLA', position: '-3', covered: '3', excess: '3' }]);
  });

  it('sums partial stops and reports what is left, in decimals', () => {
    const r = one({ 'BTC/USD': '0.3' }, [stop({ symbol: 'BTC/USD', placedQty: '0.1' }), stop({ symbol: 'BTC/USD', placedQty: '0.1' })]);
    expect(r.unprotected).toEqual([{ symbol: 'BTC/USD', position: '0.3', covered: '0.2', uncovered: '0.1', reason: 'stop_too_small' }]);
  });

  it('reports over-coverage separately, flat symbols with live stops included', () => {
    const r = one({ AAPL: '4', MSFT: '0' }, [stop({ placedQty: '10' }), stop({ symbol: 'MSFT', placedQty: '2' })]);
    expect(r.unprotected).toEqual([]);
    expect(r.positions.map((p) => p.symbol)).toEqual(['AAPL']);
    expect(r.overprotected).toEqual([
      { symbol: 'AAPL', position: '4', covered: '10', excess: '6' },
      { symbol: 'MSFT', position: '0', covered: '2', excess: '2' },
    ]);
  });

  it('a stop being replaced (PATCH sent, or its answer lost) still covers with its working order: never stop_unknown while the broker covers', () => {
    for (const status of ['pending', 'unknown'] as const) {
      const r = one({ 'ETH/USD': '2' }, [stop({ symbol: 'ETH/USD', status, placedQty: '2', replacing: true, lastError: status === 'unknown' ? 'send failed: ECONNRESET' : null })]);
      expect(r.unprotected).toEqual([]);
      expect(r.positions).toEqual([{ symbol: 'ETH/USD', position: '2', covered: '2', uncovered: '0', reason: null }]);
    }
    // A first send whose answer is lost has no working order: that one is still unknown.
    expect(one({ 'ETH/USD': '2' }, [stop({ symbol: 'ETH/USD', status: 'unknown', placedQty: null, lastError: 'x' })]).unprotected[0]!.reason).toBe('stop_unknown');
  });

  it('a fee-net crypto remainder below the trade increment is dust, not an alarm; a larger gap still is', () => {
    const btc = (placedQty: string) => stop({ symbol: 'BTC/USD', placedQty, qtyIncrement: '0.0001', assetClass: 'crypto' });
    expect(one({ 'BTC/USD': '0.09975' }, [btc('0.0997')]).positions).toEqual([{ symbol: 'BTC/USD', position: '0.09975', covered: '0.0997', uncovered: '0', reason: null }]);
    expect(one({ 'BTC/USD': '0.09975' }, [btc('0.0996')]).unprotected.map((u) => u.uncovered)).toEqual(['0.00015']);
  });

  it('does not count stops whose cancel was asked for, nor unconfirmed ones', () => {
    const r = one({ AAPL: '10' }, [stop({ cancelRequested: true }), stop({ status: 'pending', placedQty: '10' })]);
    expect(r.unprotected[0]).toMatchObject({ covered: '0', uncovered: '10', reason: 'stop_pending' });
  });

  it.each([
    ['no_stop', [] as StopCover[]],
    ['no_stop', [stop({ status: 'done' }), stop({ status: 'pending', cancelRequested: true })]],
    ['stop_pending', [stop({ status: 'pending', placedQty: null })]],
    ['stop_unknown', [stop({ status: 'unknown', placedQty: null, attempts: 2, lastError: 'send failed: 503' })]],
    ['stop_refused: insufficient qty', [stop({ status: 'pending', placedQty: null, attempts: 1, lastError: 'insufficient qty' })]],
    ['stop_refused: wash trade', [stop({ status: 'rejected', placedQty: null, attempts: 3, lastError: 'wash trade' })]],
    ['stop_too_small', [stop({ placedQty: '4' })]],
    ['held_for_orders: stop placed for 4 of 10; the rest is held by other open orders', [stop({ placedQty: '4', wanted: '10', assetClass: 'us_equity' })]],
    // 9.5 shares: 9 trail, the fraction's day stop is not placed yet.
    ['stop_pending', [stop({ placedQty: '9', wanted: '9', assetClass: 'us_equity' }), stop({ status: 'pending', placedQty: null, wanted: '0.5', assetClass: 'us_equity' })]],
  ])('reason %s', (reason, stops) => {
    expect(one({ AAPL: '10' }, stops).unprotected).toEqual([expect.objectContaining({ symbol: 'AAPL', reason })]);
  });

  describe('names the open orders that hold the rest', () => {
    const holder = (n: number, qty: string | null = '1'): OrderHolder => ({ orderId: `o${n}`, clientOrderId: `tp-${n}`, qty });
    const short = stop({ placedQty: '2', wanted: '5', assetClass: 'us_equity' });
    const refused = stop({ status: 'rejected', placedQty: null, attempts: 1, lastError: 'insufficient_qty: insufficient qty available for order (requested: 10, available: 0)' });

    it('a stop placed short: held_for_orders, with the holders by order id and client order id', () => {
      expect(uncoveredReason([short], PROTECT, [holder(1, '3')])).toBe('held_for_orders: stop placed for 2 of 5; the rest is held by open order(s) o1 (tp-1): cancel or reduce them and the stop grows to cover what they free');
      const r = assessCoverage(new Map([['AAPL', '5']]), [short], PROTECT, new Map([['AAPL', [holder(1), holder(2, null)]]]));
      expect(r.unprotected).toEqual([
        { symbol: 'AAPL', position: '5', covered: '2', uncovered: '3', reason: 'held_for_orders: stop placed for 2 of 5; the rest is held by open order(s) o1 (tp-1), o2 (tp-2): cancel or reduce them and the stop grows to cover what they free' },
      ]);
      // Holders unknown (not in the store): the reason stays what it was.
      expect(uncoveredReason([short], PROTECT, [])).toBe('held_for_orders: stop placed for 2 of 5; the rest is held by other open orders');
    });

    it('a stop refused for insufficient qty keeps its prefix and says who holds the shares', () => {
      expect(uncoveredReason([refused], PROTECT, [holder(7)])).toBe(
        'stop_refused: insufficient_qty: insufficient qty available for order (requested: 10, available: 0); held by open order(s) o7 (tp-7): cancel or reduce them and the stop covers what they free',
      );
      expect(uncoveredReason([refused], PROTECT)).toBe('stop_refused: insufficient_qty: insufficient qty available for order (requested: 10, available: 0)');
    });

    it('names the first three and counts the rest', () => {
      const five = [1, 2, 3, 4, 5].map((n) => holder(n));
      expect(uncoveredReason([short], PROTECT, five)).toBe('held_for_orders: stop placed for 2 of 5; the rest is held by open order(s) o1 (tp-1), o2 (tp-2), o3 (tp-3) and 2 more: cancel or reduce them and the stop grows to cover what they free');
    });

    it('other reasons do not name holders; only symbols whose reason is held are asked for, on the closing side', () => {
      const wash = stop({ status: 'rejected', placedQty: null, attempts: 1, lastError: 'wash_trade: potential wash trade detected' });
      expect(uncoveredReason([wash], PROTECT, [holder(1)])).toBe('stop_refused: wash_trade: potential wash trade detected');
      expect(uncoveredReason([], PROTECT, [holder(1)])).toBe('no_stop');
      const r = one({ AAPL: '5', MSFT: '3', TSLA: '-4', SPY: '1' }, [
        short,
        stop({ symbol: 'MSFT', placedQty: null, status: 'pending' }),
        { ...refused, symbol: 'TSLA', side: 'buy' },
        { ...wash, symbol: 'SPY' },
      ]);
      expect(holderAsks(r)).toEqual([
        { symbol: 'AAPL', side: 'sell' },
        { symbol: 'TSLA', side: 'buy' },
      ]);
    });
  });

  it('names adopt_record when CT_ADOPT=record left a position without an intent', () => {
    expect(one({ AAPL: '10' }, [], { adopt: 'record' }).unprotected[0]!.reason).toBe('adopt_record');
    // An intent there is (the service's own entry) still speaks for itself.
    expect(one({ AAPL: '10' }, [stop({ status: 'pending', placedQty: null })], { adopt: 'record' }).unprotected[0]!.reason).toBe('stop_pending');
  });
});

describe('CoverageWatch', () => {
  let db: Database;
  let t: number;
  let cap: ReturnType<typeof captureLogger>;
  let watch: CoverageWatch;
  const T0 = Date.parse('2026-03-02T15:00:00Z');
  const events = (name: string) => cap.lines().filter((l) => l.event === name);
  const advance = (s: number) => {
    t += s * 1000;
    return watch.check();
  };

  beforeEach(async () => {
    db = await openDatabase(':memory:');
    t = T0;
    cap = captureLogger();
    watch = new CoverageWatch({ db, log: cap.log, graceS: 10, adopt: 'protect', now: () => t });
  });
  afterEach(async () => {
    watch.stop();
    await db.close();
  });

  const buy = (orderId: string, qty: string, symbol = 'AAPL') =>
    insertFills(db, [{ orderId, symbol, side: 'buy', cumQty: qty, qty, price: '100', source: 'stream', execId: null, at: '2026-03-02T14:59:00Z' }]);
  const sell = (orderId: string, qty: string, symbol = 'AAPL') =>
    insertFills(db, [{ orderId, symbol, side: 'sell', cumQty: qty, qty, price: '100', source: 'stream', execId: null, at: '2026-03-02T14:59:30Z' }]);
  const intent = (entry: string, qty: string, symbol = 'AAPL') =>
    upsertStop(db, { entryOrderId: entry, clientOrderId: `ct-stop-${entry}`, symbol, assetClass: 'us_equity', side: 'sell', qty });

  it('logs an uncovered position once per episode past the grace, turns critical then, and logs the cure', () => {
    buy('e1', '10');
    intent('e1', '10');
    expect(watch.check()).toMatchObject({ critical: false, unprotected: [{ symbol: 'AAPL', reason: 'stop_pending', since: new Date(T0).toISOString(), past_grace: false }] });
    expect(advance(10).critical).toBe(false);
    expect(events('position_unprotected')).toEqual([]);

    const late = advance(1);
    expect(late).toMatchObject({ critical: true, unprotected: [{ symbol: 'AAPL', position: '10', covered: '0', uncovered_for_s: 11, past_grace: true, critical: true }] });
    updateStopRow(db, 'ct-stop-e1', { status: 'unknown', attempts: 1, last_error: 'send failed: 503' });
    advance(5);
    expect(watch.current().unprotected[0]).toMatchObject({ reason: 'stop_unknown', since: new Date(T0).toISOString() });
    expect(events('position_unprotected')).toEqual([
      expect.objectContaining({ level: 'warn', symbol: 'AAPL', position: '10', covered: '0', reason: 'stop_pending', since: new Date(T0).toISOString() }),
    ]);

    updateStopRow(db, 'ct-stop-e1', { status: 'confirmed', placed_qty: '10', attempts: 0, last_error: null });
    expect(advance(1)).toEqual({ unprotected: [], overprotected: [], critical: false, grace_s: 10, session: null });
    expect(events('position_protected')).toEqual([expect.objectContaining({ level: 'info', symbol: 'AAPL', position: '10', covered: '10', uncovered_for_s: 17 })]);
    advance(1);
    expect(events('position_protected')).toHaveLength(1);
  });

  it('a new episode starts afresh (its own grace, its own log line)', () => {
    buy('e1', '10');
    intent('e1', '10');
    watch.check();
    advance(11);
    updateStopRow(db, 'ct-stop-e1', { status: 'confirmed', placed_qty: '10' });
    advance(1);
    // The position grows: the stop no longer covers all of it.
    buy('e2', '5');
    expect(advance(1)).toMatchObject({ critical: false, unprotected: [{ uncovered: '5', reason: 'stop_too_small', since: new Date(T0 + 13_000).toISOString() }] });
    expect(advance(10).critical).toBe(false);
    expect(advance(1).critical).toBe(true);
    expect(events('position_unprotected').map((l) => l.reason)).toEqual(['stop_pending', 'stop_too_small']);
  });

  it('outside regular hours every entry says its stops are idle, and that changes nothing about the alarm', () => {
    let market: 'regular' | 'after' = 'after';
    watch = new CoverageWatch({ db, log: cap.log, graceS: 10, adopt: 'protect', now: () => t, marketSession: () => market });
    buy('e1', '10');
    intent('e1', '10');
    watch.check();
    const late = advance(11);
    expect(late).toMatchObject({ critical: true, session: 'after' });
    expect(late.unprotected).toEqual([expect.objectContaining({ symbol: 'AAPL', reason: 'stop_pending', session: 'after', stops_acting: false, stops_acting_reason: 'outside_regular_hours', critical: true })]);
    market = 'regular';
    expect(advance(1).unprotected[0]).toMatchObject({ session: 'regular', stops_acting: true, stops_acting_reason: null, critical: true });
    // A stop larger than the position (overprotected) carries them too.
    updateStopRow(db, 'ct-stop-e1', { status: 'confirmed', placed_qty: '12' });
    market = 'after';
    expect(advance(1)).toMatchObject({ critical: false, unprotected: [], overprotected: [{ symbol: 'AAPL', excess: '2', session: 'after', stops_acting: false }] });
  });

  it('an episode cured within the grace is never logged; a closed position ends its episode', () => {
    buy('e1', '10');
    intent('e1', '10');
    watch.check();
    advance(5);
    sell('x1', '10');
    expect(advance(1).unprotected).toEqual([]);
    advance(20);
    expect(events('position_unprotected')).toEqual([]);
    expect(events('position_protected')).toEqual([]);

    buy('e2', '3', 'MSFT');
    watch.check();
    advance(11);
    sell('x2', '3', 'MSFT');
    advance(1);
    expect(events('position_protected')).toEqual([expect.objectContaining({ symbol: 'MSFT', position: '0' })]);
  });

  /** An orders-table row as the order actors persist it (only what the holder lookup reads matters). */
  const orderRow = (o: { id: string; cid: string; side?: 'buy' | 'sell'; symbol?: string; qty?: string | null; status?: string; filled?: string; terminal?: 0 | 1; at?: string }) => {
    const symbol = o.symbol ?? 'AAPL';
    const side = o.side ?? 'sell';
    const order = { orderId: o.id, clientOrderId: o.cid, symbol, assetClass: symbol.includes('/') ? 'crypto' : 'us_equity', side, type: 'limit', qty: o.qty === undefined ? '4' : o.qty, status: o.status ?? 'new', brokerFilledQty: o.filled ?? '0' };
    upsertOrderRow(db, {
      order_id: o.id,
      client_order_id: o.cid,
      symbol,
      side,
      type: 'limit',
      asset_class: order.assetClass,
      role: null,
      state: o.terminal ? 'canceled' : 'working',
      terminal: o.terminal ?? 0,
      filled_qty: o.filled ?? '0',
      filled_avg_price: null,
      stop_order_id: null,
      machine_version: 1,
      snapshot: JSON.stringify({ status: o.terminal ? 'done' : 'active', value: o.terminal ? 'canceled' : 'working', context: { order } }),
      created_at: o.at ?? '2026-03-02T14:59:40.000Z',
      updated_at: o.at ?? '2026-03-02T14:59:40.000Z',
    });
  };

  it('held_for_orders names the outside open orders the orders table knows; not our stops, not the other side, not finished ones', () => {
    buy('e1', '10');
    intent('e1', '10');
    updateStopRow(db, 'ct-stop-e1', { status: 'confirmed', placed_qty: '6' });
    orderRow({ id: 'tp-2', cid: 'user-tp-2', qty: '3', at: '2026-03-02T14:59:50.000Z' });
    orderRow({ id: 'tp-1', cid: 'user-tp-1', qty: '4', filled: '3' });
    orderRow({ id: 'stop-1', cid: 'ct-stop-e1' });
    orderRow({ id: 'stop-0', cid: 'ct-stop-e0-v2' });
    orderRow({ id: 'bid', cid: 'user-bid', side: 'buy' });
    orderRow({ id: 'gone', cid: 'user-gone', status: 'canceled', terminal: 1 });
    orderRow({ id: 'final', cid: 'user-final', status: 'filled', filled: '4' });
    orderRow({ id: 'done', cid: 'user-done', qty: '4', filled: '4', status: 'partially_filled' });
    orderRow({ id: 'tsla', cid: 'user-tsla', symbol: 'TSLA' });
    expect(watch.check().unprotected).toEqual([
      expect.objectContaining({ symbol: 'AAPL', covered: '6', uncovered: '4', reason: 'held_for_orders: stop placed for 6 of 10; the rest is held by open order(s) tp-1 (user-tp-1), tp-2 (user-tp-2): cancel or reduce them and the stop grows to cover what they free' }),
    ]);
    expect(openOrdersHolding(db, [{ symbol: 'AAPL', side: 'sell' }])).toEqual(
      new Map([
        [
          'AAPL',
          [
            { orderId: 'tp-1', clientOrderId: 'user-tp-1', qty: '1' },
            { orderId: 'tp-2', clientOrderId: 'user-tp-2', qty: '3' },
          ],
        ],
      ]),
    );
  });

  it('a refused stop of a crypto pair names the open sell holding the coins; /health carries it', () => {
    const source = { mode: 'paper' as const, streamState: () => 'connected' as const, drift: () => [], protection: () => watch.current() };
    buy('e1', '0.5', 'BTC/USD');
    upsertStop(db, { entryOrderId: 'e1', clientOrderId: 'ct-stop-e1', symbol: 'BTC/USD', assetClass: 'crypto', side: 'sell', qty: '0.5' });
    const message = 'insufficient balance for BTC (requested: 0.5, available: 0)';
    updateStopRow(db, 'ct-stop-e1', { status: 'rejected', attempts: 1, last_error: `insufficient_qty: ${message}` });
    // Nothing in the store holds it (a fee took it, or the order is unknown): the refusal as it was.
    expect(watch.check().unprotected[0]!.reason).toBe(`stop_refused: insufficient_qty: ${message}`);
    orderRow({ id: 'sell-1', cid: 'other-tool-1', symbol: 'BTC/USD', qty: null });
    watch.check();
    advance(11);
    const h = healthReport(db, source);
    expect(h.status).toBe('critical');
    expect(h.protection!.unprotected).toEqual([
      expect.objectContaining({ symbol: 'BTC/USD', reason: `stop_refused: insufficient_qty: ${message}; held by open order(s) sell-1 (other-tool-1): cancel or reduce them and the stop covers what they free` }),
    ]);
    expect(h.reasons).toEqual([`position BTC/USD uncovered 0.5 of 0.5 for 11 s: stop_refused: insufficient_qty: ${message}; held by open order(s) sell-1 (other-tool-1): cancel or reduce them and the stop covers what they free`]);
  });

  it('CT_ADOPT=record: reported, logged, never critical; /health says degraded, not critical', () => {
    const rec = new CoverageWatch({ db, log: cap.log, graceS: 2, adopt: 'record', now: () => t });
    buy('e1', '7');
    rec.check();
    t += 3000;
    const view = rec.check();
    expect(view).toMatchObject({ critical: false, unprotected: [{ symbol: 'AAPL', reason: 'adopt_record', past_grace: true, critical: false }] });
    expect(events('position_unprotected')).toHaveLength(1);
    const h = healthReport(db, { mode: 'paper', streamState: () => 'connected', drift: () => [], protection: () => rec.current() });
    expect(h.status).toBe('degraded');
    expect(h.reasons).toEqual(['position AAPL uncovered 7 of 7 for 3 s: adopt_record']);
  });

  it('/health: critical with the reason, degraded for stream and drift, ok otherwise', () => {
    const source = { mode: 'paper' as const, streamState: () => 'connected' as const, drift: () => [], protection: () => watch.current() };
    expect(healthReport(db, source)).toMatchObject({ status: 'ok', reasons: [], protection: { unprotected: [], overprotected: [], grace_s: 10 } });
    sell('s1', '4', 'TSLA');
    watch.check();
    advance(12);
    const h = healthReport(db, { ...source, streamState: () => 'reconnecting' as const });
    expect(h.status).toBe('critical');
    expect(h.reasons).toEqual(['stream reconnecting', 'position TSLA uncovered 4 of 4 for 12 s: no_stop']);
    expect(h.protection!.unprotected).toEqual([expect.objectContaining({ symbol: 'TSLA', position: '-4', covered: '0', uncovered: '4' })]);
    const drift = [{ kind: 'order' as const, order_id: 'o', symbol: 'X', ledger_qty: '1', broker_qty: '2', since: '' }];
    expect(healthReport(db, { mode: 'paper', streamState: () => 'down', drift: () => [...drift, ...drift] })).toMatchObject({
      status: 'degraded',
      reasons: ['stream down', 'ledger drift on 2 orders'],
      protection: null,
    });
  });

  it('metrics: ct_unprotected_qty per uncovered symbol and ct_protection_backlog', async () => {
    buy('e1', '10');
    intent('e1', '10');
    buy('e2', '0.5', 'BTC/USD');
    upsertStop(db, { entryOrderId: 'e2', clientOrderId: 'ct-stop-e2', symbol: 'BTC/USD', assetClass: 'crypto', side: 'sell', qty: '0.5' });
    updateStopRow(db, 'ct-stop-e2', { status: 'confirmed', placed_qty: '0.5', next_attempt_at: 8_640_000_000_000_000 });
    watch.check();
    const m = createMetrics({ db, streamState: () => 'connected', driftCount: () => 0, unprotected: () => watch.current().unprotected });
    const text = await m.registry.metrics();
    expect(text).toMatch(/ct_unprotected_qty\{symbol="AAPL",app="crazy-trade"\} 10\n/);
    expect(text).not.toMatch(/ct_unprotected_qty\{symbol="BTC\/USD"/);
    expect(text).toMatch(/ct_protection_backlog\{app="crazy-trade"\} 1\n/);
  });

  it('start() checks at once and every interval; the timer does not hold the process', async () => {
    const real = new CoverageWatch({ db, log: cap.log, graceS: 0, adopt: 'protect' });
    buy('e1', '1');
    real.start(20);
    expect(real.current().unprotected).toHaveLength(1);
    await new Promise((r) => setTimeout(r, 80));
    expect(real.current().critical).toBe(true);
    expect(events('position_unprotected')).toHaveLength(1);
    real.stop();
  });
});
