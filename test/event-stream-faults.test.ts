/**
 * What the simulator cannot send, from a bare HTTP server speaking SSE on loopback, read by the real
 * SDK client and src/sync/event-stream.ts into real order actors on SQLite:
 * - malformed events (not JSON, a fill without cum_qty) are logged and read past, never a crash; the
 *   good fill after them is recorded and the cursor passes all of them; a bust naming a fill the
 *   ledger lacks is kept pending, a correction naming nothing is malformed;
 * - a bust of a fill it brought is applied once, however often the stream repeats it;
 * - a fill a live order cannot record yet holds the cursor until its lookup recorded it;
 * - a silent connection is left after the idle limit and resumed from the cursor;
 * - an endpoint that keeps failing (500) falls back after 5 failures in a row: one log line, one reason.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from '../src/store/database.js';
import { createBrokerClient } from '../src/broker/client.js';
import { OrderActors } from '../src/runtime/order-actors.js';
import { restart } from '../src/runtime/restart.js';
import { ActivityEventStream, FAILURES_TO_FALL_BACK } from '../src/sync/event-stream.js';
import { readSyncState, writeSyncState } from '../src/store/sync-state.js';
import type { OrderReport } from '../src/domain/reports.js';
import { captureLogger } from './support/log-capture.js';
import { eventually } from './support/bot-process.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function serve(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<string> {
  const server: Server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function source(apiUrl: string, opts: { cursor?: string; fetchOrder?: (id: string) => Promise<OrderReport | null>; idleMs?: number } = {}): Promise<{ db: Database; stream: ActivityEventStream; lines: () => Array<Record<string, any>> }> {
  const db = await openDatabase(':memory:');
  if (opts.cursor) writeSyncState(db, 'event_cursor', opts.cursor);
  const cap = captureLogger('debug');
  const actors = new OrderActors({ db, log: cap.log, adopt: 'record', cooldownMinutes: 0, fetchOrder: opts.fetchOrder ?? (async () => null), onFatal: (e) => { throw e; } });
  await restart({ actors });
  const client = createBrokerClient({ keyId: 'k', secretKey: 's', paper: true, apiUrl }, { rateLimit: false });
  const stream = new ActivityEventStream({ db, log: cap.log, client, actors, ...(opts.idleMs ? { idleMs: opts.idleMs } : {}) });
  cleanups.push(async () => {
    await stream.stop();
    actors.stop();
    await db.close();
  });
  return { db, stream, lines: cap.lines };
}

const fill = (eventId: string, details: Record<string, unknown> = {}) => ({
  activity_type: 'TRD',
  event_id: eventId,
  executed_at: '2026-03-02T15:00:00.100Z',
  price: '190',
  qty: '1',
  ref_id: `x-${eventId}`,
  details: { cum_qty: '1', execution_type: 'fill', order_id: `o-${eventId}`, order_status: 'filled', side: 'buy', symbol: 'AAPL', ...details },
});

describe('activity event stream faults', () => {
  it('reads past malformed events (logged), records the good fill after them, and moves the cursor past all', async () => {
    const url = await serve((req, res) => {
      expect(req.url).toBe('/v2beta1/events/activities');
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: {not json\n\n');
      res.write(`data: ${JSON.stringify(fill('01A', { cum_qty: undefined }))}\n\n`);
      res.write(`data: ${JSON.stringify(fill('01B'))}\n\n`);
      // A bust of an execution the ledger does not hold: kept pending. A correction naming nothing: malformed.
      res.write(`data: ${JSON.stringify({ ...fill('01C', { execution_type: 'trade_bust' }), previous_id: 'x-none' })}\n\n`);
      res.write(`data: ${JSON.stringify(fill('01D', { execution_type: 'trade_correct' }))}\n\n`);
      // Kept open: a live stream.
    });
    const s = await source(url);
    s.stream.start();
    await eventually(async () => readSyncState(s.db, 'event_cursor') === '01D' || undefined);
    expect(s.db.sqlite.prepare('select order_id, cum_qty, source, execution_id from fills').all()).toEqual([{ order_id: 'o-01B', cum_qty: '1', source: 'event', execution_id: 'x-01B' }]);
    const rejected = s.lines().filter((l) => l.event === 'broker_payload_rejected');
    expect(rejected.map((l) => l.event_id ?? null)).toEqual([null, '01A', '01D']);
    expect(s.lines().filter((l) => l.event === 'execution_change_pending').map((l) => [l.ref_id, l.previous_id])).toEqual([['x-01C', 'x-none']]);
    expect(s.db.sqlite.prepare('select ref_id, event_id, fill_id from fill_changes').all()).toEqual([{ ref_id: 'x-01C', event_id: '01C', fill_id: null }]);
    expect(s.stream.state).toBe('live');
  });

  it('a bust of a fill it brought is applied once, whatever the stream repeats, and the cursor passes it', async () => {
    const bust = { ...fill('01F', { execution_type: 'trade_bust', cum_qty: '0', order_id: 'o-01E' }), ref_id: 'x-bust', previous_id: 'x-01E' };
    const url = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(`data: ${JSON.stringify(fill('01E'))}\n\n`);
      res.write(`data: ${JSON.stringify(bust)}\n\n`);
      // The same event again (a repeat), then a sentinel.
      res.write(`data: ${JSON.stringify(bust)}\n\n`);
      res.write(`data: ${JSON.stringify(fill('01H'))}\n\n`);
    });
    const s = await source(url);
    s.stream.start();
    await eventually(async () => readSyncState(s.db, 'event_cursor') === '01H' || undefined);
    expect(s.db.sqlite.prepare('select order_id, busted from fills order by id').all()).toEqual([{ order_id: 'o-01E', busted: 1 }, { order_id: 'o-01H', busted: 0 }]);
    expect(s.lines().filter((l) => l.event === 'execution_change_applied').map((l) => l.ref_id)).toEqual(['x-bust']);
    expect(s.lines().filter((l) => l.event === 'execution_change_seen').map((l) => l.ref_id)).toEqual(['x-bust']);
    expect(s.db.sqlite.prepare("select id from notifications where kind = 'fill_busted'").all()).toEqual([{ id: 'fill_busted:x-bust' }]);
    expect(s.stream.changeEvents).toBe(2);
  });

  it('a fill its order must be looked up for (a gap nothing prices) holds the cursor until the lookup recorded it', async () => {
    const queries: string[] = [];
    const url = await serve((req, res) => {
      queries.push(new URL(req.url!, 'http://x').searchParams.get('since_id') ?? '');
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      // The order's second fill (cum 2) without its first: the ledger cannot price the first.
      res.write(`data: ${JSON.stringify(fill('01G', { cum_qty: '2', order_id: 'o-gap', order_status: 'filled' }))}\n\n`);
    });
    let lookedUp = 0;
    const order: OrderReport = {
      orderId: 'o-gap', clientOrderId: 'manual-gap', symbol: 'AAPL', assetClass: 'us_equity', side: 'buy', type: 'market', timeInForce: 'day', status: 'filled',
      qty: '2', notional: null, filledQty: '2', filledAvgPrice: '189.5', limitPrice: null, stopPrice: null, trailPercent: null, trailPrice: null, replacedBy: null, replaces: null,
      submittedAt: '2026-03-02T15:00:00Z', updatedAt: '2026-03-02T15:00:00.100Z', filledAt: '2026-03-02T15:00:00.100Z', expiresAt: null,
    };
    const s = await source(url, { cursor: '01F', fetchOrder: async () => ((lookedUp += 1), order) });
    s.stream.start();
    await eventually(async () => readSyncState(s.db, 'event_cursor') === '01G' || undefined);
    // Held once at 01F (the order looked up meanwhile), then replayed from it: a duplicate, and the cursor moves.
    expect(s.lines().filter((l) => l.event === 'event_stream_held')).toEqual([expect.objectContaining({ cursor: '01F' })]);
    expect(queries.slice(0, 2)).toEqual(['01F', '01F']);
    expect(lookedUp).toBe(1);
    expect(s.db.sqlite.prepare('select cum_qty, qty, source from fills').all()).toEqual([{ cum_qty: '2', qty: '2', source: 'order' }]);
  });

  it('a connection silent past the idle limit is left and resumed from the cursor, not counted as a failure', async () => {
    const queries: string[] = [];
    const url = await serve((req, res) => {
      queries.push(new URL(req.url!, 'http://x').searchParams.get('since_id') ?? '');
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.flushHeaders();
    });
    const s = await source(url, { cursor: '01K', idleMs: 200 });
    s.stream.start();
    await eventually(async () => queries.length >= 3 || undefined, 10_000);
    expect(queries.slice(0, 3)).toEqual(['01K', '01K', '01K']);
    expect(s.lines().filter((l) => l.event === 'event_stream_idle').length).toBeGreaterThanOrEqual(2);
    expect(s.lines().filter((l) => l.event === 'event_stream_failed')).toEqual([]);
    expect(s.stream.state).not.toBe('unavailable');
  });

  it(`falls back after ${FAILURES_TO_FALL_BACK} failures in a row, saying so once`, async () => {
    let requests = 0;
    const url = await serve((_req, res) => {
      requests += 1;
      res.writeHead(500, { 'content-type': 'application/json' });
      res.end('{"code":50010000,"message":"internal server error"}');
    });
    const s = await source(url);
    s.stream.start();
    await eventually(async () => s.stream.state === 'unavailable' || undefined, 15_000);
    expect(requests).toBe(FAILURES_TO_FALL_BACK);
    expect(s.stream.reason()).toBe(`event stream unavailable (${FAILURES_TO_FALL_BACK} failures in a row): fills from trade_updates and activity polling`);
    expect(s.lines().filter((l) => l.event === 'event_stream_unavailable')).toHaveLength(1);
  });
});
