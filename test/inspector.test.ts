import { connect } from 'node:net';
import { request } from 'node:http';
import { networkInterfaces } from 'node:os';
import { afterEach, describe, expect, it } from 'vitest';
import { createActor, type Actor, type AnyActorRef } from 'xstate';
import { WebSocket } from 'ws';
import { AUTH_TIMEOUT_MS, startInspector, type Inspector, type InspectorOptions } from '../src/inspect/inspector.js';
import { tokenFailures } from '../src/api/auth.js';
import { orderActorId, supervisorMachine } from '../machines/supervisor.machine.js';
import { orderReport } from './machines/helpers.js';
import { captureLogger } from './support/log-capture.js';

type Msg = Record<string, any>;

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (let c = cleanup.pop(); c; c = cleanup.pop()) await c();
});

async function inspector(
  opts: Partial<InspectorOptions> = {},
): Promise<{ inspector: Inspector; port: number; lines: () => Msg[]; text: () => string }> {
  const { log, lines, text } = captureLogger();
  const ins = await startInspector({ port: 0, log, ...opts });
  cleanup.push(() => ins.close());
  return { inspector: ins, port: Number(new URL(ins.url).port), lines, text };
}

const TOKEN = 'inspect-token-5b2e-91c4-long-enough';

/** A ws client that never speaks first unless told: what it received, and how it was closed. */
function feedClient(url: string, opts: { headers?: Record<string, string>; first?: string } = {}) {
  const ws = new WebSocket(url, { headers: opts.headers });
  const msgs: Msg[] = [];
  ws.on('message', (data) => msgs.push(JSON.parse(String(data)) as Msg));
  ws.on('error', () => {});
  if (opts.first !== undefined) ws.once('open', () => ws.send(opts.first!));
  cleanup.push(() => ws.terminate());
  const opened = Date.now();
  const closed = new Promise<{ code: number; reason: string; afterMs: number }>((resolve) =>
    ws.once('close', (code, reason) => resolve({ code, reason: String(reason), afterMs: Date.now() - opened })),
  );
  return { ws, msgs, closed };
}

/** A viewer as the Stately UI bridge is: a ws client that only listens. */
async function viewer(url: string, opts: { origin?: string } = {}): Promise<{ ws: WebSocket; msgs: Msg[] }> {
  const ws = new WebSocket(url, opts);
  const msgs: Msg[] = [];
  ws.on('message', (data) => msgs.push(JSON.parse(String(data)) as Msg));
  cleanup.push(() => ws.terminate());
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  return { ws, msgs };
}

/** The project's supervisor with the inspector as its root inspect observer. */
function supervisor(inspect: Inspector['inspect']): { actor: Actor<typeof supervisorMachine>; errors: unknown[] } {
  const errors: unknown[] = [];
  const actor = createActor(supervisorMachine, { systemId: 'supervisor', inspect });
  actor.subscribe({ error: (e) => errors.push(e) });
  actor.start();
  cleanup.push(() => actor.stop());
  return { actor, errors };
}

function sendOrder(actor: Actor<typeof supervisorMachine>, orderId?: string): string {
  const order = orderReport(orderId ? { orderId } : {});
  actor.send({ type: 'broker.order', order, role: 'entry', untracked: true, protect: false });
  return order.orderId;
}

async function until<T>(what: string, probe: () => T | undefined, ms = 5_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** The messages a viewer needs to show one order actor: registration, state, events. */
async function orderActorSeen(msgs: Msg[], orderId: string) {
  const name = orderActorId(orderId);
  const registration = await until(`@xstate.actor ${name}`, () => msgs.find((m) => m.type === '@xstate.actor' && m.name === name));
  const snapshot = await until(`@xstate.snapshot of ${name}`, () =>
    msgs.find((m) => m.type === '@xstate.snapshot' && m.sessionId === registration.sessionId && m.event?.type === 'order.report'),
  );
  return { registration, snapshot };
}

/** Resolves with the error code when a TCP connection to host:port fails, null when it connects. */
function tcpProbe(host: string, port: number): Promise<string | null> {
  return new Promise((resolve) => {
    const s = connect({ host, port, timeout: 2_000 });
    s.once('connect', () => {
      s.destroy();
      resolve(null);
    });
    s.once('timeout', () => {
      s.destroy();
      resolve('ETIMEDOUT');
    });
    s.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? String(err)));
  });
}

function httpGet(port: number, host: string): Promise<{ status: number; body: string; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/', headers: { host } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Status of a refused WebSocket handshake (or 101 when accepted). */
function wsHandshake(url: string, opts: { origin?: string; headers?: Record<string, string> }): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, opts);
    ws.on('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      ws.terminate();
    });
    ws.on('open', () => {
      resolve(101);
      ws.terminate();
    });
    ws.on('error', (err) => {
      if (!/Unexpected server response|closed before/.test(String(err))) reject(err);
    });
  });
}

describe('Stately inspector', () => {
  it('streams the supervisor and its order actors to a ws viewer, and replays live actors to a late one', async () => {
    const { inspector: ins, lines } = await inspector();
    expect(ins.url).toMatch(/^ws:\/\/127\.0\.0\.1:\d+$/);
    expect(lines().filter((l) => l.event === 'inspector_listening')).toEqual([expect.objectContaining({ url: ins.url })]);

    const early = await viewer(ins.url);
    const { actor, errors } = supervisor(ins.inspect);
    const orderId = sendOrder(actor);
    const child = actor.system.get(orderActorId(orderId)) as AnyActorRef | undefined;
    expect(child?.getSnapshot().value).toBe('pending');

    const { registration, snapshot } = await orderActorSeen(early.msgs, orderId);
    const root = early.msgs.find((m) => m.type === '@xstate.actor' && m.name === 'supervisor');
    // Stately's message shapes (what the UI renders): one session per actor, all under the root.
    expect(root).toMatchObject({ type: '@xstate.actor', sessionId: actor.sessionId, rootId: actor.sessionId, _version: '0.7.2' });
    expect(typeof root?.definition).toBe('string');
    expect(JSON.parse(root?.definition as string)).toMatchObject({ id: 'supervisor' });
    expect(registration).toMatchObject({
      type: '@xstate.actor',
      name: orderActorId(orderId),
      sessionId: child?.sessionId,
      parentId: actor.sessionId,
      rootId: actor.sessionId,
    });
    expect(snapshot).toMatchObject({
      type: '@xstate.snapshot',
      sessionId: child?.sessionId,
      rootId: actor.sessionId,
      snapshot: { status: 'active', value: 'pending', context: { order: { orderId } } },
    });
    // The events: the broker report the runtime sent to the supervisor, and what it forwarded.
    expect(early.msgs).toContainEqual(
      expect.objectContaining({ type: '@xstate.event', sessionId: actor.sessionId, event: expect.objectContaining({ type: 'broker.order' }) }),
    );
    expect(early.msgs).toContainEqual(
      expect.objectContaining({
        type: '@xstate.event',
        sessionId: child?.sessionId,
        sourceId: actor.sessionId,
        event: expect.objectContaining({ type: 'order.report', order: expect.objectContaining({ orderId }) }),
      }),
    );
    // The parent's snapshot lists the child by id.
    await until('supervisor snapshot with the child', () =>
      early.msgs.find((m) => m.type === '@xstate.snapshot' && m.sessionId === actor.sessionId && m.snapshot?.children?.[orderActorId(orderId)]),
    );
    expect(new Set(early.msgs.map((m) => m.type))).toEqual(new Set(['@xstate.actor', '@xstate.snapshot', '@xstate.event']));

    // A viewer opened later still learns about every live actor and its current state.
    const late = await viewer(ins.url);
    await orderActorSeen(late.msgs, orderId);
    expect(late.msgs.some((m) => m.type === '@xstate.actor' && m.name === 'supervisor')).toBe(true);
    expect(errors).toEqual([]);
  });

  it('listens on 127.0.0.1 only, and only the bridge page may connect from a browser', async () => {
    const { inspector: ins, port } = await inspector();
    expect(await tcpProbe('127.0.0.1', port)).toBeNull();
    // Bound to 127.0.0.1 itself, not to 0.0.0.0 or :: (which would accept all of these).
    if (process.platform === 'linux') expect(await tcpProbe('127.0.0.2', port)).toBe('ECONNREFUSED');
    expect(await tcpProbe('::1', port)).not.toBeNull();
    const external = Object.values(networkInterfaces())
      .flat()
      .filter((a) => a && !a.internal)
      .map((a) => a!.address);
    for (const address of external) expect(await tcpProbe(address, port), address).not.toBeNull();

    const page = await httpGet(port, `127.0.0.1:${port}`);
    expect(page.status).toBe(200);
    expect(page.body).toContain("new WebSocket('ws://' + location.host + '/')");
    expect((await httpGet(port, `localhost:${port}`)).status).toBe(200);
    // DNS rebinding: a foreign host name is refused.
    expect((await httpGet(port, `attacker.example:${port}`)).status).toBe(403);

    expect(await wsHandshake(ins.url, {})).toBe(101);
    expect(await wsHandshake(ins.url, { origin: `http://127.0.0.1:${port}` })).toBe(101);
    expect(await wsHandshake(ins.url, { origin: `http://localhost:${port}` })).toBe(101);
    // Any other web page in the developer's browser could open ws://127.0.0.1: refused.
    expect(await wsHandshake(ins.url, { origin: 'https://attacker.example' })).toBe(403);
    expect(await wsHandshake(ins.url, { headers: { host: 'attacker.example' } })).toBe(403);
  });

  it('a broken, hostile or vanished viewer never reaches the actor system', async () => {
    const { inspector: ins, port } = await inspector();
    const good = await viewer(ins.url);
    const hostile = await viewer(ins.url);
    const { actor, errors } = supervisor(ins.inspect);

    // A viewer cannot publish: its fake actor is not relayed to the others.
    hostile.ws.send(JSON.stringify({ type: '@xstate.actor', name: 'order:fake', sessionId: 'x:999', _version: '0.7.2' }));
    hostile.ws.send('not json');
    // One viewer vanishes without a close handshake, a raw socket sends garbage.
    const gone = await viewer(ins.url);
    gone.ws.terminate();
    const junk = connect({ host: '127.0.0.1', port });
    junk.on('error', () => {});
    junk.end('GARBAGE\r\n\r\n');

    const first = sendOrder(actor);
    await orderActorSeen(good.msgs, first);
    hostile.ws.terminate();
    const second = sendOrder(actor);
    await orderActorSeen(good.msgs, second);
    expect(good.msgs.some((m) => m.name === 'order:fake')).toBe(false);
    expect(Object.keys(actor.getSnapshot().children).sort()).toEqual([orderActorId(first), orderActorId(second), 'position:AAPL'].sort());
    expect(errors).toEqual([]);
  });

  it('close() stops the server and every socket; the observer becomes a no-op', async () => {
    const { inspector: ins, port } = await inspector();
    const v = await viewer(ins.url);
    const { actor, errors } = supervisor(ins.inspect);
    const orderId = sendOrder(actor);
    await orderActorSeen(v.msgs, orderId);

    const closedViewer = new Promise<number>((resolve) => v.ws.once('close', (code) => resolve(code)));
    await ins.close();
    await closedViewer;
    expect(await tcpProbe('127.0.0.1', port)).toBe('ECONNREFUSED');
    await ins.close(); // idempotent

    // The actor system keeps running with the closed inspector still attached.
    const after = sendOrder(actor);
    expect((actor.system.get(orderActorId(after)) as AnyActorRef | undefined)?.getSnapshot().value).toBe('pending');
    expect(errors).toEqual([]);
  });

  it('serves its page unframeable, posting only to the Stately UI origin and believing only that window', async () => {
    const { port } = await inspector();
    const page = await httpGet(port, `127.0.0.1:${port}`);
    expect(page.status).toBe(200);
    const csp = String(page.headers['content-security-policy']);
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).toContain('frame-src https://stately.ai');
    expect(csp).toContain(`connect-src ws://127.0.0.1:${port} ws://localhost:${port}`);
    expect(csp).toMatch(/script-src 'sha256-[A-Za-z0-9+/=]+'/);
    expect(page.headers['x-frame-options']).toBe('DENY');
    expect(page.body).toContain('<iframe id="inspector" src="https://stately.ai/inspect">');
    // No message leaves for whatever origin the frame holds, and only the UI's window is listened to.
    expect(page.body).not.toMatch(/postMessage\([^)]*['"]\*['"]/);
    expect(page.body).toContain('postMessage(data, UI_ORIGIN)');
    expect(page.body).toContain('e.origin !== UI_ORIGIN || e.source !== iframe.contentWindow');
    // The token: asked in a form, kept in sessionStorage, sent on the socket, never in a URL.
    expect(page.body).toContain('<form id="token-form" hidden>');
    expect(page.body).toContain('sessionStorage.setItem(TOKEN_KEY');
    expect(page.body).toContain('ws.send(getToken())');
  });

  it('with CT_API_TOKEN set, a viewer gets nothing until it gives the token, and is closed without it', async () => {
    const failures = tokenFailures();
    const { inspector: ins, port, text, lines } = await inspector({ token: TOKEN, authTimeoutMs: 300, tokenFailures: failures });
    const { actor } = supervisor(ins.inspect);
    const first = sendOrder(actor);

    // Silent: closed after the (shortened) auth timeout, having received nothing, the replay included.
    const silent = feedClient(ins.url);
    // Wrong first message, empty first message, wrong bearer header: refused as such.
    const wrong = feedClient(ins.url, { first: 'not-the-token-000000000' });
    const empty = feedClient(ins.url, { first: '' });
    // The right token either way: the replay, then live events.
    const byHeader = feedClient(ins.url, { headers: { authorization: `Bearer ${TOKEN}` } });
    const byMessage = feedClient(ins.url, { first: TOKEN });

    expect(await silent.closed).toMatchObject({ code: 4401, reason: 'token required within 0.3 s' });
    expect((await silent.closed).afterMs).toBeLessThan(2_000);
    expect(silent.msgs).toEqual([]);
    expect(await wrong.closed).toMatchObject({ code: 4401, reason: 'wrong token' });
    expect(wrong.msgs).toEqual([]);
    expect(await empty.closed).toMatchObject({ code: 4401, reason: 'token required' });
    expect(empty.msgs).toEqual([]);
    expect(await wsHandshake(ins.url, { headers: { authorization: 'Bearer not-the-token-000000000' } })).toBe(401);
    expect(await wsHandshake(ins.url, { headers: { authorization: `Bearer ${TOKEN}` }, origin: 'https://attacker.example' })).toBe(403);

    await orderActorSeen(byHeader.msgs, first);
    await orderActorSeen(byMessage.msgs, first);
    const second = sendOrder(actor);
    await orderActorSeen(byHeader.msgs, second);
    await orderActorSeen(byMessage.msgs, second);

    // Two wrong tokens counted in the status API's budget (shared), logged without what was given.
    expect(lines().filter((l) => l.event === 'inspector_auth_failed').map((l) => [l.via, l.reason])).toEqual([
      ['message', 'wrong_token'],
      ['header', 'wrong_token'],
    ]);
    expect(text()).not.toContain(TOKEN);
    expect(text()).not.toContain('not-the-token');
    expect(failures.fail('127.0.0.1', Date.now())).toMatchObject({ failures: 3, all: 3 });
  });

  it('waits 5 s for the token by default', async () => {
    expect(AUTH_TIMEOUT_MS).toBe(5_000);
    const { inspector: ins } = await inspector({ token: TOKEN });
    const silent = feedClient(ins.url);
    const closed = await silent.closed;
    expect(closed).toMatchObject({ code: 4401, reason: 'token required within 5 s' });
    expect(closed.afterMs).toBeGreaterThanOrEqual(4_900);
    expect(closed.afterMs).toBeLessThan(7_000);
  }, 10_000);

  it('past the shared failure budget a wrong token is refused unchecked, the right one still reads', async () => {
    const failures = tokenFailures({ maxFailures: 2 });
    const { inspector: ins, lines } = await inspector({ token: TOKEN, tokenFailures: failures });
    const { actor } = supervisor(ins.inspect);
    const orderId = sendOrder(actor);
    for (let i = 0; i < 2; i++) expect(await feedClient(ins.url, { first: `wrong-${i}-0000000000000000` }).closed).toMatchObject({ code: 4401, reason: 'wrong token' });
    const locked = await feedClient(ins.url, { first: 'wrong-2-0000000000000000' }).closed;
    expect(locked.code).toBe(4429);
    expect(locked.reason).toMatch(/^too many failed token attempts from this address; retry in \d+ s$/);
    expect(await wsHandshake(ins.url, { headers: { authorization: 'Bearer wrong-3-0000000000000000' } })).toBe(429);
    // The status API sees the same budget spent.
    expect(failures.lockedFor('127.0.0.1', Date.now()).wait).toBeGreaterThan(0);
    expect(lines().filter((l) => l.event === 'inspector_auth_failed')).toHaveLength(2);
    const reader = feedClient(ins.url, { first: TOKEN });
    await orderActorSeen(reader.msgs, orderId);
  });

  it('without CT_API_TOKEN the feed is open to local clients as before (the page first sends an empty token: ignored)', async () => {
    const { inspector: ins } = await inspector({ authTimeoutMs: 100 });
    const { actor } = supervisor(ins.inspect);
    const orderId = sendOrder(actor);
    const silent = feedClient(ins.url);
    const page = feedClient(ins.url, { first: '' });
    await orderActorSeen(silent.msgs, orderId);
    await orderActorSeen(page.msgs, orderId);
    // Well past the auth timeout (an absence needs a bound): still open, still fed.
    await new Promise((r) => setTimeout(r, 300));
    const later = sendOrder(actor);
    await orderActorSeen(silent.msgs, later);
    await orderActorSeen(page.msgs, later);
    expect(silent.ws.readyState).toBe(WebSocket.OPEN);
    expect(page.ws.readyState).toBe(WebSocket.OPEN);
  });
});
