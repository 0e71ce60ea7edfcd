import type { Logger } from '../log.js';
import { D } from '../decimal.js';
import type { StoredStopRow } from '../store/stops.js';
import { currentCid, type StopEffect, type StopEvent } from '../../machines/stop-model.js';
import { isFractionPart } from '../../machines/fraction-stop.js';
import type { StopTransition } from './stop-transitions.js';

/**
 * What the stop worker says about a transition it applied: its log lines (placed, adopted,
 * refused, canceled, re-armed, …), and to the entry's order actor `stop.working` when the entry's
 * own stop (not its fraction stop) enters working, `position.closed` when it ends not needed.
 */
export interface StopReportDeps {
  log: Logger;
  actors: { stopWorking(entryOrderId: string, stopOrderId: string): void; positionClosed(entryOrderId: string): void; ledgerPosition?(symbol: string): string };
}

export function reportStopTransition(deps: StopReportDeps, t: StopTransition, row: StoredStopRow, event: StopEvent): void {
  const { log, actors } = deps;
  for (const e of t.effects) if (e.type === 'announce') announce(log, row, e);
  // The entry's lifecycle follows its own stop; its fraction stop is the position's business (coverage).
  const ownStop = !isFractionPart(row);
  if (ownStop && t.to === 'working' && t.from !== 'working' && row.broker_order_id) actors.stopWorking(row.entry_order_id, row.broker_order_id);
  if (ownStop && event.type === 'notNeeded') actors.positionClosed(row.entry_order_id);
  const ids = { entry_order_id: row.entry_order_id, symbol: row.symbol };
  if (event.type === 'aging') {
    log.info({ event: 'stop_rearm', ...ids, client_order_id: currentCid(row), stop_order_id: row.broker_order_id, expires_at: row.expires_at }, `protective stop for ${row.symbol} nears Alpaca's aged-order expiry: replacing it`);
  } else if (event.type === 'outcomeUnknown') {
    log.warn({ event: 'stop_outcome_unknown', client_order_id: row.client_order_id, attempts: row.attempts, reason: event.reason }, 'stop order state unknown; probing again');
  } else if (event.type === 'unchanged') {
    log.debug({ event: 'stop_unchanged', ...ids, client_order_id: row.client_order_id, qty: row.placed_qty }, 'protective stop already as wanted; nothing sent');
  } else if (event.type === 'notNeeded') {
    log.info({ event: 'stop_not_needed', ...ids }, 'no position left to protect');
  } else if (t.from === 'cancelling' && t.to === 'done') {
    const stopOrderId = event.type === 'cancelConfirmed' ? event.orderId : event.type === 'lookupFound' ? event.order.orderId : row.broker_order_id;
    // Closed only when nothing is left: a reduction cancels the stops it leaves with nothing to cover.
    const left = actors.ledgerPosition?.(row.symbol) ?? null;
    const closed = left === null || new D(left).isZero();
    log.info(
      { event: 'stop_canceled', ...ids, stop_order_id: stopOrderId, position: left },
      closed ? `position closed: protective stop for ${row.symbol} canceled` : `protective stop for ${row.symbol} canceled; ${new D(left).abs().toFixed()} ${row.symbol} still held, covered by its other stops`,
    );
  } else if (event.type === 'cancelConfirmed') {
    // The order that owns the stop opened a new position while the cancel was in flight.
    log.info({ event: 'stop_rearmed', ...ids }, `protective stop for ${row.symbol} placed again`);
  }
}

function announce(log: Logger, row: StoredStopRow, e: Extract<StopEffect, { type: 'announce' }>): void {
  if (e.outcome === 'rejected') {
    const retry = new Date(Math.min(row.next_attempt_at, 8.64e15)).toISOString();
    log.warn({ event: 'stop_rejected', entry_order_id: e.entryOrderId, client_order_id: currentCid(row), reason: row.last_error, attempts: row.attempts, retry_at: retry }, 'broker refused the protective stop');
    return;
  }
  const o = e.order;
  log.info(
    { event: e.how === 'placed' ? 'stop_placed' : 'stop_adopted', entry_order_id: e.entryOrderId, stop_order_id: o.orderId, client_order_id: o.clientOrderId, symbol: row.symbol, qty: e.placedQty, type: o.type, stop_price: o.stopPrice, trail_percent: o.trailPercent },
    e.how === 'placed' ? `protective stop placed for ${row.symbol}` : `existing protective stop adopted for ${row.symbol}`,
  );
}
