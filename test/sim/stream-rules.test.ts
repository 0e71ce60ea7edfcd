/**
 * trade_updates stream rules (docs "Websocket Streaming"; alpaca-py#248): binary frames, read by the
 * real SDK, and one connection per key pair that counts only open sockets.
 */
import { spawn } from 'node:child_process';
import { streaming } from '@alpacahq/alpaca-trade-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Simulator } from '../../src/sim/index.js';
import { KEY, SECRET, outsideTrade, startTestSim, waitFor } from './helpers.js';
import { listeningStream, rawStream } from './stream-helpers.js';

type Update = Parameters<Parameters<streaming.TradingStream['onTradeUpdate']>[0]>[0];

const LIMIT_FRAME = { action: 'error', data: { code: 406, error_message: 'connection limit exceeded' } };

let sim: Simulator;

beforeAll(async () => {
  sim = await startTestSim({ seed: 41 });
});
afterAll(async () => {
  await sim.close();
});

function sdkStream(keyId = KEY, secret = SECRET) {
  const s = new streaming.TradingStream({ url: sim.streamUrl, credentials: { keyId, secret }, reconnect: false });
  const updates: Update[] = [];
  const errors: string[] = [];
  let listening = false;
  s.onTradeUpdate((u) => updates.push(u));
  s.onError((e) => errors.push(e));
  s.on(streaming.EVENT.SUBSCRIPTION, () => {
    listening = true;
  });
  s.subscribeTradeUpdates();
  s.connect();
  return { s, updates, errors, listening: () => listening };
}

describe('binary frames', () => {
  it('sends every frame (authorization, listening, trade_updates) as a binary frame', async () => {
    const c = await listeningStream(sim, 'bin-key', 'bin-secret');
    await outsideTrade(sim, { symbol: 'AAPL', side: 'buy', qty: '1' });
    await waitFor(() => c.updates().length >= 2, 3000, 'new + fill');
    expect(c.frames.map((f) => f.msg.stream)).toEqual(['authorization', 'listening', 'trade_updates', 'trade_updates']);
    expect(c.frames.every((f) => f.binary)).toBe(true);
    c.close();
  });

  it('is decoded by the SDK TradingStream', async () => {
    const a = sdkStream('sdk-key', 'sdk-secret');
    expect(await a.s.waitForAuthentication(3000)).toBe(true);
    await waitFor(a.listening, 3000, 'listening');
    const o = await outsideTrade(sim, { symbol: 'MSFT', side: 'buy', qty: '2' });
    await waitFor(() => a.updates.filter((u) => u.order.id === o.id).length >= 2, 3000, 'updates');
    expect(a.updates.filter((u) => u.order.id === o.id).map((u) => u.event)).toEqual(['new', 'fill']);
    expect(a.updates.find((u) => u.event === 'fill')!.qty).toBe('2');
    expect(a.errors).toEqual([]);
    a.s.disconnect();
  });
});

describe('one connection per key pair', () => {
  it('refuses a second authenticated connection with the same keys; the first keeps streaming', async () => {
    const first = await listeningStream(sim);
    const second = await rawStream(sim);
    second.ws.send(JSON.stringify({ action: 'authenticate', data: { key_id: KEY, secret_key: SECRET } }));
    await waitFor(() => second.closed() !== null, 3000, 'second closed');
    expect(second.frames.map((f) => f.msg)).toEqual([LIMIT_FRAME]);
    expect(second.frames[0]!.binary).toBe(true);
    expect(second.closed()).toEqual({ code: 1008, reason: 'connection limit exceeded' });
    // Other keys are another key pair.
    const other = await listeningStream(sim, 'other-key', 'other-secret');
    expect(other.frames[0]!.msg).toEqual({ stream: 'authorization', data: { status: 'authorized', action: 'authenticate' } });
    const o = await outsideTrade(sim, { symbol: 'SPY', side: 'buy', qty: '1' });
    await waitFor(() => first.eventsFor(o.id as string).length >= 2, 3000, 'first still streams');
    expect(first.closed()).toBeNull();

    // The SDK surfaces the refusal as an error and does not authenticate.
    const sdk2 = sdkStream();
    const result = await sdk2.s.waitForAuthenticationResult(3000);
    expect(result.authenticated).toBe(false);
    expect(sdk2.errors).toContain('connection limit exceeded');
    sdk2.s.disconnect();

    // Once the first is closed, the keys connect again.
    first.close();
    await waitFor(() => first.closed() !== null, 3000, 'first closed');
    const again = await listeningStream(sim);
    expect(again.frames[0]!.msg).toMatchObject({ stream: 'authorization', data: { status: 'authorized' } });
    again.close();
    other.close();
  });

  it('counts only open sockets: a killed client process does not block its restart', async () => {
    const script = `
      const { WebSocket } = require('ws');
      const ws = new WebSocket(process.argv[1]);
      ws.on('open', () => ws.send(JSON.stringify({ action: 'authenticate', data: { key_id: '${KEY}', secret_key: '${SECRET}' } })));
      ws.on('message', (d) => { if (JSON.parse(d.toString()).data.status === 'authorized') console.log('authorized'); });
      setInterval(() => {}, 1000);
    `;
    const child = spawn(process.execPath, ['-e', script, sim.streamUrl], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    await waitFor(() => out.includes('authorized'), 5000, 'child authorized');
    // While it lives, the keys are taken.
    const blocked = await rawStream(sim);
    blocked.ws.send(JSON.stringify({ action: 'authenticate', data: { key_id: KEY, secret_key: SECRET } }));
    await waitFor(() => blocked.closed() !== null, 3000, 'refused');
    expect(blocked.frames[0]!.msg).toEqual(LIMIT_FRAME);
    // SIGKILL: no close handshake; the OS closes its socket.
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
    await waitFor(() => sim.stream.authorizedCount === 0, 3000, 'socket gone');
    const restarted = await listeningStream(sim);
    expect(restarted.frames[0]!.msg).toMatchObject({ data: { status: 'authorized' } });
    restarted.close();
  });

  it('can be lifted (streamConnectionsPerKey: 0)', async () => {
    const free = await startTestSim({ seed: 42, streamConnectionsPerKey: 0 });
    try {
      const a = await listeningStream(free);
      const b = await listeningStream(free);
      expect([a.frames[0]!.msg, b.frames[0]!.msg]).toEqual([
        { stream: 'authorization', data: { status: 'authorized', action: 'authenticate' } },
        { stream: 'authorization', data: { status: 'authorized', action: 'authenticate' } },
      ]);
      a.close();
      b.close();
    } finally {
      await free.close();
    }
  });
});
