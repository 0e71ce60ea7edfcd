import type { ExecutionChange } from '../domain/reports.js';
import { assetClassOf } from '../domain/symbols.js';
import { orderRow } from '../store/order-rows.js';
import { applyChangeToFill, changeKnown, changeRow, fillOfExecution, insertChange, pendingApplied, pendingChangesOf, type ChangedFill, type FillChangeRow } from '../store/fill-changes.js';
import { notifyFillChanged } from '../notify/events.js';
import type { FillOrder } from '../../machines/position.js';
import type { CommitDeps } from './order-commit.js';
import type { Followed } from './position-follow.js';
import { crashPoint } from './crash-points.js';

/**
 * A trade bust or correction (issue 26 items 3, 4), committed: in one transaction — the caller's, the
 * event stream's, whose cursor moves past the event in it — the change row, the fill it names marked
 * busted or given its new terms (never deleted), the notification, the exit walk marked from the
 * fill's time (a busted exit's cooldown ended), and what the change does to protection: the symbol's
 * position actor follows it (`change`, machines/position.ts `followChange`) and its commands are
 * carried out in the same transaction.
 *
 * Exactly once: a change is keyed by its own execution id (`ref_id`); one known already changes
 * nothing. A change whose fill is not in the ledger (no fill recorded with that execution id, nor a
 * correction applied under it) is kept **pending** (its row, fill_id null) and applied in the
 * transaction that records that execution id on a fill (`applyPending`: a new fill, or a later report
 * that tells a recorded fill's execution id), and a change naming a pending one waits with it.
 */

export type ChangeOutcome = 'applied' | 'pending' | 'duplicate' | 'ignored';

/** What one change (and the pending ones it released) did. */
export interface ChangeCommitted {
  outcome: ChangeOutcome;
  /** The changes applied, this one and the pending ones it let through, in order. */
  applied: AppliedChange[];
  followed: Followed;
}

export interface AppliedChange {
  row: FillChangeRow;
  fill: ChangedFill;
  /** The fill's terms after it (qty 0: busted). */
  qty: string;
  price: string;
}

/** What a change commit needs beyond the order commit's: whether an order's entry is protected (CT_ADOPT). */
export interface ChangeDeps extends CommitDeps {
  protects(clientOrderId: string): boolean;
}

/** One change event from the event stream, inside the caller's transaction. */
export function commitChange(d: ChangeDeps, eventId: string, change: ExecutionChange, now: Date): ChangeCommitted {
  const out: ChangeCommitted = { outcome: 'duplicate', applied: [], followed: { closed: [], asked: false } };
  d.db.transaction(() => {
    if (changeKnown(d.db, change.refId)) return;
    insertChange(d.db, eventId, change, now);
    const fill = fillOfExecution(d.db, change.previousId);
    if (!fill) {
      out.outcome = 'pending';
      return;
    }
    out.outcome = applyOne(d, changeRow(d.db, change.refId)!, fill, now, out) ? 'applied' : 'ignored';
    // Crash tests: a power cut with the change applied but not committed (nor the caller's cursor).
    if (out.outcome === 'applied') crashPoint('before_change_commit');
  });
  return out;
}

/**
 * The changes pending for `executionId`, applied now that a fill of the ledger has it (inside the
 * transaction that recorded it, after the fill was followed). Nothing when none waits.
 */
export function applyPending(d: ChangeDeps, executionId: string, now: Date): ChangeCommitted {
  const out: ChangeCommitted = { outcome: 'applied', applied: [], followed: { closed: [], asked: false } };
  if (pendingChangesOf(d.db, executionId).length === 0) return out;
  d.db.transaction(() => {
    releasePending(d, executionId, now, out);
    pendingApplied(d.db);
  });
  return out;
}

function releasePending(d: ChangeDeps, executionId: string, now: Date, out: ChangeCommitted): void {
  for (const row of pendingChangesOf(d.db, executionId)) {
    const fill = fillOfExecution(d.db, executionId);
    if (!fill) return;
    applyOne(d, row, fill, now, out);
  }
}

/** Applies one change row to its fill; false when the fill was busted already (the row keeps it, unapplied). */
function applyOne(d: ChangeDeps, row: FillChangeRow, fill: ChangedFill, now: Date, out: ChangeCommitted): boolean {
  const { db } = d;
  if (fill.busted !== 0) {
    applyChangeToFill(db, row.ref_id, fill, null, false, now);
    d.log.warn({ event: 'execution_change_ignored', ref_id: row.ref_id, previous_id: row.previous_id, order_id: fill.order_id, cum_qty: fill.cum_qty }, 'a trade bust or correction names a fill busted already: nothing changed');
    return false;
  }
  const next = row.kind === 'bust' ? null : { qty: row.qty!, price: row.price! };
  applyChangeToFill(db, row.ref_id, fill, next, true, now);
  notifyFillChanged(
    db,
    { kind: row.kind, refId: row.ref_id, previousId: row.previous_id, orderId: fill.order_id, cumQty: fill.cum_qty, symbol: fill.symbol, side: fill.side, oldQty: fill.qty, oldPrice: fill.price, newQty: next?.qty ?? null, newPrice: next?.price ?? null },
    now,
  );
  // Cooldowns follow the ledger without it: a busted exit's ends, and its symbol is walked again from its time.
  if (row.kind === 'bust') d.exits.forget(`${fill.order_id}:${fill.cum_qty}`, now);
  d.exits.mark(fill.symbol, fill.filled_at);
  const position = d.positionActor(fill.symbol);
  if (!position) throw new Error(`no position actor for ${fill.symbol}: a change of its fill cannot be followed`);
  const o = orderRow(db, fill.order_id);
  const clientOrderId = o?.client_order_id ?? '';
  const order: FillOrder = { orderId: fill.order_id, role: o?.role ?? null, assetClass: o?.asset_class ?? assetClassOf(fill.symbol), clientOrderId, protect: d.protects(clientOrderId) };
  const followed = d.following.followChange(position, {
    order,
    change: { orderId: fill.order_id, symbol: fill.symbol, side: fill.side, before: fill.qty, after: next?.qty ?? '0' },
    recordedAt: fill.recorded_at,
    now,
  });
  out.followed.closed.push(...followed.closed);
  if (followed.asked) out.followed.asked = true;
  out.applied.push({ row, fill, qty: next?.qty ?? '0', price: next?.price ?? fill.price });
  // A correction's own id may be named by changes that came before it was applied.
  if (row.kind === 'correct') releasePending(d, row.ref_id, now, out);
  return true;
}
