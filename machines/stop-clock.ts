/**
 * The clock's part of a stop's life (pure): what to do when it is due (place, probe, resize, cancel),
 * a postponement, and the re-arm of an order near Alpaca's aged-order deadline (`aging`).
 */
import { D } from '../src/decimal.js';
import { versionedStopClientOrderId } from '../src/domain/orders.js';
import { isCrypto } from '../src/domain/symbols.js';
import { stopAsk } from '../src/domain/protection.js';
import { IDLE, placedAsWanted, wantedOf } from './stop-policy.js';
import { currentCid, type StopPatch, type StopRow } from './stop-model.js';
import { backoff, finished, place, type Handler } from './stop-handler.js';

export const postponed: Handler<'postponed'> = (_row, e) => ({ next: { next_attempt_at: e.until }, effects: [backoff(e.until)] });

const isDue = (row: StopRow, now: number) => now >= row.next_attempt_at;

export const duePlace: Handler<'due'> = (row, _e, now) => (isDue(row, now) ? { next: {}, effects: [place(row)] } : null);

export const dueProbe: Handler<'due'> = (row, _e, now) => (isDue(row, now) ? { next: {}, effects: [{ type: 'lookup', clientOrderId: currentCid(row) }] } : null);

export const dueReplacing: Handler<'due'> = (row, e, now) => (row.sent_at ? dueProbe(row, e, now) : duePlace(row, e, now));

/**
 * A fractional equity stop is resized by cancel-and-replace, never PATCH (Alpaca: the qty of a
 * fractional order cannot be replaced; a whole-share trailing stop cannot become a fractional `day`
 * stop either): the order placed or the quantity wanted has a fraction.
 */
export function resizedByCancel(row: Pick<StopRow, 'payload' | 'cut_qty' | 'placed_qty'>): boolean {
  const ask = stopAsk(row);
  if (isCrypto(ask.symbol, ask.assetClass)) return false;
  return !new D(row.placed_qty ?? 0).isInteger() || !new D(wantedOf(row)).isInteger();
}

/**
 * Working: nothing to do while it is as wanted; else a resize (or ratchet) by PATCH under the next
 * id — or, for a fractional stop, a DELETE of its order first (cancelConfirmed then starts the next
 * version, placed as a new order).
 */
export const dueWorking: Handler<'due'> = (row, _e, now) => {
  if (!isDue(row, now)) return null;
  if (placedAsWanted(row)) return { next: { next_attempt_at: IDLE } };
  if (resizedByCancel(row) && row.broker_order_id) return { next: {}, effects: [{ type: 'delete', orderId: row.broker_order_id, clientOrderId: currentCid(row) }] };
  const version = row.version + 1;
  const next: StopPatch = { version, current_client_order_id: versionedStopClientOrderId(row.client_order_id, version), status: 'pending', sent_at: null };
  const replacing = { ...row, ...next };
  return { next, effects: [place(replacing)] };
};

/**
 * Working, within `rearmBeforeMs` of Alpaca's aged-order deadline: replaced (PATCH) under the next id
 * before Alpaca cancels it. The replacement is a new order with its own deadline, and the old one
 * covers until it exists. Due at once, so a crash before the send resumes it.
 */
export const aging: Handler<'aging'> = (row, e) => {
  if (row.expires_at === null || row.broker_order_id === null || resizedByCancel(row)) return null;
  if (Date.parse(row.expires_at) - e.brokerNow > e.rearmBeforeMs) return null;
  const version = row.version + 1;
  const next: StopPatch = { version, current_client_order_id: versionedStopClientOrderId(row.client_order_id, version), status: 'pending', sent_at: null, next_attempt_at: 0 };
  return { next, effects: [place({ ...row, ...next }, true)] };
};

/** Cancelling: find an order whose send was not confirmed; delete the order it has; or nothing was placed. */
export const dueCancelling: Handler<'due'> = (row, e, now) => {
  if (!isDue(row, now)) return null;
  if (row.sent_at && row.status !== 'confirmed') return dueProbe(row, e, now);
  if (row.broker_order_id) return { next: {}, effects: [{ type: 'delete', orderId: row.broker_order_id, clientOrderId: currentCid(row) }] };
  return { next: finished };
};
