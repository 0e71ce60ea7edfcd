/**
 * Read-only views of the broker's side for checkers (no auth, never faulted, not counted in stats):
 * `GET /_sim/book`, one consistent snapshot of positions and open orders (cheap enough to poll
 * every 250 ms), `GET /_sim/requests`, the request log (request-log.ts), and `GET /_sim/executions`,
 * every execution as it was made (its original id and terms; busts and corrections are the events of
 * executions.ts), for a checker that busts or corrects one.
 */
import { fmt } from '../decimal.js';
import { invalid } from '../errors.js';
import { qs } from '../query-params.js';
import type { Router } from './router.js';
import type { SimServices } from './services.js';

const MAX_PAGE = 10_000;

export function registerBrokerViewRoutes(router: Router, s: SimServices): void {
  const { engine } = s;

  router.add('GET', '/_sim/book', (ctx) => {
    ctx.body = {
      at: Date.now(),
      session_open: engine.session.isOpen,
      positions: engine.portfolio.all().map((h) => ({
        symbol: h.asset.symbol,
        asset_class: h.asset.assetClass,
        qty: fmt(h.qty),
        min_order_size: h.asset.minOrderSize,
        min_trade_increment: h.asset.minTradeIncrement,
      })),
      open_orders: engine.openOrders().map((o) => ({
        id: o.id,
        client_order_id: o.clientOrderId,
        symbol: o.asset.symbol,
        asset_class: o.asset.assetClass,
        side: o.side,
        type: o.type,
        time_in_force: o.timeInForce,
        qty: o.qty === null ? null : fmt(o.qty),
        notional: o.notional === null ? null : fmt(o.notional),
        filled_qty: fmt(o.filledQty),
        limit_price: o.limitPrice === null ? null : fmt(o.limitPrice),
        status: o.status,
        origin: o.origin,
      })),
    };
  });

  router.add('GET', '/_sim/executions', (ctx) => {
    ctx.body = engine.fills.map((f) => ({
      execution_id: f.executionId,
      order_id: f.orderId,
      symbol: f.symbol,
      asset_class: engine.getOrder(f.orderId)?.asset.assetClass ?? null,
      side: f.side,
      qty: fmt(f.qty),
      price: fmt(f.price),
      cum_qty: fmt(f.cumQty),
      micros: f.micros,
    }));
  });

  router.add('GET', '/_sim/requests', (ctx) => {
    const after = Number(qs(ctx.query, 'after') ?? '0');
    const limit = Number(qs(ctx.query, 'limit') ?? String(MAX_PAGE));
    if (!Number.isInteger(after) || after < 0) throw invalid('after must be a non-negative integer');
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE) throw invalid(`limit must be an integer from 1 to ${MAX_PAGE}`);
    ctx.body = s.requests.read(after, limit, qs(ctx.query, 'source'));
  });
}
