import type { Database } from '../../src/store/database.js';
import type { AssetGrid } from '../../src/domain/grid.js';
import { writeSyncState } from '../../src/store/sync-state.js';

/**
 * A demo-like book for the dashboard's test and the README's screenshot: six open positions (four
 * equities, one short among them, and two coins on their asset grids, one sub-cent), covered by
 * working stops — MSFT by three, one per entry — and a day of closed trades (an exit, a stop, an
 * outside trader's round trip) so the P&L curve has steps. Times are relative to `now`, so the
 * curve's axis shows today's times of day.
 */

export const SEEDED_SYMBOLS = ['AAPL', 'BTC/USD', 'DOGE/USD', 'MSFT', 'NVDA', 'TSLA'] as const;

/** The latest prices /positions shows (LastPrices' source in the test). */
export const SEEDED_PRICES = new Map<string, string>([
  ['AAPL', '191.32'],
  ['MSFT', '418.25'],
  ['NVDA', '124.87'],
  ['TSLA', '247.55'],
  ['BTC/USD', '65130.4'],
  ['DOGE/USD', '0.156114'],
]);

/** Crypto grids as Alpaca's assets give them (src/sim/assets.ts). */
export const SEEDED_GRIDS = new Map<string, AssetGrid>([
  ['BTC/USD', { minOrderSize: '0.0001', minTradeIncrement: '0.000000001', priceIncrement: '1' }],
  ['DOGE/USD', { minOrderSize: '1', minTradeIncrement: '1', priceIncrement: '0.00001' }],
]);

/** The ledger's canonical time (nanoseconds), `minutesAgo` before now. */
const at = (now: number, minutesAgo: number) => new Date(now - minutesAgo * 60_000).toISOString().replace('Z', '000000Z');

let ids = 0;
/** A broker-like order id, distinct per call. */
const id = (tag: string) => `00000000-0000-4000-8000-${tag.padStart(4, '0')}${String(++ids).padStart(8, '0')}`;

export function seedDemoLike(db: Database, now = Date.now()): void {
  const order = (o: { id: string; cid: string; symbol: string; side: 'buy' | 'sell'; type: string; role: 'entry' | 'exit' | 'stop'; state: string; filled: string; avg: string | null; when: string; crypto?: boolean }) =>
    db.run(
      db.kysely.insertInto('orders').values({
        order_id: o.id, client_order_id: o.cid, symbol: o.symbol, side: o.side, type: o.type, asset_class: o.crypto ? 'crypto' : 'us_equity', role: o.role, state: o.state,
        terminal: ['done', 'exited', 'canceled'].includes(o.state) ? 1 : 0, filled_qty: o.filled, filled_avg_price: o.avg, stop_order_id: null, machine_version: 1, snapshot: '{}', created_at: o.when, updated_at: o.when,
      }),
    );
  const fill = (orderId: string, symbol: string, side: 'buy' | 'sell', qty: string, price: string, when: string) =>
    db.run(db.kysely.insertInto('fills').values({ order_id: orderId, cum_qty: qty, qty, price, symbol, side, exec_id: null, source: 'stream', filled_at: when, recorded_at: when }));

  /** An entry (ours, or an outside trader's) filled at once, with its working stop when `stop` is given. */
  const entry = (
    symbol: string,
    side: 'buy' | 'sell',
    qty: string,
    price: string,
    minutesAgo: number,
    stop?: { type: 'trailing_stop' | 'stop' | 'stop_limit'; stopPrice: string; trail?: string },
    opts: { outside?: boolean } = {},
  ) => {
    const crypto = symbol.includes('/');
    const when = at(now, minutesAgo);
    const entryId = id('e');
    order({ id: entryId, cid: opts.outside ? `web-${entryId.slice(-6)}` : `ct-entry-${entryId.slice(-6)}`, symbol, side, type: 'market', role: 'entry', state: stop ? 'protected' : 'done', filled: qty, avg: price, when, crypto });
    fill(entryId, symbol, side, qty, price, when);
    if (!stop) return entryId;
    const stopId = id('a');
    const stopSide = side === 'buy' ? 'sell' : 'buy';
    const cid = `ct-stop-${entryId}`;
    const payload = JSON.stringify({ entryOrderId: entryId, clientOrderId: cid, symbol, assetClass: crypto ? 'crypto' : 'us_equity', side: stopSide, qty, ...(stop.trail ? { trailPercent: stop.trail } : {}) });
    db.run(
      db.kysely.insertInto('stops').values({
        client_order_id: cid, kind: 'protective_stop', entry_order_id: entryId, symbol, payload, status: 'confirmed', broker_order_id: stopId, attempts: 1, last_error: null,
        current_client_order_id: cid, sent_at: when, placed_qty: qty, placed_stop_price: stop.stopPrice, placed_trail_percent: stop.trail ?? null, target_stop_price: null, created_at: when, updated_at: when,
      }),
    );
    // The stop order's actor: open at the broker, so "pending" — which the dashboard calls working.
    order({ id: stopId, cid, symbol, side: stopSide, type: stop.type, role: 'stop', state: 'pending', filled: '0', avg: null, when, crypto });
    return entryId;
  };
  /** An exit of ours (`role` exit) or a stop that filled (`role` stop), or an outside trader's sell. */
  const exit = (symbol: string, side: 'buy' | 'sell', qty: string, price: string, minutesAgo: number, role: 'exit' | 'stop' | 'outside') => {
    const when = at(now, minutesAgo);
    const exitId = id('c');
    const cid = role === 'stop' ? `ct-stop-${id('d')}` : role === 'outside' ? `web-${exitId.slice(-6)}` : `ct-close-${exitId.slice(-6)}`;
    order({ id: exitId, cid, symbol, side, type: role === 'stop' ? 'trailing_stop' : 'market', role: role === 'outside' ? 'exit' : role, state: 'done', filled: qty, avg: price, when });
    fill(exitId, symbol, side, qty, price, when);
  };

  // Recorded in time order, as a ledger is (ids follow the fills' times).
  const steps: Array<[minutesAgo: number, step: () => void]> = [
    // A day of closed trades: the curve's steps.
    [390, () => entry('AMD', 'buy', '10', '160.20', 390)],
    [330, () => exit('AMD', 'sell', '10', '163.85', 330, 'exit')],
    [300, () => entry('META', 'buy', '3', '590.00', 300)],
    [200, () => exit('META', 'sell', '3', '583.40', 200, 'stop')],
    [150, () => entry('SPY', 'buy', '5', '601.20', 150, undefined, { outside: true })],
    [40, () => exit('SPY', 'sell', '5', '603.90', 40, 'outside')],
    // The six open positions.
    [280, () => entry('AAPL', 'buy', '6', '187.40', 280, { type: 'trailing_stop', stopPrice: '183.65', trail: '2' })],
    [170, () => entry('AAPL', 'buy', '4', '189.15', 170, { type: 'trailing_stop', stopPrice: '185.37', trail: '2' })],
    [260, () => entry('MSFT', 'buy', '4', '412.10', 260, { type: 'trailing_stop', stopPrice: '399.74', trail: '3' })],
    [190, () => entry('MSFT', 'buy', '4', '415.80', 190, { type: 'trailing_stop', stopPrice: '403.33', trail: '3' })],
    [95, () => entry('MSFT', 'buy', '4', '409.95', 95, { type: 'trailing_stop', stopPrice: '397.65', trail: '3' })],
    [240, () => entry('NVDA', 'buy', '20', '121.34', 240, { type: 'stop', stopPrice: '118.00' })],
    [
      70,
      () => {
        exit('NVDA', 'sell', '5', '126.10', 70, 'exit');
        db.run(db.kysely.updateTable('stops').set({ placed_qty: '15' }).where('symbol', '=', 'NVDA'));
      },
    ],
    [120, () => entry('TSLA', 'sell', '5', '251.20', 120, { type: 'trailing_stop', stopPrice: '261.25', trail: '4' })],
    [210, () => entry('BTC/USD', 'buy', '0.25', '64210.5', 210, { type: 'stop_limit', stopPrice: '62800' })],
    [55, () => entry('DOGE/USD', 'buy', '1500', '0.15234', 55, { type: 'stop_limit', stopPrice: '0.148' })],
  ];
  for (const [, step] of steps.sort((a, b) => b[0] - a[0])) step();
  // The reconciler ran a moment ago, as in a running demo.
  writeSyncState(db, 'last_reconcile_at', new Date(now - 2_000).toISOString());
}
