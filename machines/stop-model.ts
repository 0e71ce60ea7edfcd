/**
 * What a protective stop is, for its machine (machines/stop.ts): its states, the events it takes,
 * the effects it asks the stop worker for, and its state read from its row (pure, no I/O).
 *
 * The state is not a column of its own: `stopStateOf` reads it from the columns the table has
 * always had (`status`, `cancel_requested`, `sent_at`, `broker_order_id`, `version`, `last_error`),
 * so a database written before the machine existed needs no migration, and the columns that the
 * coverage watch and the API read keep their meaning.
 */
import type { OrderReport } from '../src/domain/reports.js';
import type { StopAsk, StopRow, StopStatus } from '../src/domain/protection.js';
import { wantedOf, type RefusalKind } from './stop-policy.js';

export type { StopRow };

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
  | { type: 'asked'; ask: StopAsk }
  | { type: 'cut'; cutQty: string; wake: boolean }
  | { type: 'cancelRequested' }
  | { type: 'rearmed'; ask: StopAsk; cut: string }
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
export function initialStop(ask: StopAsk): Omit<StopRow, 'client_order_id' | 'entry_order_id' | 'symbol'> {
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
