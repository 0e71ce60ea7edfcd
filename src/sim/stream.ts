/**
 * The `trade_updates` websocket at /stream, attached to the simulator's HTTP server.
 * Protocol as in stream-auth-and-listen.json: authenticate, then listen. Accepts text
 * and binary JSON frames from clients; sends JSON text frames. Applies the ws faults.
 */
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { type RawData, WebSocket, WebSocketServer } from 'ws';
import type { Faults } from './faults.js';

export const STREAM_PATH = '/stream';
const REORDER_FLUSH_MS = 50;

export type CredentialCheck = (keyId: unknown, secret: unknown) => boolean;

interface Client {
  ws: WebSocket;
  authorized: boolean;
  streams: Set<string>;
  held: string[];
  holdTimer: ReturnType<typeof setTimeout> | null;
}

export class TradeStream {
  private readonly wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
  private readonly clients = new Set<Client>();
  private readonly onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    const path = (req.url ?? '').split('?')[0];
    if (path !== STREAM_PATH) {
      socket.write('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      socket.destroy();
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => this.attach(ws));
  };

  constructor(
    private readonly server: Server,
    private readonly checkCredentials: CredentialCheck,
    private readonly faults: Faults,
  ) {
    server.on('upgrade', this.onUpgrade);
  }

  /** Number of connected clients that are authorized and listening to trade_updates. */
  get listenerCount(): number {
    let n = 0;
    for (const c of this.clients) if (c.authorized && c.streams.has('trade_updates')) n += 1;
    return n;
  }

  /** Send one trade update (`data` = the wire data object) to every listening client. */
  broadcast(data: Record<string, unknown>): void {
    const frame = JSON.stringify({ stream: 'trade_updates', data });
    for (const c of this.clients) {
      if (!c.authorized || !c.streams.has('trade_updates') || c.ws.readyState !== WebSocket.OPEN) continue;
      this.deliver(c, frame);
    }
  }

  /** Terminate every client socket (e.g. to simulate a network blip). */
  dropAll(): void {
    for (const c of this.clients) c.ws.terminate();
  }

  async close(): Promise<void> {
    this.server.off('upgrade', this.onUpgrade);
    for (const c of this.clients) {
      if (c.holdTimer) clearTimeout(c.holdTimer);
      c.ws.terminate();
    }
    this.clients.clear();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }

  private deliver(c: Client, frame: string): void {
    if (this.faults.drop()) {
      c.ws.terminate();
      return;
    }
    const copies = this.faults.duplicate() ? [frame, frame] : [frame];
    if (c.held.length > 0) {
      // A frame was held back: send this one first, then the held one(s).
      const held = c.held;
      c.held = [];
      if (c.holdTimer) clearTimeout(c.holdTimer);
      c.holdTimer = null;
      this.send(c, [...copies, ...held]);
    } else if (this.faults.reorder()) {
      c.held = copies;
      c.holdTimer = setTimeout(() => this.flush(c), REORDER_FLUSH_MS);
    } else {
      this.send(c, copies);
    }
  }

  private flush(c: Client): void {
    c.holdTimer = null;
    const held = c.held;
    c.held = [];
    this.send(c, held);
  }

  private send(c: Client, frames: string[]): void {
    for (const f of frames) {
      if (c.ws.readyState === WebSocket.OPEN) c.ws.send(f);
    }
  }

  private reply(c: Client, msg: Record<string, unknown>): void {
    if (c.ws.readyState === WebSocket.OPEN) c.ws.send(JSON.stringify(msg));
  }

  private attach(ws: WebSocket): void {
    const client: Client = { ws, authorized: false, streams: new Set(), held: [], holdTimer: null };
    this.clients.add(client);
    ws.on('message', (raw: RawData) => this.handle(client, raw));
    ws.on('close', () => {
      if (client.holdTimer) clearTimeout(client.holdTimer);
      this.clients.delete(client);
    });
    ws.on('error', () => ws.terminate());
  }

  private handle(c: Client, raw: RawData): void {
    let msg: unknown;
    try {
      const buf = Array.isArray(raw) ? Buffer.concat(raw) : Buffer.isBuffer(raw) ? raw : Buffer.from(raw);
      const text = buf.toString('utf8');
      msg = JSON.parse(text);
    } catch {
      this.reply(c, { stream: 'error', data: { error_message: 'invalid syntax' } });
      return;
    }
    const m = (typeof msg === 'object' && msg !== null ? msg : {}) as { action?: unknown; data?: unknown };
    const data = (typeof m.data === 'object' && m.data !== null ? m.data : {}) as Record<string, unknown>;
    if (m.action === 'authenticate' || m.action === 'auth') {
      const ok = this.checkCredentials(data.key_id, data.secret_key);
      c.authorized = ok;
      this.reply(c, {
        stream: 'authorization',
        data: { status: ok ? 'authorized' : 'unauthorized', action: 'authenticate' },
      });
      if (!ok) c.ws.close(1008, 'unauthorized');
      return;
    }
    if (m.action === 'listen') {
      if (!c.authorized) {
        this.reply(c, { stream: 'authorization', data: { status: 'unauthorized', action: 'listen' } });
        return;
      }
      const requested = Array.isArray(data.streams) ? data.streams : [];
      c.streams = new Set(requested.filter((s): s is string => s === 'trade_updates'));
      this.reply(c, { stream: 'listening', data: { streams: [...c.streams] } });
      return;
    }
    this.reply(c, { stream: 'error', data: { error_message: `unknown action: ${String(m.action)}` } });
  }
}
