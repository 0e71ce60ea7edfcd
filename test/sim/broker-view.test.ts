import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Simulator } from '../../src/sim/index.js';
import { RequestLog } from '../../src/sim/request-log.js';
import { AUTH, type Json, http, outsideTrade, startTestSim } from './helpers.js';

/** The checkers' read-only views of the broker: GET /_sim/book and GET /_sim/requests (not Alpaca features). */

let sim: Simulator;
const control = (method: string, path: string) => http<Json>(sim, method, path, undefined, { auth: false });
const tagged = async (source: string, method: string, path: string, body?: unknown) => {
  const res = await fetch(sim.url + path, { method, headers: { ...AUTH, 'content-type': 'application/json', 'x-sim-source': source }, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: res.status, body: (res.status === 204 ? {} : await res.json()) as Json };
};
type Requests = { first_seq: number; next_seq: number; entries: Array<Record<string, unknown>> };

beforeAll(async () => {
  sim = await startTestSim({ seed: 9 });
});
afterAll(async () => {
  await sim.close();
});

describe('GET /_sim/requests', () => {
  it('logs every API request with its arrival, status, client order id, symbol, X-Sim-Source and refusal; not /_sim requests', async () => {
    const from = ((await control('GET', '/_sim/requests?limit=1')).body as Requests).next_seq - 1;
    await outsideTrade(sim, { symbol: 'AAPL', side: 'buy', qty: '5' });
    const t0 = Date.now();
    const placed = await tagged('bot-a', 'POST', '/v2/orders', { symbol: 'AAPL', qty: '5', side: 'sell', type: 'trailing_stop', trail_percent: '2', time_in_force: 'gtc', client_order_id: 'ct-stop-x' });
    expect(placed.status).toBe(200);
    const refused = await tagged('bot-b', 'POST', '/v2/orders', { symbol: 'AAPL', qty: '5', side: 'sell', type: 'stop', stop_price: '100', time_in_force: 'gtc', client_order_id: 'ct-stop-y' });
    expect(refused.status).toBe(403);
    expect((await tagged('bot-a', 'DELETE', `/v2/orders/${placed.body.id}`)).status).toBe(204);
    await http(sim, 'GET', '/v2/account');
    await control('GET', '/_sim/state');

    const log = (await control('GET', `/_sim/requests?after=${from}`)).body as Requests;
    expect(log.entries.map((e) => [e.method, e.path, e.status, e.client_order_id, e.symbol, e.source])).toEqual([
      ['POST', '/v2/orders', 200, 'ct-stop-x', 'AAPL', 'bot-a'],
      ['POST', '/v2/orders', 403, 'ct-stop-y', 'AAPL', 'bot-b'],
      ['DELETE', `/v2/orders/${placed.body.id}`, 204, 'ct-stop-x', 'AAPL', 'bot-a'],
      ['GET', '/v2/account', 200, null, null, null],
    ]);
    expect(log.entries[1]!.error).toMatch(/insufficient qty available/);
    expect(log.entries[0]!.error).toBeNull();
    expect(log.entries[0]!.at as number).toBeGreaterThanOrEqual(t0);
    expect(log.entries.map((e) => e.seq)).toEqual([from + 1, from + 2, from + 3, from + 4]);
    // By source.
    const a = (await control('GET', `/_sim/requests?after=${from}&source=bot-a`)).body as Requests;
    expect(a.entries.map((e) => e.method)).toEqual(['POST', 'DELETE']);
  });

  it('refuses a bad page, and keeps only the newest entries when full (first_seq shows what went)', async () => {
    expect((await control('GET', '/_sim/requests?after=-1')).status).toBe(422);
    expect((await control('GET', '/_sim/requests?limit=0')).status).toBe(422);
    const log = new RequestLog(3);
    for (let i = 0; i < 5; i++) log.record({ at: i, method: 'GET', path: `/v2/x${i}`, query: '', status: 200, client_order_id: null, symbol: null, source: null, error: null });
    const page = log.read(0, 10);
    expect([page.first_seq, page.next_seq, page.entries.map((e) => e.seq)]).toEqual([3, 6, [3, 4, 5]]);
    expect(log.read(3, 1).entries.map((e) => e.seq)).toEqual([4]);
  });
});

describe('GET /_sim/book', () => {
  it('shows positions (with the crypto order grid) and open orders in one snapshot, and the session', async () => {
    await outsideTrade(sim, { symbol: 'BTC/USD', side: 'buy', qty: '1' });
    const stop = await tagged('bot-a', 'POST', '/v2/orders', { symbol: 'BTC/USD', qty: '0.5', side: 'sell', type: 'stop_limit', stop_price: '60000', limit_price: '59000', time_in_force: 'gtc', client_order_id: 'ct-stop-z' });
    expect(stop.status).toBe(200);
    const book = (await control('GET', '/_sim/book')).body as { at: number; session_open: boolean; positions: Json[]; open_orders: Json[] };
    expect(book.session_open).toBe(true);
    expect(book.positions).toContainEqual({ symbol: 'BTC/USD', asset_class: 'crypto', qty: '0.9975', min_order_size: '0.0001', min_trade_increment: '0.000000001' });
    expect(book.open_orders).toContainEqual(
      expect.objectContaining({ id: stop.body.id, client_order_id: 'ct-stop-z', symbol: 'BTC/USD', side: 'sell', type: 'stop_limit', qty: '0.5', filled_qty: '0', limit_price: '59000', status: 'new' }),
    );
    expect(book.open_orders.every((o) => !['filled', 'canceled', 'expired', 'replaced', 'rejected'].includes(String(o.status)))).toBe(true);
  });
});
