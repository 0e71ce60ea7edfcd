import type { Database } from '../store/database.js';
import { backedOffStops, liveEquityEntryStops, positionStopRows, insertStopRow, readStopRow, stopRowsById, writeStopPatch, type FollowedStopRow, type StoredStopRow } from '../store/stops.js';
import { fractionStopClientOrderId, isLiveStatus, stopRowIdOf } from '../domain/orders.js';
import type { OrderReport } from '../domain/reports.js';
import { fractionFollows, hasFractionStop } from '../../machines/fraction-stop.js';
import type { StopAsk } from '../domain/protection.js';
import { initialStop, stopStateOf, type StopEffect, type StopEvent, type StopState } from '../../machines/stop-model.js';
import { stopActorsOf } from './stop-actors.js';
import { D } from '../decimal.js';
import { wantedOf } from '../../machines/stop-policy.js';
import { notifyStopTransition } from '../notify/events.js';

/**
 * Every write to an `stops` row, as one transition of the stop's actor (machines/stop.machine.ts,
 * the statechart over machines/stop.ts): read the row (src/store/stops.ts, the actor's persisted
 * snapshot), send the event to the stop's actor (./stop-actors.ts), write the patch it took. The callers are the order actors
 * (`orderFinished` when a stop's order ends), position following (asked,
 * rearmed, cut, cancelRequested), the stop worker (due, outcomes, restarted) and the crypto ratchet
 * (raised). The store only reads and writes rows; the machine only decides.
 */

/** One transition as applied: `applied` false when the stop's state refused the event (nothing written). */
export interface StopTransition {
  applied: boolean;
  /** Null: there was no row (only `asked` creates one). */
  from: StopState | null;
  to: StopState | null;
  effects: StopEffect[];
  /** The row after the transition. */
  row: StoredStopRow | undefined;
}

/**
 * Reads the stop's row, runs the machine's step for `event` and writes what it changed (one row,
 * one statement). `asked` for a stop without a row creates it, pending: that is written in the same
 * transaction as the entry fill that calls for it (a transactional outbox).
 */
export function applyStopTransition(db: Database, clientOrderId: string, event: StopEvent, now = new Date()): StopTransition {
  // One transaction (a savepoint inside the caller's): the row, its fraction stop, and what the broker's answer is told as.
  return db.transaction(() => {
    const t = applyOne(db, clientOrderId, event, now);
    // Fencing: a transition that lets a request leave commits only while this process leads the account.
    if (t.applied && (event.type === 'sendStarted' || t.effects.some((e) => e.type === 'post' || e.type === 'patch' || e.type === 'delete'))) db.assertLeading();
    if (t.applied && t.row && hasFractionStop(t.row)) followWithFraction(db, t.row, now);
    notifyStopTransition(db, event, t, now);
    return t;
  });
}

/** An equity entry's stop changed: its fraction stop (machines/fraction-stop.ts) follows, in the same transaction. */
function followWithFraction(db: Database, main: FollowedStopRow, now: Date, fractionRow: (cid: string) => StoredStopRow | undefined = (cid) => readStopRow(db, cid)): void {
  const cid = fractionStopClientOrderId(main.entry_order_id);
  const events = fractionFollows(main, fractionRow(cid));
  if (events.length === 0) return;
  db.transaction(() => {
    for (const event of events) applyOne(db, cid, event, now);
  });
}

/**
 * At start: every live equity entry stop's fraction stop brought in line (a database written before
 * fraction stops existed, or a crash between an entry stop's write and its fraction's).
 */
export function followFractionStops(db: Database, now = new Date()): void {
  db.transaction(() => {
    const mains = liveEquityEntryStops(db);
    // Their fraction stops read up front, a chunk of ids per query (not a query per entry): each
    // entry has its own fraction stop, so following one never changes another's row.
    const fractions = stopRowsById(db, mains.map((row) => fractionStopClientOrderId(row.entry_order_id)));
    for (const row of mains) followWithFraction(db, row, now, (cid) => fractions.get(cid));
  });
}

function applyOne(db: Database, clientOrderId: string, event: StopEvent, now: Date): StopTransition {
  const row = readStopRow(db, clientOrderId);
  if (!row) {
    if (event.type !== 'asked') return { applied: false, from: null, to: null, effects: [], row: undefined };
    insertStopRow(db, event.ask, initialStop(event.ask), now);
    const created = readStopRow(db, clientOrderId);
    if (created) stopActorsOf(db).onChange?.(created);
    return { applied: true, from: null, to: 'pending', effects: [], row: created };
  }
  const actors = stopActorsOf(db);
  const taken = actors.send(row, event, now.getTime());
  if (!taken) {
    const from = stopStateOf(row);
    return { applied: false, from, to: from, effects: [], row };
  }
  if (Object.keys(taken.patch).length > 0) writeStopPatch(db, clientOrderId, taken.patch, now);
  const next = { ...row, ...taken.patch, updated_at: now.toISOString() };
  actors.onChange?.(next);
  return { applied: true, from: taken.from, to: taken.to, effects: taken.effects, row: next };
}

/**
 * Alpaca said when one of our stops' orders expires (aged-order policy: `expires_at`, on the stream or
 * an open-orders read): kept on the stop's row if it is that stop's order now and the row differs.
 */
export function readStopExpiry(db: Database, order: Pick<OrderReport, 'orderId' | 'clientOrderId' | 'status' | 'expiresAt'>, now = new Date()): boolean {
  const rowId = stopRowIdOf(order.clientOrderId);
  if (rowId === null || order.expiresAt === null || !isLiveStatus(order.status)) return false;
  const row = readStopRow(db, rowId);
  if (!row || row.broker_order_id !== order.orderId || row.expires_at === order.expiresAt) return false;
  return applyStopTransition(db, rowId, { type: 'expiryRead', orderId: order.orderId, expiresAt: order.expiresAt }, now).applied;
}

/** An ask for a stop (tests and tools seed rows with it; the runtime asks through position following): creates the row, or updates what it asks. */
export function upsertStop(db: Database, ask: StopAsk, now = new Date()): void {
  applyStopTransition(db, ask.clientOrderId, { type: 'asked', ask }, now);
}

/**
 * A (re)start is a natural retry point: stops backing off from an earlier life are due now — all
 * but refused ones, which keep their backoff (a crash loop must not retry a refusal at full speed).
 */
export function restartStops(db: Database, now = new Date()): void {
  db.transaction(() => {
    for (const clientOrderId of backedOffStops(db)) applyStopTransition(db, clientOrderId, { type: 'restarted' }, now);
  });
}

/**
 * A cause went away (an order of the symbol ended, and with it what it held or the side it crossed):
 * stops of the symbol placed short of what they want, and those refused as a wash trade or for
 * quantity held, are due now (a refused one still within its symbol's retry budget). Returns how many were woken.
 */
export function wakeShortStops(db: Database, symbol: string, now = new Date()): number {
  let woken = 0;
  // A symbol without stops (most orders' end) has nothing to wake: a read, no transaction (on
  // PostgreSQL one round trip, not a BEGIN and a COMMIT around it). With stops, read again inside it.
  if (positionStopRows(db, symbol, []).length === 0) return 0;
  db.transaction(() => {
    for (const row of positionStopRows(db, symbol, [])) {
      if (row.cancel_requested) continue;
      // Refused for a crossing order (wash trade) or quantity another order held: that order may be the one that ended.
      if (row.status === 'rejected' && row.next_attempt_at > now.getTime()) {
        if (applyStopTransition(db, row.client_order_id, { type: 'causeGone' }, now).applied) woken += 1;
        continue;
      }
      // Not sent yet, held back (a wash-trade block of its symbol): due now.
      if (row.status === 'pending' && row.next_attempt_at > now.getTime()) {
        if (applyStopTransition(db, row.client_order_id, { type: 'restarted' }, now).applied) woken += 1;
        continue;
      }
      // Its send is out: the answer may come back short for want of what the ended order held; resized at once then.
      if (row.sent_at !== null && row.status !== 'confirmed' && row.status !== 'rejected') {
        applyStopTransition(db, row.client_order_id, { type: 'causeGone' }, now);
        continue;
      }
      if (row.status !== 'confirmed' || row.placed_qty === null || !new D(row.placed_qty).lt(wantedOf(row))) continue;
      if (applyStopTransition(db, row.client_order_id, { type: 'causeGone' }, now).applied) woken += 1;
    }
  });
  return woken;
}

/** What the stop should cover now: the entry's quantity (the machine's ask) less what exits cut. */
export function wantedQty(row: Pick<StoredStopRow, 'payload' | 'cut_qty'>): string {
  return wantedOf(row);
}
