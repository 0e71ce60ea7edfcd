/**
 * One order's fills by the activities API's `order_id` filter (Alpaca changelog 2026-07-29; issue 26
 * item 6), with the real SDK against the simulator, counted in the simulator's request log
 * (GET /_sim/requests): the broker's side of who sent what.
 * - The lookup is one request where finding the same fills by paging the account's activities from
 *   the order's time takes a page per 100 fills of every order since.
 * - An order actor that meets a gap nothing prices (a later fill came first, from a source without the
 *   order's VWAP) fills it from that lookup: the fills as executed, one request, no order read and no
 *   fill priced from the VWAP.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../src/sim/index.js';
import { openDatabase, type Database } from '../src/store/database.js';
import { createBrokerClient, type BrokerClient } from '../src/broker/client.js';
import { parseFillActivity } from '../src/broker/adapter.js';
import { fetchOrder } from '../src/broker/fetch-order.js';
import { fetchOrderFills } from '../src/broker/order-fills.js';
import { OrderActors } from '../src/runtime/order-actors.js';
import { restart } from '../src/runtime/restart.js';
import type { LoggedRequest } from '../src/sim/request-log.js';
import { captureLogger } from './support/log-capture.js';
import { simPost } from './support/sim-traffic.js';
import { eventually, getJson } from './support/bot-process.js';

let sim: Simulator;
let db: Database;
let client: BrokerClient;
let actors: OrderActors;
const cap = captureLogger('info');
/** An order filled in two parts, 150 fills of other orders between them. */
let orderId: string;

/** The simulator's request log after `seq`. */
async function requestsAfter(seq: number): Promise<LoggedRequest[]> {
  return (await getJson(`${sim.url}/_sim/requests?after=${seq}&limit=10000`)).body.entries as LoggedRequest[];
}
async function lastSeq(): Promise<number> {
  return (await requestsAfter(0)).at(-1)?.seq ?? 0;
}

beforeAll(async () => {
  sim = await startSimulator({ seed: 2606 });
  db = await openDatabase(':memory:');
  client = createBrokerClient({ keyId: 'k', secretKey: 's', paper: true, apiUrl: sim.url }, { rateLimit: false });
  actors = new OrderActors({
    db,
    log: cap.log,
    adopt: 'record',
    fetchOrder: (id) => fetchOrder(client, cap.log, id),
    orderFills: (id) => fetchOrderFills(client, cap.log, id),
    onFatal: (e) => {
      throw e;
    },
  });
  await restart({ actors });
  const o = await simPost(sim, '/_sim/trade', { symbol: 'MSFT', side: 'buy', qty: '4', type: 'limit', limit_price: '100000', fill: 'partial', fill_qty: '1' });
  orderId = o.id;
  for (let i = 0; i < 150; i += 1) await simPost(sim, '/_sim/trade', { symbol: 'AAPL', side: i % 2 ? 'sell' : 'buy', qty: '1', type: 'market' });
  await simPost(sim, '/_sim/price', { symbol: 'MSFT', price: '431.25' });
  await simPost(sim, '/_sim/fill', { order_id: orderId });
}, 60_000);
afterAll(async () => {
  actors.stop();
  await db.close();
  await sim.close();
});

const own = () => sim.engine.fills.filter((f) => f.orderId === orderId);

describe('one order\'s fills by order_id', () => {
  it('is one request where paging the account\'s activities from the order\'s time takes several', async () => {
    expect(own()).toHaveLength(2);
    let seq = await lastSeq();
    const fills = await fetchOrderFills(client, cap.log, orderId);
    const byFilter = (await requestsAfter(seq)).filter((r) => r.path === '/v2/account/activities');
    expect(byFilter).toHaveLength(1);
    expect(byFilter[0]!.query).toContain(`order_id=${orderId}`);
    expect(fills?.map((f) => [f.cumQty, f.qty, f.price])).toEqual(own().map((f) => [f.cumQty.toString(), f.qty.toString(), f.price.toString()]));

    // Without the filter: every FILL from the order's first, a page per 100, to find its two.
    seq = await lastSeq();
    const since = new Date(Math.floor(own()[0]!.micros / 1000) - 1);
    const found: string[] = [];
    for await (const page of client.activityPages(null, ['FILL'], since)) {
      for (const raw of page) {
        const p = parseFillActivity(raw);
        if (p.ok && p.value.orderId === orderId) found.push(p.value.cumQty);
      }
    }
    expect(found).toEqual(['1', '4']);
    const paged = (await requestsAfter(seq)).filter((r) => r.path === '/v2/account/activities');
    expect(paged.length).toBeGreaterThanOrEqual(2);
  });

  it('an unpriced gap is filled from the order\'s own fills: one request, no order read, no inferred fill', async () => {
    const raw = (await getJson(`${sim.url}/v2/account/activities?order_id=${orderId}&direction=desc&page_size=1`, { 'APCA-API-KEY-ID': 'k', 'APCA-API-SECRET-KEY': 's' })).body[0];
    const later = parseFillActivity(raw);
    if (!later.ok) throw new Error(later.reason);
    expect(later.value).toMatchObject({ cumQty: '4', qty: '3', avgPrice: null });
    const seq = await lastSeq();
    // The second fill first, as the REST activities or the event stream bring it (no VWAP): a gap of 1 nothing prices.
    actors.handleExecution(later.value, null);
    const rows = () => db.sqlite.prepare('select cum_qty, qty, price, source from fills where order_id = ? order by id').all(orderId);
    await eventually(async () => rows().length === 2 || undefined, 10_000);
    expect(rows()).toEqual(own().map((f) => ({ cum_qty: f.cumQty.toString(), qty: f.qty.toString(), price: f.price.toString(), source: 'activity' })));
    const sent = await requestsAfter(seq);
    expect(sent.filter((r) => r.path === '/v2/account/activities').map((r) => r.query)).toEqual([expect.stringContaining(`order_id=${orderId}`)]);
    expect(sent.filter((r) => r.path === `/v2/orders/${orderId}`)).toEqual([]);
    expect(cap.lines().filter((l) => l.event === 'order_fills_read')).toEqual([expect.objectContaining({ order_id: orderId, fills: 2, closed: true })]);
  });
});
