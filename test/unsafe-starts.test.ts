import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { hostname } from 'node:os';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createBrokerClient } from '../src/broker/client.js';
import { verifyCredentials } from '../src/broker/credentials.js';
import { TradeUpdateFeed } from '../src/broker/trade-update-feed.js';
import { createLogger } from '../src/log.js';
import { startSimulator, type Simulator } from '../src/sim/index.js';
import { StartupRefusal } from '../src/startup-refusal.js';
import { eventually, startBot, type BotProcess } from './support/bot-process.js';
import { simPost } from './support/sim-traffic.js';

const KEY = 'PKRIGHTKEY0042';
const SECRET = 'right-secret-value-0042';
const dir = mkdtempSync(join(tmpdir(), 'ct-unsafe-'));
const sims: Simulator[] = [];
const bots: BotProcess[] = [];
const silent = createLogger('silent');

afterAll(async () => {
  for (const b of bots) if (b.proc.exitCode === null && b.proc.signalCode === null) b.proc.kill('SIGKILL');
  await Promise.all(bots.map((b) => b.exited));
  await Promise.all(sims.map((s) => s.close()));
  rmSync(dir, { recursive: true, force: true });
});

async function sim(): Promise<Simulator> {
  const s = await startSimulator({ seed: 12, keyId: KEY, secretKey: SECRET });
  sims.push(s);
  return s;
}

/** A bot with the right keys for `s`, on its own database in the temp dir. */
const botEnv = (s: Simulator, db: string, keys = { id: KEY, secret: SECRET }) => ({
  APCA_API_KEY_ID: keys.id,
  APCA_API_SECRET_KEY: keys.secret,
  ALPACA_API_URL: s.url,
  ALPACA_STREAM_URL: s.streamUrl,
  ALPACA_DATA_URL: s.dataUrl,
  CT_DB_PATH: join(dir, db),
  CT_API_PORT: '0',
});

describe('starts that must be refused', () => {
  it('misnamed keys exit 2 with one line naming the right variables, and start no simulator', async () => {
    const db = join(dir, 'misnamed', 'bot.db');
    const b = startBot({
      APCA_API_KEY: 'PKLIVEKEY123',
      APCA_SECRET_KEY: 'live-secret-456',
      ALPACA_PAPER: 'false',
      ALPACA_API_URL: 'https://api.alpaca.markets',
      CT_DB_PATH: db,
      CT_API_PORT: '0',
    });
    bots.push(b);
    const exit = await b.exited;
    expect(exit.code).toBe(2);
    const stderr = b.stderr().trim();
    expect(stderr.split('\n')).toHaveLength(1);
    expect(stderr).toContain('APCA_API_KEY is set: did you mean APCA_API_KEY_ID?');
    expect(stderr).toContain('APCA_SECRET_KEY is set: did you mean APCA_API_SECRET_KEY?');
    expect(stderr).not.toContain('live-secret-456');
    expect(b.lines.filter((l) => l.event === 'demo_mode' || l.event === 'api_listening')).toEqual([]);
    // Nothing was opened: no database directory, let alone a demo database.
    expect(() => readdirSync(join(dir, 'misnamed'))).toThrow();
  });

  it('exits 2 within 10 s when the broker answers 401 to the keys', async () => {
    const s = await sim();
    const started = Date.now();
    const b = startBot(botEnv(s, 'wrong-keys.db', { id: 'PKWRONGKEY', secret: 'wrong-secret' }));
    bots.push(b);
    const exit = await b.exited;
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(exit.code).toBe(2);
    // Whichever learns it first, the account read (401) or the stream's authentication.
    const host = new URL(s.url).host.replace(/\./g, '\\.');
    expect(b.stderr().trim()).toMatch(new RegExp(`^crazy-trade: Alpaca refused the API keys \\((401|unauthorized on the trade_updates stream)\\) at ${host}$`));
    expect(b.lines.some((l) => l.event === 'start_refused')).toBe(true);
  }, 20_000);

  it('a status API port in use exits 2 within 10 s naming CT_API_PORT, before any request reaches the broker', async () => {
    const s = await sim();
    const taken = createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
    const port = (taken.address() as AddressInfo).port;
    try {
      const started = Date.now();
      const b = startBot({ ...botEnv(s, 'port-taken.db'), CT_API_PORT: String(port) });
      bots.push(b);
      const exit = await b.exited;
      expect(Date.now() - started).toBeLessThan(10_000);
      expect(exit.code).toBe(2);
      const stderr = b.stderr().trim();
      expect(stderr.split('\n')).toHaveLength(1);
      expect(stderr).toBe(`crazy-trade: CT_API_PORT: port ${port} on 127.0.0.1 is already in use by another process; stop that process or set CT_API_PORT to a free port`);
      // Bound first: the broker heard nothing (no account read, no stream), no database was made.
      expect(s.stats.snapshot().by_route).toEqual({});
      expect(b.lines.some((l) => l.event === 'credentials_verified' || l.event === 'store_opened')).toBe(false);
      expect(() => statSync(join(dir, 'port-taken.db'))).toThrow();
    } finally {
      await new Promise((r) => taken.close(r));
    }
  }, 20_000);

  it('keeps running with the right keys and says so once', async () => {
    const s = await sim();
    const b = startBot(botEnv(s, 'right-keys.db'));
    bots.push(b);
    await b.waitFor((l) => l.event === 'credentials_verified');
    await b.waitFor((l) => l.event === 'stream_state' && l.state === 'connected');
    expect(b.proc.exitCode).toBeNull();
    b.proc.kill('SIGTERM');
    expect((await b.exited).code).toBe(0);
  }, 30_000);
});

describe('one process per database', () => {
  it('a second bot on the same database exits 2 naming the holder; the first keeps running; a SIGKILLed holder blocks nothing', async () => {
    const s = await sim();
    const env = botEnv(s, 'shared.db');
    const first = startBot(env);
    bots.push(first);
    const firstUrl = await first.apiUrl();

    const second = startBot(env);
    bots.push(second);
    expect((await second.exited).code).toBe(2);
    const line = second.stderr().trim();
    expect(line.split('\n')).toHaveLength(1);
    expect(line).toContain(`is in use by another crazy-trade process (pid ${first.proc.pid} on host ${hostname()}`);
    expect(second.lines.some((l) => l.event === 'api_listening')).toBe(false);

    expect(first.proc.exitCode).toBeNull();
    expect((await fetch(`${firstUrl}/health`)).status).toBe(200);

    first.proc.kill('SIGKILL');
    await first.exited;
    const started = Date.now();
    const third = startBot(env);
    bots.push(third);
    await third.apiUrl();
    // A normal start (tsx, migrations, listen) and nothing more: no wait for a stale lock.
    expect(Date.now() - started).toBeLessThan(8_000);
    expect(statSync(join(dir, 'shared.db')).mode & 0o777).toBe(0o600);
    third.proc.kill('SIGTERM');
    expect((await third.exited).code).toBe(0);
  }, 60_000);
});

describe('the credential check', () => {
  it('retries network errors and 5xx until the account answers', async () => {
    const s = await sim();
    await simPost(s, '/_sim/faults', { rate_5xx: 1 });
    const client = createBrokerClient({ keyId: KEY, secretKey: SECRET, paper: true, apiUrl: s.url }, { maxRetries: 0, rateLimit: false });
    const checked = verifyCredentials(client, silent, new AbortController().signal, { firstMs: 50, maxMs: 100 });
    await eventually(async () => (s.stats.snapshot().by_route['GET /v2/account'] ?? 0) >= 3);
    await simPost(s, '/_sim/faults', { rate_5xx: 0 });
    await expect(checked).resolves.toEqual({ accountId: expect.any(String) });
  });

  it('turns a 403 into a refusal naming the status and the host', async () => {
    // Alpaca answers 403 {"message":"forbidden"} to keys of the other environment (paper keys on live).
    const server = createServer((_req, res) => res.writeHead(403, { 'content-type': 'application/json' }).end('{"message":"forbidden"}'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const apiUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const client = createBrokerClient({ keyId: KEY, secretKey: SECRET, paper: true, apiUrl }, { rateLimit: false });
      const refusal = await verifyCredentials(client, silent, new AbortController().signal).catch((err: unknown) => err);
      expect(refusal).toBeInstanceOf(StartupRefusal);
      expect((refusal as Error).message).toBe(`Alpaca refused the API keys (403) at ${new URL(apiUrl).host}`);
    } finally {
      server.close();
    }
  });

  it('the stream reports keys it refused', async () => {
    const s = await sim();
    const client = createBrokerClient({ keyId: 'PKWRONG', secretKey: 'nope', paper: true, apiUrl: s.url, streamUrl: s.streamUrl }, { rateLimit: false });
    let rejected: string | null = null;
    const feed = new TradeUpdateFeed(client, silent, { onUpdate: () => {}, onListening: () => {}, onAuthRejected: (d) => (rejected = d) });
    feed.start();
    try {
      await eventually(async () => rejected !== null, 10_000);
      expect(feed.state).not.toBe('connected');
    } finally {
      feed.stop();
    }
  });
});
