import type { Database } from '../store/database.js';
import { entryOfStop, stopClientOrderId } from '../domain/orders.js';
import { stopAsk, type FillRecord, type StopIntent } from '../domain/protection.js';
import { followFill, type FillOrder, type PositionCommand, type PositionState, type StopCover } from '../../machines/position.js';
import { startExitCooldown, type StartedCooldown } from '../store/cooldowns.js';
import { positionStopRows, type IntentRow } from '../store/intents.js';
import { stopStateOf, type StopEvent } from '../../machines/stop.js';
import { applyStopTransition } from '../protection/stop-transitions.js';

/** What a batch of fills did to protection: cooldowns started, and orders whose stops were taken off. */
export interface Followed {
  started: StartedCooldown[];
  closed: string[];
}

/**
 * A symbol's position model as the store has it: the signed quantity the committed ledger implies
 * (the position book) and its stops' intent rows — every live one, and the stops of `order` (its
 * own, and for a protective stop the one it is) whatever their status. Nothing of it is persisted
 * apart from those rows, so a restart rebuilds it the same way.
 */
export function loadPosition(db: Database, symbol: string, qty: string, order: FillOrder): PositionState {
  const ids = [stopClientOrderId(order.orderId)];
  const stopOf = order.role === 'stop' ? entryOfStop(order.clientOrderId) : null;
  if (stopOf) ids.push(stopClientOrderId(stopOf));
  return { symbol, qty, stops: positionStopRows(db, symbol, ids).map(stopCover) };
}

function stopCover(row: IntentRow): StopCover {
  const ask = stopAsk(row);
  return {
    stopOf: row.entry_order_id,
    side: ask.side,
    asked: ask.qty,
    cut: row.cut_qty,
    cancelRequested: row.cancel_requested !== 0,
    done: stopStateOf(row) === 'done',
  };
}

/**
 * Protection follows the position (DESIGN §3.4): each fill the commit wrote goes through the pure
 * step (machines/position.ts) and its commands are carried out here, inside the commit's transaction:
 * the stop commands as events of each stop's machine (machines/stop.ts), the rest as row writes.
 * `qty` is the book's position before the batch (the book moves after the commit).
 */
export function followFills(
  db: Database,
  p: { order: FillOrder; symbol: string; qty: string; fills: readonly FillRecord[]; late: ReadonlySet<FillRecord>; cooldownMinutes: number; now: Date },
): Followed {
  const out: Followed = { started: [], closed: [] };
  if (p.fills.length === 0) return out;
  let position = loadPosition(db, p.symbol, p.qty, p.order);
  for (const f of p.fills) {
    const step = followFill(position, { ...f, late: p.late.has(f) }, p.order);
    for (const cmd of step.commands) apply(db, cmd, p, out);
    position = step.next;
  }
  return out;
}

/** One command: a stop's as an event of its machine, the others as store writes. */
function apply(db: Database, cmd: PositionCommand, p: { order: FillOrder; symbol: string; cooldownMinutes: number; now: Date }, out: Followed): void {
  switch (cmd.type) {
    case 'cover': {
      const ask: StopIntent = {
        entryOrderId: cmd.stopOf,
        clientOrderId: stopClientOrderId(cmd.stopOf),
        symbol: p.symbol,
        assetClass: p.order.assetClass,
        side: cmd.side,
        qty: cmd.qty,
      };
      // A re-arm: the stop ended (it starts over under its next client order id) or its cancel is withdrawn.
      const event: StopEvent = cmd.rearm ? { type: 'rearmed', ask, cut: cmd.rearm.cut } : { type: 'asked', ask };
      applyStopTransition(db, ask.clientOrderId, event, p.now);
      return;
    }
    case 'cut':
    case 'shrink':
      // A shrink resizes the stop now; a cut (its own fill, an entry closing others' position) waits.
      applyStopTransition(db, stopClientOrderId(cmd.stopOf), { type: 'cut', cutQty: cmd.cutQty, wake: cmd.type === 'shrink' }, p.now);
      return;
    case 'cancel':
      applyStopTransition(db, stopClientOrderId(cmd.stopOf), { type: 'cancelRequested' }, p.now);
      return;
    case 'startCooldown': {
      const cd = startExitCooldown(db, cmd.fill, p.cooldownMinutes, p.now);
      if (cd) out.started.push(cd);
      return;
    }
    case 'positionClosed':
      out.closed.push(cmd.entryOrderId);
      return;
  }
}
