import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBrokerClient } from '../src/broker/client.js';
import { TradeUpdateFeed } from '../src/broker/trade-update-feed.js';
import type { TradeUpdateReport } from '../src/domain/reports.js';
import { captureLogger } from './support/log-capture.js';
import { fixture } from './support/fixtures.js';
import { eventually } from './support/bot-process.js';

/**
 * A hostile trade_updates server on loopback: after the documented handshake it sends garbage,
 * broken updates and one real one. The feed (real SDK TradingStream underneath) must log each bad
 * payload with a reason, keep the connection, and deliver the good update.
 */
let server: Server;
let url: string;
beforeAll(async () => {
  server = createServer();
  const wss = new WebSocketServer({ server, path: '/stream' });
  const good = fixture('trade-update-fill.json');
  wss.on('connection', (ws) => {
    ws.on('message', (raw) => {
      const msg = JSON.parse(String(raw));
      if (msg.action === 'authenticate') ws.send(JSON.stringify({ stream: 'authorization', data: { status: 'authorized', action: 'authenticate' } }));
      if (msg.action === 'listen') {
        ws.send(JSON.stringify({ stream: 'listening', data: { streams: ['trade_updates'] } }));
        ws.send('{not json');
        ws.send(JSON.stringify({ stream: 'trade_updates', data: 'fill' }));
        ws.send(JSON.stringify({ stream: 'trade_updates', data: { event: 'fill', order: null } }));
        ws.send(JSON.stringify({ stream: 'trade_updates', data: { ...good.data, order: { ...good.data.order, filled_qty: 12.5 } } }));
        ws.send(JSON.stringify({ stream: 'trade_updates', data: { ...good.data, qty: '-3' } }));
        ws.send(JSON.stringify({ stream: 'mystery', data: {} }));
        ws.send(JSON.stringify(good));
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}/stream`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

describe('trade update feed', () => {
  it('logs and skips malformed trade updates, then delivers the valid one', async () => {
    const cap = captureLogger();
    const client = createBrokerClient({ keyId: 'k', secretKey: 's', paper: true, apiUrl: 'http://127.0.0.1:9', streamUrl: url });
    const got: TradeUpdateReport[] = [];
    let listening = 0;
    const feed = new TradeUpdateFeed(client, cap.log, { onUpdate: (u) => got.push(u), onListening: () => listening++ });
    feed.start();
    try {
      await eventually(async () => got.length === 1);
      expect(got[0]!.execution).toMatchObject({ orderId: 'a5be8f5e-fdfa-41f5-a644-7a74fe947a8f', cumQty: '1790.86' });
      expect(feed.state).toBe('connected');
      expect(listening).toBe(1);
      const rejected = cap.lines().filter((l) => l.event === 'broker_payload_rejected');
      expect(rejected).toHaveLength(2);
      for (const r of rejected) expect(r.reason).toMatch(/trade update/);
      // Frames the SDK itself refuses surface as stream errors, logged, never thrown.
      expect(cap.lines().filter((l) => l.event === 'stream_error').length).toBeGreaterThanOrEqual(2);
    } finally {
      feed.stop();
    }
    expect(feed.state).toBe('down');
  });
});
