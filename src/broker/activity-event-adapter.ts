import { z } from 'zod';
import { D, isDecimalString, normalize } from '../decimal.js';
import type { ExecutionChange, ExecutionReport, Parsed } from '../domain/reports.js';
import { canonicalSymbol } from '../domain/symbols.js';

/**
 * One message of the activity event stream (`GET /v2beta1/events/activities`, SDK 4.0.2
 * `ActivityEventV2` wire keys; the SDK's own mapping drops `details`, so this reads the raw JSON) →
 * a report. A trade fill (`details.execution_type` fill / partial_fill) becomes the execution report
 * every other source makes: identity (order_id, cum_qty) from `details`, the execution id from
 * `ref_id` (SDK: "For trades, the execution_id is used"). A trade bust or correction (`execution_type`
 * `trade_bust` / `trade_correct`) becomes a `change`: the execution it changes (`previous_id`), its
 * own execution id (`ref_id`), a correction's new qty and price as a whole, and the order, symbol and
 * side from `details` where present. Everything else — crypto fees, option events — is `other`: read
 * past, not acted on (the REST activities still bring the fees). Nothing here throws.
 */

export type ActivityEventReport =
  | { kind: 'fill'; eventId: string; execution: ExecutionReport }
  | { kind: 'change'; eventId: string; change: ExecutionChange }
  | { kind: 'other'; eventId: string; activityType: string; executionType: string | null };

const decimal = z.string().refine(isDecimalString, 'not a decimal string').transform((v) => normalize(v));
const positive = decimal.refine((v) => new D(v).greaterThan(0), 'not above 0');
const time = z.string().min(1).refine((v) => !Number.isNaN(Date.parse(v)), 'not a timestamp');

const envelope = z.object({ event_id: z.string().min(1), activity_type: z.string().optional(), details: z.record(z.string(), z.unknown()).nullable().optional() });

const tradeFill = z.object({
  ref_id: z.string().min(1),
  qty: positive,
  price: positive,
  executed_at: time,
  details: z.object({
    order_id: z.string().min(1),
    cum_qty: positive,
    side: z.enum(['buy', 'sell']),
    symbol: z.string().min(1),
    order_status: z.string().nullable().optional(),
  }),
});

const FILL_TYPES = new Set(['fill', 'partial_fill']);

/**
 * A bust or correction (SDK 4.0.2 ActivityEventV2 `previous_id`: "presented if this activity corrects
 * or cancels a previous trade"). A correction must carry its new terms; a bust's qty and price are
 * the busted execution's (kept when given, the ledger's own row is what it takes back).
 */
const tradeChange = z.object({
  ref_id: z.string().min(1),
  previous_id: z.string().min(1),
  qty: positive.nullable().optional(),
  price: positive.nullable().optional(),
  executed_at: time,
  details: z.object({
    order_id: z.string().min(1).nullable().optional(),
    side: z.enum(['buy', 'sell']).nullable().optional(),
    symbol: z.string().min(1).nullable().optional(),
  }),
});

const CHANGE_TYPES: Record<string, ExecutionChange['type']> = { trade_bust: 'bust', trade_correct: 'correct' };

function describe(error: z.ZodError): string {
  return error.issues
    .slice(0, 3)
    .map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`)
    .join('; ');
}

/** The event id of a message, when it has one (a malformed event is still read past). */
export function eventIdOf(raw: unknown): string | null {
  const r = envelope.pick({ event_id: true }).safeParse(raw);
  return r.success ? r.data.event_id : null;
}

export function parseActivityEvent(raw: unknown): Parsed<ActivityEventReport> {
  const e = envelope.safeParse(raw);
  if (!e.success) return { ok: false, reason: `activity event: ${describe(e.error)}` };
  const { event_id: eventId, activity_type: activityType = 'unknown', details } = e.data;
  const executionType = typeof details?.execution_type === 'string' ? details.execution_type : null;
  if (executionType !== null && CHANGE_TYPES[executionType] !== undefined) return parseChange(raw, eventId, CHANGE_TYPES[executionType]);
  if (executionType === null || !FILL_TYPES.has(executionType)) return { ok: true, value: { kind: 'other', eventId, activityType, executionType } };
  const t = tradeFill.safeParse(raw);
  if (!t.success) return { ok: false, reason: `activity event ${eventId} (${executionType}): ${describe(t.error)}` };
  const f = t.data;
  if (new D(f.qty).greaterThan(f.details.cum_qty)) return { ok: false, reason: `activity event ${eventId}: qty above details.cum_qty` };
  const executedAt = new Date(Date.parse(f.executed_at)).toISOString();
  return {
    ok: true,
    value: {
      kind: 'fill',
      eventId,
      execution: {
        orderId: f.details.order_id,
        symbol: canonicalSymbol(f.details.symbol),
        side: f.details.side,
        source: 'event',
        cumQty: f.details.cum_qty,
        qty: f.qty,
        price: f.price,
        avgPrice: null,
        execId: eventId,
        executionId: f.ref_id,
        orderStatus: f.details.order_status ?? null,
        // The broker's own UTC text when it is one (it may carry more than milliseconds).
        at: f.executed_at.endsWith('Z') ? f.executed_at : executedAt,
      },
    },
  };
}

function parseChange(raw: unknown, eventId: string, type: ExecutionChange['type']): Parsed<ActivityEventReport> {
  const t = tradeChange.safeParse(raw);
  if (!t.success) return { ok: false, reason: `activity event ${eventId} (trade_${type === 'bust' ? 'bust' : 'correct'}): ${describe(t.error)}` };
  const c = t.data;
  const qty = c.qty ?? null;
  const price = c.price ?? null;
  if (type === 'correct' && (qty === null || price === null)) return { ok: false, reason: `activity event ${eventId} (trade_correct): no qty or price` };
  if (c.previous_id === c.ref_id) return { ok: false, reason: `activity event ${eventId}: previous_id is its own ref_id` };
  const at = c.executed_at.endsWith('Z') ? c.executed_at : new Date(Date.parse(c.executed_at)).toISOString();
  return {
    ok: true,
    value: {
      kind: 'change',
      eventId,
      change: {
        type,
        refId: c.ref_id,
        previousId: c.previous_id,
        qty,
        price,
        orderId: c.details.order_id ?? null,
        symbol: c.details.symbol ? canonicalSymbol(c.details.symbol) : null,
        side: c.details.side ?? null,
        at,
      },
    },
  };
}
