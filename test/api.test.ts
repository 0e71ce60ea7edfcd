import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from '../src/store/database.js';
import { OrderActors } from '../src/runtime/order-actors.js';
import { startApi, type ApiServer } from '../src/api/server.js';
import { captureLogger } from './support/log-capture.js';
import { execution, orderReport } from './machines/helpers.js';

let db: Database;
let actors: OrderActors;
let api: ApiServer;
let secured: ApiServer;
const order = orderReport({ qty: '10' });

beforeAll(async () => {
  db = await openDatabase(':memory:');
  const { log } = captureLogger();
  actors = new OrderActors({ db, log, adopt: 'record', fetchOrder: async () => null, onFatal: () => undefined });
  await actors.start();
  actors.handleOrder(order);
  actors.handleExecution(execution(order, { cumQty: '4', qty: '4', price: '101.5', orderStatus: 'partially_filled' }), null);
  const health = { mode: 'paper' as const, streamState: () => 'connected' as const, drift: () => [] };
  api = await startApi({ host: '127.0.0.1', port: 0, db, log, health });
  secured = await startApi({ host: '127.0.0.1', port: 0, db, log, health, token: 'tok-123' });
});
afterAll(async () => {
  await api.close();
  await secured.close();
  actors.stop();
  await db.close();
});

const get = async (path: string, base = api.url, headers: Record<string, string> = {}) => {
  const res = await fetch(base + path, { headers });
  return { status: res.status, body: (await res.json()) as any };
};

describe('status API', () => {
  it('/health reports the DESIGN §5 shape from the store', async () => {
    const r = await get('/health');
    expect(r.status).toBe(200);
    expect(r.body).toEqual({
      status: 'ok',
      mode: 'paper',
      stream: 'connected',
      last_reconcile_at: null,
      watermark: null,
      actors: { active: 1, terminal: 0 },
      drift: [],
    });
  });

  it('/orders lists actors, filtered by state', async () => {
    const all = await get('/orders');
    expect(all.body.orders).toEqual([
      { id: order.orderId, client_order_id: order.clientOrderId, symbol: 'AAPL', side: 'buy', type: 'market', state: 'partiallyFilled', filled_qty: '4', filled_avg_price: '101.5', role: 'entry', stop_order_id: null },
    ]);
    expect((await get('/orders?state=partiallyFilled')).body.orders).toHaveLength(1);
    expect((await get('/orders?state=done')).body.orders).toHaveLength(0);
  });

  it('/orders/:id includes the state history', async () => {
    const r = await get(`/orders/${order.orderId}`);
    expect(r.status).toBe(200);
    expect(r.body.history.map((h: any) => [h.event, h.from, h.to])).toEqual([
      ['xstate.init', null, 'pending'],
      ['execution', 'pending', 'partiallyFilled'],
    ]);
    expect(r.body.history[0].at).toMatch(/^\d{4}-\d\d-\d\dT/);
  });

  it('bad queries answer 400 with a JSON error; unknown ones 404', async () => {
    expect(await get('/orders?state=bogus')).toMatchObject({ status: 400, body: { error: { code: 'bad_request' } } });
    expect(await get('/orders/not%20an%20id')).toMatchObject({ status: 400, body: { error: { code: 'bad_request' } } });
    expect(await get('/orders/00000000-0000-4000-8000-999999999999')).toMatchObject({ status: 404, body: { error: { code: 'not_found' } } });
    expect(await get('/nowhere')).toMatchObject({ status: 404, body: { error: { code: 'not_found' } } });
    const post = await fetch(`${api.url}/health`, { method: 'POST' });
    expect(post.status).toBe(405);
  });

  it('checks the bearer token when one is set', async () => {
    expect((await get('/health', secured.url)).status).toBe(401);
    expect((await get('/health', secured.url, { authorization: 'Bearer wrong' })).status).toBe(401);
    expect((await get('/health', secured.url, { authorization: 'Bearer tok-123' })).status).toBe(200);
  });
});
