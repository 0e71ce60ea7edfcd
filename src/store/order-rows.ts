import type { Database } from './database.js';
import { pick, prepared } from './prepared.js';
import type { OrdersTable } from './schema.js';
import type { OrderReport } from '../domain/reports.js';

/** The orders table: one row per order actor, its persisted snapshot and its state history. */

export type OrderRow = OrdersTable;

const ORDER_COLUMNS = [
  'order_id', 'client_order_id', 'symbol', 'side', 'type', 'asset_class', 'role', 'state', 'terminal', 'filled_qty',
  'filled_avg_price', 'stop_order_id', 'machine_version', 'snapshot', 'created_at', 'updated_at',
] as const;

const upsertRow = prepared<OrderRow>((k, p) => {
  const { order_id, created_at, ...update } = pick(p, ORDER_COLUMNS);
  return k
    .insertInto('orders')
    .values(pick(p, ORDER_COLUMNS))
    .onConflict((oc) => oc.column('order_id').doUpdateSet(update));
});

/** What an order's next transition changes of its row, its head (order_id to machine_version) as it was. */
const LIVE_COLUMNS = ['state', 'filled_qty', 'filled_avg_price', 'stop_order_id', 'snapshot', 'updated_at'] as const;

const upsertLive = prepared<OrderRow>((k, p) =>
  k
    .insertInto('orders')
    .values(pick(p, ORDER_COLUMNS))
    .onConflict((oc) => oc.column('order_id').doUpdateSet(pick(p, LIVE_COLUMNS))),
);

const upsertEnding = prepared<OrderRow>((k, p) =>
  k
    .insertInto('orders')
    .values(pick(p, ORDER_COLUMNS))
    .onConflict((oc) => oc.column('order_id').doUpdateSet({ ...pick(p, LIVE_COLUMNS), terminal: p.terminal })),
);

/** The columns of a row a transition does not usually change: equal keys, the same head. */
export const orderRowHead = (row: OrderRow): string =>
  [row.client_order_id, row.symbol, row.side, row.type, row.asset_class, row.role ?? '', row.machine_version].join('\u0000');

/**
 * An order actor's row, written as a write of its commit (`db.write`: on PostgreSQL sent with the
 * commit). `head`: the head (orderRowHead) of the row as this process last wrote it, while it was
 * live; when the row's is the same, only what changed is set (its indexed head columns, and
 * `terminal` until it ends, are not rewritten: fewer pages per commit).
 */
export function upsertOrderRow(db: Database, row: OrderRow, head: string | null = null): void {
  if (head === null || head !== orderRowHead(row)) db.write(upsertRow(db, row));
  else db.write((row.terminal ? upsertEnding : upsertLive)(db, row));
}

type HistoryRow = { order_id: string; at: string; event: string; from_state: string | null; to_state: string };
const insertHistory = prepared<HistoryRow>((k, p) => k.insertInto('order_history').values({ order_id: p.order_id, at: p.at, event: p.event, from_state: p.from_state, to_state: p.to_state }));

export function appendHistory(db: Database, h: HistoryRow): void {
  db.write(insertHistory(db, h));
}

/** What rehydration needs of every live (non-terminal) order row. */
export type LiveOrderRow = Pick<OrderRow, 'order_id' | 'state' | 'machine_version' | 'snapshot'>;

export function liveOrderRows(db: Database): LiveOrderRow[] {
  return db.all(db.kysely.selectFrom('orders').select(['order_id', 'state', 'machine_version', 'snapshot']).where('terminal', '=', 0).orderBy('created_at'));
}

/** Every live order row without its snapshot (a restart restores each actor when an event first reaches it). */
export type LiveOrderHead = Pick<OrderRow, 'order_id' | 'state' | 'machine_version'>;

export function liveOrderHeads(db: Database): LiveOrderHead[] {
  // As arrays, not objects (10,000 rows at a restart).
  const rows = db.values(db.kysely.selectFrom('orders').select(['order_id', 'state', 'machine_version']).where('terminal', '=', 0).orderBy('created_at'));
  return rows.map(([order_id, state, machine_version]) => ({ order_id: order_id as string, state: state as string, machine_version: machine_version as number }));
}

const liveRowOf = prepared((k, p: { orderId: string }) =>
  k.selectFrom('orders').select(['order_id', 'state', 'machine_version', 'snapshot']).where('order_id', '=', p.orderId).where('terminal', '=', 0),
);

/** One live order's row with its snapshot (undefined when it has none or it is terminal). */
export function liveOrderRow(db: Database, orderId: string): LiveOrderRow | undefined {
  return db.first(liveRowOf(db, { orderId })) as LiveOrderRow | undefined;
}

const rowOf = prepared((k, p: { orderId: string }) => k.selectFrom('orders').selectAll().where('order_id', '=', p.orderId));

export function orderRow(db: Database, orderId: string): OrderRow | undefined {
  return db.first(rowOf(db, { orderId }));
}

/** An order the service knows by its client_order_id, as an entry's caller sees it (null when unknown). */
export interface KnownOrder {
  orderId: string;
  clientOrderId: string;
  symbol: string;
  side: 'buy' | 'sell';
  type: string;
  qty: string | null;
  /** A notional (dollar amount) order's amount; null for one given in qty. */
  notional: string | null;
  status: string;
  filledQty: string;
}

/** A broker order (as the adapter parsed it) as an entry's caller sees it. */
export function knownOrder(o: Pick<OrderReport, 'orderId' | 'clientOrderId' | 'symbol' | 'side' | 'type' | 'qty' | 'notional' | 'status' | 'filledQty'>): KnownOrder {
  return { orderId: o.orderId, clientOrderId: o.clientOrderId, symbol: o.symbol, side: o.side, type: o.type, qty: o.qty, notional: o.notional, status: o.status, filledQty: o.filledQty };
}

export function orderByClientOrderId(db: Database, clientOrderId: string): KnownOrder | null {
  const row = db.first(db.kysely.selectFrom('orders').selectAll().where('client_order_id', '=', clientOrderId).limit(1));
  if (!row) return null;
  const order = (JSON.parse(row.snapshot) as { context?: { order?: { qty?: string | null; notional?: string | null; status?: string } } }).context?.order;
  return {
    orderId: row.order_id,
    clientOrderId: row.client_order_id,
    symbol: row.symbol,
    side: row.side as 'buy' | 'sell',
    type: row.type,
    qty: order?.qty ?? null,
    notional: order?.notional ?? null,
    status: order?.status ?? row.state,
    filledQty: row.filled_qty,
  };
}

export function orderHistory(db: Database, orderId: string) {
  return db.all(
    db.kysely
      .selectFrom('order_history')
      .select(['at', 'event', 'from_state as from', 'to_state as to'])
      .where('order_id', '=', orderId)
      .orderBy('id'),
  );
}
