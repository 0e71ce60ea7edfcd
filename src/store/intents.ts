import { sql } from 'kysely';
import { D, normalize } from '../decimal.js';
import type { StopIntent } from '../../machines/order.machine.js';
import type { Database } from './database.js';
import { stopClientOrderId, stopVersionClientOrderId } from '../../machines/order-status.js';
import type { IntentsTable } from './schema.js';

/**
 * The outbox: the intent to place (or resize) an entry's protective stop, written in the same
 * transaction as the entry fill that calls for it. Keyed by the stop's deterministic client order
 * id, so asking again only updates the wanted quantity; the stop worker carries intents out.
 */
export function upsertStopIntent(db: Database, intent: StopIntent, now = new Date()): void {
  const at = now.toISOString();
  const payload = JSON.stringify(intent);
  db.run(
    db.kysely
      .insertInto('intents')
      .values({
        client_order_id: intent.clientOrderId,
        kind: 'protective_stop',
        entry_order_id: intent.entryOrderId,
        symbol: intent.symbol,
        payload,
        status: 'pending',
        broker_order_id: null,
        attempts: 0,
        last_error: null,
        created_at: at,
        updated_at: at,
        current_client_order_id: intent.clientOrderId,
        sent_at: null,
        placed_qty: null,
        placed_stop_price: null,
        target_stop_price: null,
      })
      // A wanted quantity that changes wakes the worker at once.
      .onConflict((oc) => oc.column('client_order_id').doUpdateSet({ payload, updated_at: at, next_attempt_at: 0 })),
  );
}

export type IntentRow = Omit<IntentsTable, 'version' | 'next_attempt_at' | 'cancel_requested' | 'cut_qty'> & {
  version: number;
  next_attempt_at: number;
  cancel_requested: number;
  cut_qty: string;
};

/** What the stop should cover now: the entry's quantity (the machine's ask) less what exits cut. */
export function wantedQty(row: Pick<IntentRow, 'payload' | 'cut_qty'>): string {
  const left = new D((JSON.parse(row.payload) as StopIntent).qty).minus(row.cut_qty);
  return left.isPositive() ? normalize(left) : '0';
}

/** Live stop intents of a symbol on one side (a sell stop protects a long), oldest first. */
function liveStopIntents(db: Database, symbol: string, side: 'buy' | 'sell'): IntentRow[] {
  return db.all(
    db.kysely
      .selectFrom('intents')
      .selectAll()
      .where('symbol', '=', symbol)
      .where('status', 'in', ['pending', 'unknown', 'confirmed'])
      .where('cancel_requested', '=', 0)
      .where(sql<boolean>`json_extract(payload, '$.side') = ${side}`)
      .orderBy('created_at'),
  ) as IntentRow[];
}

/**
 * The position those stops protect is gone: every live stop on that side is to be canceled.
 * Returns the orders whose stops they were (their entries are over once they finished filling).
 */
export function requestStopCancels(db: Database, symbol: string, side: 'buy' | 'sell', now = new Date()): string[] {
  const entries: string[] = [];
  for (const row of liveStopIntents(db, symbol, side)) {
    updateIntent(db, row.client_order_id, { cancel_requested: 1, next_attempt_at: 0 }, now);
    entries.push(row.entry_order_id);
  }
  return entries;
}

/**
 * An order whose stop ended (canceled because the position was closed, or filled) and that opens
 * a position again gets its stop back, covering the ask less `cut`. A finished intent starts over
 * under the next client order id (the old id was used at the broker); one whose cancel is still
 * in flight keeps its order, which the worker resizes, or (if the cancel lands first) places anew.
 */
export function rearmStopIntent(db: Database, intent: StopIntent, cut: string, now = new Date()): void {
  const row = intentRow(db, intent.clientOrderId);
  if (!row) {
    upsertStopIntent(db, intent, now);
    if (cut !== '0') updateIntent(db, intent.clientOrderId, { cut_qty: cut }, now);
    return;
  }
  const common = { payload: JSON.stringify(intent), cut_qty: cut, cancel_requested: 0, next_attempt_at: 0, attempts: 0, last_error: null };
  if (row.status !== 'done') {
    updateIntent(db, row.client_order_id, common, now);
    return;
  }
  const version = row.version + 1;
  updateIntent(
    db,
    row.client_order_id,
    {
      ...common,
      version,
      current_client_order_id: stopVersionClientOrderId(intent.entryOrderId, version),
      status: 'pending',
      sent_at: null,
      broker_order_id: null,
      placed_qty: null,
      placed_stop_price: null,
      target_stop_price: null,
    },
    now,
  );
}

/**
 * Takes `qty` off what a live stop must cover: the stop's own fill used it up, or its order's fill
 * closed (part of) a position opened by others instead of opening one of its own.
 */
export function cutStop(db: Database, clientOrderId: string, qty: string, now = new Date()): void {
  const row = intentRow(db, clientOrderId);
  if (!row || row.status === 'done') return;
  updateIntent(db, clientOrderId, { cut_qty: normalize(new D(row.cut_qty).plus(qty)) }, now);
}

/**
 * The position shrank (an exit that did not close it): cut the stops on that side down to it,
 * oldest entry first — the first shares bought are the first sold (FIFO). A stop cut to nothing
 * is canceled (its order is returned, like requestStopCancels'); the others are resized by the worker.
 */
export function shrinkStops(db: Database, symbol: string, side: 'buy' | 'sell', positionQty: string, now = new Date()): string[] {
  const rows = liveStopIntents(db, symbol, side);
  let excess = rows.reduce((sum, r) => sum.plus(wantedQty(r)), new D(0)).minus(positionQty);
  const emptied: string[] = [];
  for (const row of rows) {
    if (excess.lte(0)) break;
    const wanted = wantedQty(row);
    const cut = D.min(excess, wanted);
    excess = excess.minus(cut);
    // Recorded as a cut, not by rewriting the ask: the entry's actor may ask again for its full
    // quantity (a deadline re-ask) and must not undo what the exits took.
    const patch = { cut_qty: normalize(new D(row.cut_qty).plus(cut)), next_attempt_at: 0 };
    const all = new D(wanted).eq(cut);
    updateIntent(db, row.client_order_id, all ? { ...patch, cancel_requested: 1 } : patch, now);
    if (all) emptied.push(row.entry_order_id);
  }
  return emptied;
}

/**
 * Entries that finished filling (placingStop / protected) and are still live although their stop
 * was taken off because nothing of their position is left: they are to end `exited`. Read at
 * start, so an entry whose transition a crash cut off (after the cancel committed) still ends.
 */
export function entriesWithCanceledStops(db: Database): string[] {
  const rows = db.all(
    db.kysely
      .selectFrom('intents')
      .innerJoin('orders', 'orders.order_id', 'intents.entry_order_id')
      .select('intents.entry_order_id')
      .where('intents.cancel_requested', '=', 1)
      .where('orders.terminal', '=', 0)
      .where('orders.state', 'in', ['placingStop', 'protected']),
  );
  return rows.map((r) => r.entry_order_id);
}

/** Whether an entry's stop was taken off because nothing of its position is left. */
export function stopCanceledForClose(db: Database, entryOrderId: string): boolean {
  return intentRow(db, stopClientOrderId(entryOrderId))?.cancel_requested === 1;
}

export function intentRow(db: Database, clientOrderId: string): IntentRow | undefined {
  return db.first(db.kysely.selectFrom('intents').selectAll().where('client_order_id', '=', clientOrderId)) as IntentRow | undefined;
}

/** The client order id under which we placed a broker order as a stop, if we did. */
export function stopClientIdOfBrokerOrder(db: Database, brokerOrderId: string): string | undefined {
  const row = db.first(
    db.kysely.selectFrom('intents').select(['client_order_id', 'current_client_order_id']).where('broker_order_id', '=', brokerOrderId),
  ) as Pick<IntentRow, 'client_order_id' | 'current_client_order_id'> | undefined;
  return row ? (row.current_client_order_id ?? row.client_order_id) : undefined;
}

/** Intents the worker should look at now: not finished, not backing off. */
export function dueIntents(db: Database, nowMs: number): IntentRow[] {
  return db.all(
    db.kysely
      .selectFrom('intents')
      .selectAll()
      .where('status', 'in', ['pending', 'unknown', 'confirmed'])
      .where('next_attempt_at', '<=', nowMs)
      .orderBy('created_at'),
  ) as IntentRow[];
}

export function updateIntent(db: Database, clientOrderId: string, patch: Partial<Omit<IntentRow, 'client_order_id'>>, now = new Date()): void {
  db.run(db.kysely.updateTable('intents').set({ ...patch, updated_at: now.toISOString() }).where('client_order_id', '=', clientOrderId));
}

/** Crypto stops the ratchet watches: placed, still live. */
export function confirmedCryptoIntents(db: Database): IntentRow[] {
  return db.all(
    db.kysely
      .selectFrom('intents')
      .selectAll()
      .where('status', '=', 'confirmed')
      .where(sql<boolean>`json_extract(payload, '$.assetClass') = 'crypto'`),
  ) as IntentRow[];
}
