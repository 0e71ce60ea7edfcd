import type Router from '@koa/router';
import type { Context } from 'koa';
import { EntryBrokerRefused, EntryConflict, EntryOutcomeUnknown, EntryRefused, type EntryGate } from '../protection/entry-gate.js';
import type { KnownOrder } from '../store/order-rows.js';
import { parseBody } from './body.js';
import { HttpError } from './errors.js';
import { EntryRequestBody } from './schemas.js';

/** An order as the API shows it (the Order schema). */
export function orderView(o: KnownOrder) {
  return { id: o.orderId, client_order_id: o.clientOrderId, symbol: o.symbol, side: o.side, type: o.type, qty: o.qty, status: o.status, filled_qty: o.filledQty };
}

/** Who asked (the token's name, set by the auth middleware), for logs and notifications. */
export function requester(ctx: Context): string {
  return typeof ctx.state.who === 'string' ? ctx.state.who : 'operator';
}

/**
 * POST /entries: an entry through the service, so cooldowns and the pause bite (EntryGate).
 * 201 with the order (`replayed`: the client_order_id was placed before, the same order); 409
 * `cooldown` (with `until`) or `paused`, or `client_order_id_conflict` (with `fields`) for an id placed before
 * with another symbol, side, qty, notional or type; 422 `broker_refused` (Alpaca's status and message, and the
 * refusal's kind); 502 `broker_unavailable`: it may have landed, send it again with the same
 * client_order_id.
 */
export function entryRoutes(router: Router, gate: EntryGate): void {
  router.post('/entries', async (ctx) => {
    const b = await parseBody(ctx, EntryRequestBody);
    try {
      const { order, replayed } = await gate.submit({
        symbol: b.symbol,
        side: b.side,
        qty: b.qty,
        notional: b.notional,
        type: b.type,
        limitPrice: b.limit_price,
        stopPrice: b.stop_price,
        timeInForce: b.time_in_force,
        clientOrderId: b.client_order_id,
      });
      ctx.status = 201;
      ctx.body = { ...orderView(order), replayed };
    } catch (err) {
      if (err instanceof EntryConflict) throw new HttpError(409, 'client_order_id_conflict', err.message, { client_order_id: err.clientOrderId, fields: err.fields });
      if (err instanceof EntryRefused) throw new HttpError(409, err.reason, err.message, err.reason === 'cooldown' ? { until: err.until, symbol: err.symbol } : { symbol: err.symbol });
      if (err instanceof EntryBrokerRefused) throw new HttpError(422, 'broker_refused', err.message, { broker_status: err.status, kind: err.kind });
      if (err instanceof EntryOutcomeUnknown) throw new HttpError(502, 'broker_unavailable', err.message, { client_order_id: err.clientOrderId });
      throw err;
    }
  });
}
