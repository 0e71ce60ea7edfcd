import { D } from '../src/decimal.js';
import type { OrderReport } from '../src/domain/reports.js';
import { isLiveStatus, versionedStopClientOrderId } from '../src/domain/orders.js';
import { isCrypto } from '../src/domain/symbols.js';
import { stopAsk } from '../src/domain/protection.js';
import type { StopIntent, StopRow, StopStatus } from '../src/domain/protection.js';

export type { StopRow };
import {
  GRACE_RECHECK_MS,
  IDLE,
  SHORT_RECHECK_MS,
  placedAsWanted,
  refusalBackoffMs,
  retryBackoffMs,
  wantedOf,
  type RefusalKind,
} from './stop-policy.js';

/**
 * A protective stop's life, as one pure machine (no I/O): `stopStep(row, event, now)` returns the
 * row's next columns and the effects the stop worker is to carry out (look up, post, patch, delete,
 * back off). Every write to an `intents` row goes through it (src/protection/stop-transitions.ts
 * `applyStopTransition`), whoever learned the fact: the order actors, the position-following code,
 * the crypto ratchet, the stop worker.
 *
 * The state is not a column of its own: `stopStateOf` reads it from the columns the table has
 * always had (`status`, `cancel_requested`, `sent_at`, `broker_order_id`, `version`, `last_error`),
 * so a database written before the machine existed needs no migration, and the columns that the
 * coverage watch and the API read keep their meaning.
 *
 * A plain `(state, event) → handler` table, like nautilus_trader's order FSM: an event the table
 * does not list for a state, or whose guard fails (not due yet, about an older client order id,
 * prepared from a row that has changed since), is refused and changes nothing.
 */

export type StopState =
  /** Wanted, nothing sent under its current client order id. */
  | 'pending'
  /** `sent_at` committed, the request's outcome not known yet (or the process died with it in flight). */
  | 'sending'
  /** A send (or lookup) failed ambiguously: it may have landed. Probed by client order id, never assumed absent. */
  | 'unknown'
  /** Confirmed at the broker: its order id, placed quantity and price are known. */
  | 'working'
  /** A PATCH of the working order under the next client order id: to send (no `sent_at`) or in flight. */
  | 'replacing'
  /** Its position is gone: the order (whatever version is live) is to be deleted. */
  | 'cancelling'
  /** The broker refused it: `last_error` says why, `next_attempt_at` when it is tried again. */
  | 'refused'
  /** Filled, canceled on purpose, or not needed. Only a re-arm brings it back, under the next id. */
  | 'done';

export const STOP_STATES: readonly StopState[] = ['pending', 'sending', 'unknown', 'working', 'replacing', 'cancelling', 'refused', 'done'];

export type StopPatch = Partial<Omit<StopRow, 'client_order_id' | 'entry_order_id' | 'symbol'>>;

/** A broker order as the stop needs it. */
export type StopOrder = Pick<OrderReport, 'orderId' | 'clientOrderId' | 'status' | 'qty' | 'stopPrice' | 'replacedBy' | 'type' | 'trailPercent' | 'expiresAt'>;

/** What a send was prepared from: the send is refused if the stop changed meanwhile. */
export interface StopBasis {
  status: StopStatus;
  version: number;
  cancelRequested: number;
  wanted: string;
}

export type StopEvent =
  // What the order actors and the position-following code learn.
  | { type: 'asked'; ask: StopIntent }
  | { type: 'cut'; cutQty: string; wake: boolean }
  | { type: 'cancelRequested' }
  | { type: 'rearmed'; ask: StopIntent; cut: string }
  | { type: 'raised'; stopPrice: string }
  /** What blocked it went away (an order of the symbol ended: a crossing order, one holding the shares): a refusal for that is retried now. */
  | { type: 'causeGone' }
  | { type: 'orderFinished'; orderId: string; clientOrderId: string; outcome: 'filled' | 'canceled' | 'expired' | 'rejected' | 'replaced' }
  /** Alpaca said when its order `orderId` expires (aged-order policy: `expires_at`, from the stream or an open-orders read). */
  | { type: 'expiryRead'; orderId: string; expiresAt: string }
  // The clock.
  | { type: 'restarted' }
  | { type: 'due' }
  | { type: 'postponed'; until: number }
  /** Alpaca's time now (`brokerNow`, epoch ms): a working order within `rearmBeforeMs` of its `expires_at` is re-armed. */
  | { type: 'aging'; brokerNow: number; rearmBeforeMs: number }
  // What the stop worker learns preparing and making its requests.
  | { type: 'deferred'; reason: string }
  | { type: 'notNeeded' }
  /** `qtyIncrement`: crypto, the asset's trade increment, kept in the ask so what is wanted is on the grid. */
  | { type: 'sendStarted'; clientOrderId: string; basis: StopBasis; qty: string; stopPrice: string | null; qtyIncrement?: string; trailPercent?: string }
  /** The replace would change nothing (or Alpaca said so: 403 "order parameters are not changed"): the working order stands. */
  | { type: 'unchanged'; clientOrderId: string }
  | { type: 'accepted'; clientOrderId: string; order: StopOrder }
  | { type: 'refused'; clientOrderId: string; kind: RefusalKind; message: string }
  | { type: 'outcomeUnknown'; clientOrderId: string; reason: string }
  | { type: 'duplicate'; clientOrderId: string }
  | { type: 'lookupFound'; clientOrderId: string; order: StopOrder; replacement?: boolean }
  | { type: 'lookupAbsent'; clientOrderId: string; graceMs: number }
  | { type: 'cancelConfirmed'; clientOrderId: string; orderId: string | null };

export type StopEventType = StopEvent['type'];

export type StopEffect =
  /** GET the order by the stop's client order id. */
  | { type: 'lookup'; clientOrderId: string }
  /** GET an order by id: the replacement of a found order, or the order a refused PATCH was to replace. */
  | { type: 'fetchOrder'; orderId: string; clientOrderId: string; purpose: 'replacement' | 'replaceTarget' }
  /**
   * Work out what to send (protectable quantity, crypto stop price), then report `sendStarted`.
   * `rearm`: a replace to renew an aging order, which must change something harmless (Alpaca refuses a no-op PATCH).
   */
  | { type: 'place'; clientOrderId: string; replaces: string | null; rearm: boolean }
  /** `trailPercent`: a trail other than the stop's own (a re-arm's harmless change). */
  | { type: 'post'; clientOrderId: string; qty: string; stopPrice: string | null; trailPercent?: string }
  | { type: 'patch'; orderId: string; clientOrderId: string; qty: string; stopPrice: string | null; trailPercent?: string }
  | { type: 'delete'; orderId: string; clientOrderId: string }
  /** Nothing more until `until` (already written as next_attempt_at). */
  | { type: 'backoff'; until: number }
  /** Tell the entry's order actor (stop.accepted / stop.rejected). */
  | { type: 'announce'; outcome: 'accepted'; entryOrderId: string; order: StopOrder; placedQty: string; how: 'placed' | 'adopted' }
  | { type: 'announce'; outcome: 'rejected'; entryOrderId: string; reason: string };

export interface StopStep {
  /** False: the state does not accept the event (or its guard failed); nothing changes. */
  allowed: boolean;
  from: StopState;
  to: StopState;
  next: StopPatch;
  effects: StopEffect[];
}

/** The client order id the stop is placed under now (`<base>` or `<base>-v<n>`). */
export const currentCid = (row: Pick<StopRow, 'client_order_id' | 'current_client_order_id'>): string => row.current_client_order_id ?? row.client_order_id;

/** The order a replace (PATCH) is for: the working order the stop had when its resize began. */
export function replaceTarget(row: Pick<StopRow, 'status' | 'broker_order_id' | 'version'>): string | null {
  return row.status !== 'confirmed' && row.status !== 'done' && row.broker_order_id !== null && row.version > 0 ? row.broker_order_id : null;
}

/**
 * The state of a row, from its columns (the one mapping; see the table in docs/architecture.md):
 * done → done; a cancel asked for → cancelling; rejected → refused; confirmed → working; a
 * replace target → replacing; unknown → sending (no error yet) or unknown; otherwise pending.
 */
export function stopStateOf(row: Pick<StopRow, 'status' | 'cancel_requested' | 'broker_order_id' | 'version' | 'last_error'>): StopState {
  if (row.status === 'done') return 'done';
  if (row.cancel_requested) return 'cancelling';
  if (row.status === 'rejected') return 'refused';
  if (row.status === 'confirmed') return 'working';
  if (replaceTarget(row)) return 'replacing';
  if (row.status === 'unknown') return row.last_error === null ? 'sending' : 'unknown';
  return 'pending';
}

export function stopBasis(row: StopRow): StopBasis {
  return { status: row.status, version: row.version, cancelRequested: row.cancel_requested, wanted: wantedOf(row) };
}

/** The columns of a stop first asked for: pending, nothing sent. */
export function initialStop(ask: StopIntent): Omit<StopRow, 'client_order_id' | 'entry_order_id' | 'symbol'> {
  return {
    payload: JSON.stringify(ask),
    status: 'pending',
    broker_order_id: null,
    attempts: 0,
    last_error: null,
    current_client_order_id: ask.clientOrderId,
    version: 0,
    sent_at: null,
    placed_qty: null,
    placed_stop_price: null,
    placed_trail_percent: null,
    expires_at: null,
    target_stop_price: null,
    next_attempt_at: 0,
    cancel_requested: 0,
    cut_qty: '0',
  };
}

type Outcome = { next: StopPatch; effects?: StopEffect[] } | null;
type Handler<T extends StopEventType> = (row: StopRow, event: Extract<StopEvent, { type: T }>, now: number) => Outcome;
type Handlers = { [T in StopEventType]?: Handler<T> };

// --- helpers -------------------------------------------------------------------------------

const iso = (now: number) => new Date(now).toISOString();
const sent = (row: StopRow, cid: string) => row.sent_at !== null && cid === currentCid(row);
const backoff = (until: number): StopEffect => ({ type: 'backoff', until });
/** A replace of an order already as wanted can only be its re-arm (`aging`), resumed after a crash or a refusal. */
const isRearm = (row: StopRow) => replaceTarget(row) !== null && placedAsWanted(row);
const place = (row: StopRow, rearm = isRearm(row)): StopEffect => ({ type: 'place', clientOrderId: currentCid(row), replaces: replaceTarget(row), rearm });

/**
 * Its client order id was used at the broker and that order is gone: start over under the next
 * one. `attempts` is kept (backoffs keep growing); an error of the old order is not this one's.
 */
function nextVersion(row: StopRow): StopPatch {
  const version = row.version + 1;
  return {
    version,
    current_client_order_id: versionedStopClientOrderId(row.client_order_id, version),
    status: 'pending',
    sent_at: null,
    broker_order_id: null,
    placed_qty: null,
    placed_stop_price: null,
    placed_trail_percent: null,
    expires_at: null,
    last_error: null,
    next_attempt_at: 0,
  };
}

/**
 * An ask as it is kept: the order machine and position following ask for a quantity; the trail the
 * operator set for this stop (PATCH /stops/:entry_order_id) stays until the operator changes it.
 */
function keptAsk(row: StopRow, ask: StopIntent): string {
  const had = stopAsk(row);
  const trail = ask.trailPercent ?? had.trailPercent;
  const increment = ask.qtyIncrement ?? had.qtyIncrement;
  return JSON.stringify({ ...ask, ...(trail === undefined ? {} : { trailPercent: trail }), ...(increment === undefined ? {} : { qtyIncrement: increment }) });
}

/** The broker has the stop (placed by us, or found and adopted). */
function confirmed(row: StopRow, order: StopOrder, how: 'placed' | 'adopted', now: number): Outcome {
  const placedQty = order.qty ?? wantedOf(row);
  // Short of what it wants (another order holds the rest): try to grow it now and then.
  const short = new D(placedQty).lt(wantedOf(row));
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
    next_attempt_at: short ? now + SHORT_RECHECK_MS : 0,
  };
  // A cancel asked for while it was being sent: it is deleted now that its order id is known.
  if (row.cancel_requested) return { next: { ...next, next_attempt_at: 0 }, effects: [announce, { type: 'delete', orderId: order.orderId, clientOrderId: currentCid(row) }] };
  return { next, effects: [announce] };
}

const finished: StopPatch = { status: 'done', next_attempt_at: IDLE };

// --- what the runtime learns -----------------------------------------------------------------

const asked: Handler<'asked'> = (row, e) => {
  const payload = keptAsk(row, e.ask);
  const state = stopStateOf(row);
  // A refused stop is not woken by the same ask again (the order machine re-asks a silent stop).
  const changed = wantedOf({ payload, cut_qty: row.cut_qty }) !== wantedOf(row);
  const wake = state !== 'done' && (state !== 'refused' || changed);
  return { next: wake ? { payload, next_attempt_at: 0 } : { payload } };
};

const cut: Handler<'cut'> = (_row, e) => ({ next: e.wake ? { cut_qty: e.cutQty, next_attempt_at: 0 } : { cut_qty: e.cutQty } });

const cancelRequested: Handler<'cancelRequested'> = () => ({ next: { cancel_requested: 1, next_attempt_at: 0 } });

/** Asked again after it ended: a new stop under the next client order id. */
const rearmDone: Handler<'rearmed'> = (row, e) => ({
  next: { ...nextVersion(row), payload: keptAsk(row, e.ask), cut_qty: e.cut, cancel_requested: 0, attempts: 0, last_error: null, target_stop_price: null },
});

/** Asked again while its cancel was pending: the cancel is withdrawn and the order kept (resized by the worker). */
const rearmCancelling: Handler<'rearmed'> = (row, e) => ({
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

const raised: Handler<'raised'> = (_row, e) => ({ next: { target_stop_price: e.stopPrice, next_attempt_at: 0 } });

/**
 * The stop's order ended. Filled (any version): the stop did its job. Canceled, expired or
 * rejected without a fill — when it is the stop's current order — it is lost: placed again under
 * the next client order id. A replace is the worker's own (its PATCH landed), except for a refused
 * stop, whose replace target went away: it starts over as a new order.
 */
const orderFinished: Handler<'orderFinished'> = (row, e) => {
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

const restarted: Handler<'restarted'> = () => ({ next: { next_attempt_at: 0 } });

/** Only a refusal that the ended order may have caused: a wash trade, or quantity it held. */
const causeGone: Handler<'causeGone'> = (row) => (/^(wash_trade|insufficient_qty):/.test(row.last_error ?? '') ? { next: { next_attempt_at: 0 } } : null);

/** Only about the order the stop has now (a replacement's is read when it is accepted). */
const expiryRead: Handler<'expiryRead'> = (row, e) => (e.orderId === row.broker_order_id && e.expiresAt !== row.expires_at ? { next: { expires_at: e.expiresAt } } : null);

const postponed: Handler<'postponed'> = (_row, e) => ({ next: { next_attempt_at: e.until }, effects: [backoff(e.until)] });

// --- the clock: what to do when the stop is due ----------------------------------------------

const isDue = (row: StopRow, now: number) => now >= row.next_attempt_at;

const duePlace: Handler<'due'> = (row, _e, now) => (isDue(row, now) ? { next: {}, effects: [place(row)] } : null);

const dueProbe: Handler<'due'> = (row, _e, now) => (isDue(row, now) ? { next: {}, effects: [{ type: 'lookup', clientOrderId: currentCid(row) }] } : null);

const dueReplacing: Handler<'due'> = (row, e, now) => (row.sent_at ? dueProbe(row, e, now) : duePlace(row, e, now));

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
const dueWorking: Handler<'due'> = (row, _e, now) => {
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
const aging: Handler<'aging'> = (row, e) => {
  if (row.expires_at === null || row.broker_order_id === null || resizedByCancel(row)) return null;
  if (Date.parse(row.expires_at) - e.brokerNow > e.rearmBeforeMs) return null;
  const version = row.version + 1;
  const next: StopPatch = { version, current_client_order_id: versionedStopClientOrderId(row.client_order_id, version), status: 'pending', sent_at: null, next_attempt_at: 0 };
  return { next, effects: [place({ ...row, ...next }, true)] };
};

/** Cancelling: find an order whose send was not confirmed; delete the order it has; or nothing was placed. */
const dueCancelling: Handler<'due'> = (row, e, now) => {
  if (!isDue(row, now)) return null;
  if (row.sent_at && row.status !== 'confirmed') return dueProbe(row, e, now);
  if (row.broker_order_id) return { next: {}, effects: [{ type: 'delete', orderId: row.broker_order_id, clientOrderId: currentCid(row) }] };
  return { next: finished };
};

// --- what the worker learns ------------------------------------------------------------------

const deferred: Handler<'deferred'> = (row, _e, now) => {
  const attempts = row.attempts + 1;
  const until = now + retryBackoffMs(attempts);
  return { next: { attempts, next_attempt_at: until }, effects: [backoff(until)] };
};

const notNeeded: Handler<'notNeeded'> = () => ({ next: finished });

/** Committed before the request leaves: after a crash from here on, the order is looked up first. */
const sendStarted: Handler<'sendStarted'> = (row, e, now) => {
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
  return { next: { ...grid, sent_at: iso(now), status: 'unknown', target_stop_price: e.stopPrice, last_error: null }, effects: [send] };
};

/**
 * A replace that would change nothing: back to the working order under its own client order id
 * (the refused id was never used), idle until something changes; a stop still short of what it
 * wants looks again later.
 */
const unchanged: Handler<'unchanged'> = (row, e, now) => {
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

const accepted: Handler<'accepted'> = (row, e, now) => (sent(row, e.clientOrderId) ? confirmed(row, e.order, 'placed', now) : null);

/** A definite refusal: nothing was placed. Recorded with its kind, and tried again after a backoff. */
const refused: Handler<'refused'> = (row, e, now) => {
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
const outcomeUnknown: Handler<'outcomeUnknown'> = (row, e, now) => {
  const cancelling = stopStateOf(row) === 'cancelling';
  if (e.clientOrderId !== currentCid(row) || (!cancelling && row.sent_at === null)) return null;
  const attempts = row.attempts + 1;
  const until = now + retryBackoffMs(attempts);
  const status = cancelling ? row.status : 'unknown';
  return { next: { status, attempts, last_error: e.reason, next_attempt_at: until }, effects: [backoff(until)] };
};

const duplicate: Handler<'duplicate'> = (row, e) => (sent(row, e.clientOrderId) ? { next: {}, effects: [{ type: 'lookup', clientOrderId: e.clientOrderId }] } : null);

/** A sent stop found by its client order id: adopted while live; otherwise it ended. */
const lookupFound: Handler<'lookupFound'> = (row, e, now) => {
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
const lookupFoundCancelling: Handler<'lookupFound'> = (row, e) => {
  if (!sent(row, e.clientOrderId)) return null;
  if (isLiveStatus(e.order.status)) return { next: {}, effects: [{ type: 'delete', orderId: e.order.orderId, clientOrderId: e.clientOrderId }] };
  return { next: finished };
};

/** A definite 404: within the grace period the order may still appear; past it, it is absent. */
const lookupAbsent: Handler<'lookupAbsent'> = (row, e, now) => {
  if (!sent(row, e.clientOrderId)) return null;
  if (now - Date.parse(row.sent_at!) < e.graceMs) return { next: { next_attempt_at: now + GRACE_RECHECK_MS }, effects: [backoff(now + GRACE_RECHECK_MS)] };
  if (stopStateOf(row) !== 'cancelling') return { next: {}, effects: [place(row)] };
  if (row.broker_order_id) return { next: {}, effects: [{ type: 'delete', orderId: row.broker_order_id, clientOrderId: e.clientOrderId }] };
  return { next: finished };
};

const cancelConfirmed: Handler<'cancelConfirmed'> = (row, e) => (e.clientOrderId === currentCid(row) ? { next: finished } : null);

/** The cancel was withdrawn while the DELETE was in flight: that order is gone; the stop starts over. */
const cancelLandedAfterRearm: Handler<'cancelConfirmed'> = (row, e) => (e.clientOrderId === currentCid(row) ? { next: nextVersion(row) } : null);

// --- the table ---------------------------------------------------------------------------------

const onAsk = { asked, cut, cancelRequested, orderFinished, restarted, expiryRead } satisfies Handlers;
const onSent = { deferred, notNeeded, sendStarted, accepted, refused, outcomeUnknown, duplicate, lookupFound, lookupAbsent, cancelConfirmed: cancelLandedAfterRearm } satisfies Handlers;

const TABLE: Record<StopState, Handlers> = {
  pending: { ...onAsk, due: duePlace, deferred, notNeeded, sendStarted, cancelConfirmed: cancelLandedAfterRearm },
  sending: { ...onAsk, ...onSent, due: dueProbe },
  unknown: { ...onAsk, ...onSent, due: dueProbe },
  replacing: { ...onAsk, ...onSent, unchanged, due: dueReplacing },
  working: { ...onAsk, raised, aging, causeGone: () => ({ next: { next_attempt_at: 0 } }), due: dueWorking, cancelConfirmed: cancelLandedAfterRearm },
  cancelling: {
    asked,
    cut,
    rearmed: rearmCancelling,
    restarted,
    expiryRead,
    orderFinished: (row, e, now) => (e.outcome === 'filled' ? orderFinished(row, e, now) : null),
    due: dueCancelling,
    deferred,
    accepted,
    refused,
    outcomeUnknown,
    duplicate,
    lookupFound: lookupFoundCancelling,
    lookupAbsent,
    cancelConfirmed,
  },
  refused: { asked, cut, cancelRequested, orderFinished, expiryRead, causeGone, due: duePlace, postponed, deferred, notNeeded, sendStarted, cancelConfirmed: cancelLandedAfterRearm },
  done: { asked, rearmed: rearmDone },
};

/** The events a state accepts (guards aside). */
export function acceptedEvents(state: StopState): StopEventType[] {
  return Object.keys(TABLE[state]) as StopEventType[];
}

/** One transition: the row's next columns and the effects the worker is to carry out. */
export function stopStep(row: StopRow, event: StopEvent, now: number): StopStep {
  const from = stopStateOf(row);
  const handler = TABLE[from][event.type] as Handler<StopEventType> | undefined;
  const out = handler ? handler(row, event as never, now) : null;
  if (!out) return { allowed: false, from, to: from, next: {}, effects: [] };
  return { allowed: true, from, to: stopStateOf({ ...row, ...out.next }), next: out.next, effects: out.effects ?? [] };
}
