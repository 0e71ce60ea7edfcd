import { z } from 'zod';
import { isDecimalString, normalize, D } from '../decimal.js';
import type { ExecutionReport, FeeReport, OrderReport, Parsed, TradeUpdateReport } from '../domain/reports.js';
import { canonicalSymbol, pairSymbol } from '../domain/symbols.js';
import { activityIdTime, newYorkDayEnd, canonicalTime } from '../time.js';

/**
 * SDK objects → broker reports. The SDK (4.x) hands back camelCase models that also keep the
 * wire's snake_case keys (its deserialisers spread the raw JSON first), so one wire-format
 * schema serves SDK objects, raw fixtures and raw HTTP bodies alike. Anything that does not fit
 * is refused with a reason; nothing here throws.
 */

const decimal = z.string().refine(isDecimalString, 'not a decimal string').transform((v) => normalize(v));
const nonNegative = decimal.refine((v) => !new D(v).isNegative(), 'negative');
// decimal.js calls zero "positive" (it has a sign): compare instead.
const positive = decimal.refine((v) => new D(v).greaterThan(0), 'not above 0');
const nullableDecimal = decimal.nullable().optional().transform((v) => v ?? null);
const time = z
  .union([z.string().min(1), z.date()])
  .transform((v, ctx) => {
    const ms = v instanceof Date ? v.getTime() : Date.parse(v);
    if (Number.isNaN(ms)) {
      ctx.addIssue({ code: 'custom', message: 'not a timestamp' });
      return z.NEVER;
    }
    // Keep the broker's own UTC text (it may carry nanoseconds); offsets (-04:00) and Dates become
    // ISO UTC, so stored times compare as strings.
    return typeof v === 'string' && v.endsWith('Z') ? v : new Date(ms).toISOString();
  });
const nullableTime = time.nullable().optional().transform((v) => v ?? null);
const nullableString = z.string().nullable().optional().transform((v) => v ?? null);
const side = z.enum(['buy', 'sell']);

const orderSchema = z.object({
  id: z.string().min(1),
  client_order_id: z.string().min(1),
  symbol: z.string().min(1),
  asset_class: z.string().default('us_equity'),
  side,
  type: z.string().min(1),
  time_in_force: nullableString,
  status: z.string().min(1),
  qty: nullableDecimal,
  notional: nullableDecimal,
  filled_qty: nonNegative,
  filled_avg_price: nullableDecimal,
  limit_price: nullableDecimal,
  stop_price: nullableDecimal,
  trail_percent: nullableDecimal,
  trail_price: nullableDecimal,
  replaced_by: nullableString,
  replaces: nullableString,
  submitted_at: nullableTime,
  updated_at: nullableTime,
  filled_at: nullableTime,
  expires_at: nullableTime,
});

const fillActivitySchema = z.object({
  activity_type: z.literal('FILL'),
  id: z.string().min(1),
  order_id: z.string().min(1),
  symbol: z.string().min(1),
  side,
  qty: positive,
  price: positive,
  cum_qty: positive,
  order_status: nullableString,
  transaction_time: time,
});

/**
 * A CFEE activity (test/fixtures/alpaca/activity-cfee.json): the coin a crypto fill paid as its fee.
 * `qty` is negative (the coin taken); `symbol` may be the legacy `ETHUSD`; no transaction time, only
 * a `date` (a Date once the SDK has mapped it) and the id's own time.
 */
const feeActivitySchema = z.object({
  activity_type: z.literal('CFEE'),
  id: z.string().min(1),
  symbol: z.string().min(1),
  qty: decimal.refine((v) => new D(v).lessThan(0), 'not below 0 (a fee takes coin)'),
  price: nullableDecimal,
  status: z.string().nullable().optional(),
  transaction_time: nullableTime,
  date: nullableTime,
});

const tradeUpdateSchema = z.object({
  event: z.string().min(1),
  timestamp: nullableTime,
  execution_id: nullableString,
  price: nullableDecimal,
  qty: nullableDecimal,
  position_qty: nullableDecimal,
});

function describe(error: z.ZodError): string {
  return error.issues
    .slice(0, 3)
    .map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`)
    .join('; ');
}

function record(raw: unknown): raw is Record<string, unknown> {
  return typeof raw === 'object' && raw !== null && !Array.isArray(raw);
}

export function parseOrder(raw: unknown): Parsed<OrderReport> {
  const r = orderSchema.safeParse(raw);
  if (!r.success) return { ok: false, reason: `order: ${describe(r.error)}` };
  const o = r.data;
  if (o.filled_qty !== '0' && o.filled_avg_price === null) {
    return { ok: false, reason: 'order: filled_qty above 0 without filled_avg_price' };
  }
  return {
    ok: true,
    value: {
      orderId: o.id,
      clientOrderId: o.client_order_id,
      symbol: canonicalSymbol(o.symbol, o.asset_class),
      assetClass: o.asset_class,
      side: o.side,
      type: o.type,
      timeInForce: o.time_in_force,
      status: o.status,
      qty: o.qty,
      notional: o.notional,
      filledQty: o.filled_qty,
      filledAvgPrice: o.filled_avg_price,
      limitPrice: o.limit_price,
      stopPrice: o.stop_price,
      trailPercent: o.trail_percent,
      trailPrice: o.trail_price,
      replacedBy: o.replaced_by,
      replaces: o.replaces,
      submittedAt: o.submitted_at,
      updatedAt: o.updated_at,
      filledAt: o.filled_at,
      // One form (ms, Z) so stored deadlines compare as text.
      expiresAt: o.expires_at === null ? null : new Date(Date.parse(o.expires_at)).toISOString(),
    },
  };
}

export function parseFillActivity(raw: unknown): Parsed<ExecutionReport> {
  const r = fillActivitySchema.safeParse(raw);
  if (!r.success) return { ok: false, reason: `fill activity: ${describe(r.error)}` };
  const a = r.data;
  // qty may exceed cum_qty's share of what the ledger has seen (activities-mixed.json has qty 9,
  // cum_qty 10.17…): cum_qty identifies the fill; the ledger infers whatever came before it.
  return {
    ok: true,
    value: {
      orderId: a.order_id,
      symbol: canonicalSymbol(a.symbol),
      side: a.side,
      source: 'activity',
      cumQty: a.cum_qty,
      qty: a.qty,
      price: a.price,
      avgPrice: null,
      execId: a.id,
      // FILL activities carry no execution id (alpaca-rules.md).
      executionId: null,
      orderStatus: a.order_status,
      at: a.transaction_time,
    },
  };
}

const MIDNIGHT_ID = /^\d{8}000000000::/;

/** Statuses of a non-trade activity that took effect (Alpaca also has `correct` and `canceled`). */
const EXECUTED = new Set(['executed']);

/** `now`: when it is read (a fee known only by its day was taken by then). */
export function parseFeeActivity(raw: unknown, now = new Date()): Parsed<FeeReport> {
  const r = feeActivitySchema.safeParse(raw);
  if (!r.success) return { ok: false, reason: `fee activity: ${describe(r.error)}` };
  const a = r.data;
  // A fee that was canceled or corrected took no coin we can account for: refused, loudly.
  if (a.status != null && !EXECUTED.has(a.status)) return { ok: false, reason: `fee activity: status ${a.status}` };
  // The id's time is New York's to the millisecond; an id stamped at midnight tells only the day.
  const midnight = MIDNIGHT_ID.test(a.id);
  const idTime = midnight ? null : activityIdTime(a.id);
  const exact = a.transaction_time ?? idTime;
  // Known only by its day: the latest it can have been taken, now (it is posted, so taken) or that
  // New York day's end, whichever is sooner: after the fill it came from (at the day's start it would
  // come before it, and FIFO or a walk in time order would find no coin to take), and before the
  // fills that came after it was read.
  const day = midnight ? `${a.id.slice(0, 4)}-${a.id.slice(4, 6)}-${a.id.slice(6, 8)}` : (a.date?.slice(0, 10) ?? null);
  const dayEnd = day === null ? null : newYorkDayEnd(day);
  const nowText = canonicalTime(now.toISOString());
  const at = exact ?? (dayEnd !== null && nowText !== null && nowText < dayEnd ? nowText : dayEnd);
  if (at === null) return { ok: false, reason: 'fee activity: no time (transaction_time, id or date)' };
  return {
    ok: true,
    value: {
      activityId: a.id,
      // CFEE is crypto only: the legacy `BTCUSD` is the pair `BTC/USD`.
      symbol: pairSymbol(a.symbol, 'crypto'),
      qty: normalize(new D(a.qty).negated()),
      price: a.price,
      at: canonicalTime(at) ?? at,
      timed: exact !== null,
    },
  };
}

/** One item of an activities page the reconciler reads: a fill, or a crypto fee. */
export type ActivityReport = { type: 'fill'; fill: ExecutionReport } | { type: 'fee'; fee: FeeReport };

/** A FILL or CFEE activity; anything else (or either, malformed) is refused with a reason. */
export function parseActivity(raw: unknown, now = new Date()): Parsed<ActivityReport> {
  const type = record(raw) ? raw.activity_type : undefined;
  if (type === 'CFEE') {
    const fee = parseFeeActivity(raw, now);
    return fee.ok ? { ok: true, value: { type: 'fee', fee: fee.value } } : fee;
  }
  if (type !== 'FILL') return { ok: false, reason: `activity: unexpected activity_type ${typeof type === 'string' ? type : typeof type}` };
  const fill = parseFillActivity(raw);
  return fill.ok ? { ok: true, value: { type: 'fill', fill: fill.value } } : fill;
}

const FILL_EVENTS = new Set(['fill', 'partial_fill']);

/** A trade update, as the SDK's TradingStream emits it or as the wire `data` object. */
export function parseTradeUpdate(raw: unknown): Parsed<TradeUpdateReport> {
  if (!record(raw)) return { ok: false, reason: 'trade update: not an object' };
  const r = tradeUpdateSchema.safeParse(raw);
  if (!r.success) return { ok: false, reason: `trade update: ${describe(r.error)}` };
  const order = parseOrder(raw.order);
  if (!order.ok) return { ok: false, reason: `trade update ${r.data.event}: ${order.reason}` };
  const u = r.data;
  const at = u.timestamp ?? order.value.updatedAt ?? new Date().toISOString();
  let execution: ExecutionReport | null = null;
  if (FILL_EVENTS.has(u.event)) {
    if (order.value.filledQty === '0') return { ok: false, reason: `trade update ${u.event}: order filled_qty is 0` };
    if (u.qty !== null && !new D(u.qty).greaterThan(0)) return { ok: false, reason: `trade update ${u.event}: qty not positive` };
    execution = {
      orderId: order.value.orderId,
      symbol: order.value.symbol,
      side: order.value.side,
      source: 'stream',
      cumQty: order.value.filledQty,
      qty: u.qty,
      price: u.price,
      avgPrice: order.value.filledAvgPrice,
      execId: u.execution_id,
      executionId: u.execution_id,
      orderStatus: order.value.status,
      at,
    };
  }
  return { ok: true, value: { event: u.event, at, order: order.value, execution, positionQty: u.position_qty } };
}
