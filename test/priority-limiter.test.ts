import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { PriorityLimiter, type Lane } from '../src/broker/priority-limiter.js';
import { createBrokerClient, laneFor } from '../src/broker/client.js';

/** The limiter on fake timers: Date.now is the fake clock, so grants are exact to the ms. */
describe('PriorityLimiter (a sliding window and a bucket, two lanes)', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  const limiter = (maxRequests: number, intervalMs: number) => new PriorityLimiter({ maxRequests, intervalMs, now: () => Date.now(), marginMs: 0 });

  it('serves every waiting high request before any waiting low one, FIFO within each lane; reads never take the last slot', async () => {
    // A budget of 2 a second: a token a second, a bucket of 2; reads leave one token and the window's last slot to protection.
    const lim = limiter(2, 1000);
    const start = Date.now();
    const grants: Array<[string, number]> = [];
    const take = (lane: Lane, id: string) => void lim.acquire(lane).then(() => grants.push([id, Date.now() - start]));
    take('low', 'burst');
    await vi.advanceTimersByTimeAsync(0);
    take('low', 'L1');
    take('low', 'L2');
    take('high', 'H1');
    take('low', 'L3');
    take('high', 'H2');
    await vi.advanceTimersByTimeAsync(0);
    // H1 took the slot the reads may not: at once.
    expect(lim.queued()).toEqual({ high: 1, low: 3 });
    await vi.advanceTimersByTimeAsync(1700);
    // L1 has waited 1.7 s, H3 arrives now: it still goes first, at the next token.
    take('high', 'H3');
    await vi.advanceTimersByTimeAsync(6000);
    expect(grants).toEqual([
      ['burst', 0],
      ['H1', 0],
      ['H2', 1000],
      ['H3', 2000],
      ['L1', 4000],
      ['L2', 5000],
      ['L3', 6000],
    ]);
    expect(lim.queued()).toEqual({ high: 0, low: 0 });
    expect(lim.granted()).toBe(7);
  });

  it('a backlog of order changes after a quiet spell goes out at once (three tenths of the budget), then 3 a second, never over 200 a minute', async () => {
    const lim = limiter(200, 60_000);
    const start = Date.now();
    const at: number[] = [];
    for (let i = 0; i < 260; i++) void lim.acquire('high').then(() => at.push(Date.now() - start));
    await vi.advanceTimersByTimeAsync(0);
    expect(at).toHaveLength(60);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(at).toHaveLength(90);
    // The window is full at 200 (60 + 140 at 3/s, about 46.7 s in): nothing more until the burst leaves it at 60 s.
    await vi.advanceTimersByTimeAsync(49_999);
    expect(at).toHaveLength(200);
    await vi.advanceTimersByTimeAsync(1);
    expect(at.length).toBeGreaterThan(200);
  });

  it('never grants more than the budget in any window, holds reads to a bucket, and serves high requests first', async () => {
    const max = 10;
    const intervalMs = 1000;
    const ours = limiter(max, intervalMs);
    const ourTimes: number[] = [];
    const waits: Record<Lane, number[]> = { high: [], low: [] };
    // ~3× the budget for 20 s, in bursts and trickles; 15 % of it high, well under the budget
    // (seeded: reproducible).
    let seed = 7;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const start = Date.now();
    let at = 0;
    let sent = 0;
    while (at < 20_000) {
      at += Math.floor(rand() * 70);
      const lane: Lane = rand() < 0.15 ? 'high' : 'low';
      const asked = at;
      setTimeout(() => {
        void ours.acquire(lane).then(() => {
          ourTimes.push(Date.now() - start);
          waits[lane].push(Date.now() - start - asked);
        });
      }, at);
      sent += 1;
    }
    await vi.advanceTimersByTimeAsync(20_000);
    expect(sent).toBeGreaterThan(500);
    // Any window of intervalMs: at most the budget (Alpaca counts per minute).
    for (let i = 0; i < ourTimes.length; i++) {
      const inWindow = ourTimes.filter((t) => t >= ourTimes[i]! && t < ourTimes[i]! + intervalMs).length;
      expect(inWindow).toBeLessThanOrEqual(max);
    }
    // And the budget is used: the bucket's 9 a second for 20 s (and its first 3), at most the window's 10.
    expect(ourTimes.length).toBeGreaterThanOrEqual(9 * 20 - 2);
    expect(ourTimes.length).toBeLessThanOrEqual(10 * 20 + max);
    // High requests never wait behind the low backlog, which grows to many seconds.
    expect(waits.high.length).toBeGreaterThan(50);
    expect(Math.max(...waits.high)).toBeLessThan(1000);
    expect(Math.max(...waits.low)).toBeGreaterThan(10_000);
    expect(ours.queued().low).toBeGreaterThan(300);
  });

  it('a waiter that aborts leaves its line without spending a slot; an aborted signal is refused at once', async () => {
    const lim = limiter(2, 1000);
    const start = Date.now();
    const grants: Array<[string, number]> = [];
    await lim.acquire('low');
    await lim.acquire('high');
    // The window is full (2): the next high waits for a slot; a read waits for the bucket's top token too.
    const ac = new AbortController();
    const aborted = lim.acquire('high', ac.signal);
    void lim.acquire('low').then(() => grants.push(['L1', Date.now() - start]));
    expect(lim.queued()).toEqual({ high: 1, low: 1 });
    await vi.advanceTimersByTimeAsync(400);
    ac.abort(new DOMException('deadline', 'TimeoutError'));
    await expect(aborted).rejects.toMatchObject({ name: 'TimeoutError' });
    expect(lim.queued()).toEqual({ high: 0, low: 1 });
    await expect(lim.acquire('high', AbortSignal.abort())).rejects.toMatchObject({ name: 'AbortError' });
    expect(lim.queued()).toEqual({ high: 0, low: 1 });
    await vi.advanceTimersByTimeAsync(2000);
    // L1 went once the bucket had its top token again (1 left at 0, one a second); nothing else was spent.
    expect(grants).toEqual([['L1', 2000]]);
    expect(lim.granted()).toBe(3);
    void lim.acquire('low').then(() => grants.push(['L2', Date.now() - start]));
    await vi.advanceTimersByTimeAsync(1000);
    expect(grants).toEqual([['L1', 2000], ['L2', 3000]]);
  });
});

describe('laneFor', () => {
  const base = 'https://paper-api.alpaca.markets';
  it.each([
    ['POST', '/v2/orders', 'high'],
    ['PATCH', '/v2/orders/7b08df51-c1ac-453c-99f9-323a5f075f0d', 'high'],
    ['DELETE', '/v2/orders/7b08df51-c1ac-453c-99f9-323a5f075f0d', 'high'],
    ['GET', '/v2/orders:by_client_order_id?client_order_id=ct-stop-1', 'high'],
    ['GET', '/v2/orders?status=open&limit=500&direction=asc', 'low'],
    ['GET', '/v2/orders/7b08df51-c1ac-453c-99f9-323a5f075f0d', 'low'],
    ['GET', '/v2/account/activities?activity_types=FILL', 'low'],
    ['GET', '/v2/positions', 'low'],
    ['GET', '/v2/positions/AAPL', 'low'],
    ['GET', '/v2/account', 'low'],
  ] as const)('%s %s → %s', (method, path, lane) => {
    expect(laneFor(method, `${base}${path}`)).toBe(lane);
  });
});

/** The real SDK client against a scripted HTTP server on loopback. */
describe('the broker client’s rate limit', () => {
  const order = readFileSync(new URL('./fixtures/alpaca/order-limit-accepted.json', import.meta.url), 'utf8');
  let server: Server | null = null;
  afterEach(async () => {
    await new Promise((r) => server?.close(r) ?? r(null));
    server = null;
  });

  async function serve(answer: (method: string, path: string) => { status: number; body?: string }): Promise<{ url: string; seen: string[] }> {
    const seen: string[] = [];
    server = createServer((req, res) => {
      const path = new URL(req.url!, 'http://x').pathname;
      seen.push(`${req.method} ${path}`);
      req.resume();
      req.on('end', () => {
        const a = answer(req.method!, path);
        res.writeHead(a.status, a.body === undefined ? {} : { 'content-type': 'application/json' });
        res.end(a.body);
      });
    });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    return { url: `http://127.0.0.1:${(server!.address() as AddressInfo).port}`, seen };
  }

  const byPath = (method: string, path: string) => {
    if (method === 'DELETE') return { status: 204 };
    if (path === '/v2/account') return { status: 200, body: readFileSync(new URL('./fixtures/alpaca/account.json', import.meta.url), 'utf8') };
    if (method !== 'GET' || path.startsWith('/v2/orders/') || path.endsWith('by_client_order_id')) return { status: 200, body: order };
    return { status: 200, body: '[]' };
  };

  it('sends waiting order changes, stop lookups and the stop worker’s reads before waiting reads', async () => {
    const { url, seen } = await serve(byPath);
    const client = createBrokerClient({ keyId: 'k', secretKey: 's', paper: true, apiUrl: url }, { rateLimit: { maxRequests: 1, intervalMs: 300 }, maxRetries: 0 });
    await client.account.getAccount();
    const id = '7b08df51-c1ac-453c-99f9-323a5f075f0d';
    const calls = [
      client.orders.getAllOrders({ status: 'open', limit: 500 }),
      client.activities.getAccountActivities({ activityTypes: ['FILL'], direction: 'asc', pageSize: 100 }),
      client.orders.getOrderByOrderID({ orderId: id }),
      client.positions.getAllOpenPositions(),
      client.orders.postOrder({ postOrderRequest: { symbol: 'AAPL', qty: '1', side: 'sell', type: 'trailing_stop', timeInForce: 'gtc', trailPercent: '2', clientOrderId: 'ct-stop-1' } }),
      client.orders.getOrderByClientOrderId({ clientOrderId: 'ct-stop-1' }),
      client.orders.patchOrderByOrderId({ orderId: id, patchOrderRequest: { qty: '2' } }),
      client.orders.deleteOrderByOrderID({ orderId: id }),
      // The stop worker's read of its order: a step of protecting, not a poll.
      client.protection.orders.getOrderByOrderID({ orderId: id }),
    ];
    // The POST took the budget's last slot at once (reads may not); the rest wait for the window.
    // Waited for, not slept on: on a loaded machine the SDK takes a while to hand every call over.
    const total = () => client.queued().high + client.queued().low;
    for (const until = Date.now() + 250; total() < 8 && Date.now() < until; ) await new Promise((r) => setTimeout(r, 2));
    expect(client.queued()).toEqual({ high: 4, low: 4 });
    await Promise.all(calls);
    expect(seen).toEqual([
      'GET /v2/account',
      'POST /v2/orders',
      'GET /v2/orders:by_client_order_id',
      `PATCH /v2/orders/${id}`,
      `DELETE /v2/orders/${id}`,
      `GET /v2/orders/${id}`,
      'GET /v2/orders',
      'GET /v2/account/activities',
      `GET /v2/orders/${id}`,
      'GET /v2/positions',
    ]);
    expect(client.requestCount()).toBe(10);
    expect(client.queued()).toEqual({ high: 0, low: 0 });
  });

  it('every attempt, retries included, takes a token; an aborted wait spends none and leaves the line', async () => {
    let failures = 2;
    const { url, seen } = await serve((method, path) => (path === '/v2/orders' && failures-- > 0 ? { status: 503, body: '{"message":"busy"}' } : byPath(method, path)));
    const client = createBrokerClient({ keyId: 'k', secretKey: 's', paper: true, apiUrl: url }, { rateLimit: { maxRequests: 30, intervalMs: 60_000 }, maxRetries: 2 });
    await client.orders.getAllOrders({ status: 'open' });
    expect(seen).toEqual(['GET /v2/orders', 'GET /v2/orders', 'GET /v2/orders']);
    expect(client.requestCount()).toBe(3);
    for (let i = 0; i < 3; i++) await client.account.getAccount();
    expect(client.requestCount()).toBe(6);
    // The reads' part of the bucket is spent (9 tokens, 3 left to protection; the 3 attempts and 3 reads took the rest): the next read waits; its caller gives up.
    const ac = new AbortController();
    const waiting = client.positions.getAllOpenPositions({ signal: ac.signal });
    await new Promise((r) => setTimeout(r, 50));
    expect(client.queued()).toEqual({ high: 0, low: 1 });
    ac.abort();
    await expect(waiting).rejects.toThrow(/aborted/);
    expect(client.queued()).toEqual({ high: 0, low: 0 });
    expect(seen).toHaveLength(6);
    expect(client.requestCount()).toBe(6);
  });

  it('with rateLimit: false nothing waits', async () => {
    const { url, seen } = await serve(byPath);
    const client = createBrokerClient({ keyId: 'k', secretKey: 's', paper: true, apiUrl: url }, { rateLimit: false, maxRetries: 0 });
    await Promise.all(Array.from({ length: 20 }, () => client.positions.getAllOpenPositions()));
    expect(seen).toHaveLength(20);
    expect(client.queued()).toEqual({ high: 0, low: 0 });
  });
});
