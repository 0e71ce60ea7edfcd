/**
 * What every step of the stop machine is built from (pure): the handler's shape, and the patches and
 * effects several handlers share — a new version under the next client order id, done, a place.
 */
import { versionedStopClientOrderId } from '../src/domain/orders.js';
import { IDLE, placedAsWanted } from './stop-policy.js';
import { currentCid, replaceTarget, type StopEffect, type StopEvent, type StopEventType, type StopPatch, type StopRow } from './stop-model.js';

/** A step's outcome: the row's next columns and the effects; null: refused (its guard failed). */
export type Outcome = { next: StopPatch; effects?: StopEffect[] } | null;
export type Handler<T extends StopEventType> = (row: StopRow, event: Extract<StopEvent, { type: T }>, now: number) => Outcome;
export type Handlers = { [T in StopEventType]?: Handler<T> };

export const iso = (now: number) => new Date(now).toISOString();
export const sent = (row: StopRow, cid: string) => row.sent_at !== null && cid === currentCid(row);
export const backoff = (until: number): StopEffect => ({ type: 'backoff', until });
/** A replace of an order already as wanted can only be its re-arm (`aging`), resumed after a crash or a refusal. */
const isRearm = (row: StopRow) => replaceTarget(row) !== null && placedAsWanted(row);
export const place = (row: StopRow, rearm = isRearm(row)): StopEffect => ({ type: 'place', clientOrderId: currentCid(row), replaces: replaceTarget(row), rearm });

/**
 * Its client order id was used at the broker and that order is gone: start over under the next
 * one. `attempts` is kept (backoffs keep growing); an error of the old order is not this one's.
 */
export function nextVersion(row: StopRow): StopPatch {
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

/** Filled, canceled on purpose, or not needed: nothing more to do. */
export const finished: StopPatch = { status: 'done', next_attempt_at: IDLE };
