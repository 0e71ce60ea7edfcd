/**
 * One job: the Stately inspector's bridge (CT_INSPECT=1), local only (DESIGN §6): its page, its
 * WebSocket relay and who may read or publish on it. With CT_API_TOKEN set, a viewer reads only
 * after giving the token (bearer header on the upgrade, or the socket's first message, within
 * {@link AUTH_TIMEOUT_MS}); wrong ones count against the status API's own failure budgets.
 *
 * Why not `createInspectorServer` from `@statelyai/inspect/server` (0.7.2): it calls
 * `httpServer.listen(port)` with no host, so it listens on every interface (order data on the
 * LAN); it cannot report the port it got (no port 0 in tests); it `exec`s `xdg-open` unless told
 * not to; its `stop()` leaves connected sockets open; and it relays whatever any client sends to
 * every other client. This module is the same bridge (HTTP page + WebSocket relay, same wire
 * format) built with `ws`, bound to 127.0.0.1 only, plus: Host and Origin checks (no DNS
 * rebinding, no random web page reading the feed), only our own producer may publish, slow viewers
 * are dropped instead of buffering without bound, `close()` ends every socket, and a late viewer
 * gets every live actor's registration and latest snapshot (not only the last 200 messages, which
 * in a long-running service no longer include the actors' registrations) plus the last 200 events.
 *
 * The producer is the package's `createWebSocketInspector` (it turns xstate inspection events into
 * Stately's `@xstate.actor` / `@xstate.snapshot` / `@xstate.event` messages) connected to this
 * server over loopback. `createSkyInspector` is never used: it ships order data to a third party.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { createWebSocketInspector } from '@statelyai/inspect';
import { type RawData, WebSocket, WebSocketServer } from 'ws';
import type { InspectionEvent } from 'xstate';
import { bearerOf, tokenFailures, tokenMatcher, type TokenFailures } from '../api/auth.js';
import type { Logger } from '../log.js';
import { bridgeCsp, bridgePage, CLOSE_TOKEN_REQUIRED, CLOSE_TOO_MANY_ATTEMPTS } from './bridge-page.js';


export interface Inspector {
  /** pass as createActor(..., { inspect }) */
  inspect: (ev: InspectionEvent) => void;
  /** ws://127.0.0.1:PORT: where an inspector UI (the bridge page, or any ws client) connects. */
  url: string;
  close(): Promise<void>;
}

const HOST = '127.0.0.1';
/** Inspection events the Stately UI understands; the package drops the rest (microsteps, actions). */
const FORWARDED = new Set<string>(['@xstate.actor', '@xstate.snapshot', '@xstate.event']);
/** Recent `@xstate.event` messages replayed to a viewer that connects late (the package keeps 200). */
const REPLAY_EVENTS = 200;
/** Live actors whose registration and latest snapshot are replayed to a late viewer. */
const MAX_TRACKED_ACTORS = 1000;
/** A viewer that has this much unsent data is not keeping up: it is disconnected. */
const MAX_VIEWER_BUFFER = 8 * 1024 * 1024;
/** One message (a machine definition, a snapshot) never comes near this. */
const MAX_PAYLOAD = 16 * 1024 * 1024;
/** A viewer sends one message, its token (CT_API_TOKEN is one run of visible ASCII). */
const MAX_VIEWER_PAYLOAD = 4 * 1024;
/** A viewer that has not given the token within this is closed (the feed needs it when CT_API_TOKEN is set). */
export const AUTH_TIMEOUT_MS = 5_000;
const PRODUCER_TIMEOUT_MS = 5_000;
const CLOSE_GRACE_MS = 1_000;
/** The UI the bridge page embeds; it receives the events by postMessage inside the browser. */
export const UI_URL = 'https://stately.ai/inspect';

export interface InspectorOptions {
  port: number;
  log: Logger;
  /** CT_API_TOKEN: when set, the feed is read only with it. */
  token?: string;
  /** The status API's wrong-token budgets, shared (made here when absent). */
  tokenFailures?: TokenFailures;
  /** How long a viewer has to give the token ({@link AUTH_TIMEOUT_MS}; shorter in tests). */
  authTimeoutMs?: number;
  /** The Stately UI the page embeds ({@link UI_URL}; a local stand-in in tests). */
  uiUrl?: string;
}

interface TrackedActor {
  actor: string;
  snapshot: string | null;
  root: boolean;
}

interface MessageHead {
  type?: unknown;
  sessionId?: unknown;
  parentId?: unknown;
  snapshot?: { status?: unknown } | null;
}

export async function startInspector(opts: InspectorOptions): Promise<Inspector> {
  const { log } = opts;
  const producerPath = `/producer/${randomBytes(18).toString('base64url')}`;
  const uiUrl = opts.uiUrl ?? UI_URL;
  const authTimeoutMs = opts.authTimeoutMs ?? AUTH_TIMEOUT_MS;
  const matches = opts.token ? tokenMatcher(opts.token) : null;
  const failed = opts.tokenFailures ?? tokenFailures();

  let port = 0;
  let closed = false;
  let producerSocket: WebSocket | null = null;
  let onProducerReady: (() => void) | null = null;
  const viewers = new Set<WebSocket>();
  const actors = new Map<string, TrackedActor>();
  const events: string[] = [];

  const allowedHosts = () => new Set([`${HOST}:${port}`, `localhost:${port}`]);
  const allowedOrigins = () => new Set([`http://${HOST}:${port}`, `http://localhost:${port}`]);

  const http: Server = createServer((req, res) => {
    if (!allowedHosts().has(req.headers.host ?? '')) {
      res.writeHead(403, { 'content-type': 'text/plain' }).end('forbidden\n');
      return;
    }
    if (req.method !== 'GET' || (req.url !== '/' && req.url !== '/index.html')) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    res.writeHead(200, {
      'content-type': 'text/html; charset=utf-8',
      'content-security-policy': bridgeCsp(uiUrl, [`ws://${HOST}:${port}`, `ws://localhost:${port}`]),
      'x-frame-options': 'DENY',
      'referrer-policy': 'no-referrer',
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
    });
    res.end(bridgePage(uiUrl));
  });
  http.on('clientError', (_err, socket: Duplex) => socket.destroy());
  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_PAYLOAD });
  const viewerWss = new WebSocketServer({ noServer: true, maxPayload: MAX_VIEWER_PAYLOAD });
  for (const server of [wss, viewerWss]) server.on('error', (err) => log.warn({ event: 'inspector_error', err: String(err) }, 'inspector server error'));

  http.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    const reject = (status: string, headers = '') => {
      socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\n${headers}Content-Length: 0\r\n\r\n`);
    };
    if (closed) return reject('503 Service Unavailable');
    if (!allowedHosts().has(req.headers.host ?? '')) return reject('403 Forbidden');
    if (req.url === producerPath) {
      // Only this process's own producer publishes (it sends no Origin header).
      if (producerSocket || req.headers.origin !== undefined) return reject('409 Conflict');
      wss.handleUpgrade(req, socket, head, (ws) => acceptProducer(ws));
      return;
    }
    // A viewer: a Node client (no Origin) or the bridge page served from this very server. Any
    // other web page could open a socket to 127.0.0.1 from the developer's browser: refused.
    const origin = req.headers.origin;
    if (origin !== undefined && !allowedOrigins().has(origin)) return reject('403 Forbidden');
    if (!matches) return viewerWss.handleUpgrade(req, socket, head, (ws) => acceptViewer(ws));
    const client = req.socket.remoteAddress ?? 'unknown';
    const header = req.headers.authorization;
    if (header === undefined) return viewerWss.handleUpgrade(req, socket, head, (ws) => awaitToken(ws, client));
    // The token as a bearer header on the upgrade (a Node client, curl, websocat).
    const verdict = checkToken(bearerOf(header) ?? header.trim(), client, 'header');
    if (verdict === null) return viewerWss.handleUpgrade(req, socket, head, (ws) => acceptViewer(ws));
    reject(verdict.code === CLOSE_TOO_MANY_ATTEMPTS ? '429 Too Many Requests' : '401 Unauthorized', 'WWW-Authenticate: Bearer\r\n');
  });

  /**
   * Null when `given` is the token; else why not, as a close code and reason. A wrong token counts
   * against the status API's budgets; past them, a wrong one is refused unchecked (the right one
   * never is: the feed is a read). An empty one is no attempt (the page has none yet).
   */
  function checkToken(given: string, client: string, via: 'header' | 'message'): { code: number; reason: string } | null {
    if (given !== '' && matches!(given)) return null;
    if (given === '') return { code: CLOSE_TOKEN_REQUIRED, reason: 'token required' };
    const t = Date.now();
    const lock = failed.lockedFor(client, t);
    if (lock.wait > 0) return { code: CLOSE_TOO_MANY_ATTEMPTS, reason: `too many failed token attempts ${lock.scope}; retry in ${lock.wait} s` };
    const { failures, all } = failed.fail(client, t);
    // What was given is never logged.
    log.warn({ event: 'inspector_auth_failed', client, via, reason: 'wrong_token', failures, failures_all: all }, 'inspector feed: token wrong');
    return { code: CLOSE_TOKEN_REQUIRED, reason: 'wrong token' };
  }

  /** A viewer without a bearer header: its first message must be the token, within authTimeoutMs. Nothing is sent before. */
  function awaitToken(ws: WebSocket, client: string): void {
    ws.on('error', () => ws.terminate());
    const timer = setTimeout(() => refuse(ws, CLOSE_TOKEN_REQUIRED, `token required within ${authTimeoutMs / 1000} s`), authTimeoutMs);
    ws.once('close', () => clearTimeout(timer));
    ws.once('message', (data, isBinary) => {
      clearTimeout(timer);
      const verdict = checkToken(isBinary ? '' : rawToString(data).trim(), client, 'message');
      if (verdict === null) acceptViewer(ws);
      else refuse(ws, verdict.code, verdict.reason);
    });
  }

  /** Closes with a code and reason that say why; a peer that does not answer the close is cut. */
  function refuse(ws: WebSocket, code: number, reason: string): void {
    log.info({ event: 'inspector_viewer_refused', code, reason }, 'inspector viewer refused');
    ws.close(code, reason);
    setTimeout(() => ws.terminate(), CLOSE_GRACE_MS).unref();
  }

  function acceptProducer(ws: WebSocket): void {
    producerSocket = ws;
    ws.on('error', () => ws.terminate());
    ws.on('close', () => {
      if (producerSocket === ws) producerSocket = null;
    });
    ws.on('message', (data, isBinary) => {
      if (!isBinary) publish(rawToString(data));
    });
    // The client answers a ping only once it is open: then nothing it sends is deferred any more.
    ws.once('pong', () => onProducerReady?.());
    ws.ping();
  }

  function acceptViewer(ws: WebSocket): void {
    viewers.add(ws);
    ws.on('error', () => ws.terminate());
    ws.on('close', () => viewers.delete(ws));
    // Viewers only listen; whatever they send is ignored (the package would relay it to everyone).
    log.debug({ event: 'inspector_viewer_connected', viewers: viewers.size }, 'inspector viewer connected');
    // The replay (about 3.5 kB per live actor, bounded by MAX_TRACKED_ACTORS) is exempt from the
    // slow-viewer limit: it is queued all at once, before the viewer had any chance to read.
    for (const t of actors.values()) {
      send(ws, t.actor, true);
      if (t.snapshot) send(ws, t.snapshot, true);
    }
    for (const msg of events) send(ws, msg, true);
  }

  function send(ws: WebSocket, msg: string, replay = false): void {
    if (ws.readyState !== WebSocket.OPEN) return;
    if (!replay && ws.bufferedAmount > MAX_VIEWER_BUFFER) {
      log.warn({ event: 'inspector_viewer_dropped', buffered: ws.bufferedAmount }, 'inspector viewer too slow: disconnected');
      viewers.delete(ws);
      ws.terminate();
      return;
    }
    ws.send(msg, (err) => {
      if (err) ws.terminate();
    });
  }

  /** Keeps what a late viewer needs (live actors, recent events), then relays to every viewer. */
  function publish(msg: string): void {
    let head: MessageHead;
    try {
      head = JSON.parse(msg) as MessageHead;
    } catch {
      return;
    }
    const sessionId = typeof head.sessionId === 'string' ? head.sessionId : null;
    if (head.type === '@xstate.actor' && sessionId) {
      actors.set(sessionId, { actor: msg, snapshot: null, root: head.parentId === undefined || head.parentId === null });
      if (actors.size > MAX_TRACKED_ACTORS) {
        for (const [id, t] of actors) {
          if (!t.root) {
            actors.delete(id);
            break;
          }
        }
      }
    } else if (head.type === '@xstate.snapshot' && sessionId) {
      const t = actors.get(sessionId);
      if (t) {
        if (head.snapshot?.status === 'active' || head.snapshot?.status === undefined) t.snapshot = msg;
        else actors.delete(sessionId);
      }
    } else if (head.type === '@xstate.event') {
      events.push(msg);
      if (events.length > REPLAY_EVENTS) events.shift();
    }
    for (const ws of viewers) send(ws, msg);
  }

  // Loopback only, whatever the port.
  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error) => reject(err);
    http.once('error', onError);
    http.listen({ port: opts.port, host: HOST, exclusive: true }, () => {
      http.off('error', onError);
      resolve();
    });
  });
  http.on('error', (err) => log.warn({ event: 'inspector_error', err: String(err) }, 'inspector server error'));
  port = (http.address() as AddressInfo).port;
  const url = `ws://${HOST}:${port}`;

  const producerReady = new Promise<void>((resolve) => {
    onProducerReady = resolve;
  });
  const producer = createWebSocketInspector({ url: `${url}${producerPath}` });

  async function shutdown(): Promise<void> {
    closed = true;
    // Close the producer from its side first: a clean close never triggers its reconnect loop.
    const p = producerSocket;
    producer.stop();
    if (p && p.readyState !== WebSocket.CLOSED) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, CLOSE_GRACE_MS);
        p.once('close', () => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    for (const server of [wss, viewerWss]) for (const ws of server.clients) ws.terminate();
    viewers.clear();
    actors.clear();
    events.length = 0;
    await Promise.all([wss, viewerWss].map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
    http.closeAllConnections();
    await new Promise<void>((resolve) => http.close(() => resolve()));
  }

  try {
    await withTimeout(producerReady, PRODUCER_TIMEOUT_MS, 'inspector producer did not connect');
  } catch (err) {
    await shutdown();
    throw err;
  }

  let errorLogged = false;
  const inspect = (ev: InspectionEvent): void => {
    if (closed || !FORWARDED.has(ev.type)) return;
    try {
      // Serialization and sending happen later, on the package's own timer, off this transition.
      producer.inspect.next?.(ev);
    } catch (err) {
      // Never into the actor system: a transition must not fail because of the inspector.
      if (!errorLogged) {
        errorLogged = true;
        log.warn({ event: 'inspector_error', err: String(err) }, 'inspector failed to take an event');
      }
    }
  };

  let closing: Promise<void> | null = null;
  log.info({ event: 'inspector_listening', url, ui: `http://${HOST}:${port}/` }, `Stately inspector on ${url} (open http://${HOST}:${port}/)`);
  return {
    inspect,
    url,
    close: () => (closing ??= shutdown()),
  };
}

function rawToString(data: RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  if (data instanceof ArrayBuffer) return Buffer.from(data).toString('utf8');
  return data.toString('utf8');
}

async function withTimeout<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(message)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
