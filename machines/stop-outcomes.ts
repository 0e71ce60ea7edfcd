/**
 * What the stop worker tells a stop (pure): a send prepared or put off, the broker's answer to it
 * (accepted, refused, unknown, a duplicate, unchanged), what a lookup found, a cancel confirmed.
 */
import { D } from '../src/decimal.js';
import { isLiveStatus, versionedStopClientOrderId } from '../src/domain/orders.js';
import { stopAsk } from '../src/domain/protection.js';
import { GRACE_RECHECK_MS, IDLE, SHORT_RECHECK_MS, refusalBackoffMs, retryBackoffMs, wantedOf } from './stop-policy.js';
import { currentCid, replaceTarget, stopBasis, stopStateOf, type StopEffect, type StopOrder, type StopPatch, type StopRow } from './stop-model.js';
import { backoff, finished, iso, nextVersion, place, sent, type Handler, type Outcome } from './stop-handler.js';

/** The broker has the stop (placed by us, or found and adopted). */
function confirmed(row: StopRow, order: StopOrder, how: 'placed' | 'adopted', now: number): Outcome {
  const placedQty = order.qty ?? wantedOf(row);
  // Short of what it wants: asked for more while the send was out (a fill grew the position; the
  // ask woke the row, below when it was sent), resized at once; else another order holds the rest,
  // and it is tried now and then.
  const short = new D(placedQty).lt(wantedOf(row));
  const askedSinceSent = row.sent_at !== null && row.next_attempt_at < Date.parse(row.sent_at);
  const announce: StopEffect = { type: 'announce', outcome: 'accepted', entryOrderId: row.entry_order_id, order, placedQty, how };
  const next: StopPatch = {
    status: 'confirmed',
    broker_order_id: order.orderId,
    current_client_order_id: order.clientOrderId,
    placed_qty: placedQty,
    placed_stop_price: order.stopPrice,
    placed_trail_percent: order.type === 'trailing_stop' ? order.trailPercent : null,
    expires_at: order.expiresAt,
    attempts: 0,
    last_error: null,
    next_attempt_at: short && !askedSinceSent ? now + SHORT_RECHECK_MS : 0,
  };
  // A cancel asked for while it was being sent: it is deleted now that its order id is known.
  if (row.cancel_requested) return { next: { ...next, next_attempt_at: 0 }, effects: [announce, { type: 'delete', orderId: order.orderId, clientOrderId: currentCid(row) }] };
  return { next, effects: [announce] };
}

export const deferred: Handler<'deferred'> = (row, _e, now) => {
  const attempts = row.attempts + 1;
  const until = now + retryBackoffMs(attempts);
  return { next: { attempts, next_attempt_at: until }, effects: [backoff(until)] };
};

export const notNeeded: Handler<'notNeeded'> = () => ({ next: finished });

/** Committed before the request leaves: after a crash from here on, the order is looked up first. */
export const sendStarted: Handler<'sendStarted'> = (row, e, now) => {
  const b = stopBasis(row);
  if (e.clientOrderId !== currentCid(row) || b.status !== e.basis.status || b.version !== e.basis.version) return null;
  if (b.cancelRequested !== e.basis.cancelRequested || b.wanted !== e.basis.wanted) return null;
  const target = replaceTarget(row);
  const ask = stopAsk(row);
  const grid = e.qtyIncrement !== undefined && ask.qtyIncrement !== e.qtyIncrement ? { payload: JSON.stringify({ ...ask, qtyIncrement: e.qtyIncrement }) } : {};
  const trail = e.trailPercent === undefined ? {} : { trailPercent: e.trailPercent };
  const send: StopEffect = target
    ? { type: 'patch', orderId: target, clientOrderId: e.clientOrderId, qty: e.qty, stopPrice: e.stopPrice, ...trail }
    : { type: 'post', clientOrderId: e.clientOrderId, qty: e.qty, stopPrice: e.stopPrice, ...trail };
  // next_attempt_at = the send's time: an ask that wakes the row while it is out (0) is told apart.
  return { next: { ...grid, sent_at: iso(now), next_attempt_at: now, status: 'unknown', target_stop_price: e.stopPrice, last_error: null }, effects: [send] };
};

/**
 * A replace that would change nothing: back to the working order under its own client order id
 * (the refused id was never used), idle until something changes; a stop still short of what it
 * wants looks again later.
 */
export const unchanged: Handler<'unchanged'> = (row, e, now) => {
  if (e.clientOrderId !== currentCid(row) || replaceTarget(row) === null) return null;
  const version = row.version - 1;
  const short = row.placed_qty !== null && new D(row.placed_qty).lt(wantedOf(row));
  return {
    next: {
      status: 'confirmed',
      version,
      current_client_order_id: versionedStopClientOrderId(row.client_order_id, version),
      attempts: 0,
      last_error: null,
      next_attempt_at: short ? now + SHORT_RECHECK_MS : IDLE,
    },
  };
};

export const accepted: Handler<'accepted'> = (row, e, now) => (sent(row, e.clientOrderId) ? confirmed(row, e.order, 'placed', now) : null);

/** A definite refusal: nothing was placed. Recorded with its kind, and tried again after a backoff. */
export const refused: Handler<'refused'> = (row, e, now) => {
  if (!sent(row, e.clientOrderId)) return null;
  const attempts = row.attempts + 1;
  const reason = `${e.kind}: ${e.message}`;
  const announce: StopEffect = { type: 'announce', outcome: 'rejected', entryOrderId: row.entry_order_id, reason: e.message };
  const base: StopPatch = { status: 'rejected', sent_at: null, attempts, last_error: reason };
  // Its cancel was asked for meanwhile: nothing to retry, the cancel goes on.
  if (row.cancel_requested) return { next: { ...base, next_attempt_at: 0 }, effects: [announce] };
  const until = now + refusalBackoffMs(e.kind, attempts);
  const target = replaceTarget(row);
  // A replace refused: the order it was for may have filled or gone; look at it.
  const check: StopEffect[] = target ? [{ type: 'fetchOrder', orderId: target, clientOrderId: currentCid(row), purpose: 'replaceTarget' }] : [];
  return { next: { ...base, next_attempt_at: until }, effects: [announce, backoff(until), ...check] };
};

/** Network trouble, a timeout, 429 or 5xx, an unreadable answer: probe, never assume. */
export const outcomeUnknown: Handler<'outcomeUnknown'> = (row, e, now) => {
  const cancelling = stopStateOf(row) === 'cancelling';
  if (e.clientOrderId !== currentCid(row) || (!cancelling && row.sent_at === null)) return null;
  const attempts = row.attempts + 1;
  const until = now + retryBackoffMs(attempts);
  const status = cancelling ? row.status : 'unknown';
  return { next: { status, attempts, last_error: e.reason, next_attempt_at: until }, effects: [backoff(until)] };
};

export const duplicate: Handler<'duplicate'> = (row, e) => (sent(row, e.clientOrderId) ? { next: {}, effects: [{ type: 'lookup', clientOrderId: e.clientOrderId }] } : null);

/** A sent stop found by its client order id: adopted while live; otherwise it ended. */
export const lookupFound: Handler<'lookupFound'> = (row, e, now) => {
  if (!sent(row, e.clientOrderId)) return null;
  const o = e.order;
  if (isLiveStatus(o.status)) return confirmed(row, o, 'adopted', now);
  if (o.status === 'filled') return { next: { ...finished, broker_order_id: o.orderId } };
  // Replaced by someone else: protect through the replacement, if it is live.
  if (o.status === 'replaced' && o.replacedBy && !e.replacement) {
    return { next: {}, effects: [{ type: 'fetchOrder', orderId: o.replacedBy, clientOrderId: e.clientOrderId, purpose: 'replacement' }] };
  }
  // Canceled, expired or rejected: that order is gone; a new one under the next id.
  return { next: nextVersion(row) };
};

/** Cancelling: a live order found is deleted; one that ended needs nothing more. */
export const lookupFoundCancelling: Handler<'lookupFound'> = (row, e) => {
  if (!sent(row, e.clientOrderId)) return null;
  if (isLiveStatus(e.order.status)) return { next: {}, effects: [{ type: 'delete', orderId: e.order.orderId, clientOrderId: e.clientOrderId }] };
  return { next: finished };
};

/** A definite 404: within the grace period the order may still appear; past it, it is absent. */
export const lookupAbsent: Handler<'lookupAbsent'> = (row, e, now) => {
  if (!sent(row, e.clientOrderId)) return null;
  if (now - Date.parse(row.sent_at!) < e.graceMs) return { next: { next_attempt_at: now + GRACE_RECHECK_MS }, effects: [backoff(now + GRACE_RECHECK_MS)] };
  if (stopStateOf(row) !== 'cancelling') return { next: {}, effects: [place(row)] };
  if (row.broker_order_id) return { next: {}, effects: [{ type: 'delete', orderId: row.broker_order_id, clientOrderId: e.clientOrderId }] };
  return { next: finished };
};

export const cancelConfirmed: Handler<'cancelConfirmed'> = (row, e) => (e.clientOrderId === currentCid(row) ? { next: finished } : null);

/** The cancel was withdrawn while the DELETE was in flight: that order is gone; the stop starts over. */
export const cancelLandedAfterRearm: Handler<'cancelConfirmed'> = (row, e) => (e.clientOrderId === currentCid(row) ? { next: nextVersion(row) } : null);
