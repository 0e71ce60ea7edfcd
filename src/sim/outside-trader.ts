/**
 * Places random orders "from outside" (as a person in Alpaca's dashboard would) on a
 * timer, and random-walks prices, so fills flow on their own. Mostly small market
 * orders; some limit orders; some partial fills completed on later ticks. Crypto
 * sells never exceed what the account holds; equity orders that close a position never
 * exceed its qty_available (no flip, nothing other orders hold).
 */
import type { Asset } from './assets.js';
import { roundToPriceGrid } from './crypto-grid.js';
import { Dec } from './decimal.js';
import { type Engine, isOpen } from './engine.js';
import type { Rng } from './rng.js';
import type { OrderSpec, Side } from './types.js';

export const DEFAULT_OUTSIDE_INTERVAL_MS = 1500;
const TRADED = ['AAPL', 'MSFT', 'TSLA', 'SPY', 'BTC/USD', 'ETH/USD'];
const MAX_RESTING_LIMITS = 6;

export class OutsideTrader {
  private timer: ReturnType<typeof setInterval> | null = null;
  private readonly assets: Asset[];

  constructor(
    private readonly engine: Engine,
    private readonly rng: Rng,
    readonly intervalMs = DEFAULT_OUTSIDE_INTERVAL_MS,
  ) {
    this.assets = TRADED.map((s) => engine.assets.resolve(s)).filter((a): a is Asset => a !== null);
  }

  start(): this {
    if (!this.timer) {
      this.timer = setInterval(() => this.tick(), this.intervalMs);
      this.timer.unref();
    }
    return this;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** One step: move prices, finish some partial fills, maybe place an order. */
  tick(): void {
    try {
      this.walkPrices();
      this.completePartials();
      this.trimRestingLimits();
      if (this.rng.chance(0.85)) this.placeRandomOrder();
    } catch {
      // An outside order that the engine refuses is simply skipped.
    }
  }

  private walkPrices(): void {
    for (const asset of this.assets) {
      const price = this.engine.prices.get(asset);
      const step = new Dec(this.rng.normal() * 0.002).toDecimalPlaces(6);
      const next = Dec.max(price.times(step.plus(1)).toDecimalPlaces(2), new Dec('0.01'));
      this.engine.setPrice(asset, next);
    }
  }

  private completePartials(): void {
    for (const o of this.engine.openOrders()) {
      if (o.origin === 'outside' && !o.autoFill && this.rng.chance(0.5)) this.engine.forceFill(o.id);
    }
  }

  private trimRestingLimits(): void {
    const resting = this.engine.openOrders().filter((o) => o.origin === 'outside' && o.autoFill);
    for (const o of resting.slice(0, Math.max(0, resting.length - MAX_RESTING_LIMITS))) {
      if (isOpen(o)) this.engine.cancel(o.id);
    }
  }

  private randomQty(asset: Asset): Dec {
    if (asset.assetClass === 'us_equity') return new Dec(this.rng.range(1, 5));
    if (asset.symbol === 'BTC/USD') return new Dec(this.rng.range(1, 20)).div(1000);
    return new Dec(this.rng.range(1, 50)).div(100);
  }

  private placeRandomOrder(): void {
    const asset = this.rng.pick(this.assets);
    let side: Side = this.rng.chance(0.5) ? 'buy' : 'sell';
    let qty = this.randomQty(asset);
    if (asset.assetClass === 'crypto' && side === 'sell') {
      const available = this.engine.availableToSell(asset);
      if (available.lte(0)) side = 'buy';
      else qty = Dec.min(qty, available);
    } else if (asset.assetClass === 'us_equity') {
      // A person sees qty_available: no sell of shares other orders hold, no flip (equity-rules.ts).
      const position = this.engine.portfolio.qty(asset.symbol);
      const closing = side === 'sell' ? position.gt(0) : position.lt(0);
      if (closing) {
        const available = position.abs().minus(this.engine.reservedQty(asset.symbol, side));
        if (available.lte(0)) side = side === 'sell' ? 'buy' : 'sell';
        else qty = Dec.min(qty, available);
      }
    }
    const price = this.engine.prices.get(asset);
    const crypto = asset.assetClass === 'crypto';
    const base: OrderSpec = {
      asset,
      side,
      type: 'market',
      timeInForce: crypto ? 'gtc' : 'day',
      qty,
      notional: null,
      limitPrice: null,
      stopPrice: null,
      trailPrice: null,
      trailPercent: null,
      extendedHours: false,
      orderClass: '',
      clientOrderId: null,
    };
    const r = this.rng.next();
    if (r < 0.65) {
      this.engine.place(base, { origin: 'outside' });
    } else if (r < 0.85) {
      const offset = new Dec(this.rng.range(-5, 5)).div(1000); // within ±0.5%
      const limit = roundToPriceGrid(asset, price.times(offset.plus(1)).toDecimalPlaces(2));
      this.engine.place({ ...base, type: 'limit', timeInForce: 'gtc', limitPrice: limit }, { origin: 'outside' });
    } else {
      const { order } = this.engine.place(base, { origin: 'outside', autoFill: false });
      const half = asset.assetClass === 'us_equity' ? qty.div(2).floor() : qty.div(2).toDecimalPlaces(9, Dec.ROUND_DOWN);
      if (half.gt(0)) this.engine.forceFill(order.id, half);
    }
  }
}
