import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { eventually, startBot } from './support/bot-process.js';
import { simsAndBots } from './support/sim-bots.js';
import { simPost } from './support/sim-traffic.js';

/**
 * Alerts that are never lost, end to end: the bot as a child process against the simulator, a
 * local webhook receiver and a local Telegram-shaped receiver. First every kind a short run makes
 * arrives; then with both receivers answering 503, the bot is SIGKILLed with alerts committed but undelivered and
 * started again; once the receivers are back, every notification the database holds has arrived
 * at both (by id at the webhook, by text at Telegram), duplicates only under the same id.
 */

const env = simsAndBots('notify', 'PKNOTIFY', 'notify-secret');
const WEBHOOK_SECRET = 'whsec-process-8c1d2e3f4a5b';
const BOT_TOKEN = '987654:AAprocess-token-never-logged';
const CHAT_ID = '-100777';

interface Received {
  id: string;
  kind: string;
  text: string;
  at: string;
  data: Record<string, unknown>;
}

/** Both receivers: `down` makes them answer 503; every accepted webhook event and Telegram line is kept. */
class Receivers {
  down = false;
  webhookUrl = '';
  telegramUrl = '';
  readonly webhook: Received[] = [];
  readonly webhookRequests: number[] = [];
  readonly telegram: string[] = [];
  readonly badSignatures: string[] = [];
  readonly refused = { webhook: 0, telegram: 0 };
  private servers: Server[] = [];

  async start(): Promise<void> {
    this.webhookUrl = await this.listen((path, headers, body) => {
      if (this.down) {
        this.refused.webhook += 1;
        return 503;
      }
      const expected = createHmac('sha256', WEBHOOK_SECRET).update(body).digest();
      const got = Buffer.from(String(headers['x-crazy-trade-signature'] ?? ''), 'hex');
      if (path !== '/hook' || got.length !== expected.length || !timingSafeEqual(got, expected)) {
        this.badSignatures.push(body.toString("utf8"));
        return 401;
      }
      const events = (JSON.parse(body.toString('utf8')) as { events: Received[] }).events;
      this.webhookRequests.push(events.length);
      this.webhook.push(...events);
      return 200;
    });
    this.telegramUrl = await this.listen((path, _headers, body) => {
      if (this.down) {
        this.refused.telegram += 1;
        return 503;
      }
      if (path !== `/bot${BOT_TOKEN}/sendMessage`) return 404;
      const msg = JSON.parse(body.toString('utf8')) as { chat_id: string; text: string };
      if (msg.chat_id !== CHAT_ID) return 400;
      this.telegram.push(...msg.text.split('\n'));
      return 200;
    });
  }

  close(): Promise<void[]> {
    return Promise.all(this.servers.map((s) => new Promise<void>((res) => s.close(() => res()))));
  }

  kinds(): Set<string> {
    return new Set(this.webhook.map((e) => e.kind));
  }

  private async listen(handle: (path: string, headers: Record<string, unknown>, body: Buffer) => number): Promise<string> {
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const status = handle(req.url ?? '', req.headers, Buffer.concat(chunks));
        res.writeHead(status, { 'content-type': 'application/json' }).end(status === 200 ? '{"ok":true,"result":{}}' : `{"ok":false,"error_code":${status}}`);
      });
    });
    await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
    this.servers.push(server);
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }
}

const receivers = new Receivers();
afterAll(() => receivers.close());

interface Row {
  id: string;
  kind: string;
  text: string;
}

function stored(dbPath: string): { notifications: Row[]; undelivered: number; channels: string[] } {
  const d = new BetterSqlite3(dbPath, { readonly: true });
  try {
    const notifications = d.prepare('select id, kind, text from notifications order by created_at, rowid').all() as Row[];
    const undelivered = (d.prepare('select count(*) as n from notification_deliveries where delivered_at is null').get() as { n: number }).n;
    const channels = (d.prepare('select distinct channel from notification_deliveries order by channel').all() as Array<{ channel: string }>).map((r) => r.channel);
    return { notifications, undelivered, channels };
  } finally {
    d.close();
  }
}

describe('notifications, end to end', () => {
  it('every event kind of a short run arrives; an outage with a SIGKILL and a restart loses none', async () => {
    await receivers.start();
    const s = await env.sim(415);
    const dbFile = 'notify.db';
    const dbPath = join(env.dir, dbFile);
    const botEnv = {
      CT_WEBHOOK_URL: `${receivers.webhookUrl}/hook`,
      CT_WEBHOOK_SECRET: WEBHOOK_SECRET,
      CT_TELEGRAM_BOT_TOKEN: BOT_TOKEN,
      CT_TELEGRAM_CHAT_ID: CHAT_ID,
      CT_TELEGRAM_API_URL: receivers.telegramUrl,
      CT_PROTECT_GRACE_S: '1',
      // One request per channel a second at most (3 s by default): still fewer requests than events
      // (checked below), and each step of the outage waits a third as long for the next attempt.
      CT_NOTIFY_BATCH_MS: '1000',
      CT_API_TOKEN: 'notify-api-token-0123456789abcdef',
    };
    const t0 = Date.now();
    const first = env.bot(s, dbFile, botEnv);
    await first.waitFor((l) => l.event === 'reconcile_done');

    // A stop that is placed, then fills: fill, stop_placed, stop_filled, cooldown_started.
    await simPost(s, '/_sim/price', { symbol: 'SPY', price: '500' });
    await simPost(s, '/_sim/trade', { symbol: 'SPY', side: 'buy', qty: '3', type: 'market' });
    await first.waitFor((l) => l.event === 'stop_placed' && l.symbol === 'SPY', 15_000);
    await simPost(s, '/_sim/price', { symbol: 'SPY', price: '480' });
    await first.waitFor((l) => l.event === 'cooldown_started' && l.symbol === 'SPY', 15_000);

    // A stop the broker refuses (pattern day trader protection): stop_refused, then past the 1 s grace
    // position_unprotected; an outside sale closes the position: position_protected, and its cooldown.
    await simPost(s, '/_sim/faults', { pdt: ['MSFT'] });
    await simPost(s, '/_sim/trade', { symbol: 'MSFT', side: 'buy', qty: '2', type: 'market' });
    await first.waitFor((l) => l.event === 'position_unprotected' && l.symbol === 'MSFT', 15_000);
    await simPost(s, '/_sim/trade', { symbol: 'MSFT', side: 'sell', qty: '2', type: 'market', ignore_held: true });
    await first.waitFor((l) => l.event === 'position_protected' && l.symbol === 'MSFT', 15_000);
    await fetch(`${s.url}/_sim/faults`, { method: 'DELETE' });
    // An operator's action: control_action.
    const api = await first.apiUrl();
    const paused = await fetch(`${api}/control/pause`, { method: 'POST', headers: { authorization: `Bearer ${botEnv.CT_API_TOKEN}` } });
    expect(paused.status).toBe(200);

    const phase1 = ['control_action', 'started', 'fill', 'stop_placed', 'stop_filled', 'cooldown_started', 'stop_refused', 'position_unprotected', 'position_protected'];
    await eventually(async () => phase1.every((k) => receivers.kinds().has(k)), 15_000, 200);
    // Batched: fewer requests than events.
    expect(receivers.webhookRequests.length).toBeLessThan(receivers.webhook.length);
    const t1 = Date.now();

    // The outage: both receivers answer 503. Facts are committed meanwhile, then the bot is killed.
    receivers.down = true;
    const refusedBefore = receivers.refused.webhook;
    await simPost(s, '/_sim/trade', { symbol: 'AAPL', side: 'buy', qty: '2', type: 'market' });
    await first.waitFor((l) => l.event === 'stop_placed' && l.symbol === 'AAPL', 15_000);
    await eventually(async () => receivers.refused.webhook > refusedBefore && receivers.refused.telegram > 0, 10_000, 100);
    const pendingAtKill = stored(dbPath);
    expect(pendingAtKill.undelivered).toBeGreaterThan(0);
    first.proc.kill('SIGKILL');
    await first.exited;

    const second = env.bot(s, dbFile, botEnv);
    await second.waitFor((l) => l.event === 'reconcile_done');
    await second.waitFor((l) => l.event === 'notification_failed', 10_000);
    // More facts while the receivers are still away: the AAPL position closed from outside.
    await simPost(s, '/_sim/trade', { symbol: 'AAPL', side: 'sell', qty: '2', type: 'market', ignore_held: true });
    await second.waitFor((l) => l.event === 'cooldown_started' && l.symbol === 'AAPL', 15_000);
    // Away long enough that the restarted bot's retries were refused with those facts pending too
    // (its backoff then runs 1 s, 2 s, 4 s, …): no fixed outage, the point is what it retried.
    const refusedAfterClose = receivers.refused.webhook;
    await eventually(async () => receivers.refused.webhook > refusedAfterClose && receivers.refused.telegram > 0, 20_000, 100);
    const outageMs = Date.now() - t1;
    receivers.down = false;

    // Back: everything the database holds arrives, at both channels.
    await eventually(async () => stored(dbPath).undelivered === 0, 30_000, 250);
    second.proc.kill('SIGTERM');
    expect((await second.exited).code).toBe(0);

    const { notifications, undelivered, channels } = stored(dbPath);
    expect(undelivered).toBe(0);
    expect(channels).toEqual(['telegram', 'webhook']);
    const kinds = new Set(notifications.map((n) => n.kind));
    for (const k of [...phase1, 'stopped']) expect(kinds).toContain(k);
    expect(notifications.filter((n) => n.kind === 'started')).toHaveLength(2);
    // Every id at the webhook; none missing, duplicates only as the same event under the same id.
    const byId = new Map<string, Received[]>();
    for (const e of receivers.webhook) byId.set(e.id, [...(byId.get(e.id) ?? []), e]);
    const missing = notifications.filter((n) => !byId.has(n.id)).map((n) => n.id);
    expect(missing).toEqual([]);
    for (const n of notifications) for (const copy of byId.get(n.id)!) expect({ id: copy.id, kind: copy.kind, text: copy.text }).toEqual(n);
    expect([...byId.keys()].filter((id) => !notifications.some((n) => n.id === id))).toEqual([]);
    // Every line at Telegram.
    const lines = new Set(receivers.telegram);
    expect(notifications.filter((n) => !lines.has(n.text)).map((n) => n.id)).toEqual([]);
    expect(receivers.badSignatures).toEqual([]);
    // The alerts of the killed bot (committed, refused by the receivers) are among them.
    for (const n of pendingAtKill.notifications) expect(byId.has(n.id)).toBe(true);
    expect(notifications.some((n) => n.kind === 'fill' && n.text.startsWith('AAPL: bought 2'))).toBe(true);
    // And no secret reached a log line.
    const everything = [...first.lines, ...second.lines].map((l) => JSON.stringify(l)).join('\n') + first.stderr() + second.stderr();
    for (const secret of [WEBHOOK_SECRET, BOT_TOKEN, 'AAprocess-token']) expect(everything).not.toContain(secret);
    expect(second.lines.some((l) => l.event === 'notification_delivered' && l.channel === 'telegram')).toBe(true);
    if (process.env.CT_NOTIFY_DEBUG) console.log(notifications.map((n) => `${n.id} | ${n.text}`).join('\n'));
    console.log(
      `notify process test: phase 1 ${Math.round((t1 - t0) / 1000)} s, outage ${Math.round(outageMs / 1000)} s, total ${Math.round((Date.now() - t0) / 1000)} s; ` +
        `${notifications.length} notifications, ${receivers.webhook.length} webhook events in ${receivers.webhookRequests.length} requests (${receivers.refused.webhook} refused)`,
    );
  }, 90_000);

  it('a webhook without its secret refuses to start: exit 2, one line naming CT_WEBHOOK_SECRET, the URL not echoed', async () => {
    const b = startBot({ CT_WEBHOOK_URL: 'https://hooks.example.com/T0KEN-in-path', CT_DB_PATH: join(env.dir, 'refused.db'), CT_API_PORT: '0' });
    expect((await b.exited).code).toBe(2);
    const lines = b.stderr().trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/CT_WEBHOOK_SECRET/);
    expect(b.stderr()).not.toContain('T0KEN');
  });
});
