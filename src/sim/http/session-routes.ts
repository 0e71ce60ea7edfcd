/**
 * The market session clock and order-lifecycle controls:
 * - `GET /v2/clock`: Alpaca's clock (clock.json / clock-closed.json) from the simulated session.
 * - `GET /_sim/clock`, `POST /_sim/clock {"is_open": bool, "next_open"?, "next_close"?}`: read or
 *   switch the session (session.ts, session-control.ts); the POST answers the clock plus the ids of
 *   the equity day orders that expired at the close.
 * - `POST /_sim/replace-race {order_id}`: the next PATCH of that order loses the race with a fill.
 */
import { invalid, notFound } from '../errors.js';
import { isUuid } from '../ids.js';
import { isPlainObject } from '../order-request.js';
import { applyClockRequest } from '../session-control.js';
import { readJson } from './body.js';
import type { Router } from './router.js';
import type { SimServices } from './services.js';

export function registerSessionRoutes(router: Router, s: SimServices): void {
  const { engine } = s;

  router.add('GET', '/v2/clock', (ctx) => {
    ctx.body = engine.session.clockJson(engine.nowMicros());
  });

  router.add('GET', '/_sim/clock', (ctx) => {
    ctx.body = engine.session.clockJson(engine.nowMicros());
  });

  router.add('POST', '/_sim/clock', async (ctx) => {
    const update = applyClockRequest(engine, (await readJson(ctx)) ?? {});
    ctx.body = { ...engine.session.clockJson(engine.nowMicros()), expired_order_ids: update.expired };
  });

  router.add('POST', '/_sim/replace-race', async (ctx) => {
    const body = (await readJson(ctx)) ?? {};
    if (!isPlainObject(body)) throw invalid('body must be a JSON object');
    const id = body.order_id;
    if (typeof id !== 'string' || id === '') throw invalid('order_id is missing');
    if (!isUuid(id) || !engine.getOrder(id.toLowerCase())) throw notFound();
    s.faults.orders.armReplaceRace(id.toLowerCase());
    ctx.body = { order_id: id.toLowerCase(), replace_race: true };
  });
}
