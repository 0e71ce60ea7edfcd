import { errors, type trading } from '@alpacahq/alpaca-trade-api';
import type { BrokerClient } from '../broker/client.js';
import { D, normalize, type Dec } from '../decimal.js';
import { isCrypto, positionPathSymbol } from '../domain/symbols.js';
import { parseOrder } from '../broker/adapter.js';
import type { OrderReport } from '../domain/reports.js';
import { OPEN_ORDERS_PAGE } from '../sync/reconciler.js';

/**
 * The broker as `npm run plan` lets the start see it: every read goes to Alpaca (the client is made
 * read-only as well, so nothing else could leave), and every order change the start would send is
 * kept here instead, and answered as Alpaca would answer it. A stop is accepted, unless what it
 * sells (or buys back) is more than the position has free: other open orders hold shares and coins
 * (`qty_available`), and so do the stops already planned; then it is refused with Alpaca's words
 * ("insufficient qty available for order", 403), and the start's own refusal handling takes over.
 * A crypto order that could trade with an open order of the account on the other side is refused
 * as a potential wash trade (docs "User Protection", "Preventing Wash Trades", which applies it to
 * crypto: both with a limit price, when the buy's limit is at or above the sell's; otherwise always;
 * trailing stops exempt). Nothing else of Alpaca's rules is played.
 */

export interface KeptRequest {
  kind: 'post' | 'patch' | 'delete';
  /** POST: the order as the start builds it. */
  post?: trading.PostOrderRequest;
  /** PATCH: the replace as the start builds it. */
  patch?: trading.PatchOrderRequest;
  /** PATCH and DELETE: the working order it is for. */
  orderId?: string;
  /** What Alpaca would answer: accepted, or refused with its message. */
  outcome: 'accepted' | 'refused';
  message?: string;
  /** Accepted: the order as answered (its id is a placeholder: nothing was sent). */
  answer?: WireOrder;
}

/** An order as Alpaca's wire JSON has it (what src/broker/adapter.ts parseOrder reads). */
export type WireOrder = Record<string, string | null>;

/** Placeholder ids of orders the plan would place: never sent, never looked up at the broker. */
export const PLANNED_ID_PREFIX = 'planned-';

/** The order-changing calls of the SDK's orders API that the start uses, answered here. */
const KEPT = new Set(['postOrder', 'patchOrderByOrderId', 'deleteOrderByOrderID']);
/** Every other call that changes something: refused outright (the start makes none of them). */
const REFUSED = /^(post|patch|delete|put|market|limit|stop|stopLimit|trailingStop|bracket|oco|oto|submit|cancel|replace|close)/;

export interface DryBroker {
  client: BrokerClient;
  /** The order changes the start would have sent, in order. */
  requests: KeptRequest[];
}

export function dryBroker(real: BrokerClient, now: () => Date = () => new Date()): DryBroker {
  const requests: KeptRequest[] = [];
  /** Quantity the planned orders hold, per position symbol (`BTCUSD`, `AAPL`). */
  const held = new Map<string, Dec>();
  /** Planned orders by id and client order id (a later lookup finds them as Alpaca would). */
  const planned = new Map<string, WireOrder>();
  let next = 1;

  const heldOf = (symbol: string) => held.get(positionPathSymbol(symbol)) ?? new D(0);
  const hold = (symbol: string, qty: Dec) => held.set(positionPathSymbol(symbol), heldOf(symbol).plus(qty));

  /** The broker's position and what of it is free (less what planned orders hold); null without one. */
  const position = async (symbol: string): Promise<{ qty: Dec; available: Dec } | null> => {
    try {
      const p = (await real.positions.getOpenPosition({ symbolOrAssetId: positionPathSymbol(symbol) })) as unknown as Record<string, unknown>;
      const qty = new D(String(p.qty ?? '0'));
      const signed = p.side === 'short' && !qty.isNegative() ? qty.negated() : qty;
      const available = new D(String(p.qtyAvailable ?? p.qty_available ?? p.qty ?? '0')).abs();
      return { qty: signed, available: D.max(available.minus(heldOf(symbol)), 0) };
    } catch (err) {
      if (err instanceof errors.NotFoundError) return null;
      throw err;
    }
  };

  /** Alpaca's refusal when an order closing a position asks for more than is free (alpaca-rules.md, held_for_orders). */
  const refuseHeld = (symbol: string, requested: string, available: Dec): never => {
    const message = isCrypto(symbol)
      ? `insufficient balance for ${symbol.split('/')[0]} (requested: ${requested}, available: ${normalize(available)})`
      : `insufficient qty available for order (requested: ${requested}, available: ${normalize(available)})`;
    const body = JSON.stringify({ code: 40310000, message });
    throw new errors.PermissionError(new Response(body, { status: 403 }), 403, 40310000, message);
  };

  /** The account's open orders, read once (the plan's own stops are on the closing side: they never cross each other). */
  let open: Promise<OrderReport[]> | null = null;
  const openOrders = () => {
    open ??= (async () => {
      const out: OrderReport[] = [];
      let after: string | undefined;
      for (;;) {
        const page = await real.orders.getAllOrders({ status: 'open', limit: OPEN_ORDERS_PAGE, direction: 'asc', afterOrderId: after });
        for (const raw of page) {
          const parsed = parseOrder(raw);
          if (parsed.ok) out.push(parsed.value);
        }
        after = (page[page.length - 1] as { id?: string } | undefined)?.id;
        if (page.length < OPEN_ORDERS_PAGE || !after) return out;
      }
    })();
    return open;
  };

  /** Alpaca's wash-trade refusal of a crypto order that could trade with an open order of the account (see above). */
  const refuseWash = async (r: trading.PostOrderRequest, symbol: string, orderSide: string): Promise<void> => {
    if (!isCrypto(symbol) || r.type === 'trailing_stop') return;
    const limit = (type: string | undefined, price: string | null | undefined) => ((type === 'limit' || type === 'stop_limit') && price ? new D(price) : null);
    const mine = limit(String(r.type), r.limitPrice === undefined ? null : String(r.limitPrice));
    for (const o of await openOrders()) {
      if (o.symbol !== symbol || o.side === orderSide || o.type === 'trailing_stop') continue;
      const theirs = limit(o.type, o.limitPrice);
      const crosses = mine === null || theirs === null || (orderSide === 'sell' ? theirs.gte(mine) : mine.gte(theirs));
      if (!crosses) continue;
      const message = 'potential wash trade detected. use complex orders';
      throw new errors.PermissionError(new Response(JSON.stringify({ code: 40310000, message }), { status: 403 }), 403, 40310000, message);
    }
  };

  /** Whether `side` closes the signed position (a sell of a long, a buy of a short). */
  const closes = (pos: Dec, side: string) => (pos.isPositive() && side === 'sell') || (pos.isNegative() && side === 'buy');

  const wire = (o: Partial<WireOrder> & { client_order_id: string; symbol: string; side: string; type: string }): WireOrder => {
    const at = now().toISOString();
    const order: WireOrder = {
      id: `${PLANNED_ID_PREFIX}${next++}`,
      asset_class: isCrypto(o.symbol) ? 'crypto' : 'us_equity',
      time_in_force: 'gtc',
      status: 'new',
      qty: null,
      notional: null,
      filled_qty: '0',
      filled_avg_price: null,
      limit_price: null,
      stop_price: null,
      trail_percent: null,
      trail_price: null,
      replaced_by: null,
      replaces: null,
      submitted_at: at,
      updated_at: at,
      filled_at: null,
      expires_at: null,
      ...o,
    };
    planned.set(order.id!, order);
    planned.set(order.client_order_id!, order);
    return order;
  };

  const post = async ({ postOrderRequest: r }: { postOrderRequest: trading.PostOrderRequest }): Promise<unknown> => {
    const qty = String(r.qty ?? '0');
    const symbol = r.symbol ?? '';
    const orderSide = String(r.side ?? '');
    const kept: KeptRequest = { kind: 'post', post: r, outcome: 'accepted' };
    requests.push(kept);
    try {
      await refuseWash(r, symbol, orderSide);
      const pos = await position(symbol);
      if (pos && closes(pos.qty, orderSide)) {
        if (new D(qty).gt(pos.available)) refuseHeld(symbol, qty, pos.available);
        hold(symbol, new D(qty));
      }
    } catch (err) {
      kept.outcome = 'refused';
      kept.message = (err as Error).message;
      throw err;
    }
    kept.answer = wire({
      client_order_id: r.clientOrderId ?? '',
      symbol,
      side: orderSide,
      type: String(r.type ?? ''),
      time_in_force: r.timeInForce === undefined ? null : String(r.timeInForce),
      qty,
      limit_price: r.limitPrice === undefined ? null : String(r.limitPrice),
      stop_price: r.stopPrice === undefined ? null : String(r.stopPrice),
      trail_percent: r.trailPercent === undefined ? null : String(r.trailPercent),
    });
    return kept.answer;
  };

  /** The working order a replace is for: a planned one, or the broker's (a read). */
  const working = async (orderId: string): Promise<WireOrder> => {
    const mine = planned.get(orderId);
    if (mine) return mine;
    const o = (await real.orders.getOrderByOrderID({ orderId })) as unknown as Record<string, unknown>;
    const text = (v: unknown) => (v === undefined || v === null ? null : v instanceof Date ? v.toISOString() : String(v));
    return {
      id: text(o.id),
      client_order_id: text(o.client_order_id ?? o.clientOrderId),
      symbol: text(o.symbol),
      asset_class: text(o.asset_class ?? o.assetClass),
      side: text(o.side),
      type: text(o.type),
      time_in_force: text(o.time_in_force ?? o.timeInForce),
      qty: text(o.qty),
      filled_qty: text(o.filled_qty ?? o.filledQty) ?? '0',
      limit_price: text(o.limit_price ?? o.limitPrice),
      stop_price: text(o.stop_price ?? o.stopPrice),
      trail_percent: text(o.trail_percent ?? o.trailPercent),
    };
  };

  const patch = async ({ orderId, patchOrderRequest: r }: { orderId: string; patchOrderRequest: trading.PatchOrderRequest }): Promise<unknown> => {
    const kept: KeptRequest = { kind: 'patch', patch: r, orderId, outcome: 'accepted' };
    requests.push(kept);
    let before: WireOrder;
    try {
      before = await working(orderId);
      const qty = r.qty === undefined ? before.qty : String(r.qty);
      const symbol = before.symbol ?? '';
      const growth = new D(qty ?? '0').minus(before.qty ?? '0');
      const pos = await position(symbol);
      if (pos && before.side && closes(pos.qty, before.side) && growth.gt(0)) {
        if (growth.gt(pos.available)) refuseHeld(symbol, qty ?? '0', pos.available.plus(before.qty ?? '0'));
        hold(symbol, growth);
      }
      kept.answer = wire({
        ...before,
        client_order_id: r.clientOrderId ?? before.client_order_id ?? '',
        symbol,
        side: before.side ?? '',
        type: before.type ?? '',
        qty,
        stop_price: r.stopPrice === undefined ? before.stop_price ?? null : String(r.stopPrice),
        limit_price: r.limitPrice === undefined ? before.limit_price ?? null : String(r.limitPrice),
        trail_percent: r.trail === undefined ? before.trail_percent ?? null : String(r.trail),
        replaces: orderId,
        filled_qty: '0',
      });
    } catch (err) {
      kept.outcome = 'refused';
      kept.message = (err as Error).message;
      throw err;
    }
    return kept.answer;
  };

  const remove = async ({ orderId }: { orderId: string }): Promise<void> => {
    requests.push({ kind: 'delete', orderId, outcome: 'accepted' });
    const mine = planned.get(orderId);
    if (mine?.symbol && mine.qty) hold(mine.symbol, new D(mine.qty).negated());
  };

  const ordersApi = (api: BrokerClient['orders']): BrokerClient['orders'] =>
    new Proxy(api, {
      get(target, prop, receiver) {
        if (prop === 'postOrder') return post;
        if (prop === 'patchOrderByOrderId') return patch;
        if (prop === 'deleteOrderByOrderID') return remove;
        if (prop === 'getOrderByOrderID') {
          return (p: { orderId: string }, init?: RequestInit) => planned.get(p.orderId) ?? target.getOrderByOrderID(p, init);
        }
        if (prop === 'getOrderByClientOrderId') {
          return (p: { clientOrderId: string }, init?: RequestInit) => planned.get(p.clientOrderId) ?? target.getOrderByClientOrderId(p, init);
        }
        if (typeof prop === 'string' && !KEPT.has(prop) && REFUSED.test(prop)) {
          return () => Promise.reject(new Error(`plan: ${prop} is not sent (reads only)`));
        }
        const value: unknown = Reflect.get(target, prop, receiver);
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });

  /** Positions as the start would see them once the planned orders rest: what they hold is not available. */
  const positionsApi = (api: BrokerClient['positions']): BrokerClient['positions'] =>
    new Proxy(api, {
      get(target, prop, receiver) {
        if (prop === 'getOpenPosition') {
          return async (p: { symbolOrAssetId: string }, init?: RequestInit) => {
            const raw = (await target.getOpenPosition(p, init)) as unknown as Record<string, unknown>;
            const taken = heldOf(p.symbolOrAssetId);
            if (taken.isZero()) return raw;
            const free = (v: unknown) => (v === undefined || v === null ? v : normalize(D.max(new D(String(v)).abs().minus(taken), 0)));
            return { ...raw, qtyAvailable: free(raw.qtyAvailable ?? raw.qty_available), qty_available: free(raw.qty_available ?? raw.qtyAvailable) };
          };
        }
        if (typeof prop === 'string' && REFUSED.test(prop)) return () => Promise.reject(new Error(`plan: ${prop} is not sent (reads only)`));
        const value: unknown = Reflect.get(target, prop, receiver);
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });

  const client: BrokerClient = {
    ...real,
    orders: ordersApi(real.orders),
    positions: positionsApi(real.positions),
    protection: { ...real.protection, orders: ordersApi(real.protection.orders), positions: positionsApi(real.protection.positions) },
  };
  return { client, requests };
}
