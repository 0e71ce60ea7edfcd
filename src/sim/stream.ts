/**
 * The `trade_updates` websocket at /stream, attached to the simulator's HTTP server.
 * Protocol as in stream-auth-and-listen.json: authenticate, then listen. Accepts text and
 * binary JSON frames from clients; applies the ws faults.
 *
 * Alpaca's rules (docs "Websocket Streaming"):
 * - Every server frame is a BINARY websocket frame holding JSON ("The trade_updates stream
 *   coming from wss://paper-api.alpaca.markets/stream uses binary frames"); the SDK decodes both.
 * - One connection per key pair (default; `connectionsPerKey`, 0 = no limit). A second
 *   connection that authenticates with a key pair already authenticated on another OPEN socket
 *   is refused: it gets `{"action":"error","data":{"code":406,"error_message":"connection limit
 *   exceeded"}}` and is closed (1008); the existing connection stays. Code and text are the
 *   documented market-data ones ("Real-time stock data": `[{"T":"error","code":406,"msg":
 *   "connection limit exceeded"}]`, "If you try to open a second connection, you'll get this
 *   error"; alpaca-py#248); the envelope is the one the SDK's TradingStream reads as an error
 *   (no trading-stream frame is published). Only open sockets count, so a client that crashed
 *   (its socket closed) can connect again at once.
 * - No replay of missed events.
 */
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { type RawData, WebSocket, WebSocketServer } from 'ws';
import type { Faults } from './faults.js';

export const STREAM_PATH = '/stream';
const REORDER_FLUSH_MS = 50;

export const CONNECTION_LIMIT_FRAME = {
  action: 'error',
  data: { code: 406, error_message: 'connection limit exceeded' },
} as const;

export type CredentialCheck = (keyId: unknown, secret: unknown) => boolean;

export interface TradeStreamOptions {
  /** Authenticated connections allowed per key pair (default 1; 0 = no limit). */
  connectionsPerKey?: number;
}

interface Client {
  ws: WebSocket;
  authorized: boolean;
  /** `keyId\u0000secret` once authorized. */
  keyPair: string | null;
  streams: Set<string>;
  held: string[];
  holdTimer: ReturnType<typeof setTimeout> | null;
}

export class TradeStream {
  private readonly wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
  private readonly clients = new Set<Client>();
  private readonly connectionsPerKey: number;
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
    opts: TradeStreamOptions = {},
  ) {
    this.connectionsPerKey = opts.connectionsPerKey ?? 1;
    server.on('upgrade', this.onUpgrade);
  }

  /** Number of connected clients that are authorized and listening to trade_updates. */
  get listenerCount(): number {
    let n = 0;
    for (const c of this.clients) if (c.authorized && c.streams.has('trade_updates')) n += 1;
    return n;
  }

  /** Number of open, authorized connections (any key pair). */
  get authorizedCount(): number {
    let n = 0;
    for (const c of this.clients) if (c.authorized && c.ws.readyState === WebSocket.OPEN) n += 1;
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

  /** Alpaca's paper stream sends binary frames (UTF-8 JSON). */
  private send(c: Client, frames: string[]): void {
    for (const f of frames) {
      if (c.ws.readyState === WebSocket.OPEN) c.ws.send(Buffer.from(f, 'utf8'), { binary: true });
    }
  }

  private reply(c: Client, msg: Record<string, unknown>): void {
    this.send(c, [JSON.stringify(msg)]);
  }

  private attach(ws: WebSocket): void {
    const client: Client = { ws, authorized: false, keyPair: null, streams: new Set(), held: [], holdTimer: null };
    this.clients.add(client);
    ws.on('message', (raw: RawData) => this.handle(client, raw));
    ws.on('close', () => {
      if (client.holdTimer) clearTimeout(client.holdTimer);
      this.clients.delete(client);
    });
    ws.on('error', () => ws.terminate());
  }

  /** Another open socket is already authorized with this key pair (up to the limit). */
  private overLimit(c: Client, keyPair: string): boolean {
    if (this.connectionsPerKey <= 0) return false;
    let others = 0;
    for (const o of this.clients) {
      if (o !== c && o.authorized && o.keyPair === keyPair && o.ws.readyState === WebSocket.OPEN) others += 1;
    }
    return others >= this.connectionsPerKey;
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
      if (ok) {
        const keyPair = `${String(data.key_id)}\u0000${String(data.secret_key)}`;
        if (c.keyPair !== keyPair && this.overLimit(c, keyPair)) {
          this.reply(c, { ...CONNECTION_LIMIT_FRAME });
          c.ws.close(1008, 'connection limit exceeded');
          return;
        }
        c.keyPair = keyPair;
      } else {
        c.keyPair = null;
      }
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
