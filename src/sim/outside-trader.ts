/**
 * Places random orders "from outside" (as a person in Alpaca's dashboard would) on a
 * timer, and random-walks prices, so fills flow on their own. Mostly small market
 * orders; some limit orders; some partial fills completed on later ticks. Crypto
 * sells never exceed what the account holds; equity orders that close a position never
 * exceed its qty_available (no flip, nothing other orders hold).
 *
 * Options (both off by default, so a trader without them draws exactly what it always drew):
 * - `fractionalRate`: that share of equity buys that open or add to a long position are
 *   fractional (e.g. 1.5, 0.25, 2.000000125 shares), and that share of the sells closing a
 *   fractional long sell all of it or a fractional part. A fractional qty is always `day`, and
 *   market or limit (Alpaca: docs "Fractional trading"; equity-rules.ts refuses the rest).
 * - `doneForDay`: asked once per open outside equity order (while the session is open): true
 *   marks it `done_for_day` (status + stream event; no fill until the next session opens). The
 *   simulator wires it to the `done_for_day_rate` fault (order-faults.ts).
 * Equity orders are not force-filled while they cannot execute (session closed, done for the day).
 *
 * Careful (the default) or careless (`careless: true`). Both place the same kinds of orders; the
 * careful one acts as a person who knows a protective bot watches the account (the demo's trader):
 * - one open order per symbol: nothing new on a symbol while an order of its own there is open, so
 *   what rests never meets a position it was not placed against;
 * - an order that may rest (a limit, a market order it fills in parts, any equity order while the
 *   session cannot execute it) only opens or adds to a position, never closes one: a closing order
 *   that rests holds the shares or coins the bot's stops need (equity-rules.ts `held_for_orders`,
 *   Alpaca's "insufficient qty available"). A closing order goes to market and fills at once;
 * - where the wash-trade rule applies (wash-trade.ts; by default crypto), an order that may rest
 *   only when the symbol is flat with no open order on the other side: a resting buy on a long coin
 *   crosses the bot's sell stop-limit (any buy limit at or above its limit, and the ratchet raises
 *   that limit), and Alpaca refuses the stop as a potential wash trade;
 * - a partly filled order is completed on the next tick, and a limit left unfilled for
 *   CAREFUL_REST_TICKS ticks is canceled: an entry the bot protects once it is done is not left
 *   half-done past the bot's grace period.
 * The careless trader (the fault mix of the demo, CT_DEMO_FAULTS=1; the chaos harness) does none of
 * this: its resting orders cross the bot's stops and hold their shares, as a careless user's would.
 * It draws exactly what the trader drew before `careless` existed, seed for seed.
 */
import type { Asset } from './assets.js';
import { roundToPriceGrid } from './crypto-grid.js';
import { Dec } from './decimal.js';
import { type Engine, isOpen } from './engine.js';
import { actsIn } from './order-sessions.js';
import type { Rng } from './rng.js';
import type { OrderSpec, Side, SimOrder } from './types.js';

export const DEFAULT_OUTSIDE_INTERVAL_MS = 1500;
const TRADED = ['AAPL', 'MSFT', 'TSLA', 'SPY', 'BTC/USD', 'ETH/USD'];
const MAX_RESTING_LIMITS = 6;
/** The careful trader cancels a limit of its own left unfilled this many ticks (30 s at the default interval). */
export const CAREFUL_REST_TICKS = 20;
/** Decimal places a fractional quantity is drawn with (Alpaca allows up to 9). */
const FRACTION_PLACES = [1, 2, 2, 3, 9] as const;

export interface OutsideTraderOptions {
  /** Share (0..1) of equity entries (and of sells closing a fractional position) that are fractional. Default 0. */
  fractionalRate?: number;
  /** Decides, once per open outside equity order, whether it is reported done_for_day. Default: never. */
  doneForDay?: () => boolean;
  /** Resting orders that cross the bot's stops or hold their shares (see above). Default false: careful. */
  careless?: boolean;
}

export class OutsideTrader {
  private timer: ReturnType<typeof setInterval> | null = null;
  private interval: number;
  private readonly assets: Asset[];
  /** False: careless (POST /_sim/outside-trader `careless` switches it while running). */
  careful: boolean;
  /** Careful: the tick on which each of its open orders was placed (CAREFUL_REST_TICKS). */
  private readonly placedOnTick = new WeakMap<SimOrder, number>();
  private ticks = 0;
  private readonly fractionalRate: number;
  private readonly doneForDay: (() => boolean) | null;
  /** Outside orders already asked about done_for_day. */
  private readonly askedDoneForDay = new WeakSet<SimOrder>();

  constructor(
    private readonly engine: Engine,
    private readonly rng: Rng,
    intervalMs = DEFAULT_OUTSIDE_INTERVAL_MS,
    opts: OutsideTraderOptions = {},
  ) {
    this.interval = intervalMs;
    this.careful = opts.careless !== true;
    this.assets = TRADED.map((s) => engine.assets.resolve(s)).filter((a): a is Asset => a !== null);
    this.fractionalRate = opts.fractionalRate ?? 0;
    this.doneForDay = opts.doneForDay ?? null;
  }

  get intervalMs(): number {
    return this.interval;
  }

  get running(): boolean {
    return this.timer !== null;
  }

  start(): this {
    if (!this.timer) {
      this.timer = setInterval(() => this.tick(), this.interval);
      this.timer.unref();
    }
    return this;
  }

  /** A new tick interval (POST /_sim/outside-trader `interval_ms`); a running trader goes on at it. */
  setIntervalMs(ms: number): void {
    this.interval = ms;
    if (this.timer) {
      this.stop();
      this.start();
    }
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** One step: move prices, finish some partial fills, maybe place an order. */
  tick(): void {
    this.ticks += 1;
    try {
      this.walkPrices();
      this.completePartials();
      this.trimRestingLimits();
      if (this.careful) this.cancelStaleLimits();
      this.markDoneForDay();
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
      // Not while it cannot execute (closed session, done_for_day): checked before the draw.
      // Careful: at once (the bot protects the entry when it is done); careless: by chance.
      if (o.origin === 'outside' && !o.autoFill && this.engine.session.canAutoExecute(o) && (this.careful || this.rng.chance(0.5))) {
        this.engine.forceFill(o.id);
      }
    }
  }

  private markDoneForDay(): void {
    if (!this.doneForDay || !this.engine.session.isOpen) return;
    for (const o of this.engine.openOrders()) {
      if (o.origin !== 'outside' || o.asset.assetClass !== 'us_equity' || this.askedDoneForDay.has(o)) continue;
      if (o.status !== 'new' && o.status !== 'partially_filled') continue;
      this.askedDoneForDay.add(o);
      if (this.doneForDay()) this.engine.markEvent(o.id, 'done_for_day');
    }
  }

  /** A fractional quantity: 0..4 whole shares plus a fraction of 1 to 9 decimal places (never whole). */
  private fractionalQty(): Dec {
    const places = this.rng.pick(FRACTION_PLACES);
    const scale = 10 ** places;
    return new Dec(this.rng.range(0, 4)).plus(new Dec(this.rng.range(1, scale - 1)).div(scale));
  }

  private trimRestingLimits(): void {
    const resting = this.engine.openOrders().filter((o) => o.origin === 'outside' && o.autoFill);
    for (const o of resting.slice(0, Math.max(0, resting.length - MAX_RESTING_LIMITS))) {
      if (isOpen(o)) this.engine.cancel(o.id);
    }
  }

  /** Careful: its limits left unfilled for CAREFUL_REST_TICKS ticks are canceled (a person gives up on them). */
  private cancelStaleLimits(): void {
    for (const o of this.engine.openOrders()) {
      if (o.origin !== 'outside' || !o.autoFill) continue;
      const placed = this.placedOnTick.get(o);
      if (placed !== undefined && this.ticks - placed >= CAREFUL_REST_TICKS) this.engine.cancel(o.id);
    }
  }

  /** Careful: the traded symbols with no open order of its own (one open order per symbol). */
  private idleAssets(): Asset[] {
    const busy = new Set(this.engine.openOrders().filter((o) => o.origin === 'outside').map((o) => o.asset.symbol));
    return this.assets.filter((a) => !busy.has(a.symbol));
  }

  /**
   * Careful: may an order of `side` rest on `asset` without getting in the way of the bot's stops?
   * Only one that opens or adds to the position (a closing one would hold what the stops need), and,
   * where the wash-trade rule applies, only from flat with no open order on the other side (one on
   * a position would cross the stop that protects it).
   */
  mayRest(asset: Asset, side: Side): boolean {
    const position = this.engine.portfolio.qty(asset.symbol);
    const closing = side === 'sell' ? position.gt(0) : position.lt(0);
    if (closing || (asset.assetClass === 'crypto' && side === 'sell')) return false;
    if (!this.washes(asset)) return true;
    if (!position.isZero()) return false;
    return !this.engine.openOrders().some((o) => o.asset.symbol === asset.symbol && o.side !== side);
  }

  /** Does the wash-trade rule apply to `asset` (wash-trade.ts modes)? */
  private washes(asset: Asset): boolean {
    const mode = this.engine.crypto.washTrade;
    return mode === 'all' || (mode === 'crypto' && asset.assetClass === 'crypto');
  }

  private randomQty(asset: Asset): Dec {
    if (asset.assetClass === 'us_equity') return new Dec(this.rng.range(1, 5));
    if (asset.symbol === 'BTC/USD') return new Dec(this.rng.range(1, 20)).div(1000);
    return new Dec(this.rng.range(1, 50)).div(100);
  }

  private placeRandomOrder(): void {
    const idle = this.careful ? this.idleAssets() : this.assets;
    if (idle.length === 0) return;
    const asset = this.rng.pick(idle);
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
        // Selling out of a fractional long: all of it (fraction included), or a fractional part.
        if (side === 'sell' && available.gt(0) && !available.isInteger() && this.rng.chance(this.fractionalRate)) {
          qty = this.rng.chance(0.5) ? available : Dec.min(this.fractionalQty(), available);
        }
      }
      // A fractional entry: a buy from flat or adding to a long (Alpaca: no fractional short sale).
      if (side === 'buy' && !position.lt(0) && this.rng.chance(this.fractionalRate)) qty = this.fractionalQty();
    }
    const fractional = asset.assetClass === 'us_equity' && !qty.isInteger();
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
    // Careful: what may rest is placed only where it gets in no stop's way; otherwise a market order.
    // An equity order the session cannot execute now rests whatever its type.
    const restsAnyway = asset.assetClass === 'us_equity' && !actsIn(this.engine.session.now, base);
    // A part filled while the rest waits makes a position the rest would cross where wash trades are refused.
    const toMarket = this.careful && (restsAnyway || r >= 0.65) && (!this.mayRest(asset, side) || (r >= 0.85 && this.washes(asset)));
    if (toMarket && restsAnyway) return;
    if (r < 0.65 || toMarket) {
      this.track(this.engine.place(base, { origin: 'outside' }).order);
    } else if (r < 0.85) {
      const offset = new Dec(this.rng.range(-5, 5)).div(1000); // within ±0.5%
      const limit = roundToPriceGrid(asset, price.times(offset.plus(1)).toDecimalPlaces(2));
      // Fractional orders must be DAY orders (equity-rules.ts); whole ones rest gtc.
      this.track(this.engine.place({ ...base, type: 'limit', timeInForce: fractional ? 'day' : 'gtc', limitPrice: limit }, { origin: 'outside' }).order);
    } else {
      const { order } = this.engine.place(base, { origin: 'outside', autoFill: false });
      // Whole shares fill half in whole shares; a fractional qty (crypto, fractional shares) half to 9 places.
      const half = asset.assetClass === 'us_equity' && !fractional ? qty.div(2).floor() : qty.div(2).toDecimalPlaces(9, Dec.ROUND_DOWN);
      if (half.gt(0) && this.engine.session.canAutoExecute(order)) this.engine.forceFill(order.id, half);
    }
  }

  private track(order: SimOrder): void {
    if (this.careful && isOpen(order)) this.placedOnTick.set(order, this.ticks);
  }
}
