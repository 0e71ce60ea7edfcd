import { sql } from 'kysely';
import type { StopIntent } from '../../machines/order.machine.js';
import type { Database } from './database.js';
import { stopClientOrderId, stopVersionClientOrderId } from '../../machines/order-status.js';
import type { IntentsTable } from './schema.js';
import { stopWants } from '../../machines/position.js';

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
  return stopWants({ asked: (JSON.parse(row.payload) as StopIntent).qty, cut: row.cut_qty });
}

/**
 * The intent rows a symbol's position model is built from, oldest first: every stop of the symbol
 * that is not done, and the rows named in `alsoIds` (the stops of the order whose fills are
 * followed) whatever their status.
 */
export function positionStopRows(db: Database, symbol: string, alsoIds: readonly string[]): IntentRow[] {
  const live = db.all(
    db.kysely
      .selectFrom('intents')
      .selectAll()
      .select(sql<number>`rowid`.as('rid'))
      .where('symbol', '=', symbol)
      .where('status', 'in', ['pending', 'unknown', 'confirmed', 'rejected']),
  ) as Array<IntentRow & { rid: number }>;
  const named =
    alsoIds.length === 0
      ? []
      : (db.all(
          db.kysely.selectFrom('intents').selectAll().select(sql<number>`rowid`.as('rid')).where('symbol', '=', symbol).where('client_order_id', 'in', [...alsoIds]),
        ) as Array<IntentRow & { rid: number }>);
  const byId = new Map([...live, ...named].map((r) => [r.client_order_id, r]));
  return [...byId.values()].sort((a, b) => (a.created_at < b.created_at ? -1 : a.created_at > b.created_at ? 1 : a.rid - b.rid)).map(({ rid: _rid, ...row }) => row);
}

/**
 * A stop asked again after it ended or while its cancel was in flight: its ask, its cut and a
 * withdrawn cancel. `nextVersion`: it is done (its client order id was used at the broker), so it
 * starts over under the next one; otherwise it keeps its order, which the worker resizes, or (if
 * the cancel lands first) places anew.
 */
export function rearmStopIntent(db: Database, intent: StopIntent, cut: string, nextVersion: boolean, now = new Date()): void {
  const common = { payload: JSON.stringify(intent), cut_qty: cut, cancel_requested: 0, next_attempt_at: 0, attempts: 0, last_error: null };
  const row = intentRow(db, intent.clientOrderId);
  if (!row) return;
  if (!nextVersion) {
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

/** What exits took off a stop's ask; `wake`: the worker resizes the stop now. */
export function setStopCut(db: Database, clientOrderId: string, cutQty: string, wake: boolean, now = new Date()): void {
  updateIntent(db, clientOrderId, wake ? { cut_qty: cutQty, next_attempt_at: 0 } : { cut_qty: cutQty }, now);
}

/** The position a stop protects is gone: the worker cancels it. */
export function requestStopCancel(db: Database, clientOrderId: string, now = new Date()): void {
  updateIntent(db, clientOrderId, { cancel_requested: 1, next_attempt_at: 0 }, now);
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
