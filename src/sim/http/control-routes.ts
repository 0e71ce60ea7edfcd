/** /_sim/* control endpoints (no auth, never faulted, not counted in stats). */
import type Koa from 'koa';
import { Dec, ZERO, fmt, isAbsent, parsePositiveDecimal } from '../decimal.js';
import { remainingQty } from '../engine.js';
import { invalid, notFound, unprocessable } from '../errors.js';
import { isUuid } from '../ids.js';
import { orderJson } from '../order-json.js';
import { decimalField, isPlainObject, parseOrderRequest } from '../order-request.js';
import { ORDER_EVENTS, type SimOrder } from '../types.js';
import { readJson } from './body.js';
import type { Router } from './router.js';
import type { SimServices } from './services.js';

async function objectBody(ctx: Koa.Context): Promise<Record<string, unknown>> {
  const body = (await readJson(ctx)) ?? {};
  if (!isPlainObject(body)) throw invalid('body must be a JSON object');
  return body;
}

const FILL_MODES = ['full', 'partial', 'none'] as const;
type FillMode = (typeof FILL_MODES)[number];

/** Default partial fill: half, in whole shares for whole-share equity orders. */
function halfOf(order: SimOrder, remaining: Dec): Dec {
  if (order.asset.assetClass === 'us_equity' && remaining.isInteger() && remaining.gte(2)) {
    return remaining.div(2).floor();
  }
  return remaining.div(2).toDecimalPlaces(9, Dec.ROUND_DOWN);
}

export function registerControlRoutes(router: Router, s: SimServices): void {
  const { engine } = s;

  const requireOrderId = (body: Record<string, unknown>): string => {
    const id = body.order_id;
    if (typeof id !== 'string' || id === '') throw invalid('order_id is missing');
    if (!isUuid(id) || !engine.getOrder(id.toLowerCase())) throw notFound();
    return id.toLowerCase();
  };

  router.add('GET', '/_sim/stats', (ctx) => {
    ctx.body = { requests: s.stats.snapshot(), orders: engine.orders.length, fills: engine.fills.length };
  });

  router.add('GET', '/_sim/state', (ctx) => {
    const prices: Record<string, string> = {};
    for (const sym of engine.prices.symbols().sort()) {
      const asset = engine.assets.resolve(sym);
      if (asset) prices[sym] = fmt(engine.prices.get(asset));
    }
    ctx.body = {
      cash: fmt(engine.portfolio.cash),
      prices,
      positions: engine.portfolio.all().map((h) => ({
        symbol: h.asset.symbol,
        qty: fmt(h.qty),
        avg_entry_price: fmt(h.avgEntry),
      })),
      open_orders: engine.openOrders().length,
    };
  });

  router.add('POST', '/_sim/trade', async (ctx) => {
    const body = await objectBody(ctx);
    const type = typeof body.type === 'string' ? body.type : 'market';
    const symbol = typeof body.symbol === 'string' ? body.symbol : '';
    const crypto = engine.assets.resolve(symbol)?.assetClass === 'crypto';
    const tif = isAbsent(body.time_in_force) ? (crypto ? 'gtc' : 'day') : body.time_in_force;
    const spec = parseOrderRequest({ ...body, type, time_in_force: tif }, engine.assets);
    const modeRaw = body.fill;
    let mode: FillMode | undefined;
    if (!isAbsent(modeRaw)) {
      mode = FILL_MODES.find((m) => m === modeRaw);
      if (!mode) throw invalid('fill must be one of full, partial, none');
    } else if (spec.type === 'market') {
      mode = 'full';
    }
    const fillQty = decimalField(body, 'fill_qty');
    const { order } = engine.place(spec, {
      origin: 'outside',
      autoFill: mode === undefined || mode === 'full',
      // Not an Alpaca behaviour: a position change past shares other orders hold (equity-rules.ts).
      ignoreHeld: body.ignore_held === true,
    });
    if (mode === 'full' && (order.status === 'new' || order.status === 'partially_filled')) {
      engine.forceFill(order.id);
    } else if (mode === 'partial') {
      const remaining = remainingQty(order, engine.prices.get(order.asset));
      const q = fillQty ?? halfOf(order, remaining);
      if (q.lte(ZERO) || q.gte(remaining)) {
        engine.cancel(order.id);
        throw unprocessable(`fill_qty must be above 0 and below the order qty ${fmt(remaining)} (order canceled)`);
      }
      engine.forceFill(order.id, q);
    }
    ctx.body = orderJson(order);
  });

  router.add('POST', '/_sim/fill', async (ctx) => {
    const body = await objectBody(ctx);
    const id = requireOrderId(body);
    const qty = decimalField(body, 'qty');
    ctx.body = orderJson(engine.forceFill(id, qty ?? undefined));
  });

  router.add('POST', '/_sim/expire', async (ctx) => {
    ctx.body = orderJson(engine.expire(requireOrderId(await objectBody(ctx))));
  });

  router.add('POST', '/_sim/reject', async (ctx) => {
    ctx.body = orderJson(engine.reject(requireOrderId(await objectBody(ctx))));
  });

  // done_for_day / stopped: not final at Alpaca; the order stays open for /_sim/fill.
  router.add('POST', '/_sim/order-event', async (ctx) => {
    const body = await objectBody(ctx);
    const id = requireOrderId(body);
    const event = ORDER_EVENTS.find((e) => e === body.event);
    if (!event) throw invalid(`event must be one of ${ORDER_EVENTS.join(', ')}`);
    ctx.body = orderJson(engine.markEvent(id, event));
  });

  router.add('POST', '/_sim/price', async (ctx) => {
    const body = await objectBody(ctx);
    const asset = typeof body.symbol === 'string' ? engine.assets.resolve(body.symbol) : null;
    if (!asset) throw unprocessable('invalid symbol');
    const parsed = parsePositiveDecimal(body.price);
    if (!parsed.ok) throw invalid('price must be a positive decimal with at most 9 decimal places');
    engine.setPrice(asset, parsed.value);
    ctx.body = { symbol: asset.symbol, price: fmt(parsed.value) };
  });

  // A thin market: nobody trades against the symbol's orders (they rest; /_sim/fill still fills them).
  router.add('POST', '/_sim/liquidity', async (ctx) => {
    const body = await objectBody(ctx);
    const asset = typeof body.symbol === 'string' ? engine.assets.resolve(body.symbol) : null;
    if (!asset) throw unprocessable('invalid symbol');
    if (typeof body.liquid !== 'boolean') throw invalid('liquid must be true or false');
    engine.setLiquidity(asset, body.liquid);
    ctx.body = { symbol: asset.symbol, liquid: body.liquid };
  });

  router.add('GET', '/_sim/faults', (ctx) => {
    ctx.body = s.faults.config;
  });
  router.add('POST', '/_sim/faults', async (ctx) => {
    ctx.body = s.faults.update(await objectBody(ctx));
  });
  router.add('DELETE', '/_sim/faults', (ctx) => {
    ctx.body = s.faults.reset();
  });

  // Pause or resume the outside trader (tests stop the traffic before comparing with the ledger);
  // optional: `interval_ms` (10..3600000) its tick interval (a test runs a demo's minutes in seconds),
  // `careless` (outside-trader.ts) whether its resting orders may cross a bot's stops or hold their shares.
  router.add('POST', '/_sim/outside-trader', async (ctx) => {
    const body = await objectBody(ctx);
    if (typeof body.running !== 'boolean') throw invalid('running must be true or false');
    const ms = body.interval_ms;
    if (ms !== undefined && (typeof ms !== 'number' || !Number.isInteger(ms) || ms < 10 || ms > 3_600_000)) {
      throw invalid('interval_ms must be an integer between 10 and 3600000');
    }
    if (body.careless !== undefined && typeof body.careless !== 'boolean') throw invalid('careless must be true or false');
    const trader = s.outsideTrader;
    if (!trader) throw unprocessable('the simulator was started without the outside trader');
    if (ms !== undefined) trader.setIntervalMs(ms);
    if (body.careless !== undefined) trader.careful = !body.careless;
    if (body.running) trader.start();
    else trader.stop();
    ctx.body = { running: body.running, interval_ms: trader.intervalMs, careful: trader.careful };
  });

  router.add('POST', '/_sim/stream/drop', (ctx) => {
    s.stream?.dropAll();
    ctx.body = { dropped: true };
  });
}
