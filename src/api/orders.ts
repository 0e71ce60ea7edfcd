import type Router from '@koa/router';
import type { Database } from '../store/database.js';
import { orderHistory, orderRow, type OrderRow } from '../store/order-rows.js';
import { HttpError } from './errors.js';

const STATES = ['pending', 'partiallyFilled', 'placingStop', 'protected', 'exited', 'done', 'canceled', 'rejected', 'expired', 'replaced'] as const;
const UUIDISH = /^[A-Za-z0-9-]{1,64}$/;

function present(row: OrderRow, history?: ReturnType<typeof orderHistory>) {
  return {
    id: row.order_id,
    client_order_id: row.client_order_id,
    symbol: row.symbol,
    side: row.side,
    type: row.type,
    state: row.state,
    filled_qty: row.filled_qty,
    filled_avg_price: row.filled_avg_price,
    role: row.role,
    stop_order_id: row.stop_order_id,
    ...(history ? { history } : {}),
  };
}

/** GET /orders?state= and GET /orders/:id (DESIGN §5), read from the store the actors persist to. */
export function orderRoutes(router: Router, db: Database): void {
  router.get('/orders', (ctx) => {
    const state = ctx.query.state;
    if (state !== undefined && (typeof state !== 'string' || !(STATES as readonly string[]).includes(state))) {
      throw new HttpError(400, 'bad_request', `state must be one of ${STATES.join(', ')}`);
    }
    let q = db.kysely.selectFrom('orders').selectAll().orderBy('created_at', 'desc').limit(1000);
    if (state) q = q.where('state', '=', state);
    const rows = db.all(q);
    ctx.body = { orders: rows.map((r) => present(r)) };
  });

  router.get('/orders/:id', (ctx) => {
    const id = ctx.params.id ?? '';
    if (!UUIDISH.test(id)) throw new HttpError(400, 'bad_request', 'malformed order id');
    const row = orderRow(db, id);
    if (!row) throw new HttpError(404, 'not_found', `no order ${id}`);
    ctx.body = present(row, orderHistory(db, id));
  });
}
