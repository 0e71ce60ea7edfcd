/**
 * GET /v2/orders: status (open|closed|all, default open), limit (default 50, max 500),
 * after/until (submission time, exclusive), direction (default desc), symbols, side,
 * asset_class, and the before_order_id/after_order_id cursors. With a cursor, the
 * `limit` orders nearest to it are returned, so paging works in either direction.
 */
import type { AssetCatalog } from './assets.js';
import { isOpen } from './engine.js';
import { invalid } from './errors.js';
import { isUuid } from './ids.js';
import { type Query, qBool, qEnum, qInt, qList, qTime, qs } from './query-params.js';
import type { SimOrder } from './types.js';

export const MAX_ORDERS_LIMIT = 500;

export function queryOrders(orders: readonly SimOrder[], query: Query, assets: AssetCatalog): SimOrder[] {
  const status = qEnum(query, 'status', ['open', 'closed', 'all'] as const) ?? 'open';
  const direction = qEnum(query, 'direction', ['asc', 'desc'] as const) ?? 'desc';
  const limitRaw = qInt(query, 'limit') ?? 50;
  if (limitRaw < 1) throw invalid(`invalid limit: ${limitRaw}`);
  const limit = Math.min(limitRaw, MAX_ORDERS_LIMIT);
  const after = qTime(query, 'after');
  const until = qTime(query, 'until');
  qBool(query, 'nested'); // accepted; simple orders have no legs to nest
  const side = qEnum(query, 'side', ['buy', 'sell'] as const);
  const symbols = qList(query, 'symbols')?.map((s) => assets.resolve(s)?.symbol ?? s.toUpperCase());
  const classes = qList(query, 'asset_class');
  const beforeId = qs(query, 'before_order_id');
  const afterId = qs(query, 'after_order_id');
  if (beforeId !== undefined && afterId !== undefined) {
    throw invalid('only one of before_order_id or after_order_id is accepted');
  }
  const cursorId = beforeId ?? afterId;
  let cursorSeq: number | undefined;
  if (cursorId !== undefined) {
    const name = beforeId !== undefined ? 'before_order_id' : 'after_order_id';
    if (!isUuid(cursorId)) throw invalid(`invalid ${name}: ${cursorId}`);
    const cursor = orders.find((o) => o.id === cursorId);
    if (!cursor) throw invalid(`invalid ${name}: order ${cursorId} not found`);
    cursorSeq = cursor.seq;
  }

  const matches = orders.filter((o) => {
    if (status === 'open' && !isOpen(o)) return false;
    if (status === 'closed' && isOpen(o)) return false;
    if (after !== undefined && !(o.submittedAt > after)) return false;
    if (until !== undefined && !(o.submittedAt < until)) return false;
    if (side !== undefined && o.side !== side) return false;
    if (symbols && !symbols.includes(o.asset.symbol)) return false;
    if (classes && !classes.includes('all') && !classes.includes(o.asset.assetClass)) return false;
    if (cursorSeq !== undefined) {
      if (beforeId !== undefined && !(o.seq < cursorSeq)) return false;
      if (afterId !== undefined && !(o.seq > cursorSeq)) return false;
    }
    return true;
  });
  // `orders` is in creation order, which is submission order (the clock is strictly increasing).
  let page: SimOrder[];
  if (afterId !== undefined) page = matches.slice(0, limit);
  else if (beforeId !== undefined) page = matches.slice(-limit);
  else page = direction === 'asc' ? matches.slice(0, limit) : matches.slice(-limit);
  return direction === 'asc' ? page : page.reverse();
}
