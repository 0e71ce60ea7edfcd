import { sql } from 'kysely';
import type { StopIntent } from '../../machines/order.machine.js';
import type { Database } from './database.js';
import { stopClientOrderId } from '../../machines/order-status.js';
import type { IntentsTable } from './schema.js';
import { initialStop, stopStep, type StopEffect, type StopEvent, type StopState } from '../../machines/stop.js';
import { wantedOf } from '../../machines/stop-policy.js';

/** Statuses of a stop that is not done (pending, sending/unknown/replacing, working, refused). */
const LIVE_STATUSES: IntentsTable['status'][] = ['pending', 'unknown', 'confirmed', 'rejected'];

/**
 * The outbox: the protective stops to place, resize or cancel, one row per stop keyed by its
 * deterministic client order id. A row's state is a protective stop's state (machines/stop.ts);
 * every write to a row is one transition of that machine, through `applyStopTransition` — the
 * order actors' asks, what position following decides, the ratchet, the stop worker's outcomes.
 */

export type IntentRow = Omit<IntentsTable, 'version' | 'next_attempt_at' | 'cancel_requested' | 'cut_qty'> & {
  version: number;
  next_attempt_at: number;
  cancel_requested: number;
  cut_qty: string;
};

/** One transition as applied: `applied` false when the stop's state refused the event (nothing written). */
export interface StopTransition {
  applied: boolean;
  /** Null: there was no row (only `asked` creates one). */
  from: StopState | null;
  to: StopState | null;
  effects: StopEffect[];
  /** The row after the transition. */
  row: IntentRow | undefined;
}

/**
 * Reads the stop's row, runs the machine's step for `event` and writes what it changed (one row,
 * one statement). `asked` for a stop without a row creates it, pending: that is written in the same
 * transaction as the entry fill that calls for it (a transactional outbox).
 */
export function applyStopTransition(db: Database, clientOrderId: string, event: StopEvent, now = new Date()): StopTransition {
  const row = intentRow(db, clientOrderId);
  if (!row) {
    if (event.type !== 'asked') return { applied: false, from: null, to: null, effects: [], row: undefined };
    insertStop(db, event.ask, now);
    return { applied: true, from: null, to: 'pending', effects: [], row: intentRow(db, clientOrderId) };
  }
  const step = stopStep(row, event, now.getTime());
  if (!step.allowed) return { applied: false, from: step.from, to: step.from, effects: [], row };
  const at = now.toISOString();
  if (Object.keys(step.next).length > 0) updateIntent(db, clientOrderId, step.next, now);
  return { applied: true, from: step.from, to: step.to, effects: step.effects, row: { ...row, ...step.next, updated_at: at } };
}

function insertStop(db: Database, ask: StopIntent, now: Date): void {
  const at = now.toISOString();
  db.run(
    db.kysely.insertInto('intents').values({
      client_order_id: ask.clientOrderId,
      kind: 'protective_stop',
      entry_order_id: ask.entryOrderId,
      symbol: ask.symbol,
      created_at: at,
      updated_at: at,
      ...initialStop(ask),
    }),
  );
}

/** The order machine's ask (its whole filled quantity): creates the stop, or updates what it asks. */
export function upsertStopIntent(db: Database, intent: StopIntent, now = new Date()): void {
  applyStopTransition(db, intent.clientOrderId, { type: 'asked', ask: intent }, now);
}

/** What the stop should cover now: the entry's quantity (the machine's ask) less what exits cut. */
export function wantedQty(row: Pick<IntentRow, 'payload' | 'cut_qty'>): string {
  return wantedOf(row);
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
      .where('status', 'in', LIVE_STATUSES),
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
 * A (re)start is a natural retry point: stops backing off from an earlier life are due now — all
 * but refused ones, which keep their backoff (a crash loop must not retry a refusal at full speed).
 */
export function restartStops(db: Database, now = new Date()): void {
  db.transaction(() => {
    const rows = db.all(db.kysely.selectFrom('intents').select('client_order_id').where('status', 'in', ['pending', 'unknown', 'confirmed']).where('next_attempt_at', '>', 0));
    for (const r of rows) applyStopTransition(db, r.client_order_id, { type: 'restarted' }, now);
  });
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

/** Stops the worker should look at now: not done, not backing off (refused ones whose backoff is over included). */
export function dueIntents(db: Database, nowMs: number): IntentRow[] {
  return db.all(
    db.kysely
      .selectFrom('intents')
      .selectAll()
      .where('status', 'in', LIVE_STATUSES)
      .where('next_attempt_at', '<=', nowMs)
      .orderBy('created_at'),
  ) as IntentRow[];
}

/**
 * A raw write of a row's columns. The runtime writes only through `applyStopTransition` (a test in
 * test/machines/stop.test.ts checks that nothing else in src/ calls this); tests use it to set up
 * a row as the broker or an older version would have left it.
 */
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
