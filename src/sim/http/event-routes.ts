/**
 * The activity event stream and its settings:
 * - `GET /v2beta1/events/activities` (APCA auth like every trading route): server-sent events, activity-sse.ts;
 * - `GET|POST /_sim/events {slow_reader_bytes, available}`: unsent bytes past which a reader's messages are
 *   dropped (integer 0..1073741824; default 1 MiB); `available: false` makes the endpoint answer 404
 *   `endpoint not found` (a host without the event stream; default true);
 * - `POST /_sim/events/error`: every open stream ends with `: internal server error` → `{ended: n}`;
 * - `POST /_sim/events/drop {count}`: the next `count` messages to each open stream are dropped, then
 *   reported with the slow-reader comment, as a lagging reader's would be → `{streams: n}`;
 * - `GET|POST /_sim/options {stop_orders}`: option order types (option-rules.ts).
 */
import type Koa from 'koa';
import { parseEventQuery } from '../activity-sse.js';
import { endpointNotFound, invalid } from '../errors.js';
import { isPlainObject } from '../order-request.js';
import { readJson } from './body.js';
import type { Router } from './router.js';
import type { SimServices } from './services.js';

async function objectBody(ctx: Koa.Context): Promise<Record<string, unknown>> {
  const body = (await readJson(ctx)) ?? {};
  if (!isPlainObject(body)) throw invalid('body must be a JSON object');
  return body;
}

export function registerEventRoutes(router: Router, s: SimServices): void {
  router.add('GET', '/v2beta1/events/activities', (ctx) => {
    if (!s.sse.settings.available) throw endpointNotFound();
    const q = parseEventQuery(ctx.query);
    ctx.status = 200; // for the request log; the response is written by activity-sse.ts
    ctx.respond = false;
    s.sse.serve(ctx.res, q);
  });

  const settings = (): Record<string, unknown> => ({ slow_reader_bytes: s.sse.settings.slowReaderBytes, available: s.sse.settings.available, open_streams: s.sse.openStreams });
  router.add('GET', '/_sim/events', (ctx) => {
    ctx.body = settings();
  });
  router.add('POST', '/_sim/events', async (ctx) => {
    const body = await objectBody(ctx);
    for (const [key, value] of Object.entries(body)) {
      if (key === 'available') {
        if (typeof value !== 'boolean') throw invalid('available must be a boolean');
        s.sse.settings.available = value;
        continue;
      }
      if (key !== 'slow_reader_bytes') throw invalid(`unknown events setting: ${key}`);
      if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 1 << 30) {
        throw invalid('slow_reader_bytes must be an integer between 0 and 1073741824');
      }
      s.sse.settings.slowReaderBytes = value;
    }
    ctx.body = settings();
  });
  router.add('POST', '/_sim/events/error', (ctx) => {
    ctx.body = { ended: s.sse.failAll() };
  });
  router.add('POST', '/_sim/events/drop', async (ctx) => {
    const { count } = await objectBody(ctx);
    if (typeof count !== 'number' || !Number.isInteger(count) || count < 1 || count > 100_000) throw invalid('count must be an integer between 1 and 100000');
    ctx.body = { streams: s.sse.dropNext(count) };
  });

  router.add('GET', '/_sim/options', (ctx) => {
    ctx.body = s.engine.options.json();
  });
  router.add('POST', '/_sim/options', async (ctx) => {
    ctx.body = s.engine.options.update(await objectBody(ctx));
  });
}
