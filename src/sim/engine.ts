/**
 * One job: the simulated broker's order book. Every order, fill and activity it ever produced (kept forever),
 * the price book, and the portfolio. Operations are synchronous; each order event is
 * published to listeners as the exact `trade_updates` wire `data` object.
 */
import type { Asset, AssetCatalog } from './assets.js';
import { rfc3339, type MonotonicClock } from './clock.js';
import { Dec, ZERO, fmt } from './decimal.js';
import { forbidden, invalid, notFound, unprocessable } from './errors.js';
import type { IdFactory } from './ids.js';
import { executablePrice, forcedFillPrice, updateTrailing } from './matching.js';
import { orderJson } from './order-json.js';
import { checkPriceIncrement, checkTimeInForce } from './order-request.js';
import { Portfolio } from './portfolio.js';
import { PriceBook } from './prices.js';
import { ActivityBook } from './activity-book.js';
import { legacySymbol } from './assets.js';
import { fillFees } from './crypto-fees.js';
import { checkCryptoQty } from './crypto-grid.js';
import { type CryptoSettings, CryptoRules } from './crypto-rules.js';
import { checkWashTrade } from './wash-trade.js';
import { ActivityEventLog } from './activity-events.js';
import { tradeEventBody } from './activity-event-json.js';
import { cfeeEventBody } from './crypto-fees.js';
import { OptionRules } from './option-rules.js';
import { Rng } from './rng.js';
import { UlidFactory } from './ulid.js';
import { checkEquityOrder, checkEquityReplace } from './equity-rules.js';
import { MarketSession } from './session.js';
import { checkReplaceChanges } from './replace-noop.js';
import { actsIn, agedExpiryMs } from './order-sessions.js';
import {
  type FillRecord,
  OPEN_STATUSES,
  type OrderEventName,
  type OrderOrigin,
  type OrderSpec,
  type ReplaceSpec,
  type SimOrder,
  type TradeEvent,
  type TradeEventName,
} from './types.js';

export interface EngineOptions {
  clock: MonotonicClock;
  ids: IdFactory;
  assets: AssetCatalog;
  /** Starting cash, decimal string (default "100000"). */
  startingCash?: string;
  /** Crypto fee rate, legacy symbols, wash-trade protection (crypto-rules.ts; defaults there). */
  crypto?: Partial<CryptoSettings>;
  /** Event ids of the activity event stream (default: a fixed seed). */
  eventIds?: UlidFactory;
}

export interface PlaceOptions {
  origin?: OrderOrigin;
  /** False: the engine never fills it on its own (only forced fills do). Default true. */
  autoFill?: boolean;
  /** Skip the held_for_orders / no-flip check (equity-rules.ts); `/_sim/trade {"ignore_held": true}` only. */
  ignoreHeld?: boolean;
}

export interface Placed {
  order: SimOrder;
  /** The order JSON at acceptance (status "new"), before any fill. */
  accepted: Record<string, unknown>;
}

export type CancelResult = { id: string; status: number; body?: Record<string, unknown> };

interface FillInfo {
  executionId: string;
  price: Dec;
  qty: Dec;
  positionQty: Dec;
}

export const isOpen = (o: SimOrder): boolean => OPEN_STATUSES.has(o.status);

export class Engine {
  readonly assets: AssetCatalog;
  readonly prices: PriceBook;
  readonly portfolio: Portfolio;
  readonly createdAtMicros: number;
  /** Crypto settings (fees, legacy symbols, wash trades) and the CFEE / late activities. */
  readonly crypto: CryptoRules;
  readonly activities: ActivityBook;
  /** The activity event stream's events (GET /v2beta1/events/activities, activity-sse.ts). */
  readonly events: ActivityEventLog;
  /** Option contract order rules (option-rules.ts, POST /_sim/options). */
  readonly options = new OptionRules();
  /** The equity session (regular by default): session.ts, POST /_sim/clock. */
  readonly session = new MarketSession();
  private readonly clock: MonotonicClock;
  private readonly ids: IdFactory;
  private readonly orderList: SimOrder[] = [];
  private readonly byId = new Map<string, SimOrder>();
  private readonly byClientId = new Map<string, SimOrder>();
  private readonly open = new Map<string, SimOrder>();
  private readonly fillList: FillRecord[] = [];
  private readonly listeners = new Set<(e: TradeEvent) => void>();
  /** Symbols nobody trades against (`POST /_sim/liquidity`): their orders fill only when forced. */
  private readonly illiquid = new Set<string>();

  constructor(opts: EngineOptions) {
    this.clock = opts.clock;
    this.ids = opts.ids;
    this.assets = opts.assets;
    this.prices = new PriceBook(() => this.clock.nowMicros());
    this.portfolio = new Portfolio(new Dec(opts.startingCash ?? '100000'));
    this.createdAtMicros = this.clock.nowMicros();
    this.crypto = new CryptoRules(opts.crypto);
    this.activities = new ActivityBook(this.ids);
    this.events = new ActivityEventLog(opts.eventIds ?? new UlidFactory(new Rng(1)), () => this.clock.nowMicros());
  }

  /** Every order ever created, in creation order. */
  get orders(): readonly SimOrder[] {
    return this.orderList;
  }

  /** Every fill ever made (= the FILL activities), in creation order. */
  get fills(): readonly FillRecord[] {
    return this.fillList;
  }

  openOrders(): SimOrder[] {
    return [...this.open.values()].sort((a, b) => a.seq - b.seq);
  }

  onEvent(fn: (e: TradeEvent) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  getOrder(id: string): SimOrder | undefined {
    return this.byId.get(id);
  }

  getByClientOrderId(coid: string): SimOrder | undefined {
    return this.byClientId.get(coid);
  }

  nowMicros(): number {
    return this.clock.nowMicros();
  }

  /** A new seeded uuid (execution ids of busts and corrections, executions.ts). */
  newUuid(): string {
    return this.ids.uuid();
  }

  // --- order lifecycle ---------------------------------------------------------

  place(spec: OrderSpec, opts: PlaceOptions = {}): Placed {
    if (spec.clientOrderId !== null && this.byClientId.has(spec.clientOrderId)) {
      throw invalid('client_order_id must be unique');
    }
    const price = this.prices.get(spec.asset);
    if (spec.asset.assetClass === 'crypto' && spec.side === 'sell') {
      const requested = spec.qty ?? notionalToQty(spec.notional ?? ZERO, price);
      this.assertCryptoBalance(spec.asset, requested, null);
    }
    checkWashTrade(this.crypto.washTrade, spec, this.openOrders());
    checkEquityOrder(this, spec, opts.ignoreHeld);
    this.options.check(spec);
    const now = this.clock.nowMicros();
    const order: SimOrder = {
      seq: this.orderList.length + 1,
      id: this.ids.uuid(),
      clientOrderId: spec.clientOrderId ?? this.ids.uuid(),
      asset: spec.asset,
      side: spec.side,
      type: spec.type,
      timeInForce: spec.timeInForce,
      qty: spec.qty,
      notional: spec.notional,
      limitPrice: spec.limitPrice,
      stopPrice: spec.stopPrice,
      trailPrice: spec.trailPrice,
      trailPercent: spec.trailPercent,
      extendedHours: spec.extendedHours,
      orderClass: spec.orderClass,
      ...freshLifecycle(now, spec.timeInForce),
      replaces: null,
      autoFill: opts.autoFill ?? true,
      origin: opts.origin ?? 'api',
      legacySymbol: this.crypto.legacyFor(spec.asset),
    };
    order.status = this.session.initialStatus(order);
    updateTrailing(order, price);
    return this.accept(order, true);
  }

  /** `race`: the original fills before the replacement reaches the venue (order_replace_rejected). */
  replace(id: string, patch: ReplaceSpec, opts: { race?: boolean } = {}): Placed {
    const old = this.requireOrder(id);
    if (!isOpen(old)) throw unprocessable('order is not open');
    checkEquityReplace(this, old, patch);
    if (patch.clientOrderId !== undefined && this.byClientId.has(patch.clientOrderId)) {
      throw invalid('client_order_id must be unique');
    }
    const { asset } = old;
    if (patch.limitPrice && old.type !== 'limit' && old.type !== 'stop_limit') {
      throw unprocessable('limit_price can only be replaced on limit and stop_limit orders');
    }
    if (patch.stopPrice && old.type !== 'stop' && old.type !== 'stop_limit') {
      throw unprocessable('stop_price can only be replaced on stop and stop_limit orders');
    }
    if (patch.trail && old.type !== 'trailing_stop') {
      throw unprocessable('trail can only be replaced on trailing_stop orders');
    }
    if (patch.qty && old.qty === null) throw unprocessable('qty cannot be replaced on a notional order');
    if (patch.timeInForce) checkTimeInForce(asset, patch.timeInForce);
    checkPriceIncrement(asset, 'limit_price', patch.limitPrice ?? null);
    checkPriceIncrement(asset, 'stop_price', patch.stopPrice ?? null);
    if (old.trailPrice !== null) checkPriceIncrement(asset, 'trail', patch.trail ?? null);
    if (patch.trail && old.trailPercent !== null && patch.trail.gte(100)) throw invalid('trail must be < 100');
    checkCryptoQty(asset, patch.qty ?? null);
    checkReplaceChanges(old, patch);

    const price = this.prices.get(asset);
    const qty = patch.qty ?? (old.qty === null ? null : old.qty.minus(old.filledQty));
    const notional = old.notional === null ? null : old.notional.minus(old.filledValue);
    if (asset.assetClass === 'crypto' && old.side === 'sell') {
      this.assertCryptoBalance(asset, qty ?? notionalToQty(notional ?? ZERO, price), old.id);
    }
    const limitAfter = patch.limitPrice ?? old.limitPrice;
    checkWashTrade(this.crypto.washTrade, { asset, side: old.side, type: old.type, limitPrice: limitAfter }, this.openOrders(), old.id);
    const now = this.clock.nowMicros();
    const next: SimOrder = {
      ...old,
      seq: this.orderList.length + 1,
      id: this.ids.uuid(),
      clientOrderId: patch.clientOrderId ?? this.ids.uuid(),
      timeInForce: patch.timeInForce ?? old.timeInForce,
      qty,
      notional,
      limitPrice: patch.limitPrice ?? old.limitPrice,
      stopPrice: old.type === 'trailing_stop' ? null : (patch.stopPrice ?? old.stopPrice),
      trailPrice: old.trailPrice !== null ? (patch.trail ?? old.trailPrice) : null,
      trailPercent: old.trailPercent !== null ? (patch.trail ?? old.trailPercent) : null,
      ...freshLifecycle(now, patch.timeInForce ?? old.timeInForce),
      replaces: old.id,
    };
    updateTrailing(next, price);
    next.status = this.session.initialStatus(next);
    // Alpaca: pending_replace first, then replaced (docs "Orders", order lifecycle; "Streaming").
    old.status = 'pending_replace';
    old.updatedAt = now;
    this.emit('pending_replace', old, now);
    if (opts.race) return this.loseReplaceRace(old, next);
    old.status = 'replaced';
    old.replacedBy = next.id;
    old.replacedAt = now;
    old.updatedAt = now;
    this.open.delete(old.id);
    this.emit('replaced', old, now);
    return this.accept(next, false);
  }

  cancel(id: string): SimOrder {
    const order = this.requireOrder(id);
    if (!isOpen(order)) throw unprocessable('order is not cancelable');
    const now = this.clock.nowMicros();
    order.status = 'canceled';
    order.canceledAt = now;
    order.updatedAt = now;
    this.open.delete(order.id);
    this.emit('canceled', order, now);
    return order;
  }

  cancelAll(): CancelResult[] {
    return this.openOrders().map((o) => {
      this.cancel(o.id);
      return { id: o.id, status: 200 };
    });
  }

  expire(id: string): SimOrder {
    return this.finish(id, 'expired');
  }

  reject(id: string): SimOrder {
    return this.finish(id, 'rejected');
  }

  /**
   * `done_for_day` or `stopped`: the order takes that status and the stream sends that event, and
   * it stays open (a later fill, e.g. by forceFill, moves it on).
   */
  markEvent(id: string, event: OrderEventName): SimOrder {
    const order = this.requireOrder(id);
    if (!isOpen(order)) throw unprocessable('order is not open');
    const now = this.clock.nowMicros();
    order.status = event;
    order.updatedAt = now;
    this.session.noteEvent(order, event);
    this.emit(event, order, now);
    return order;
  }

  /** Fill (part of) an open order now at the current price (never through its limit). */
  forceFill(id: string, qty?: Dec): SimOrder {
    const order = this.requireOrder(id);
    if (!isOpen(order)) throw unprocessable('order is not open');
    if (this.session.isDoneForToday(order)) {
      throw unprocessable('order is done_for_day: no fill before the next session opens (POST /_sim/clock)');
    }
    const price = forcedFillPrice(order, this.prices.get(order.asset));
    const remaining = remainingQty(order, price);
    const q = qty ?? remaining;
    if (q.lte(0)) throw invalid('qty must be > 0');
    if (q.gt(remaining)) throw unprocessable(`qty ${fmt(q)} exceeds the remaining ${fmt(remaining)}`);
    this.execute(order, q, price);
    return order;
  }

  /** Move a price; works every open order on that symbol (trailing stops, stops, limits). */
  setPrice(asset: Asset, price: Dec): void {
    this.prices.set(asset, price);
    for (const order of this.openOrders()) {
      if (order.asset.symbol === asset.symbol) this.work(order);
    }
  }

  /** A thin market (an extended-hours book with no one on the other side): orders of the symbol rest until liquid again or forced. */
  setLiquidity(asset: Asset, liquid: boolean): void {
    if (liquid) this.illiquid.delete(asset.symbol);
    else this.illiquid.add(asset.symbol);
    if (liquid) for (const order of this.openOrders()) if (order.asset.symbol === asset.symbol) this.work(order);
  }

  /**
   * The session changed (session-control.ts): queued `accepted` orders that can act now go `new`;
   * every open order is worked (a stop crossed while it could not trigger fills now).
   */
  sessionChanged(): void {
    for (const order of this.openOrders()) {
      if (order.status === 'accepted' && actsIn(this.session.now, order)) {
        const now = this.clock.nowMicros();
        order.status = 'new';
        order.updatedAt = now;
        this.emit('new', order, now);
      }
      this.work(order);
    }
  }

  /** Simulated time is `ms` from now on (session-control.ts; `rewind` only before any order). */
  moveClock(ms: number, rewind: boolean): void {
    this.clock.moveTo(ms, rewind);
  }

  /**
   * A PATCH that loses the race (spec PATCH /v2/orders/{order_id}: "If the existing open order is
   * filled before the replacing (new) order reaches the execution venue, the replacing (new) order
   * is rejected"): the original fills, `order_replace_rejected` is sent for it, and the replacement
   * (answered to the PATCH as accepted) is `rejected`.
   */
  private loseReplaceRace(old: SimOrder, next: SimOrder): Placed {
    const accepted = orderJson(next);
    const price = forcedFillPrice(old, this.prices.get(old.asset));
    this.execute(old, remainingQty(old, price), price);
    const now = this.clock.nowMicros();
    this.emit('order_replace_rejected', old, now);
    next.status = 'rejected';
    next.failedAt = now;
    next.updatedAt = now;
    this.orderList.push(next);
    this.byId.set(next.id, next);
    this.byClientId.set(next.clientOrderId, next);
    this.emit('rejected', next, now);
    return { order: next, accepted };
  }

  // --- balances ---------------------------------------------------------------

  /** Quantity of open orders on `side` for `symbol` still to fill (excluding one order). */
  reservedQty(symbol: string, side: 'buy' | 'sell', excludeId: string | null = null): Dec {
    let sum = ZERO;
    for (const o of this.open.values()) {
      if (o.asset.symbol !== symbol || o.side !== side || o.id === excludeId) continue;
      sum = sum.plus(remainingQty(o, this.prices.get(o.asset)));
    }
    return sum;
  }

  /** Crypto that can still be sold: position minus open sell orders. */
  availableToSell(asset: Asset, excludeId: string | null = null): Dec {
    const held = Dec.max(this.portfolio.qty(asset.symbol), ZERO);
    return Dec.max(held.minus(this.reservedQty(asset.symbol, 'sell', excludeId)), ZERO);
  }

  // --- internals --------------------------------------------------------------

  private assertCryptoBalance(asset: Asset, requested: Dec, excludeId: string | null): void {
    const available = this.availableToSell(asset, excludeId);
    if (requested.gt(available)) {
      throw forbidden(
        `insufficient balance for ${asset.base ?? asset.symbol} (requested: ${fmt(requested)}, available: ${fmt(available)})`,
      );
    }
  }

  private requireOrder(id: string): SimOrder {
    const order = this.byId.get(id);
    if (!order) throw notFound();
    return order;
  }

  private accept(order: SimOrder, immediateTif: boolean): Placed {
    this.orderList.push(order);
    this.byId.set(order.id, order);
    this.byClientId.set(order.clientOrderId, order);
    this.open.set(order.id, order);
    const accepted = orderJson(order);
    // `accepted` (queued while the session is closed) has no stream event; `new` comes at the open.
    if (order.status !== 'accepted') this.emit('new', order, order.createdAt);
    this.work(order);
    const tif = order.timeInForce;
    if (immediateTif && order.autoFill && isOpen(order) && (tif === 'ioc' || tif === 'fok')) {
      this.cancel(order.id);
    }
    return { order, accepted };
  }

  private finish(id: string, status: 'expired' | 'rejected'): SimOrder {
    const order = this.requireOrder(id);
    if (!isOpen(order)) throw unprocessable('order is not open');
    const now = this.clock.nowMicros();
    order.status = status;
    if (status === 'expired') order.expiredAt = now;
    else order.failedAt = now;
    order.updatedAt = now;
    this.open.delete(order.id);
    this.emit(status, order, now);
    return order;
  }

  /** Evaluate an open, auto-filled order against the current price. */
  private work(order: SimOrder): void {
    if (!isOpen(order) || !order.autoFill || this.illiquid.has(order.asset.symbol)) return;
    if (!this.session.canAutoExecute(order)) return;
    const price = this.prices.get(order.asset);
    if (updateTrailing(order, price)) order.updatedAt = this.clock.nowMicros();
    const px = executablePrice(order, price);
    if (px === null) return;
    const qty = remainingQty(order, px);
    if (qty.gt(0)) this.execute(order, qty, px);
  }

  private execute(order: SimOrder, qty: Dec, price: Dec): void {
    const now = this.clock.nowMicros();
    order.filledQty = order.filledQty.plus(qty);
    order.filledValue = order.filledValue.plus(qty.times(price));
    const leaves = remainingQty(order, price);
    const full = leaves.lte(0);
    order.status = full ? 'filled' : 'partially_filled';
    order.updatedAt = now;
    if (full) {
      order.filledAt = now;
      this.open.delete(order.id);
    }
    const fees = fillFees(order.asset, order.side, qty, price, this.crypto.feeBps);
    const positionQty = this.portfolio.apply(order.asset, order.side, qty, price, fees);
    const { id, uuid } = this.ids.activityId(now);
    const fill: FillRecord = {
      id,
      executionId: uuid,
      micros: now,
      orderId: order.id,
      symbol: order.legacySymbol ? legacySymbol(order.asset) : order.asset.symbol,
      side: order.side,
      qty,
      price,
      cumQty: order.filledQty,
      leavesQty: full ? ZERO : leaves,
      orderStatus: order.status,
      type: full ? 'fill' : 'partial_fill',
      positionQty,
    };
    this.fillList.push(fill);
    const fee = this.activities.recordFill(fill, order.asset, fees);
    this.events.append('TRD', tradeEventBody({
      executionId: uuid, previousId: null, executionType: fill.type, executedMicros: now, order, symbol: fill.symbol,
      side: order.side, qty, price, cumQty: fill.cumQty, leavesQty: fill.leavesQty, orderStatus: order.status,
    }));
    if (fee) this.publishLater(fee.postedInMs, () => this.events.append('CFEE', cfeeEventBody(fee.record)));
    this.emit(full ? 'fill' : 'partial_fill', order, now, { executionId: uuid, price, qty, positionQty });
  }

  /** Now, or after `ms` (a CFEE posted later, crypto-rules.ts `fee_delay_ms`). */
  private publishLater(ms: number, publish: () => void): void {
    if (ms <= 0) publish();
    else setTimeout(publish, ms).unref();
  }

  private emit(event: TradeEventName, order: SimOrder, micros: number, fill?: FillInfo): void {
    const data: Record<string, unknown> = {
      event,
      execution_id: fill?.executionId ?? this.ids.uuid(),
      order: orderJson(order),
    };
    if (fill) {
      data.position_qty = fmt(fill.positionQty);
      data.price = fmt(fill.price);
      data.qty = fmt(fill.qty);
    }
    data.timestamp = rfc3339(micros);
    const ev: TradeEvent = { event, orderId: order.id, data };
    for (const fn of this.listeners) {
      try {
        fn(ev);
      } catch {
        // A listener must never break the engine.
      }
    }
  }
}

/** Notional converted to quantity at a price, truncated to 9 decimals. */
export function notionalToQty(notional: Dec, price: Dec): Dec {
  return notional.div(price).toDecimalPlaces(9, Dec.ROUND_DOWN);
}

/** Quantity still to fill (for notional orders: the remaining notional at `price`). */
export function remainingQty(order: SimOrder, price: Dec): Dec {
  if (order.qty !== null) return Dec.max(order.qty.minus(order.filledQty), ZERO);
  const notionalLeft = (order.notional ?? ZERO).minus(order.filledValue);
  return notionalLeft.lte(0) ? ZERO : notionalToQty(notionalLeft, price);
}

/**
 * The state of an order just accepted: nothing filled, nothing triggered, every timestamp but
 * creation empty; a GTC order's aged-order deadline (order-sessions.ts).
 */
function freshLifecycle(now: number, tif: SimOrder['timeInForce']) {
  return {
    expiresAt: tif === 'gtc' ? agedExpiryMs(Math.floor(now / 1000)) * 1000 : null,
    hwm: null,
    status: 'new' as const,
    filledQty: ZERO,
    filledValue: ZERO,
    createdAt: now,
    updatedAt: now,
    submittedAt: now,
    filledAt: null,
    canceledAt: null,
    expiredAt: null,
    failedAt: null,
    replacedAt: null,
    replacedBy: null,
    triggered: false,
  };
}
