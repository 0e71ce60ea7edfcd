/**
 * GET /v2/account/activities[/{type}]: FILL activities (the only kind the simulator
 * produces) with direction (default desc), page_size (1..100, default 100),
 * page_token (items strictly after that id in the chosen direction), after/until
 * (exclusive) and date (New York calendar date).
 */
import { nyDate, rfc3339 } from './clock.js';
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

/** `types`: the requested activity types (undefined = all). */
export function queryActivities(
  fills: readonly FillRecord[],
  query: Query,
  types: string[] | undefined,
): Record<string, unknown>[] {
  types?.forEach(checkType);
  const direction = qEnum(query, 'direction', ['asc', 'desc'] as const) ?? 'desc';
  const pageSize = qInt(query, 'page_size') ?? 100;
  if (pageSize < 1 || pageSize > 100) throw invalid(`invalid page_size: ${pageSize} (must be between 1 and 100)`);
  const token = qs(query, 'page_token');
  const after = qTime(query, 'after');
  const until = qTime(query, 'until');
  const dateRaw = qs(query, 'date');
  const date = dateRaw === undefined ? undefined : dateRaw.slice(0, 10);
  if (date !== undefined && !/^\d{4}-\d{2}-\d{2}$/.test(date)) throw invalid(`invalid date: ${dateRaw}`);
  if (types && !types.includes('FILL')) return [];

  const selected = fills.filter((f) => {
    if (after !== undefined && !(f.micros > after)) return false;
    if (until !== undefined && !(f.micros < until)) return false;
    if (date !== undefined && nyDate(f.micros) !== date) return false;
    if (token !== undefined && !(direction === 'asc' ? f.id > token : f.id < token)) return false;
    return true;
  });
  // Fills are kept in creation order, which is also id order.
  const page = direction === 'asc' ? selected.slice(0, pageSize) : selected.slice(-pageSize).reverse();
  return page.map(activityJson);
}

export function activityTypesParam(query: Query): string[] | undefined {
  return qList(query, 'activity_types')?.map((t) => t.toUpperCase());
}
