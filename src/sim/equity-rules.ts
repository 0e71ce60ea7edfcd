/**
 * Alpaca's equity order rules that need the account's state (engine hooks for place/replace):
 *
 * - Fractional quantities (a non-integer `qty`, or any `notional`): market, limit, stop and
 *   stop_limit only, time_in_force `day` only, never a short sale; a PATCH cannot give a
 *   fractional qty nor change the qty of a fractional order (docs "Fractional trading";
 *   Petersoj/alpaca-java#140; alpaca-trade-api-python#405; py-legacy test_rest.py).
 * - Shares held by other open orders are not available (held_for_orders): a sell of a long
 *   position beyond (position − held) is refused with Alpaca's 403 body, and a buy of a short
 *   one likewise (alpaca-trade-api-python#129, alpaca-trade-api-csharp#247, #386;
 *   Alpaca-API#90 for flips; Alpaca-API#282 for PATCH).
 * - A PATCH is refused while the order is `accepted`, `pending_new`, `pending_cancel` or
 *   `pending_replace` (spec PATCH /v2/orders/{order_id} note; alpaca-trade-api-python#306).
 */
import type { Asset } from './assets.js';
import { Dec, ZERO, fmt } from './decimal.js';
import type { Engine } from './engine.js';
import { CODE, SimError, forbidden, invalid, unprocessable } from './errors.js';
import type { OrderSpec, OrderStatus, OrderType, ReplaceSpec, Side, SimOrder } from './types.js';

export const FRACTIONAL_TYPES: readonly OrderType[] = ['market', 'limit', 'stop', 'stop_limit'];
export const MSG_FRACTIONAL_TYPE = 'fractional orders must be market, limit, stop, or stop_limit orders';
export const MSG_FRACTIONAL_DAY = 'fractional orders must be DAY orders';
export const MSG_FRACTIONAL_SHORT = 'fractional orders are not allowed to short';
/** Wording ours: Alpaca's reply for this case was not found. */
export const MSG_FRACTIONAL_QTY_PATCH = 'qty of a fractional order cannot be replaced';
/** Statuses in which PATCH is refused (spec: "Order cannot be replaced when the status is ..."). */
export const UNREPLACEABLE: ReadonlySet<OrderStatus> = new Set(['accepted', 'pending_new', 'pending_cancel', 'pending_replace']);

export function isFractional(qty: Dec | null, notional: Dec | null): boolean {
  return notional !== null || (qty !== null && !qty.isInteger());
}

function requestedQty(engine: Engine, asset: Asset, qty: Dec | null, notional: Dec | null): Dec {
  if (qty !== null) return qty;
  return (notional ?? ZERO).div(engine.prices.get(asset)).toDecimalPlaces(9, Dec.ROUND_DOWN);
}

/**
 * An order that closes an equity position may not exceed the position minus what the other open
 * orders on the closing side hold: a sell of a long position, a buy of a short one. So one order
 * never flips a position (Alpaca-API#90: "insufficient qty available for order (requested: 2,
 * available: 1)"; alpaca-trade-api-python#129, Alpaca staff: "The same is true from a short position
 * to a long one"). An order from flat, or adding to the position, is not checked here.
 */
export function assertQtyAvailable(engine: Engine, asset: Asset, side: Side, requested: Dec, excludeId: string | null): void {
  const position = engine.portfolio.qty(asset.symbol);
  const closing = side === 'sell' ? position.gt(0) : position.lt(0);
  if (!closing) return;
  const existing = position.abs();
  const held = engine.reservedQty(asset.symbol, side, excludeId);
  const available = Dec.max(existing.minus(held), ZERO);
  if (requested.lte(available)) return;
  throw new SimError(403, {
    available: fmt(available),
    code: CODE.FORBIDDEN,
    existing_qty: fmt(existing),
    held_for_orders: fmt(held),
    message: `insufficient qty available for order (requested: ${fmt(requested)}, available: ${fmt(available)})`,
  });
}

/**
 * POST /v2/orders (and outside orders): fractional rules, then shares held by other orders.
 * `ignoreHeld` (`/_sim/trade {"ignore_held": true}` only) skips the latter.
 */
export function checkEquityOrder(engine: Engine, spec: OrderSpec, ignoreHeld = false): void {
  if (spec.asset.assetClass !== 'us_equity') return;
  const fractional = isFractional(spec.qty, spec.notional);
  if (fractional) {
    if (!FRACTIONAL_TYPES.includes(spec.type)) throw unprocessable(MSG_FRACTIONAL_TYPE);
    if (spec.timeInForce !== 'day') throw unprocessable(MSG_FRACTIONAL_DAY);
  }
  const requested = requestedQty(engine, spec.asset, spec.qty, spec.notional);
  if (spec.side === 'sell' && fractional && requested.gt(Dec.max(engine.portfolio.qty(spec.asset.symbol), ZERO))) {
    throw forbidden(MSG_FRACTIONAL_SHORT);
  }
  if (!ignoreHeld) assertQtyAvailable(engine, spec.asset, spec.side, requested, null);
}

/** PATCH /v2/orders/{id}: the order's state, fractional qty, and held shares for a new sell qty. */
export function checkEquityReplace(engine: Engine, old: SimOrder, patch: ReplaceSpec): void {
  if (UNREPLACEABLE.has(old.status)) {
    throw unprocessable(
      old.status === 'accepted' || old.status === 'pending_new'
        ? "unable to replace order, order isn't sent to exchange yet"
        : `unable to replace order, order is ${old.status}`,
    );
  }
  if (old.asset.assetClass !== 'us_equity') return;
  if (patch.qty !== undefined) {
    if (!patch.qty.isInteger()) throw invalid('qty must be integer');
    if (old.qty !== null && !old.qty.isInteger()) throw unprocessable(MSG_FRACTIONAL_QTY_PATCH);
  }
  if (isFractional(old.qty, old.notional) && patch.timeInForce !== undefined && patch.timeInForce !== 'day') {
    throw unprocessable(MSG_FRACTIONAL_DAY);
  }
  if (patch.qty !== undefined) assertQtyAvailable(engine, old.asset, old.side, patch.qty, old.id);
}
