import { z } from 'zod';
import { D, isDecimalString, normalize } from '../decimal.js';
import type { Parsed } from '../domain/reports.js';
import { activityKey, OPTION_EVENT_TYPES, type OptionEventKind, type OptionEventReport } from '../domain/option-events.js';
import { activityIdTime, canonicalTime, newYorkDayEnd } from '../time.js';

/**
 * Option exercise and assignment activities → reports (src/domain/option-events.ts), from both
 * sources: a REST activity (`GET /v2/account/activities`, docs "Non-trade activities for option
 * events": `id`, `activity_type`, `symbol`, signed `qty`, `price` (OPTRD: the strike), `date`,
 * `status`) and an activity event (`GET /v2beta1/events/activities`: `ref_id`, `executed_at`, `qty`,
 * `price`, `details.symbol` the underlying and `details.contract_symbol` the contract, changelog
 * 2026-08-24; `asset.symbol` the contract for OPEXC/OPASN). Anything that is not one of these types
 * is null (not ours to read); one that is, malformed, is refused with a reason. Nothing here throws.
 */

const decimal = z.string().refine(isDecimalString, 'not a decimal string').transform((v) => normalize(v));
const nonZero = decimal.refine((v) => !new D(v).isZero(), 'is zero');
const KINDS = new Set<string>(OPTION_EVENT_TYPES);
/** Statuses of a non-trade activity that took effect (Alpaca also has `correct` and `canceled`). */
const EXECUTED = 'executed';

function describe(error: z.ZodError): string {
  return error.issues
    .slice(0, 3)
    .map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`)
    .join('; ');
}

const kindOf = (raw: unknown): OptionEventKind | null => {
  const t = typeof raw === 'object' && raw !== null ? (raw as { activity_type?: unknown }).activity_type : undefined;
  return typeof t === 'string' && KINDS.has(t) ? (t as OptionEventKind) : null;
};

const restSchema = z.object({
  id: z.string().min(1),
  symbol: z.string().min(1),
  qty: nonZero,
  price: decimal.nullable().optional(),
  transaction_time: z.union([z.string(), z.date()]).nullable().optional(),
  // A Date once the SDK has mapped the page (`YYYY-MM-DD` read as UTC midnight).
  date: z.union([z.string(), z.date()]).nullable().optional(),
  status: z.string().nullable().optional(),
});

/** A REST option activity (OPEXC, OPASN, OPTRD) as a report; null for any other activity type. */
export function parseOptionActivity(raw: unknown): Parsed<OptionEventReport> | null {
  const kind = kindOf(raw);
  if (kind === null) return null;
  const r = restSchema.safeParse(raw);
  if (!r.success) return { ok: false, reason: `${kind} activity: ${describe(r.error)}` };
  const a = r.data;
  if (a.status != null && a.status !== EXECUTED) return { ok: false, reason: `${kind} activity ${a.id}: status ${a.status}` };
  const day = a.date instanceof Date ? a.date.toISOString().slice(0, 10) : a.date?.slice(0, 10);
  const tx = a.transaction_time instanceof Date ? a.transaction_time.toISOString() : a.transaction_time;
  const at = (tx ? canonicalTime(tx) : null) ?? activityIdTime(a.id) ?? (day ? newYorkDayEnd(day) : null);
  if (at === null) return { ok: false, reason: `${kind} activity ${a.id}: no time (transaction_time, id or date)` };
  const price = priceOf(kind, a.price ?? null);
  if (price === null) return { ok: false, reason: `${kind} activity ${a.id}: no price` };
  return {
    ok: true,
    value: { kind, key: activityKey(a.id), symbol: a.symbol, qty: a.qty, price, at, source: 'activity', sourceId: a.id, contractSymbol: null },
  };
}

const eventSchema = z.object({
  event_id: z.string().min(1),
  ref_id: z.string().min(1),
  qty: nonZero,
  price: decimal.nullable().optional(),
  executed_at: z.string().min(1),
  status: z.string().nullable().optional(),
  details: z.object({ symbol: z.string().min(1).optional(), contract_symbol: z.string().min(1).optional() }).passthrough().nullable().optional(),
  asset: z.object({ symbol: z.string().min(1) }).passthrough().nullable().optional(),
});

/** An activity event of an option exercise or assignment as a report; null for any other event. */
export function parseOptionActivityEvent(raw: unknown): Parsed<OptionEventReport> | null {
  const kind = kindOf(raw);
  if (kind === null) return null;
  const r = eventSchema.safeParse(raw);
  if (!r.success) return { ok: false, reason: `${kind} event: ${describe(r.error)}` };
  const e = r.data;
  if (e.status != null && e.status !== EXECUTED) return { ok: false, reason: `${kind} event ${e.event_id}: status ${e.status}` };
  const at = canonicalTime(e.executed_at);
  if (at === null) return { ok: false, reason: `${kind} event ${e.event_id}: executed_at is not a time` };
  const contract = e.details?.contract_symbol ?? null;
  // The shares trade in the underlying; the contracts leave the contract's position.
  const symbol = kind === 'OPTRD' ? (e.details?.symbol ?? null) : (contract ?? e.asset?.symbol ?? null);
  if (symbol === null) return { ok: false, reason: `${kind} event ${e.event_id}: no symbol` };
  const price = priceOf(kind, e.price ?? null);
  if (price === null) return { ok: false, reason: `${kind} event ${e.event_id}: no price` };
  return {
    ok: true,
    value: { kind, key: activityKey(e.ref_id), symbol, qty: e.qty, price, at, source: 'event', sourceId: e.event_id, contractSymbol: kind === 'OPTRD' ? contract : null },
  };
}

/** OPTRD trades at the strike (its price is required); the contracts leave at no cash. */
function priceOf(kind: OptionEventKind, price: string | null): string | null {
  if (kind !== 'OPTRD') return '0';
  return price !== null && new D(price).gt(0) ? price : null;
}
