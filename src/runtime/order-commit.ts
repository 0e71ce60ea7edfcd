import type { AnyActorRef } from 'xstate';
import type { Database } from '../store/database.js';
import type { Logger } from '../log.js';
import { insertFills, lastFillAtOrBefore } from '../store/ledger.js';
import { insertFee } from '../store/fees.js';
import type { FeeReport } from '../domain/reports.js';
import { appendHistory, orderRowHead, upsertOrderRow, type OrderRow } from '../store/order-rows.js';
import { canonicalTime } from '../time.js';
import type { FillRecord, OrderRole } from '../domain/protection.js';
import { brokerOutcome, entryOfStop, stopClientOrderId, stopRowIdOf } from '../domain/orders.js';
import { ledgerAvgPrice } from '../../machines/fill-plan.js';
import { ORDER_MACHINE_VERSION, type OrderContext } from '../../machines/order.machine.js';
import { applyStopTransition } from '../protection/stop-transitions.js';
import { crashPoint } from './crash-points.js';
import type { ExitCooldowns } from './exit-cooldowns.js';
import { ownStopIds, type Followed, type PositionFollowing } from './position-follow.js';
import { prefetchStopRows, type StoredStopRow } from '../store/stops.js';
import type { FillOrder } from '../../machines/position.js';
import { notifyFill, notifyStopFilled } from '../notify/events.js';

/**
 * One order actor transition, committed: in one SQLite transaction the fills it recorded, its row
 * (snapshot) and history, what its fills do to protection (sent to the symbol's position actor, which
 * sizes the stops; its commands are carried out in the same transaction) and, for a protective stop's
 * order that ended, that stop actor's `orderFinished`.
 */

/** What the order machine's named actions buffered during a transition. */
export type PendingWrites = { fills: Array<FillRecord & { role: OrderRole | null }> };

/** What a commit needs of the runtime. */
export interface CommitDeps {
  db: Database;
  log: Logger;
  exits: ExitCooldowns;
  following: PositionFollowing;
  positionActor(symbol: string): AnyActorRef | undefined;
  /** The busts and corrections pending for a fill's execution id, applied in its transaction (fill-change-commit.ts). */
  applyPending?(executionId: string, now: Date): Followed;
}

/** One transaction: the fills, the actor's row and what the fills do to protection. */
export function commitTransition(
  d: CommitDeps,
  p: {
  c: OrderContext;
  writes: PendingWrites | undefined;
  json: string;
  state: string;
  terminal: boolean;
  before: string | null;
  /** The head of the order's row as this process last wrote it (orderRowHead), if it did and the order is live. */
  head: string | null;
  eventType: string;
  now: Date;
  },
): Committed {
  const { db } = d;
  const { c, writes, now } = p;
  const out: Committed = { written: [], closed: [], stopsAsked: false, head: '' };
  db.transaction(() => {
    const fills = writes?.fills ?? [];
    // What the position actor is sent with the fills (the order's stops), read with their insert: one trip on PostgreSQL.
    const own = fills.length > 0 ? prefetchStopRows(db, ownStopIds(fillOrderOf(c))) : undefined;
    out.written = insertFills(db, fills, now);
    for (const f of out.written) notifyFill(db, f, c.role, now);
    // Each fill's exit is judged after the batch, in the broker's order (exit-cooldowns.ts).
    for (const f of out.written) d.exits.mark(f.symbol, fillTime(f));
    const followed = followPosition(d, c, out.written, now, own);
    out.closed = followed.closed;
    out.stopsAsked = followed.asked;
    // The row and its history after what reads (the position's stops): on PostgreSQL these writes
    // go with the commit, in its one round trip.
    const row: OrderRow = {
      order_id: c.order.orderId,
      client_order_id: c.order.clientOrderId,
      symbol: c.order.symbol,
      side: c.order.side,
      type: c.order.type,
      asset_class: c.order.assetClass,
      role: c.role,
      state: p.state,
      terminal: p.terminal ? 1 : 0,
      filled_qty: c.ledger.filledQty,
      filled_avg_price: ledgerAvgPrice(c.ledger),
      stop_order_id: c.stop?.orderId ?? null,
      machine_version: ORDER_MACHINE_VERSION,
      snapshot: p.json,
      created_at: now.toISOString(),
      updated_at: now.toISOString(),
    };
    upsertOrderRow(db, row, p.head);
    out.head = orderRowHead(row);
    if (p.before !== p.state) {
      appendHistory(db, { order_id: c.order.orderId, at: now.toISOString(), event: p.eventType, from_state: p.before, to_state: p.state });
    }
    // A bust or correction that came before its fill (pending) applies now, after the fill was followed.
    if (d.applyPending) {
      for (const f of out.written) {
        if (!f.executionId) continue;
        // (The entries it closed are told after the commit, with the rest of what follows the change.)
        const released = d.applyPending(f.executionId, now);
        if (released.asked) out.stopsAsked = true;
      }
    }
    if (p.terminal && c.role === 'stop') settleStopIntent(d, c, now);
    if (out.stopsAsked) crashPoint('before_intent_commit');
  });
  return out;
}


/**
 * Protection follows the position (DESIGN §3.4), whatever role the order has: the pure step
 * (machines/position.ts) decides, per fill, what the stops cover and which are canceled; here its commands are written in this transaction. The book moves after the
 * commit, so the batch starts from the book's position.
 */
function followPosition(d: CommitDeps, c: OrderContext, written: FillRecord[], now: Date, own?: () => StoredStopRow[]): Followed {
  if (written.length === 0) return { closed: [], asked: false };
  const position = d.positionActor(c.order.symbol);
  if (!position) throw new Error(`no position actor for ${c.order.symbol}: its fills cannot be followed`);
  return d.following.follow(position, {
    order: fillOrderOf(c),
    symbol: c.order.symbol,
    fills: written,
    now,
    ...(own ? { own } : {}),
  });
}

/** The order as its fills' event names it. */
const fillOrderOf = (c: OrderContext): FillOrder => ({ orderId: c.order.orderId, role: c.role, assetClass: c.order.assetClass, clientOrderId: c.order.clientOrderId, protect: c.protect });


/**
 * A protective stop's order that finished, as an event of the stop's machine (machines/stop.ts):
 * filled (any fill) → the stop is done; gone unfilled → it is placed again under its next client
 * order id, unless its cancel was asked for (the stop worker settles that). A replaced order is
 * the worker's own resize.
 */
function settleStopIntent(d: CommitDeps, c: OrderContext, now: Date): void {
  const entry = entryOfStop(c.order.clientOrderId);
  if (!entry) return;
  const status = brokerOutcome(c.order.status);
  if (status === 'replaced' || status === 'working') return;
  const outcome = c.ledger.filledQty !== '0' ? 'filled' : status;
  const rowId = stopRowIdOf(c.order.clientOrderId) ?? stopClientOrderId(entry);
  const t = applyStopTransition(d.db, rowId, { type: 'orderFinished', orderId: c.order.orderId, clientOrderId: c.order.clientOrderId, outcome }, now);
  if (outcome === 'filled') {
    const o = c.order;
    notifyStopFilled(d.db, { orderId: o.orderId, clientOrderId: o.clientOrderId, entryOrderId: entry, symbol: o.symbol, side: o.side, filledQty: c.ledger.filledQty, avgPrice: ledgerAvgPrice(c.ledger) }, now);
  }
  if (t.applied && outcome === 'expired') {
    // A `day` stop (a fraction, or a position under one share) ends at every close: placed again for the next session.
    d.log.info({ event: 'stop_expired', entry_order_id: entry, stop_order_id: c.order.orderId, client_order_id: c.order.clientOrderId }, 'day stop expired at the close; placing it again');
  } else if (t.applied && outcome !== 'filled') {
    // Canceled, expired or rejected without a fill: the entry is unprotected again.
    d.log.warn({ event: 'stop_lost', entry_order_id: entry, stop_order_id: c.order.orderId, status: c.order.status }, 'protective stop ended unfilled; placing it again');
  }
}


/**
 * One crypto fee (a CFEE activity), committed: in one SQLite transaction its row and what it does to
 * protection (sent to the symbol's position actor as `fee`, whose commands — stops shrunk, or canceled
 * when nothing is left — are carried out in the same transaction). Null when the fee was recorded
 * already (a page read again): nothing is sent.
 *
 * A fee learned after newer fills of its symbol (the stream brought the exit, the fee came with the
 * next activity page) may be what made that exit a close: like a fill, it marks its symbol for the
 * exit walk (`marked`), which judges the exits in the broker's order, fees included. A fee whose
 * moment is known (`timed`, to the millisecond: it counts as the end of it) is placed there; one
 * known only by its day, where it was read (after the fills of its day; machines/exit-walk.ts).
 */
export function commitFee(d: CommitDeps, fee: FeeReport, now: Date, opts: { walk: boolean } = { walk: true }): { followed: Followed; marked: boolean } | null {
  return d.db.transaction(() => {
    if (!insertFee(d.db, fee, now)) return null;
    // A timed fee is walked from its moment. One known only by its day is placed when it was read,
    // after the fills of its day: walked from the latest fill before it, the exit it completed.
    const from = fee.timed ? fee.at : lastFillAtOrBefore(d.db, fee.symbol, fee.at);
    const marked = opts.walk && from !== null;
    if (marked) d.exits.mark(fee.symbol, from);
    const position = d.positionActor(fee.symbol);
    if (!position) throw new Error(`no position actor for ${fee.symbol}: its fee cannot be followed`);
    return { followed: d.following.followFee(position, { qty: fee.qty, now }), marked };
  });
}


/** A fill's time as the broker's order of fills compares it. */
export const fillTime = (f: FillRecord) => canonicalTime(f.at) ?? f.at;

/** What one commit wrote and started. */
export interface Committed {
  written: FillRecord[];
  /** Orders whose stops the commit took off (their positions are gone). */
  closed: string[];
  /** Its position actor asked for a stop (a new one, or more to cover). */
  stopsAsked: boolean;
  /** The head of the row it wrote (orderRowHead). */
  head: string;
}
