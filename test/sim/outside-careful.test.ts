/**
 * The careful outside trader (the demo's) against the engine directly, no HTTP, no process: after
 * every tick a stand-in for the bot protects every position in full, as crazy-trade does (equities: a
 * 2% trailing stop, crypto: a stop-limit 2% below the price, raised by a ratchet as the price rises),
 * and the engine — with Alpaca's rules, wash trades and held quantities included — must take every
 * one of those stops. The careless trader, on the same ticks, gets them refused: the rules are still
 * there, only the trader changed.
 */
import { describe, expect, it } from 'vitest';
import type { Asset } from '../../src/sim/assets.js';
import { AssetCatalog } from '../../src/sim/assets.js';
import { MonotonicClock } from '../../src/sim/clock.js';
import { roundToPriceGrid } from '../../src/sim/crypto-grid.js';
import { Dec, ZERO } from '../../src/sim/decimal.js';
import { Engine, remainingQty } from '../../src/sim/engine.js';
import { SimError } from '../../src/sim/errors.js';
import { IdFactory } from '../../src/sim/ids.js';
import { OutsideTrader } from '../../src/sim/outside-trader.js';
import { Rng } from '../../src/sim/rng.js';
import type { OrderSpec, SimOrder } from '../../src/sim/types.js';
import type { WashTradeMode } from '../../src/sim/wash-trade.js';

const SYMBOLS = ['AAPL', 'MSFT', 'TSLA', 'SPY', 'BTC/USD', 'ETH/USD'];
const TRAIL = new Dec('0.02');
const SLIPPAGE = new Dec('0.01');

interface Refusal {
  symbol: string;
  what: 'place' | 'ratchet';
  message: string;
}

function engine(seed: number, washTrade: WashTradeMode = 'crypto'): Engine {
  return new Engine({ clock: new MonotonicClock(), ids: new IdFactory(new Rng(seed)), assets: new AssetCatalog(), crypto: { washTrade } });
}

function stopSpec(asset: Asset, side: 'buy' | 'sell', qty: Dec, price: Dec): OrderSpec {
  const base: OrderSpec = {
    asset,
    side,
    type: 'trailing_stop',
    timeInForce: 'gtc',
    qty,
    notional: null,
    limitPrice: null,
    stopPrice: null,
    trailPrice: null,
    trailPercent: TRAIL.times(100),
    extendedHours: false,
    orderClass: '',
    clientOrderId: null,
  };
  if (asset.assetClass === 'us_equity') return base;
  const stop = roundToPriceGrid(asset, price.times(new Dec(1).minus(TRAIL)).toDecimalPlaces(2));
  return { ...base, type: 'stop_limit', trailPercent: null, stopPrice: stop, limitPrice: roundToPriceGrid(asset, stop.times(new Dec(1).minus(SLIPPAGE)).toDecimalPlaces(2)) };
}

function refusal(err: unknown): string {
  if (err instanceof SimError && err.status === 403) return err.message;
  throw err;
}

/**
 * The bot's part, at once: every position covered in full by stops on its closing side (stops that
 * no longer fit it are canceled and placed again), crypto stops raised as the price rises.
 * Returns what the engine refused.
 */
function protect(e: Engine): Refusal[] {
  const refused: Refusal[] = [];
  for (const symbol of SYMBOLS) {
    const asset = e.assets.resolve(symbol)!;
    const position = e.portfolio.qty(symbol);
    const price = e.prices.get(asset);
    const side = position.gt(0) ? 'sell' : 'buy';
    let stops = e.openOrders().filter((o) => o.origin === 'api' && o.asset.symbol === symbol);
    const covered = (list: SimOrder[]) => list.reduce((sum, o) => sum.plus(remainingQty(o, price)), ZERO);
    if (position.isZero() || stops.some((o) => o.side !== side) || covered(stops).gt(position.abs())) {
      for (const o of stops) e.cancel(o.id);
      stops = [];
    }
    if (position.isZero()) continue;
    for (const o of stops) {
      const want = stopSpec(asset, side, ZERO, price);
      if (asset.assetClass !== 'crypto' || o.triggered || !want.stopPrice!.gt(o.stopPrice!)) continue;
      try {
        e.replace(o.id, { stopPrice: want.stopPrice!, limitPrice: want.limitPrice! });
      } catch (err) {
        refused.push({ symbol, what: 'ratchet', message: refusal(err) });
      }
    }
    stops = e.openOrders().filter((o) => o.origin === 'api' && o.asset.symbol === symbol);
    let uncovered = position.abs().minus(covered(stops));
    if (asset.minTradeIncrement !== null) uncovered = uncovered.div(asset.minTradeIncrement).floor().times(asset.minTradeIncrement);
    if (asset.minOrderSize !== null && uncovered.lt(asset.minOrderSize)) continue;
    if (uncovered.lte(0)) continue;
    try {
      e.place(stopSpec(asset, side, uncovered, price), { origin: 'api' });
    } catch (err) {
      refused.push({ symbol, what: 'place', message: refusal(err) });
    }
  }
  return refused;
}

function run(seed: number, opts: { careless?: boolean; washTrade?: WashTradeMode; ticks?: number } = {}) {
  const e = engine(seed, opts.washTrade);
  const trader = new OutsideTrader(e, new Rng(seed + 1000), 3_600_000, { careless: opts.careless ?? false });
  const refused: Refusal[] = [];
  for (let i = 0; i < (opts.ticks ?? 600); i++) {
    trader.tick();
    refused.push(...protect(e));
  }
  const outside = e.orders.filter((o) => o.origin === 'outside');
  return { e, refused, outside, stops: e.orders.filter((o) => o.origin === 'api') };
}

describe('the careful outside trader (the default demo)', () => {
  it.each([1, 2, 3, 4])('seed %i: every stop the bot needs is taken, over 600 ticks of varied trading', (seed) => {
    const { refused, outside, stops } = run(seed);
    expect(refused).toEqual([]);
    // Still a lively account: market and limit orders, resting limits, partial fills, on every symbol.
    expect(outside.length).toBeGreaterThan(300);
    expect(new Set(outside.map((o) => o.asset.symbol)).size).toBe(SYMBOLS.length);
    expect(outside.some((o) => o.type === 'limit' && o.status === 'filled' && o.filledAt! > o.createdAt)).toBe(true);
    expect(outside.some((o) => o.type === 'limit' && o.status === 'canceled')).toBe(true);
    expect(outside.some((o) => !o.autoFill && o.status === 'filled')).toBe(true);
    expect(stops.length).toBeGreaterThan(50);
    expect(stops.some((o) => o.asset.assetClass === 'crypto')).toBe(true);
  });

  it('with the wash-trade rule on equities too (mode "all"), still nothing refused', () => {
    for (const seed of [6, 7]) expect(run(seed, { washTrade: 'all' }).refused).toEqual([]);
  });

  it('never has a resting order that closes a position, nor one on a symbol already busy with its own', () => {
    const e = engine(8);
    const trader = new OutsideTrader(e, new Rng(8), 3_600_000);
    for (let i = 0; i < 400; i++) {
      trader.tick();
      protect(e);
      const open = e.openOrders().filter((o) => o.origin === 'outside');
      expect(new Set(open.map((o) => o.asset.symbol)).size).toBe(open.length);
      for (const o of open) {
        const position = e.portfolio.qty(o.asset.symbol);
        // A partly filled opening order made the position it adds to: the filled part is its own.
        const before = o.side === 'buy' ? position.minus(o.filledQty) : position.plus(o.filledQty);
        expect(o.side === 'sell' ? before.gt(0) : before.lt(0)).toBe(false);
      }
    }
  });

  it('the careless trader (CT_DEMO_FAULTS=1) on the same ticks gets stops refused, wash trades and held quantities both', () => {
    const refused = [1, 2, 3].flatMap((seed) => run(seed, { careless: true }).refused);
    expect(refused.some((r) => /wash trade/.test(r.message))).toBe(true);
    expect(refused.some((r) => /insufficient (qty|balance)/.test(r.message))).toBe(true);
  });
});
