import type Router from '@koa/router';
import type { Database } from '../store/database.js';
import { cursorParam, encodeCursor, intParam, symbolParam, timeParam } from './query.js';

/** GET /fills?symbol=&since=&limit=&cursor= — the ledger, newest first, cursor-paginated. */
export function fillRoutes(router: Router, db: Database): void {
  router.get('/fills', (ctx) => {
    const symbol = symbolParam(ctx.query);
    const since = timeParam(ctx.query, 'since');
    const limit = intParam(ctx.query, 'limit', 100, 1, 1000);
    const cursor = cursorParam(ctx.query);
    let q = db.kysely
      .selectFrom('fills')
      .select(['id', 'order_id', 'exec_id', 'cum_qty', 'qty', 'price', 'symbol', 'side', 'filled_at', 'source'])
      .orderBy('id', 'desc')
      .limit(limit + 1);
    if (symbol) q = q.where('symbol', '=', symbol);
    if (since) q = q.where('filled_at', '>=', since);
    if (cursor !== undefined) q = q.where('id', '<', cursor);
    const rows = db.all(q);
    const page = rows.slice(0, limit);
    ctx.body = { fills: page, next_cursor: rows.length > limit ? encodeCursor(page[page.length - 1]!.id) : null };
  });
}
