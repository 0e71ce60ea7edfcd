import { jsonText } from './json-field.js';
import { D, normalize } from '../decimal.js';
import { entryOfStop, isLiveStatus } from '../domain/orders.js';
import type { Database } from './database.js';

/**
 * Which open orders hold a position's shares or coins (alpaca-rules.md: what another open order
 * holds is not available; Alpaca answers 403 "insufficient qty available for order"). Read from
 * the orders table, where every broker order the service knows has its row.
 */

/** An open order holding part of a position. */
export interface OrderHolder {
  orderId: string;
  clientOrderId: string;
  /** What it still holds (its qty less what filled); null for a notional order (not known). */
  qty: string | null;
}

/** A symbol whose holders are asked for, with the position's closing side (sell for a long). */
export interface HolderAsk {
  symbol: string;
  side: 'buy' | 'sell';
}

/**
 * Holders per symbol, oldest first: live orders (domain/orders.ts) on the asked side that are not
 * one of this service's protective stops (those cover the position) and have something left to
 * fill. One query for all the asks.
 */
export function openOrdersHolding(db: Database, asks: readonly HolderAsk[]): Map<string, OrderHolder[]> {
  const holders = new Map<string, OrderHolder[]>();
  if (asks.length === 0) return holders;
  const rows = db.all(
    db.kysely
      .selectFrom('orders')
      .select([
        'order_id',
        'client_order_id',
        'symbol',
        'filled_qty',
        jsonText(db, 'snapshot', ['context', 'order', 'status']).as('status'),
        jsonText(db, 'snapshot', ['context', 'order', 'qty']).as('qty'),
        jsonText(db, 'snapshot', ['context', 'order', 'brokerFilledQty']).as('broker_filled_qty'),
      ])
      .where('terminal', '=', 0)
      .where((eb) => eb.or(asks.map((a) => eb.and([eb('symbol', '=', a.symbol), eb('side', '=', a.side)]))))
      .orderBy('created_at')
      .orderBy('order_id'),
  );
  for (const r of rows) {
    if (r.status === null || !isLiveStatus(r.status) || entryOfStop(r.client_order_id) !== null) continue;
    const qty = r.qty === null ? null : new D(r.qty).minus(D.max(r.filled_qty, r.broker_filled_qty ?? 0));
    if (qty !== null && !qty.gt(0)) continue;
    const list = holders.get(r.symbol) ?? [];
    list.push({ orderId: r.order_id, clientOrderId: r.client_order_id, qty: qty === null ? null : normalize(qty) });
    holders.set(r.symbol, list);
  }
  return holders;
}
