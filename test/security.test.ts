import { mkdtempSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../src/sim/index.js';
import { ConfigError, loadConfig } from '../src/config.js';
import { openDatabase, type Database } from '../src/store/database.js';
import { DEFAULT_CONNECTION_LIMITS, startApi, type ApiServer } from '../src/api/server.js';
import { connect, type Socket } from 'node:net';
import { FailureLimiter } from '../src/api/auth.js';
import { startCooldown } from '../src/store/cooldowns.js';
import { eventually, startBot, type BotProcess } from './support/bot-process.js';
import { simPost } from './support/sim-traffic.js';
import { captureLogger } from './support/log-capture.js';

const KEY = 'PKSECRETKEYID7731';
const SECRET = 'sEcReTvAlUe-9f8e7d6c5b4a';
const TOKEN = 'api-token-5512-very-private';
const dir = mkdtempSync(join(tmpdir(), 'ct-sec-'));
let sim: Simulator | undefined;
const bots: BotProcess[] = [];
afterAll(async () => {
  for (const b of bots) if (b.proc.exitCode === null && b.proc.signalCode === null) b.proc.kill('SIGKILL');
  await Promise.all(bots.map((b) => b.exited));
  await sim?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('secrets and network binding', () => {
  it('never writes the key, the secret or the API token to its logs, even at trace level', async () => {
    sim = await startSimulator({ seed: 81, keyId: KEY, secretKey: SECRET });
    const b = startBot({
      APCA_API_KEY_ID: KEY,
      APCA_API_SECRET_KEY: SECRET,
      ALPACA_API_URL: sim.url,
      ALPACA_STREAM_URL: sim.streamUrl,
      ALPACA_DATA_URL: sim.dataUrl,
      CT_DB_PATH: join(dir, 'sec.db'),
      CT_API_PORT: '0',
      CT_API_TOKEN: TOKEN,
      CT_LOG_LEVEL: 'trace',
    });
    bots.push(b);
    const url = await b.apiUrl();
    expect(new URL(url).hostname).toBe('127.0.0.1');
    await b.waitFor((l) => l.event === 'reconcile_done');
    // Exercise the paths that handle credentials: REST, the stream's auth frame, stops, the API.
    const entry = await simPost(sim, '/_sim/trade', { symbol: 'AAPL', side: 'buy', qty: '1', type: 'market' });
    await b.waitFor((l) => l.event === 'stop_placed' && l.entry_order_id === entry.id, 15_000);
    expect((await fetch(`${url}/health`)).status).toBe(401);
    expect((await fetch(`${url}/health`, { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(200);
    await eventually(async () => b.lines.length > 10);
    b.proc.kill('SIGTERM');
    await b.exited;
    const everything = b.lines.map((l) => JSON.stringify(l)).join('\n') + b.stderr();
    expect(everything.length).toBeGreaterThan(1000);
    for (const secret of [KEY, SECRET, TOKEN]) expect(everything).not.toContain(secret);
  }, 45_000);

  it('refuses to expose the API on a non-loopback host without a token', async () => {
    const b = startBot({ CT_API_HOST: '0.0.0.0', CT_DB_PATH: join(dir, 'x.db') });
    bots.push(b);
    const exit = await b.exited;
    expect(exit.code).toBe(2);
    expect(b.stderr()).toMatch(/CT_API_HOST/);
  });
});

/** One request with a Host header of our choosing (fetch would send the URL's). */
function call(
  base: string,
  path: string,
  opts: { method?: string; host?: string; headers?: Record<string, string>; from?: string; target?: string } = {},
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: any }> {
  const url = new URL(path, base);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: url.hostname, port: url.port, path: opts.target ?? url.pathname + url.search, method: opts.method ?? 'GET', headers: { host: opts.host ?? url.host, ...opts.headers }, ...(opts.from ? { localAddress: opts.from } : {}) },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => {
          let body: any = text;
          try {
            body = JSON.parse(text);
          } catch {
            // HTML or empty
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body });
        });
      },
    );
    req.on('error', reject);
    req.end();
  });
}

describe('status API access (issue 15 item 3)', () => {
  const API_TOKEN = 'tok-5512-abcdefghijklmnopqrstuvwxyz';
  const health = { mode: 'paper' as const, streamState: () => 'connected' as const, drift: () => [] };
  const capture = captureLogger();
  let db: Database;
  let open: ApiServer;
  let secured: ApiServer;
  let named: ApiServer;
  beforeAll(async () => {
    db = await openDatabase(':memory:');
    startCooldown(db, { exitFillId: 'x:1', symbol: 'TSLA', startedAt: new Date(), until: new Date(Date.now() + 60_000) });
    open = await startApi({ host: '127.0.0.1', port: 0, db, log: capture.log, health });
    secured = await startApi({ host: '127.0.0.1', port: 0, db, log: capture.log, health, token: API_TOKEN });
    named = await startApi({ host: '127.0.0.1', port: 0, db, log: capture.log, health, allowedHosts: ['dash.example.lan'] });
  });
  afterAll(async () => {
    await Promise.all([open?.close(), secured?.close(), named?.close()]);
    await db?.close();
  });

  it('answers only to loopback names, the bind host and CT_API_ALLOWED_HOSTS: anything else is 421, GET / included', async () => {
    for (const path of ['/', '/health', '/positions', '/fills']) {
      const r = await call(open.url, path, { host: 'attacker.example:8080' });
      expect(r.status, path).toBe(421);
      expect(r.body.error.code).toBe('misdirected_request');
    }
    expect((await call(secured.url, '/health', { host: 'rebound.attacker.example', headers: { authorization: `Bearer ${API_TOKEN}` } })).status).toBe(421);
    expect((await call(open.url, '/control/pause', { method: 'POST', host: 'attacker.example' })).status).toBe(421);
    for (const host of ['localhost', 'localhost:8080', '127.0.0.1:1', '[::1]:8080', 'LOCALHOST:9']) expect((await call(open.url, '/health', { host })).status, host).toBe(200);
    expect((await call(open.url, '/', { host: 'localhost:8080' })).status).toBe(200);
    expect((await call(open.url, '/health', { host: 'dash.example.lan' })).status).toBe(421);
    expect((await call(named.url, '/health', { host: 'dash.example.lan:8080' })).status).toBe(200);
    expect((await call(named.url, '/', { host: 'Dash.Example.Lan' })).status).toBe(200);
    expect((await call(named.url, '/health', { host: 'evil.dash.example.lan' })).status).toBe(421);
    expect((await call(named.url, '/health', { host: 'dash.example.lan@evil' })).status).toBe(421);
  });

  it('checks an absolute-form request target (GET http://host/path) like the Host header: another host is 421, a target neither a path nor an http URL 400', async () => {
    const port = new URL(open.url).port;
    for (const target of ['http://evil.example/health', 'http://evil.example:8080/positions', 'https://attacker.example/', 'http://127.0.0.1.evil.example/health']) {
      const r = await call(open.url, '/', { target });
      expect(r.status, target).toBe(421);
      expect(r.body.error.code).toBe('misdirected_request');
    }
    expect((await call(open.url, '/', { target: `http://127.0.0.1:${port}/health` })).status).toBe(200);
    expect((await call(open.url, '/', { target: 'http://LOCALHOST/health' })).status).toBe(200);
    expect((await call(named.url, '/', { target: 'http://dash.example.lan/health' })).status).toBe(200);
    for (const target of ['http://user@127.0.0.1/health', 'ftp://127.0.0.1/health', 'http:///health']) {
      const r = await call(open.url, '/', { target });
      expect(r.status, target).toBe(400);
      expect(r.body.error.code).toBe('bad_request_target');
    }
  });

  it('marks every answer nosniff and no-store, errors included', async () => {
    const answers = [
      await call(open.url, '/health'),
      await call(open.url, '/positions'),
      await call(open.url, '/no-such-route'),
      await call(open.url, '/health', { host: 'attacker.example' }),
      await call(secured.url, '/health'),
      await call(open.url, '/control/pause', { method: 'POST' }),
      await call(open.url, '/'),
    ];
    expect(answers.map((a) => a.status)).toEqual([200, 200, 404, 421, 401, 403, 200]);
    for (const a of answers) {
      expect(a.headers['x-content-type-options']).toBe('nosniff');
      expect(a.headers['cache-control']).toBe('no-store');
    }
  });

  it('declares in /openapi.json the bearer scheme on reads (when CT_API_TOKEN is set) as on writes', async () => {
    const doc = (await call(open.url, '/openapi.json')).body;
    expect(doc.components.securitySchemes.bearer).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(doc.components.securitySchemes.bearer.description).toMatch(/reads .*once CT_API_TOKEN is set/);
    let reads = 0;
    for (const [path, ops] of Object.entries<Record<string, any>>(doc.paths)) {
      for (const [method, op] of Object.entries<any>(ops)) {
        if (method === 'get' && path !== '/openapi.json' && path !== '/') {
          reads++;
          expect(op.security, `${method} ${path}`).toEqual([{ bearer: [] }, {}]);
          expect(op.responses['401'].description).toMatch(/only when CT_API_TOKEN is set/);
        } else if (method !== 'get') {
          expect(op.security, `${method} ${path}`).toEqual([{ bearer: [] }]);
        }
      }
    }
    expect(reads).toBeGreaterThan(5);
  });

  it('refuses writes without CT_API_TOKEN (403 write_disabled), even on loopback; reads stay open', async () => {
    for (const [method, path] of [['POST', '/control/pause'], ['POST', '/control/resume'], ['DELETE', '/cooldowns/TSLA'], ['POST', '/positions/AAPL/close'], ['PATCH', '/stops/x'], ['POST', '/entries'], ['POST', '/health']]) {
      const r = await call(open.url, path!, { method, headers: { authorization: 'Bearer anything' } });
      expect(r.status, `${method} ${path}`).toBe(403);
      expect(r.body.error.code).toBe('write_disabled');
    }
    expect((await call(open.url, '/health')).status).toBe(200);
    expect((await call(open.url, '/cooldowns')).body.cooldowns).toHaveLength(1);
  });

  it('with CT_API_TOKEN set, a write without it or with a wrong one is 401 (WWW-Authenticate: Bearer); the scheme is case-insensitive', async () => {
    const none = await call(secured.url, '/control/pause', { method: 'POST' });
    expect(none.status).toBe(401);
    expect(none.headers['www-authenticate']).toBe('Bearer');
    expect(none.body.error.code).toBe('unauthorized');
    const wrong = await call(secured.url, '/cooldowns/TSLA', { method: 'DELETE', headers: { authorization: 'Bearer not-the-token' } });
    expect(wrong.status).toBe(401);
    expect(wrong.headers['www-authenticate']).toBe('Bearer');
    expect((await call(secured.url, '/control/pause', { method: 'POST', headers: { authorization: `Basic ${API_TOKEN}` } })).status).toBe(401);
    expect((await call(secured.url, '/control/pause', { method: 'POST', headers: { authorization: `Bearer ${API_TOKEN}x` } })).status).toBe(401);
    // Past the check, the router answers: an unknown route is a JSON 404, a GET-only one 405.
    for (const scheme of ['Bearer', 'bearer', 'BEARER', 'bEaReR']) {
      const r = await call(secured.url, '/no/such/route', { method: 'POST', headers: { authorization: `${scheme} ${API_TOKEN}` } });
      expect(r.status, scheme).toBe(404);
      expect(r.body.error.code).toBe('not_found');
    }
    const getOnly = await call(secured.url, '/health', { method: 'POST', headers: { authorization: `bearer ${API_TOKEN}` } });
    expect(getOnly).toMatchObject({ status: 405, body: { error: { code: 'method_not_allowed' } } });
    // Reads: the token when one is set, in any case of the scheme; the dashboard page never needs it.
    expect((await call(secured.url, '/health')).status).toBe(401);
    expect((await call(secured.url, '/health', { headers: { authorization: `bearer ${API_TOKEN}` } })).status).toBe(200);
    expect((await call(secured.url, '/health', { headers: { authorization: `BEARER ${API_TOKEN}` } })).status).toBe(200);
    expect((await call(secured.url, '/')).status).toBe(200);
    // No token in the query string: it is not read.
    expect((await call(secured.url, `/health?token=${API_TOKEN}`)).status).toBe(401);
    expect((await call(secured.url, `/health?access_token=${API_TOKEN}`)).status).toBe(401);
  });

  it('limits failed attempts per client address: the 11th in a minute is 429 with Retry-After, and so are writes with the right token (reads with it are not); each failure is logged without the token', async () => {
    const { log, lines, text } = captureLogger();
    const api = await startApi({ host: '127.0.0.1', port: 0, db, log, health, token: API_TOKEN });
    try {
      for (let i = 1; i <= 10; i++) {
        const r = await call(api.url, i % 2 ? '/control/pause' : '/health', { method: i % 2 ? 'POST' : 'GET', headers: { authorization: `Bearer guess-number-${i}` } });
        expect(r.status, `attempt ${i}`).toBe(401);
      }
      const eleventh = await call(api.url, '/health', { headers: { authorization: 'Bearer guess-number-11' } });
      expect(eleventh.status).toBe(429);
      expect(eleventh.body.error.code).toBe('too_many_attempts');
      expect(Number(eleventh.headers['retry-after'])).toBeGreaterThan(0);
      expect(Number(eleventh.headers['retry-after'])).toBeLessThanOrEqual(60);
      // Reads with the right token are never locked out (behind a proxy every client shares this address); writes wait.
      const right = await call(api.url, '/health', { headers: { authorization: `Bearer ${API_TOKEN}` } });
      expect(right.status).toBe(200);
      expect((await call(api.url, '/cooldowns', { headers: { authorization: `Bearer ${API_TOKEN}` } })).status).toBe(200);
      const write = await call(api.url, '/control/pause', { method: 'POST', headers: { authorization: `Bearer ${API_TOKEN}` } });
      expect(write.status).toBe(429);
      expect(write.body.error.message).toMatch(/from this address; writes resume in \d+ s/);
      // The static page is not an attempt and stays served.
      expect((await call(api.url, '/')).status).toBe(200);
      const failed = lines().filter((l) => l.event === 'api_auth_failed');
      expect(failed).toHaveLength(10);
      expect(failed[0]).toMatchObject({ client: expect.stringMatching(/127\.0\.0\.1/), path: '/control/pause', method: 'POST', reason: 'wrong_token', failures: 1 });
      expect(failed[9]).toMatchObject({ path: '/health', failures: 10 });
      expect(text()).not.toContain('guess-number');
      expect(text()).not.toContain(API_TOKEN);
      // Another server, another limiter: the right token works there.
      expect((await call(secured.url, '/health', { headers: { authorization: `Bearer ${API_TOKEN}` } })).status).toBe(200);
    } finally {
      await api.close();
    }
  });

  it('a global budget of failed tries: rotating source addresses (127.1.x.y) get 100 a minute in all, then every address is refused (writes too), while reads with the right token and /health go on', async () => {
    const { log, lines } = captureLogger();
    const api = await startApi({ host: '127.0.0.1', port: 0, db, log, health, token: API_TOKEN });
    try {
      let answered401 = 0;
      // 9 tries from each of 12 addresses: no address reaches its own limit (10).
      for (let a = 1; a <= 12; a++) {
        for (let i = 1; i <= 9; i++) {
          const r = await call(api.url, '/control/pause', { method: 'POST', from: `127.1.0.${a}`, headers: { authorization: `Bearer guess-${a}-${i}` } });
          if (r.status === 401) answered401++;
          else expect(r.status).toBe(429);
        }
      }
      expect(answered401).toBe(100);
      const fresh = await call(api.url, '/control/pause', { method: 'POST', from: '127.1.9.9', headers: { authorization: 'Bearer one-more-guess' } });
      expect(fresh.status).toBe(429);
      expect(fresh.body.error.message).toMatch(/from all addresses/);
      expect(Number(fresh.headers['retry-after'])).toBeGreaterThan(0);
      // The right token from an address that never failed: its write waits, its reads do not.
      expect((await call(api.url, '/control/pause', { method: 'POST', from: '127.1.9.10', headers: { authorization: `Bearer ${API_TOKEN}` } })).status).toBe(429);
      expect((await call(api.url, '/health', { from: '127.1.9.10', headers: { authorization: `Bearer ${API_TOKEN}` } })).status).toBe(200);
      expect((await call(api.url, '/positions', { from: '127.1.9.11', headers: { authorization: `Bearer ${API_TOKEN}` } })).status).toBe(200);
      expect(lines().filter((l) => l.event === 'api_auth_failed' && l.reason === 'wrong_token')).toHaveLength(100);
    } finally {
      await api.close();
    }
  });

  it('limits what a client may hold: a half-sent request is dropped (headers, then body, each on its timeout), and past CT_API_MAX_CONNECTIONS new connections are closed at accept', async () => {
    // The defaults: a half-sent request goes within 30 s (request timeout + Node's check interval).
    expect(DEFAULT_CONNECTION_LIMITS.requestTimeoutMs + DEFAULT_CONNECTION_LIMITS.checkEveryMs).toBeLessThanOrEqual(30_000);
    expect(DEFAULT_CONNECTION_LIMITS.headersTimeoutMs).toBeLessThan(DEFAULT_CONNECTION_LIMITS.requestTimeoutMs);
    expect(loadConfig({}).api.maxConnections).toBe(256);
    expect(() => loadConfig({ CT_API_MAX_CONNECTIONS: '0' })).toThrow(/CT_API_MAX_CONNECTIONS/);
    // The same mechanism on short limits, so the test takes seconds.
    const api = await startApi({ host: '127.0.0.1', port: 0, db, log: captureLogger().log, health, limits: { maxConnections: 3, headersTimeoutMs: 500, requestTimeoutMs: 1000, keepAliveTimeoutMs: 500, checkEveryMs: 200 } });
    const port = Number(new URL(api.url).port);
    // Each socket's close is watched from its creation (the server may close one at accept, before any write).
    const closes = new WeakMap<Socket, Promise<number>>();
    const open = (): Promise<Socket> =>
      new Promise((res, rej) => {
        const t0 = Date.now();
        const c = connect(port, '127.0.0.1', () => res(c));
        closes.set(c, new Promise<number>((done) => c.once('close', () => done(Date.now() - t0))));
        c.on('error', (e) => rej(e));
        c.resume(); // read what the server sends: a paused socket never sees the server's FIN, so never closes
      });
    const closedWithin = (c: Socket) => closes.get(c)!;
    try {
      const headersOnly = await open();
      headersOnly.write('GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n'); // never ends its headers
      const bodyHalf = await open();
      bodyHalf.write('POST /entries HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"sym');
      const [h, b] = await Promise.all([closedWithin(headersOnly), closedWithin(bodyHalf)]);
      expect(h).toBeLessThan(500 + 200 + 500);
      expect(b).toBeLessThan(1000 + 200 + 500);
      // Three held at once: a fourth is closed at accept (no answer), and one frees a place.
      const held = [await open(), await open(), await open()];
      for (const c of held) c.write('GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n');
      const fourth = await open();
      const got: Buffer[] = [];
      fourth.on('data', (d: Buffer) => got.push(d)); // a listener from the start: resume() alone would drop bytes
      fourth.write('GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n');
      expect(await closedWithin(fourth)).toBeLessThan(1000);
      expect(Buffer.concat(got).length).toBe(0);
      for (const c of held) c.destroy();
      await new Promise((r) => setTimeout(r, 100)); // the server sees the three go (loopback: well under 100 ms)
      expect((await call(api.url, '/health')).status).toBe(200);
    } finally {
      await api.close();
    }
  });

  it('the failure window slides: an address may try again once its oldest failure is a minute old', () => {
    const limiter = new FailureLimiter(10, 60_000);
    const t0 = 1_000_000;
    for (let i = 0; i < 10; i++) limiter.fail('10.0.0.1', t0 + i * 1000);
    expect(limiter.retryAfterS('10.0.0.1', t0 + 9_500)).toBe(51);
    expect(limiter.retryAfterS('10.0.0.2', t0 + 9_500)).toBe(0);
    expect(limiter.retryAfterS('10.0.0.1', t0 + 59_999)).toBe(1);
    expect(limiter.retryAfterS('10.0.0.1', t0 + 60_000)).toBe(0);
    // Nine failures still in the window: one more closes it again.
    limiter.fail('10.0.0.1', t0 + 60_000);
    expect(limiter.retryAfterS('10.0.0.1', t0 + 60_001)).toBe(1);
    expect(limiter.retryAfterS('10.0.0.1', t0 + 130_000)).toBe(0);
  });

  it('refuses a non-loopback bind with a token under 24 characters, naming CT_API_TOKEN (and never echoing it)', async () => {
    for (const host of ['0.0.0.0', '192.168.1.20', '::']) {
      let err: unknown;
      try {
        loadConfig({ CT_API_HOST: host, CT_API_TOKEN: 'short-secret-123' });
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).variable).toBe('CT_API_TOKEN');
      expect((err as Error).message).toMatch(/CT_API_TOKEN.*24/);
      expect((err as Error).message).not.toContain('short-secret-123');
      expect((err as Error).message).not.toContain('\n');
    }
    expect(loadConfig({ CT_API_HOST: '0.0.0.0', CT_API_TOKEN: 'x'.repeat(24) }).api.token).toBe('x'.repeat(24));
    // Loopback too refuses a token under 16 characters (any local process may guess), naming it and never echoing it.
    for (const short of ['tiny-tok', 'x'.repeat(15)]) {
      let err: unknown;
      try {
        loadConfig({ CT_API_TOKEN: short });
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).variable).toBe('CT_API_TOKEN');
      expect((err as Error).message).toMatch(/CT_API_TOKEN: must be at least 16 characters/);
      expect((err as Error).message).not.toContain(short);
    }
    expect(loadConfig({ CT_API_TOKEN: 'x'.repeat(16) }).api.token).toBe('x'.repeat(16));
    expect(loadConfig({ CT_API_ALLOWED_HOSTS: 'Dash.Example.Lan, 192.168.1.20:8080' }).api.allowedHosts).toEqual(['dash.example.lan', '192.168.1.20:8080']);
    expect(() => loadConfig({ CT_API_ALLOWED_HOSTS: 'http://dash.example.lan/' })).toThrow(/CT_API_ALLOWED_HOSTS/);
    expect(() => loadConfig({ CT_API_TOKEN: 'has a space' })).toThrow(/CT_API_TOKEN/);

    const b = startBot({ CT_API_HOST: '0.0.0.0', CT_API_TOKEN: 'short-secret-123', CT_DB_PATH: join(dir, 'short.db') });
    bots.push(b);
    const exit = await b.exited;
    expect(exit.code).toBe(2);
    expect(b.stderr().trim().split('\n')).toHaveLength(1);
    expect(b.stderr()).toMatch(/CT_API_TOKEN/);
    expect(b.stderr()).not.toContain('short-secret-123');
  });

  it('serves a dashboard that never puts the token in a URL: header from sessionStorage only', async () => {
    const page = await call(open.url, '/');
    expect(page.status).toBe(200);
    const html = String(page.body);
    expect(html).not.toMatch(/token=/i);
    expect(html).not.toMatch(/URLSearchParams|searchParams/);
    expect(html).toContain('sessionStorage');
    expect(html).toContain("'Authorization'");
  });
});
