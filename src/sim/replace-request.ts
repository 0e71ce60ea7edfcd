/**
 * Validates a PATCH /v2/orders/{id} body into a ReplaceSpec (checked against the order in the engine).
 *
 * Trailing stops: `trail` is the new trail_price or trail_percent, whichever the order has. A body
 * naming `trail_price` or `trail_percent` is read as `trail` when it is the order's own kind; the
 * other kind is refused (docs "Orders", trailing stop: "you cannot change the price trailing to the
 * percent trailing or vice versa"; the reply's wording is ours).
 */
import { decimalField, clientOrderIdField, isPlainObject } from './order-request.js';
import { decodeError, invalid, unprocessable } from './errors.js';
import { type ReplaceSpec, type SimOrder, TIME_IN_FORCES } from './types.js';

export const MSG_TRAIL_SWITCH = 'a trailing stop cannot switch between trail_price and trail_percent';

function trailField(body: Record<string, unknown>, order: SimOrder | undefined) {
  const price = decimalField(body, 'trail_price');
  const percent = decimalField(body, 'trail_percent');
  if (price === null && percent === null) return null;
  if (!order || order.type !== 'trailing_stop') return null; // the engine refuses `trail` on other types
  if ((price !== null && order.trailPrice === null) || (percent !== null && order.trailPercent === null)) {
    throw unprocessable(MSG_TRAIL_SWITCH);
  }
  return price ?? percent;
}

export function parseReplaceRequest(body: unknown, order?: SimOrder): ReplaceSpec {
  if (!isPlainObject(body)) throw decodeError();
  const spec: ReplaceSpec = {};
  const qty = decimalField(body, 'qty');
  if (qty !== null) spec.qty = qty;
  const limitPrice = decimalField(body, 'limit_price');
  if (limitPrice !== null) spec.limitPrice = limitPrice;
  const stopPrice = decimalField(body, 'stop_price');
  if (stopPrice !== null) spec.stopPrice = stopPrice;
  const trail = decimalField(body, 'trail') ?? trailField(body, order);
  if (trail !== null) spec.trail = trail;
  const tifRaw = body.time_in_force;
  if (tifRaw !== undefined && tifRaw !== null && tifRaw !== '') {
    const tif = TIME_IN_FORCES.find((t) => t === tifRaw);
    if (!tif) throw invalid(`invalid time_in_force: ${String(tifRaw)}`);
    spec.timeInForce = tif;
  }
  const coid = clientOrderIdField(body);
  if (coid !== null) spec.clientOrderId = coid;
  if (Object.keys(spec).length === 0) {
    throw invalid('at least one of qty, limit_price, stop_price, trail, time_in_force, client_order_id is required');
  }
  return spec;
}
