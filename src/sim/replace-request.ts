/** Validates a PATCH /v2/orders/{id} body into a ReplaceSpec (checked against the order in the engine). */
import { decimalField, clientOrderIdField, isPlainObject } from './order-request.js';
import { decodeError, invalid } from './errors.js';
import { type ReplaceSpec, TIME_IN_FORCES } from './types.js';

export function parseReplaceRequest(body: unknown): ReplaceSpec {
  if (!isPlainObject(body)) throw decodeError();
  const spec: ReplaceSpec = {};
  const qty = decimalField(body, 'qty');
  if (qty !== null) spec.qty = qty;
  const limitPrice = decimalField(body, 'limit_price');
  if (limitPrice !== null) spec.limitPrice = limitPrice;
  const stopPrice = decimalField(body, 'stop_price');
  if (stopPrice !== null) spec.stopPrice = stopPrice;
  const trail = decimalField(body, 'trail');
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
