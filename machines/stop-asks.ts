/**
 * What the runtime tells a stop (pure): the asks and cuts of position following, a cancel, a re-arm
 * after it ended, the ratchet's raise, its order finishing, a restart, a blocking cause gone, and the
 * aged-order deadline Alpaca gave its order.
 */
import { D } from '../src/decimal.js';
import { stopAsk, type StopAsk } from '../src/domain/protection.js';
import { wantedOf } from './stop-policy.js';
import { currentCid, stopStateOf, type StopRow } from './stop-model.js';
import { finished, nextVersion, type Handler } from './stop-handler.js';

/**
 * An ask as it is kept: the order machine and position following ask for a quantity; the trail the
 * operator set for this stop (PATCH /stops/:entry_order_id) stays until the operator changes it.
 */
function keptAsk(row: StopRow, ask: StopAsk): string {
  const had = stopAsk(row);
  const trail = ask.trailPercent ?? had.trailPercent;
  const increment = ask.qtyIncrement ?? had.qtyIncrement;
  return JSON.stringify({ ...ask, ...(trail === undefined ? {} : { trailPercent: trail }), ...(increment === undefined ? {} : { qtyIncrement: increment }) });
}

export const asked: Handler<'asked'> = (row, e) => {
  const payload = keptAsk(row, e.ask);
  const state = stopStateOf(row);
  // A refused stop is not woken by the same ask again (the order machine re-asks a silent stop), nor
  // one whose send is out: its answer settles it, and a wake then would make a stop placed short
  // for want of coins or shares due at once (stop-outcomes.ts `confirmed`).
  const changed = wantedOf({ payload, cut_qty: row.cut_qty }) !== wantedOf(row);
  const inFlight = row.sent_at !== null && row.status === 'unknown';
  const wake = state !== 'done' && ((state !== 'refused' && !inFlight) || changed);
  return { next: wake ? { payload, next_attempt_at: 0 } : { payload } };
};

export const cut: Handler<'cut'> = (_row, e) => ({ next: e.wake ? { cut_qty: e.cutQty, next_attempt_at: 0 } : { cut_qty: e.cutQty } });

export const cancelRequested: Handler<'cancelRequested'> = () => ({ next: { cancel_requested: 1, next_attempt_at: 0 } });

/** Asked again after it ended: a new stop under the next client order id. */
export const rearmDone: Handler<'rearmed'> = (row, e) => ({
  next: { ...nextVersion(row), payload: keptAsk(row, e.ask), cut_qty: e.cut, cancel_requested: 0, attempts: 0, last_error: null, target_stop_price: null },
});

/** Asked again while its cancel was pending: the cancel is withdrawn and the order kept (resized by the worker). */
export const rearmCancelling: Handler<'rearmed'> = (row, e) => ({
  next: {
    payload: keptAsk(row, e.ask),
    cut_qty: e.cut,
    cancel_requested: 0,
    attempts: 0,
    last_error: null,
    next_attempt_at: 0,
    ...(row.status === 'rejected' ? { status: 'pending' as const } : {}),
  },
});

export const raised: Handler<'raised'> = (_row, e) => ({ next: { target_stop_price: e.stopPrice, next_attempt_at: 0 } });

/**
 * The stop's order ended. Filled (any version): the stop did its job. Canceled, expired or
 * rejected without a fill — when it is the stop's current order — it is lost: placed again under
 * the next client order id. A replace is the worker's own (its PATCH landed), except for a refused
 * stop, whose replace target went away: it starts over as a new order.
 */
export const orderFinished: Handler<'orderFinished'> = (row, e) => {
  // Filled: done, unless the stop still wants more than its order held (its resize lost the race
  // to the fill: order_replace_rejected; or it filled in part and then ended) — then what is left
  // of the position is protected again, under the next client order id.
  if (e.outcome === 'filled') return new D(wantedOf(row)).gt(0) && stopStateOf(row) !== 'cancelling' ? { next: nextVersion(row) } : { next: finished };
  const state = stopStateOf(row);
  if (e.outcome === 'replaced' && state !== 'refused') return null;
  if (e.orderId !== row.broker_order_id && e.clientOrderId !== currentCid(row)) return null;
  // Refused: still backing off from the refusal, but its order is gone, so it may go now (under the budget).
  if (state === 'refused') return { next: { ...nextVersion(row), status: 'rejected', last_error: row.last_error } };
  return { next: nextVersion(row) };
};

export const restarted: Handler<'restarted'> = () => ({ next: { next_attempt_at: 0 } });

/** Only a refusal that the ended order may have caused: a wash trade, or quantity it held. */
export const causeGone: Handler<'causeGone'> = (row) => (/^(wash_trade|insufficient_qty):/.test(row.last_error ?? '') ? { next: { next_attempt_at: 0 } } : null);

/**
 * An order of the symbol ended while this stop's send is out: the shares it held may be what the
 * send comes back short of. Marked as asked since the send (`next_attempt_at` below its `sent_at`),
 * so a stop the broker places short is resized at once rather than rechecked later (stop-outcomes.ts
 * `confirmed`); nothing before the send went out.
 */
export const causeGoneInFlight: Handler<'causeGone'> = (row) => (row.sent_at !== null ? { next: { next_attempt_at: 0 } } : null);

/** Only about the order the stop has now (a replacement's is read when it is accepted). */
export const expiryRead: Handler<'expiryRead'> = (row, e) => (e.orderId === row.broker_order_id && e.expiresAt !== row.expires_at ? { next: { expires_at: e.expiresAt } } : null);
