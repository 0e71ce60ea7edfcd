import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from '../src/store/database.js';
import { OrderActors } from '../src/runtime/order-actors.js';
import { restart } from '../src/runtime/restart.js';
import { startApi, type ApiServer } from '../src/api/server.js';
import { captureLogger } from './support/log-capture.js';
import { createMetrics } from '../src/metrics.js';
import { startCooldown } from '../src/store/cooldowns.js';
import { execution, orderReport } from './machines/helpers.js';
import { CoverageWatch } from '../src/protection/coverage-watch.js';

let db: Database;
let actors: OrderActors;
let api: ApiServer;
let secured: ApiServer;
const order = orderReport({ qty: '10' });

beforeAll(async () => {
  db = await openDatabase(':memory:');
  const { log } = captureLogger();
  actors = new OrderActors({ db, log, adopt: 'record', fetchOrder: async () => null, onFatal: () => undefined });
  await restart({ actors: actors });
  actors.handleOrder(order);
  actors.handleExecution(execution(order, { cumQty: '4', qty: '4', price: '101.5', orderStatus: 'partially_filled' }), null);
  // More fills, on another symbol, for paging and filters.
  for (let i = 1; i <= 5; i++) {
    const o = orderReport({ symbol: 'BTC/USD', assetClass: 'crypto', qty: '1' });
    actors.handleExecution(execution(o, { cumQty: '0.123456789', qty: '0.123456789', price: '65000.5', orderStatus: 'partially_filled', at: `2026-01-0${i}T10:00:00Z` }), null);
  }
  startCooldown(db, { exitFillId: 'x:1', symbol: 'TSLA', startedAt: new Date(), until: new Date(Date.now() + 60_000) });
  startCooldown(db, { exitFillId: 'y:1', symbol: 'SPY', startedAt: new Date(0), until: new Date(1000) });
  // CT_ADOPT=record: the outside entries are recorded, not protected (and never critical).
  const coverage = new CoverageWatch({ db, log, graceS: 60, adopt: 'record' });
  const health = { mode: 'paper' as const, streamState: () => 'connected' as const, drift: () => [], protection: () => coverage.check() };
  const metrics = createMetrics({ db, streamState: () => 'connected', driftCount: () => 0, unprotected: () => coverage.check().unprotected });
  metrics.observeReconcile({ duration_ms: 120, requests: 3, fills_new: 2, trigger: 'poll' });
  api = await startApi({ host: '127.0.0.1', port: 0, db, log, health, metrics: metrics.registry });
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
      entries_paused: false,
      stream: 'connected',
      // No activity event stream in this API-only composition.
      event_stream: 'off',
      event_cursor: null,
      last_reconcile_at: null,
      watermark: null,
      actors: { active: 6, terminal: 0 },
      drift: [],
      reasons: [],
      protection: {
        unprotected: [
          // No market clock here: the equity's session is unknown (null); crypto's is continuous.
          { symbol: 'AAPL', position: '4', covered: '0', uncovered: '4', reason: 'adopt_record', since: expect.any(String), uncovered_for_s: expect.any(Number), past_grace: false, critical: false, session: null, stops_acting: null, stops_acting_reason: null },
          { symbol: 'BTC/USD', position: '0.617283945', covered: '0', uncovered: '0.617283945', reason: 'adopt_record', since: expect.any(String), uncovered_for_s: expect.any(Number), past_grace: false, critical: false, session: 'continuous', stops_acting: true, stops_acting_reason: null },
        ],
        overprotected: [],
        grace_s: 60,
        session: null,
      },
    });
  });

  it('/health answers 503 "critical" when a position is unprotected past the grace period', async () => {
    const { log } = captureLogger();
    const critical = {
      unprotected: [{ symbol: 'AAPL', position: '4', covered: '0', uncovered: '4', reason: 'stop_pending', since: '2026-01-01T00:00:00.000Z', uncovered_for_s: 12, past_grace: true, critical: true }],
      overprotected: [],
      critical: true,
      grace_s: 10,
    };
    const bad = await startApi({ host: '127.0.0.1', port: 0, db, log, health: { mode: 'paper', streamState: () => 'reconnecting', drift: () => [], protection: () => critical } });
    try {
      const r = await get('/health', bad.url);
      expect(r.status).toBe(503);
      expect(r.body).toMatchObject({ status: 'critical', reasons: ['stream reconnecting', 'position AAPL uncovered 4 of 4 for 12 s: stop_pending'], protection: { unprotected: critical.unprotected, grace_s: 10 } });
    } finally {
      await bad.close();
    }
  });

  it('/orders lists actors, filtered by state', async () => {
    const all = await get('/orders?state=partiallyFilled');
    expect(all.body.orders.filter((o: any) => o.symbol === 'AAPL')).toEqual([
      { id: order.orderId, client_order_id: order.clientOrderId, symbol: 'AAPL', side: 'buy', type: 'market', state: 'partiallyFilled', filled_qty: '4', filled_avg_price: '101.5', role: 'entry', stop_order_id: null },
    ]);
    expect((await get('/orders?state=partiallyFilled')).body.orders).toHaveLength(6);
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
    // Writes need the token (403 write_disabled without CT_API_TOKEN); past it, a GET-only route is 405.
    const post = await fetch(`${api.url}/health`, { method: 'POST' });
    expect(post.status).toBe(403);
    const posted = await fetch(`${secured.url}/health`, { method: 'POST', headers: { authorization: 'Bearer tok-123' } });
    expect({ status: posted.status, body: await posted.json() }).toMatchObject({ status: 405, body: { error: { code: 'method_not_allowed' } } });
  });

  it('/fills pages newest first with an opaque cursor, and filters by symbol and since', async () => {
    const first = await get('/fills?limit=4');
    expect(first.status).toBe(200);
    expect(first.body.fills).toHaveLength(4);
    expect(first.body.fills[0]).toEqual({
      id: 6, order_id: expect.any(String), exec_id: null, execution_id: null, cum_qty: '0.123456789', qty: '0.123456789', price: '65000.5',
      symbol: 'BTC/USD', side: 'buy', filled_at: '2026-01-05T10:00:00.000000000Z', source: 'stream',
      // An order placed elsewhere (client order id manual-1), that closed nothing.
      role: 'outside', realized_pnl: null,
      // No trade bust or correction touched it.
      busted: false, corrected: false, original_qty: null, original_price: null,
    });
    const second = await get(`/fills?limit=4&cursor=${first.body.next_cursor}`);
    expect(second.body.fills.map((f: any) => f.id)).toEqual([2, 1]);
    expect(second.body.next_cursor).toBeNull();
    expect((await get('/fills?symbol=AAPL')).body.fills.map((f: any) => f.price)).toEqual(['101.5']);
    expect((await get(`/fills?symbol=${encodeURIComponent('BTC/USD')}&since=2026-01-04T00:00:00Z`)).body.fills).toHaveLength(2);
  });

  it.each([
    ['/fills?limit=0'],
    ['/fills?limit=5000'],
    ['/fills?limit=ten'],
    ['/fills?since=yesterday'],
    ['/fills?since=2026-01-02T10:00:00'],
    ['/fills?symbol=%3Bdrop'],
    ['/fills?cursor=bm9wZQ'],
    ['/fills?limit=1&limit=2'],
  ])('%s → 400 JSON error', async (path) => {
    const r = await get(path);
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe('bad_request');
    expect(r.body.error.message.length).toBeGreaterThan(5);
  });

  it('/positions and /cooldowns come from the ledger and the cooldowns table', async () => {
    /** The figures of a position without a last price: its open lots' average and cost only. */
    const unpriced = (avg: string, cost: string) => ({
      avg_entry: avg, cost_basis: cost, market_value: null, unrealized_pnl: null, unrealized_pnl_pct: null, nearest_stop: null, price_increment: null, qty_increment: null,
    });
    const p = await get('/positions');
    expect(p.body.positions).toEqual([
      { symbol: 'AAPL', crypto: false, option: false, multiplier: 1, qty: '4', side: 'long', protected_qty: '0', last_price: null, stops: [], session: null, stops_acting: null, stops_acting_reason: null, ...unpriced('101.5', '406') },
      { symbol: 'BTC/USD', crypto: true, option: false, multiplier: 1, qty: '0.617283945', side: 'long', protected_qty: '0', last_price: null, stops: [], session: 'continuous', stops_acting: true, stops_acting_reason: null, ...unpriced('65000.5', '40123.7650669725') },
    ]);
    // Without last prices nothing is valued: the totals are over none of them.
    expect(p.body.totals).toEqual({ market_value: '0', unrealized_pnl: '0', cost_basis: '0', priced: 0, positions: 2 });
    expect((await get('/cooldowns')).body.cooldowns).toEqual([
      { symbol: 'TSLA', until: expect.any(String), exit_fill_id: 'x:1', started_at: expect.any(String), active: true },
    ]);
    expect((await get('/cooldowns?all=1')).body.cooldowns).toHaveLength(2);
  });

  it('/metrics speaks Prometheus text', async () => {
    const res = await fetch(`${api.url}/metrics`);
    expect(res.headers.get('content-type')).toMatch(/text\/plain/);
    const text = await res.text();
    expect(text).toMatch(/^ct_fills\{source="stream",app="crazy-trade"\} 6$/m);
    expect(text).toMatch(/^ct_order_actors\{kind="active",app="crazy-trade"\} 6$/m);
    expect(text).toMatch(/^ct_stream_state\{app="crazy-trade"\} 2$/m);
    expect(text).toMatch(/^ct_reconcile_duration_seconds_count\{app="crazy-trade",trigger="poll"\} 1$/m);
    expect(text).toMatch(/^ct_reconcile_requests_total\{app="crazy-trade"\} 3$/m);
    expect(text).toMatch(/^ct_unprotected_qty\{symbol="AAPL",app="crazy-trade"\} 4$/m);
    expect(text).toMatch(/^ct_protection_backlog\{app="crazy-trade"\} 0$/m);
  });

  it('checks the bearer token when one is set', async () => {
    expect((await get('/health', secured.url)).status).toBe(401);
    expect((await get('/health', secured.url, { authorization: 'Bearer wrong' })).status).toBe(401);
    expect((await get('/health', secured.url, { authorization: 'Bearer tok-123' })).status).toBe(200);
    expect((await get('/fills', secured.url)).status).toBe(401);
    // The static dashboard page loads without it (it holds no data; its fetches carry the token).
    const page = await fetch(`${secured.url}/`);
    expect(page.status).toBe(200);
    expect(await page.text()).not.toContain('tok-123');
  });
});
