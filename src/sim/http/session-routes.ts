/**
 * The market session clock, calendar and order-lifecycle controls:
 * - `GET /v2/clock`: Alpaca's clock (clock.json / clock-closed.json) from the simulated session.
 * - `GET /v2/calendar?start=&end=&date_type=`: trading days (calendar.json) from the NYSE calendar
 *   (calendar.ts); `start`/`end` RFC 3339 or `YYYY-MM-DD` (their date as written), inclusive,
 *   defaulting to 1970-01-01 and 2029-12-31 (spec: "market days from 1970 to 2029").
 * - `GET /_sim/clock`, `POST /_sim/clock {"is_open"?, "now"?, "next_open"?, "next_close"?}`: read or
 *   move the session (session.ts, session-control.ts); answers the clock plus `session`, `timed` and
 *   (POST) the ids of the orders that expired.
 * - `POST /_sim/replace-race {order_id}`: the next PATCH of that order loses the race with a fill.
 */
import { calendarRange } from '../calendar.js';
import { invalid, notFound } from '../errors.js';
import { isUuid } from '../ids.js';
import { isPlainObject } from '../order-request.js';
import { type Query, qEnum, qs } from '../query-params.js';
import { applyClockRequest } from '../session-control.js';
import { readJson } from './body.js';
import type { Router } from './router.js';
import type { SimServices } from './services.js';

const CALENDAR_DATE = /^(\d{4}-\d{2}-\d{2})(?:$|[Tt ])/;

function calendarDate(query: Query, name: string, fallback: string): string {
  const raw = qs(query, name);
  if (raw === undefined) return fallback;
  const m = CALENDAR_DATE.exec(raw.trim());
  if (!m?.[1] || Number.isNaN(Date.parse(m[1]))) throw invalid(`invalid ${name}: ${raw}`);
  return m[1];
}

export function registerSessionRoutes(router: Router, s: SimServices): void {
  const { engine } = s;
  const simClock = () => ({ ...engine.session.clockJson(engine.nowMicros()), session: engine.session.now, timed: engine.session.timed });

  router.add('GET', '/v2/clock', (ctx) => {
    ctx.body = engine.session.clockJson(engine.nowMicros());
  });

  router.add('GET', '/v2/calendar', (ctx) => {
    const query = ctx.query as Query;
    const start = calendarDate(query, 'start', '1970-01-01');
    const end = calendarDate(query, 'end', '2029-12-31');
    ctx.body = calendarRange(start, end, qEnum(query, 'date_type', ['TRADING', 'SETTLEMENT'] as const) ?? 'TRADING');
  });

  router.add('GET', '/_sim/clock', (ctx) => {
    ctx.body = simClock();
  });

  router.add('POST', '/_sim/clock', async (ctx) => {
    const update = applyClockRequest(engine, (await readJson(ctx)) ?? {});
    ctx.body = { ...simClock(), expired_order_ids: update.expired };
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
