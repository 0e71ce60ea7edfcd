/**
 * GET /v2/account/activities[/{type}]: FILL activities and the CFEE activities of crypto buys, with
 * direction (default desc), page_size (1..100, default 100), page_token (items strictly after that id
 * in the chosen direction), after/until (exclusive) and date (New York calendar date). A FILL is
 * filtered by its transaction time, a CFEE by when it was posted (not its id's midnight, not its
 * `date`). Activities published late (activity-book.ts) are left out until they are due. `order_id`
 * (Alpaca changelog 2026-07-29; alpaca-rules.md "Streams and activities") keeps the activities of
 * that order only: its FILLs (no other type names an order); with the other filters, paging and
 * direction as usual.
 */
import type { ActivityBook } from './activity-book.js';
import { nyDate, rfc3339 } from './clock.js';
import { cfeeActivityJson } from './crypto-fees.js';
import { fmt } from './decimal.js';
import { invalid } from './errors.js';
import { type Query, qEnum, qInt, qList, qTime, qs } from './query-params.js';
import type { FillRecord } from './types.js';

export const ACTIVITY_TYPES: readonly string[] = [
  'FILL', 'TRANS', 'MISC', 'ACATC', 'ACATS', 'CFEE', 'CGD', 'CSD', 'CSW', 'DIV', 'DIVCGL', 'DIVCGS',
  'DIVFEE', 'DIVFT', 'DIVNRA', 'DIVROC', 'DIVTW', 'DIVTXEX', 'FEE', 'INT', 'INTNRA', 'INTTW', 'JNL',
  'JNLC', 'JNLS', 'MA', 'NC', 'OPASN', 'OPCA', 'OPCSH', 'OPEXC', 'OPEXP', 'OPTRD', 'PTC', 'PTR',
  'REORG', 'SPIN', 'SPLIT', 'FOPT',
];

export function activityJson(f: FillRecord): Record<string, unknown> {
  return {
    activity_type: 'FILL',
    cum_qty: fmt(f.cumQty),
    id: f.id,
    leaves_qty: fmt(f.leavesQty),
    order_id: f.orderId,
    order_status: f.orderStatus,
    price: fmt(f.price),
    qty: fmt(f.qty),
    side: f.side,
    symbol: f.symbol,
    transaction_time: rfc3339(f.micros),
    type: f.type,
  };
}

function checkType(t: string): void {
  if (!ACTIVITY_TYPES.includes(t)) throw invalid(`invalid activity_type: ${t}`);
}

interface Item {
  id: string;
  micros: number;
  json: () => Record<string, unknown>;
}

/** Every activity of the requested types (undefined = all), in id order. */
function items(fills: readonly FillRecord[], book: ActivityBook | undefined, types: string[] | undefined): Item[] {
  const want = (t: string): boolean => types === undefined || types.includes(t);
  const out: Item[] = [];
  if (want('FILL')) for (const f of fills) out.push({ id: f.id, micros: f.micros, json: () => activityJson(f) });
  // A non-trade activity is filtered by its creation (posting) time (spec `date`: "by their creation date").
  if (want('CFEE') && book) for (const c of book.fees) out.push({ id: c.id, micros: c.createdMicros, json: () => cfeeActivityJson(c) });
  // Option exercises and assignments (option-events.ts); MISC is the docs' group of the rarer types.
  const options = book?.optionActivities.filter((a) => want(a.activityType) || want('MISC')) ?? [];
  for (const a of options) out.push({ id: a.id, micros: a.micros, json: () => a.json });
  // Each list is in id order already; only a merge needs sorting.
  const lists = [want('FILL') && fills.length > 0, want('CFEE') && (book?.fees.length ?? 0) > 0, options.length > 0].filter(Boolean).length;
  if (lists > 1) out.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return out;
}

/** `types`: the requested activity types (undefined = all). */
export function queryActivities(
  fills: readonly FillRecord[],
  query: Query,
  types: string[] | undefined,
  book?: ActivityBook,
): Record<string, unknown>[] {
  types?.forEach(checkType);
  const direction = qEnum(query, 'direction', ['asc', 'desc'] as const) ?? 'desc';
  const pageSize = qInt(query, 'page_size') ?? 100;
  if (pageSize < 1 || pageSize > 100) throw invalid(`invalid page_size: ${pageSize} (must be between 1 and 100)`);
  const token = qs(query, 'page_token');
  const after = qTime(query, 'after');
  const until = qTime(query, 'until');
  const orderId = qs(query, 'order_id');
  const dateRaw = qs(query, 'date');
  const date = dateRaw === undefined ? undefined : dateRaw.slice(0, 10);
  if (date !== undefined && !/^\d{4}-\d{2}-\d{2}$/.test(date)) throw invalid(`invalid date: ${dateRaw}`);

  // Only a FILL names an order: with order_id, the others are left out before anything is built.
  const source = orderId === undefined ? items(fills, book, types) : items(fills.filter((f) => f.orderId === orderId), book, types?.filter((t) => t === 'FILL') ?? ['FILL']);
  const selected = source.filter((a) => {
    if (book && !book.isPublished(a.id)) return false;
    if (after !== undefined && !(a.micros > after)) return false;
    if (until !== undefined && !(a.micros < until)) return false;
    if (date !== undefined && nyDate(a.micros) !== date) return false;
    if (token !== undefined && !(direction === 'asc' ? a.id > token : a.id < token)) return false;
    return true;
  });
  const page = direction === 'asc' ? selected.slice(0, pageSize) : selected.slice(-pageSize).reverse();
  return page.map((a) => a.json());
}

export function activityTypesParam(query: Query): string[] | undefined {
  return qList(query, 'activity_types')?.map((t) => t.toUpperCase());
}
