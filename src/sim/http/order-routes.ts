/**
 * /v2/orders endpoints. Order faults (order-faults.ts) act here: PDT protection refuses a POST,
 * an order picked by reject_after_accept_* is answered `new` and rejected shortly after, and an
 * armed replace race makes the PATCH lose to a fill of the original.
 */
import { SimError, invalid, notFound, orderIdMissing } from '../errors.js';
import { isUuid } from '../ids.js';
import { orderJson } from '../order-json.js';
import { PDT_CODE, PDT_MESSAGE, REJECT_AFTER_ACCEPT_MS } from '../order-faults.js';
import { queryOrders } from '../order-query.js';
import { parseOrderRequest } from '../order-request.js';
import { qs } from '../query-params.js';
import { parseReplaceRequest } from '../replace-request.js';
import { isOpen } from '../engine.js';
import { readRequiredJson } from './body.js';
import type { Router } from './router.js';
import type { SimServices } from './services.js';

function orderIdParam(params: Record<string, string>): string {
  const id = params.order_id ?? '';
  if (!isUuid(id)) throw orderIdMissing();
  return id.toLowerCase();
}

export function registerOrderRoutes(router: Router, s: SimServices): void {
  const { engine } = s;
  const orderFaults = s.faults.orders;

  router.add('POST', '/v2/orders', async (ctx) => {
    const spec = parseOrderRequest(await readRequiredJson(ctx), engine.assets);
    if (orderFaults.pdtRefuses(spec.asset.symbol)) {
      throw new SimError(403, { code: PDT_CODE, message: PDT_MESSAGE });
    }
    if (orderFaults.rejectsAfterAccept(spec.asset.symbol)) {
      // Answered as accepted, never filled, rejected a moment later (status + stream event).
      const placed = engine.place(spec, { autoFill: false });
      const timer = setTimeout(() => {
        if (isOpen(placed.order)) engine.reject(placed.order.id);
      }, REJECT_AFTER_ACCEPT_MS);
      timer.unref();
      ctx.body = placed.accepted;
      return;
    }
    ctx.body = engine.place(spec).accepted;
  });

  router.add('GET', '/v2/orders', (ctx) => {
    ctx.body = queryOrders(engine.orders, ctx.query, engine.assets).map(orderJson);
  });

  router.add('DELETE', '/v2/orders', (ctx) => {
    ctx.status = 207;
    ctx.body = engine.cancelAll();
  });

  router.add('GET', '/v2/orders:by_client_order_id', (ctx) => {
    const coid = qs(ctx.query, 'client_order_id');
    if (coid === undefined) throw invalid('client_order_id is missing');
    const order = engine.getByClientOrderId(coid);
    if (!order) throw notFound();
    ctx.body = orderJson(order);
  });

  router.add('GET', '/v2/orders/{order_id}', (ctx, params) => {
    const order = engine.getOrder(orderIdParam(params));
    if (!order) throw notFound();
    ctx.body = orderJson(order);
  });

  router.add('PATCH', '/v2/orders/{order_id}', async (ctx, params) => {
    const id = orderIdParam(params);
    const patch = parseReplaceRequest(await readRequiredJson(ctx), engine.getOrder(id));
    const order = engine.getOrder(id);
    const race = order !== undefined && isOpen(order) && orderFaults.replaceRaceArmed(id);
    ctx.body = engine.replace(id, patch, { race }).accepted;
    if (race) orderFaults.consumeReplaceRace(id);
  });

  router.add('DELETE', '/v2/orders/{order_id}', (ctx, params) => {
    engine.cancel(orderIdParam(params));
    ctx.status = 204;
  });
}
