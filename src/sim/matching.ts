/**
 * Pure order-matching rules: trailing-stop tracking and whether an open order is
 * executable at a price (and at what price). Fills happen at the current price,
 * which for a marketable limit is the limit price or better.
 */
import { Dec } from './decimal.js';
import type { SimOrder } from './types.js';

/** Round a computed stop to the asset's tick (equities: cents, 4 dp below $1). */
export function roundStop(order: SimOrder, stop: Dec): Dec {
  if (order.asset.assetClass !== 'us_equity') return stop.toDecimalPlaces(9, Dec.ROUND_HALF_UP);
  return stop.toDecimalPlaces(stop.gte(1) ? 2 : 4, Dec.ROUND_HALF_UP);
}

/** Trailing stop: move the high-water mark (low for buys) and recompute stop_price. Returns true if changed. */
export function updateTrailing(order: SimOrder, price: Dec): boolean {
  if (order.type !== 'trailing_stop') return false;
  const sell = order.side === 'sell';
  const prevHwm = order.hwm;
  const hwm = prevHwm === null ? price : sell ? Dec.max(prevHwm, price) : Dec.min(prevHwm, price);
  let stop: Dec;
  if (order.trailPrice !== null) {
    stop = sell ? hwm.minus(order.trailPrice) : hwm.plus(order.trailPrice);
  } else {
    const pct = (order.trailPercent ?? new Dec(0)).div(100);
    stop = sell ? hwm.times(new Dec(1).minus(pct)) : hwm.times(new Dec(1).plus(pct));
  }
  stop = roundStop(order, stop);
  const changed = prevHwm === null || !prevHwm.eq(hwm) || order.stopPrice === null || !order.stopPrice.eq(stop);
  order.hwm = hwm;
  order.stopPrice = stop;
  return changed;
}

function stopReached(order: SimOrder, price: Dec): boolean {
  const stop = order.stopPrice;
  if (stop === null) return false;
  return order.side === 'buy' ? price.gte(stop) : price.lte(stop);
}

function limitOk(order: SimOrder, price: Dec): boolean {
  const limit = order.limitPrice;
  if (limit === null) return true;
  return order.side === 'buy' ? price.lte(limit) : price.gte(limit);
}

/**
 * The price at which `order` executes now, or null if it does not. Marks stop and
 * stop_limit orders as triggered when their stop is reached.
 */
export function executablePrice(order: SimOrder, price: Dec): Dec | null {
  switch (order.type) {
    case 'market':
      return price;
    case 'limit':
      return limitOk(order, price) ? price : null;
    case 'stop':
    case 'trailing_stop':
      if (!order.triggered && stopReached(order, price)) order.triggered = true;
      return order.triggered ? price : null;
    case 'stop_limit':
      if (!order.triggered && stopReached(order, price)) order.triggered = true;
      return order.triggered && limitOk(order, price) ? price : null;
  }
}

/** A price for a forced fill (/_sim/fill, /_sim/trade): current price, but never through the limit. */
export function forcedFillPrice(order: SimOrder, price: Dec): Dec {
  const limit = order.limitPrice;
  if (limit === null || order.type === 'stop' || order.type === 'market' || order.type === 'trailing_stop') {
    return price;
  }
  return order.side === 'buy' ? Dec.min(price, limit) : Dec.max(price, limit);
}
