/** A raw trade_updates client for the rule tests: records every frame (and whether it was binary). */
import { WebSocket } from 'ws';
import type { Simulator } from '../../src/sim/index.js';
import { type Json, KEY, SECRET, waitFor } from './helpers.js';

export interface Frame {
  binary: boolean;
  msg: Json;
}

export interface RawStream {
  ws: WebSocket;
  frames: Frame[];
  closed: () => { code: number; reason: string } | null;
  /** trade_updates `data` objects received so far. */
  updates: () => Json[];
  /** Event names for one order id, in order. */
  eventsFor: (orderId: string) => string[];
  close: () => void;
}

/** Connect (no auth). */
export async function rawStream(sim: Simulator): Promise<RawStream> {
  const ws = new WebSocket(sim.streamUrl);
  const frames: Frame[] = [];
  let closed: { code: number; reason: string } | null = null;
  ws.on('message', (d, isBinary) => frames.push({ binary: isBinary, msg: JSON.parse(d.toString()) as Json }));
  ws.on('close', (code, reason) => {
    closed = { code, reason: reason.toString() };
  });
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  const updates = (): Json[] => frames.filter((f) => f.msg.stream === 'trade_updates').map((f) => f.msg.data as Json);
  return {
    ws,
    frames,
    closed: () => closed,
    updates,
    eventsFor: (id) => updates().filter((u) => (u.order as Json).id === id).map((u) => u.event as string),
    close: () => ws.close(),
  };
}

/** Connect, authenticate and listen to trade_updates (waits for the listening ack). */
export async function listeningStream(sim: Simulator, keyId = KEY, secret = SECRET): Promise<RawStream> {
  const s = await rawStream(sim);
  s.ws.send(JSON.stringify({ action: 'authenticate', data: { key_id: keyId, secret_key: secret } }));
  await waitFor(() => s.frames.length >= 1 || s.closed() !== null, 3000, 'auth reply');
  s.ws.send(JSON.stringify({ action: 'listen', data: { streams: ['trade_updates'] } }));
  await waitFor(() => s.frames.some((f) => f.msg.stream === 'listening'), 3000, 'listening ack');
  return s;
}
