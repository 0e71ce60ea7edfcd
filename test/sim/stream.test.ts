import { streaming } from '@alpacahq/alpaca-trade-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import type { Simulator } from '../../src/sim/index.js';
import { KEY, SECRET, type Json, http, outsideTrade, sdk, startTestSim, waitFor } from './helpers.js';

type Update = Parameters<Parameters<streaming.TradingStream['onTradeUpdate']>[0]>[0];

let sim: Simulator;
let api: ReturnType<typeof sdk>;
let stream: streaming.TradingStream;
const updates: Update[] = [];

beforeAll(async () => {
  sim = await startTestSim({ seed: 11 });
  api = sdk(sim);
  stream = new streaming.TradingStream({
    url: sim.streamUrl,
    credentials: { keyId: KEY, secret: SECRET },
    reconnect: false,
  });
  stream.onTradeUpdate((u) => updates.push(u));
  stream.onConnect(() => stream.subscribeTradeUpdates());
  let listening = false;
  stream.on(streaming.EVENT.SUBSCRIPTION, () => {
    listening = true;
  });
  stream.connect();
  expect(await stream.waitForAuthentication(3000)).toBe(true);
  await waitFor(() => listening, 3000, 'listening ack');
});
afterAll(async () => {
  stream.disconnect();
  await sim.close();
});

const eventsFor = (orderId: string): string[] => updates.filter((u) => u.order.id === orderId).map((u) => u.event);

describe('trade_updates over the SDK TradingStream', () => {
  it('sends new then fill for a market order, with fill details', async () => {
    const o = await api.orders.market({ symbol: 'AAPL', qty: 2, side: 'buy' });
    await waitFor(() => eventsFor(o.id!).length >= 2, 3000, 'new+fill');
    expect(eventsFor(o.id!)).toEqual(['new', 'fill']);
    const fill = updates.find((u) => u.order.id === o.id && u.event === 'fill')!;
    expect(fill.price).toBe('190');
    expect(fill.qty).toBe('2');
    expect(fill.positionQty).toBe('2');
    expect(fill.executionId).toMatch(/^[0-9a-f-]{36}$/);
    expect(fill.timestamp).toBeInstanceOf(Date);
    expect(fill.order.status).toBe('filled');
    expect(fill.order.filledQty).toBe('2');
    expect((fill.order as unknown as Json).filled_avg_price).toBe('190');
    // The execution id is the uuid part of the FILL activity id.
    const act = sim.engine.fills.find((f) => f.orderId === o.id)!;
    expect(act.id.endsWith(`::${fill.executionId}`)).toBe(true);
  });

  it('sends partial_fill, canceled and replaced/new', async () => {
    const o = await api.orders.limit({ symbol: 'MSFT', qty: 5, side: 'buy', limitPrice: 300 });
    await http(sim, 'POST', '/_sim/fill', { order_id: o.id, qty: '2' }, { auth: false });
    const next = await api.orders.patchOrderByOrderId({ orderId: o.id!, patchOrderRequest: { limitPrice: '301' } });
    await api.orders.deleteOrderByOrderID({ orderId: next.id! });
    await waitFor(() => eventsFor(next.id!).length >= 2, 3000, 'replacement events');
    expect(eventsFor(o.id!)).toEqual(['new', 'partial_fill', 'pending_replace', 'replaced']);
    expect(eventsFor(next.id!)).toEqual(['new', 'canceled']);
    const partial = updates.find((u) => u.order.id === o.id && u.event === 'partial_fill')!;
    expect(partial.qty).toBe('2');
    expect(partial.order.status).toBe('partially_filled');
    const replaced = updates.find((u) => u.order.id === o.id && u.event === 'replaced')!;
    expect(replaced.order.replacedBy).toBe(next.id);
    expect(replaced.timestamp).toBeInstanceOf(Date);
  });

  it('sends expired and rejected events from the control endpoints', async () => {
    const a = await api.orders.limit({ symbol: 'SPY', qty: 1, side: 'buy', limitPrice: 100 });
    const b = await api.orders.limit({ symbol: 'SPY', qty: 1, side: 'buy', limitPrice: 100 });
    await http(sim, 'POST', '/_sim/expire', { order_id: a.id }, { auth: false });
    await http(sim, 'POST', '/_sim/reject', { order_id: b.id }, { auth: false });
    await waitFor(() => eventsFor(b.id!).length >= 2, 3000, 'rejected');
    expect(eventsFor(a.id!)).toEqual(['new', 'expired']);
    expect(eventsFor(b.id!)).toEqual(['new', 'rejected']);
  });

  it('sends done_for_day and stopped from /_sim/order-event; the order stays open for later fills', async () => {
    for (const event of ['done_for_day', 'stopped'] as const) {
      const o = await outsideTrade(sim, { symbol: 'AAPL', side: 'buy', qty: '10', type: 'limit', limit_price: '500', time_in_force: 'gtc', fill: 'partial', fill_qty: '4' });
      const marked = await http<Json>(sim, 'POST', '/_sim/order-event', { order_id: o.id, event }, { auth: false });
      expect(marked.body).toMatchObject({ status: event, filled_qty: '4' });
      await waitFor(() => eventsFor(o.id as string).includes(event), 3000, event);
      const update = updates.find((u) => u.order.id === o.id && u.event === event)!;
      expect(update.order.status).toBe(event);
      expect(Object.keys(update.order)).toEqual(expect.arrayContaining(['filled_qty', 'status', 'client_order_id']));
      // Listed as open, and filled later.
      const open = await http<Json[]>(sim, 'GET', '/v2/orders?status=open&limit=500');
      expect(open.body.map((x) => x.id)).toContain(o.id);
      if (event === 'done_for_day') {
        // No fill before the next session (docs "Orders": done_for_day); close and reopen it.
        expect((await http(sim, 'POST', '/_sim/fill', { order_id: o.id, qty: '6' }, { auth: false })).status).toBe(422);
        await http(sim, 'POST', '/_sim/clock', { is_open: false }, { auth: false });
        await http(sim, 'POST', '/_sim/clock', { is_open: true }, { auth: false });
      }
      const rest = await http<Json>(sim, 'POST', '/_sim/fill', { order_id: o.id, qty: '6' }, { auth: false });
      expect(rest.body).toMatchObject({ status: 'filled', filled_qty: '10' });
      await waitFor(() => eventsFor(o.id as string).includes('fill'), 3000, 'fill');
      expect(eventsFor(o.id as string)).toEqual(['new', 'partial_fill', event, 'fill']);
    }
    const done = await outsideTrade(sim, { symbol: 'AAPL', side: 'buy', qty: '1' });
    expect((await http(sim, 'POST', '/_sim/order-event', { order_id: done.id, event: 'stopped' }, { auth: false })).status).toBe(422);
    const open = await outsideTrade(sim, { symbol: 'AAPL', side: 'buy', qty: '1', fill: 'none' });
    expect((await http(sim, 'POST', '/_sim/order-event', { order_id: open.id, event: 'canceled' }, { auth: false })).status).toBe(422);
    await http(sim, 'POST', '/_sim/fill', { order_id: open.id }, { auth: false });
  });
});

/** A raw ws client that records parsed messages. */
async function rawClient(sim: Simulator): Promise<{ ws: WebSocket; msgs: Json[]; closed: () => boolean }> {
  const ws = new WebSocket(sim.streamUrl);
  const msgs: Json[] = [];
  let closed = false;
  ws.on('message', (d) => msgs.push(JSON.parse(d.toString()) as Json));
  ws.on('close', () => {
    closed = true;
  });
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  return { ws, msgs, closed: () => closed };
}

describe('stream protocol (stream-auth-and-listen.json)', () => {
  it('refuses listen before auth, then authorizes and acknowledges listen (binary frames accepted)', async () => {
    const c = await rawClient(sim);
    c.ws.send(JSON.stringify({ action: 'listen', data: { streams: ['trade_updates'] } }));
    await waitFor(() => c.msgs.length >= 1);
    expect(c.msgs[0]).toEqual({ stream: 'authorization', data: { status: 'unauthorized', action: 'listen' } });
    c.ws.send(Buffer.from(JSON.stringify({ action: 'authenticate', data: { key_id: 'a', secret_key: 'b' } })), { binary: true });
    await waitFor(() => c.msgs.length >= 2);
    expect(c.msgs[1]).toEqual({ stream: 'authorization', data: { status: 'authorized', action: 'authenticate' } });
    c.ws.send(JSON.stringify({ action: 'listen', data: { streams: ['trade_updates'] } }));
    await waitFor(() => c.msgs.length >= 3);
    expect(c.msgs[2]).toEqual({ stream: 'listening', data: { streams: ['trade_updates'] } });
    await outsideTrade(sim, { symbol: 'ETH/USD', side: 'buy', qty: '0.5' });
    await waitFor(() => c.msgs.length >= 5);
    const fill = c.msgs[4]!;
    expect(fill.stream).toBe('trade_updates');
    const data = fill.data as Json;
    expect(Object.keys(data)).toEqual(['event', 'execution_id', 'order', 'position_qty', 'price', 'qty', 'timestamp']);
    // position_qty is net of the 25 bps coin fee (docs "Crypto fees").
    expect(data).toMatchObject({ event: 'fill', position_qty: '0.49875', price: '3200', qty: '0.5' });
    expect(Object.keys(c.msgs[3]!.data as Json)).toEqual(['event', 'execution_id', 'order', 'timestamp']);
    c.ws.close();
  });

  it('answers unauthorized and closes on bad credentials', async () => {
    const strict = await startTestSim({ keyId: 'k1', secretKey: 's1' });
    try {
      const c = await rawClient(strict);
      c.ws.send(JSON.stringify({ action: 'authenticate', data: { key_id: 'k1', secret_key: 'nope' } }));
      await waitFor(() => c.closed(), 3000, 'close');
      expect(c.msgs[0]).toEqual({ stream: 'authorization', data: { status: 'unauthorized', action: 'authenticate' } });
    } finally {
      await strict.close();
    }
  });
});
