import { createHmac } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from '../src/store/database.js';
import { listNotifications, pendingNotifications } from '../src/store/notifications.js';
import { notify, notifyControlAction, setNotificationChannels } from '../src/notify/outbox.js';
import { backoffMs, NotificationDelivery } from '../src/notify/delivery.js';
import { SIGNATURE_HEADER, webhookChannel } from '../src/notify/webhook.js';
import { TELEGRAM_MAX_CHARS, telegramChannel, telegramText } from '../src/notify/telegram.js';
import { StreamWatch } from '../src/notify/stream-watch.js';
import { applyStopTransition, upsertStop } from '../src/protection/stop-transitions.js';
import { notifyFill } from '../src/notify/events.js';
import { readStopRow } from '../src/store/stops.js';
import { stopBasis } from '../machines/stop-model.js';
import type { StreamState } from '../src/domain/stream.js';
import { captureLogger } from './support/log-capture.js';

const SECRET = 'whsec-unit-4d1f9c0b7e';
const BOT_TOKEN = '123456:AAunit-token-never-logged';

/** A local receiver: answers each request with the next status in `script` (then 200), keeps what it got. */
interface Receiver {
  url: string;
  requests: Array<{ path: string; headers: IncomingMessage['headers']; body: string }>;
  script: number[];
  answer?: (req: IncomingMessage, res: ServerResponse, status: number) => void;
  close(): Promise<void>;
}

async function receiver(script: number[] = []): Promise<Receiver> {
  const r: Receiver = { url: '', requests: [], script, close: async () => undefined };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      r.requests.push({ path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      const status = r.script.shift() ?? 200;
      if (r.answer) return r.answer(req, res, status);
      res.writeHead(status, { 'content-type': 'application/json' }).end(status === 200 ? '{"ok":true}' : '{"ok":false,"description":"try later"}');
    });
  });
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
  r.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  r.close = () => new Promise((res) => server.close(() => res()));
  return r;
}

let db: Database;
const cleanups: Array<() => Promise<void> | void> = [];
beforeEach(async () => {
  db = await openDatabase(':memory:');
});
afterEach(async () => {
  for (let c = cleanups.pop(); c; c = cleanups.pop()) await c();
  await db.close();
});

const T0 = Date.parse('2026-03-02T15:00:00Z');
const event = (i: number) => ({ id: `fill:o${i}:1`, kind: 'fill' as const, text: `AAPL: bought 1 @ 19${i}`, data: { order_id: `o${i}`, price: `19${i}` } });
const count = (table: 'notifications' | 'notification_deliveries') => Number((db.sqlite.prepare(`select count(*) as n from ${table}`).get() as { n: number }).n);

describe('the notifications outbox', () => {
  it('a notification written in a transaction that rolls back leaves no row', () => {
    setNotificationChannels(db, ['webhook']);
    expect(() =>
      db.transaction(() => {
        notify(db, event(1));
        throw new Error('the fact failed');
      }),
    ).toThrow('the fact failed');
    expect(count('notifications')).toBe(0);
    expect(count('notification_deliveries')).toBe(0);
    // And committed with its fact, it is there.
    db.transaction(() => notify(db, event(1)));
    expect(count('notifications')).toBe(1);
  });

  it('the same id twice makes one row (a fact committed again after a crash), with one delivery row per configured channel', () => {
    setNotificationChannels(db, ['webhook', 'telegram']);
    expect(notify(db, event(1))).toBe(true);
    expect(notify(db, { ...event(1), text: 'again' })).toBe(false);
    expect(listNotifications(db).map((n) => [n.id, n.text])).toEqual([['fill:o1:1', 'AAPL: bought 1 @ 191']]);
    expect(count('notification_deliveries')).toBe(2);
  });

  it('with no channel configured the history is kept, and nothing is pending', () => {
    notify(db, event(1));
    notifyControlAction(db, { action: 'pause_entries', who: 'api', detail: 'maintenance' });
    expect(count('notifications')).toBe(2);
    expect(count('notification_deliveries')).toBe(0);
    expect(listNotifications(db).find((n) => n.kind === 'control_action')?.text).toBe('control: pause_entries by api (maintenance)');
  });


  it("a transaction's fills fold into one notification (one delivery row per channel); a savepoint that rolls back takes its fill out; one fill stays `fill`", async () => {
    setNotificationChannels(db, ['webhook']);
    const fill = (order: string, cum: string, symbol = 'AAPL', price = '100') =>
      ({ orderId: order, symbol, side: 'buy' as const, cumQty: cum, qty: '1', price, execId: null, source: 'activity' as const, at: '2026-03-02T15:00:00Z' });
    const now = new Date(T0);
    db.transaction(() => {
      notifyFill(db, fill('o1', '1'), 'entry', now);
      notifyFill(db, fill('o1', '2', 'AAPL', '101'), 'entry', now);
      try {
        db.transaction(() => {
          notifyFill(db, fill('o9', '1', 'TSLA'), null, now);
          throw new Error('rolled back');
        });
      } catch {
        // the savepoint's fill is not news
      }
      notifyFill(db, fill('o2', '1', 'MSFT', '400'), null, now);
      expect(count('notifications')).toBe(0);
    });
    const [row] = listNotifications(db);
    expect(count('notifications')).toBe(1);
    expect(count('notification_deliveries')).toBe(1);
    expect(row).toMatchObject({ id: 'fills:o1:1', kind: 'fills', text: '3 fills: AAPL: bought 2 @ 100–101 (2 fills); MSFT: bought 1 @ 400 (1 fill)' });
    const data = JSON.parse(row!.data) as { count: number; fills: Array<{ order_id: string; cum_qty: string }> };
    expect(data.count).toBe(3);
    expect(data.fills.map((f) => `${f.order_id}:${f.cum_qty}`)).toEqual(['o1:1', 'o1:2', 'o2:1']);
    // The folded row is delivered as any other.
    expect(pendingNotifications(db, 'webhook', 10).map((n) => n.id)).toEqual(['fills:o1:1']);
    // A transaction with one fill, and a fill outside any transaction: `fill:<order>:<cum_qty>` as before.
    db.transaction(() => notifyFill(db, fill('o3', '1'), 'exit', now));
    notifyFill(db, fill('o4', '1'), 'stop', now);
    expect(listNotifications(db).map((n) => [n.id, n.kind])).toEqual(expect.arrayContaining([['fill:o3:1', 'fill'], ['fill:o4:1', 'fill']]));
    expect(listNotifications(db).find((n) => n.id === 'fill:o3:1')?.text).toBe('AAPL: bought 1 @ 100 (exit o3, 1 filled)');
  });
  it('a stop refusal is told once per episode (its retries refused alike are not news); the placement once', () => {
    setNotificationChannels(db, ['webhook']);
    const now = (s: number) => new Date(T0 + s * 1000);
    upsertStop(db, { entryOrderId: 'e1', clientOrderId: 'ct-stop-e1', symbol: 'AAPL', assetClass: 'us_equity', side: 'sell', qty: '10' }, now(0));
    const attempt = (s: number, outcome: 'refused' | 'accepted') => {
      expect(applyStopTransition(db, 'ct-stop-e1', { type: 'due' }, now(s)).applied).toBe(true);
      const row = readStopRow(db, 'ct-stop-e1')!;
      expect(applyStopTransition(db, 'ct-stop-e1', { type: 'sendStarted', clientOrderId: 'ct-stop-e1', basis: stopBasis(row), qty: '10', stopPrice: null }, now(s)).applied).toBe(true);
      const result =
        outcome === 'refused'
          ? { type: 'refused' as const, clientOrderId: 'ct-stop-e1', kind: 'pdt' as const, message: 'trade denied due to pattern day trading protection' }
          : {
              type: 'accepted' as const,
              clientOrderId: 'ct-stop-e1',
              order: { orderId: 'o-stop', clientOrderId: 'ct-stop-e1', status: 'new', qty: '10', stopPrice: null, replacedBy: null, type: 'trailing_stop', trailPercent: '2', expiresAt: null },
            };
      expect(applyStopTransition(db, 'ct-stop-e1', result, now(s)).applied).toBe(true);
    };
    attempt(1, 'refused');
    attempt(400, 'refused');
    attempt(800, 'accepted');
    const told = listNotifications(db).map((n) => n.id).sort();
    expect(told).toEqual(['stop_placed:ct-stop-e1', 'stop_refused:ct-stop-e1:pdt']);
    const refused = listNotifications(db).find((n) => n.kind === 'stop_refused')!;
    expect(JSON.parse(refused.data)).toMatchObject({ symbol: 'AAPL', entry_order_id: 'e1', refusal: 'pdt' });
  });
});

describe('delivery', () => {
  it('retries with backoff after a 500 (1 s, then 2 s), delivering the same ids', async () => {
    const r = await receiver([500, 500]);
    cleanups.push(() => r.close());
    setNotificationChannels(db, ['webhook']);
    notify(db, event(1), new Date(T0));
    let t = T0;
    const cap = captureLogger();
    const d = new NotificationDelivery({ db, log: cap.log, channels: [webhookChannel({ url: r.url, secret: SECRET })], batchMs: 100, now: () => t });
    await d.pass();
    expect(r.requests).toHaveLength(1);
    t = T0 + 999;
    await d.pass();
    expect(r.requests).toHaveLength(1); // still backing off
    t = T0 + 1000;
    await d.pass();
    expect(r.requests).toHaveLength(2);
    t = T0 + 1000 + 1999;
    await d.pass();
    expect(r.requests).toHaveLength(2);
    t = T0 + 3000;
    await d.pass();
    expect(r.requests).toHaveLength(3);
    expect(r.requests.map((q) => JSON.parse(q.body).events.map((e: any) => e.id))).toEqual([['fill:o1:1'], ['fill:o1:1'], ['fill:o1:1']]);
    expect(pendingNotifications(db, 'webhook', 10)).toEqual([]);
    const row = db.sqlite.prepare('select attempts, delivered_at, last_error from notification_deliveries').get() as any;
    expect(row).toEqual({ attempts: 3, delivered_at: new Date(T0 + 3000).toISOString(), last_error: null });
    const failed = cap.lines().filter((l) => l.event === 'notification_failed');
    expect(failed.map((l) => l.retry_in_ms)).toEqual([1000, 2000]);
    expect(failed[0]).toMatchObject({ channel: 'webhook', count: 1, ids: ['fill:o1:1'], error: expect.stringContaining(`webhook at ${r.url} answered 500`) });
    expect(cap.lines().filter((l) => l.event === 'notification_delivered')).toMatchObject([{ channel: 'webhook', count: 1, ids: ['fill:o1:1'] }]);
    expect(cap.text()).not.toContain(SECRET);
    // The backoff doubles up to 5 minutes.
    expect([1, 2, 3, 9, 10, 50].map((n) => backoffMs(n))).toEqual([1000, 2000, 4000, 256_000, 300_000, 300_000]);
  });

  it('batches: several events in one request, then at most one request per window', async () => {
    const r = await receiver();
    cleanups.push(() => r.close());
    setNotificationChannels(db, ['webhook']);
    for (let i = 1; i <= 5; i++) notify(db, event(i), new Date(T0 + i));
    let t = T0;
    const d = new NotificationDelivery({ db, log: captureLogger().log, channels: [webhookChannel({ url: r.url, secret: SECRET })], now: () => t });
    await d.pass();
    expect(r.requests).toHaveLength(1);
    const body = JSON.parse(r.requests[0]!.body);
    expect(body.events.map((e: any) => e.id)).toEqual(['fill:o1:1', 'fill:o2:1', 'fill:o3:1', 'fill:o4:1', 'fill:o5:1']);
    expect(body.events[0]).toEqual({ id: 'fill:o1:1', kind: 'fill', at: new Date(T0 + 1).toISOString(), text: 'AAPL: bought 1 @ 191', data: { order_id: 'o1', price: '191' } });
    // New events within the 3 s window wait for it, and go together.
    notify(db, event(6));
    notify(db, event(7));
    t = T0 + 2999;
    await d.pass();
    expect(r.requests).toHaveLength(1);
    t = T0 + 3000;
    await d.pass();
    expect(r.requests).toHaveLength(2);
    expect(JSON.parse(r.requests[1]!.body).events.map((e: any) => e.id)).toEqual(['fill:o6:1', 'fill:o7:1']);
    t = T0 + 10_000;
    await d.pass();
    expect(r.requests).toHaveLength(2); // nothing pending, nothing sent
  });

  it('never follows a redirect: a 301/302 is a failed delivery naming only the scheme and host of its Location; the events stay until a 2xx answers the POST', async () => {
    const target = await receiver(); // where the redirect points: it must never be asked
    cleanups.push(() => target.close());
    const r = await receiver([301, 302]);
    cleanups.push(() => r.close());
    r.answer = (_req, res, status) => {
      if (status >= 300) res.writeHead(status, { location: `${target.url}/elsewhere?token=LOCATIONTOKEN` }).end();
      else res.writeHead(status, { 'content-type': 'application/json' }).end('{"ok":true}');
    };
    setNotificationChannels(db, ['webhook']);
    notify(db, event(1), new Date(T0));
    let t = T0;
    const cap = captureLogger();
    const d = new NotificationDelivery({ db, log: cap.log, channels: [webhookChannel({ url: `${r.url}/hook`, secret: SECRET })], batchMs: 100, now: () => t });
    await d.pass();
    t += 1000;
    await d.pass();
    // Two POSTs, each answered with a redirect; nothing reached the Location (fetch's follow is a body-less GET).
    expect(r.requests.map((q) => q.path)).toEqual(['/hook', '/hook']);
    expect(target.requests).toEqual([]);
    expect(pendingNotifications(db, 'webhook', 10).map((n) => n.id)).toEqual(['fill:o1:1']);
    const failed = cap.lines().filter((l) => l.event === 'notification_failed');
    expect(failed.map((l) => l.error)).toEqual([expect.stringMatching(/answered 301 .*redirect.* to http:\/\/127\.0\.0\.1:\d+$/), expect.stringMatching(/answered 302 .* to http:\/\/127\.0\.0\.1:\d+$/)]);
    expect(cap.text()).not.toContain('LOCATIONTOKEN');
    expect(cap.text()).not.toContain('/elsewhere');
    const row = db.sqlite.prepare('select delivered_at, last_error from notification_deliveries').get() as { delivered_at: string | null; last_error: string };
    expect(row.delivered_at).toBeNull();
    expect(row.last_error).toContain('answered 302');
    expect(row.last_error).not.toContain('LOCATIONTOKEN');
    // The receiver answers the POST itself now: delivered.
    t += 2000;
    await d.pass();
    expect(pendingNotifications(db, 'webhook', 10)).toEqual([]);
    expect(r.requests).toHaveLength(3);
  });

  it("a token in the webhook URL and the receiver's answer body are in no log line and no last_error (scheme and host only)", async () => {
    const r = await receiver([500]);
    cleanups.push(() => r.close());
    r.answer = (_req, res, status) => res.writeHead(status, { 'content-type': 'text/plain' }).end(status === 200 ? 'ok' : 'denied for key=URLQUERYTOKEN, body=ANSWERBODYTEXT');
    setNotificationChannels(db, ['webhook']);
    notify(db, event(1), new Date(T0));
    const cap = captureLogger();
    const url = `${r.url}/hooks/URLPATHTOKEN?key=URLQUERYTOKEN`;
    await new NotificationDelivery({ db, log: cap.log, channels: [webhookChannel({ url, secret: SECRET })], now: () => T0 }).pass();
    expect(r.requests).toHaveLength(1);
    const row = db.sqlite.prepare('select last_error from notification_deliveries').get() as { last_error: string };
    expect(row.last_error).toBe(`webhook at ${r.url} answered 500`);
    for (const leak of ['URLPATHTOKEN', 'URLQUERYTOKEN', 'ANSWERBODYTEXT', SECRET]) {
      expect(cap.text()).not.toContain(leak);
      expect(row.last_error).not.toContain(leak);
    }
    expect(cap.lines().filter((l) => l.event === 'notification_failed')).toMatchObject([{ error: `webhook at ${r.url} answered 500` }]);
  });

  it('signs the raw body: X-Crazy-Trade-Signature is the hex HMAC-SHA256 with CT_WEBHOOK_SECRET', async () => {
    const r = await receiver();
    cleanups.push(() => r.close());
    setNotificationChannels(db, ['webhook']);
    notify(db, event(1));
    notify(db, { id: 'stop_placed:ct-stop-x', kind: 'stop_placed', text: 'AAPL: protective stop placed — ünïcode', data: { qty: '10' } });
    await new NotificationDelivery({ db, log: captureLogger().log, channels: [webhookChannel({ url: `${r.url}/hook`, secret: SECRET })] }).pass();
    const req = r.requests[0]!;
    expect(req.path).toBe('/hook');
    expect(req.headers['content-type']).toBe('application/json');
    const signature = req.headers[SIGNATURE_HEADER.toLowerCase()];
    expect(signature).toMatch(/^[0-9a-f]{64}$/);
    expect(signature).toBe(createHmac('sha256', SECRET).update(Buffer.from(req.body, 'utf8')).digest('hex'));
    expect(signature).not.toBe(createHmac('sha256', 'another-secret').update(req.body).digest('hex'));
    expect(req.body).not.toContain(SECRET);
  });

  it('telegram: POST /bot<token>/sendMessage with {chat_id, text}, one text for the batch; the token in no log line', async () => {
    const r = await receiver([404]);
    r.answer = (_req, res, status) =>
      // A receiver that echoes the token in its error must not get it into the log.
      res.writeHead(status, { 'content-type': 'application/json' }).end(status === 200 ? '{"ok":true,"result":{}}' : `{"ok":false,"error_code":404,"description":"Not Found: bot${BOT_TOKEN}"}`);
    cleanups.push(() => r.close());
    setNotificationChannels(db, ['telegram']);
    notify(db, event(1));
    notify(db, event(2));
    const cap = captureLogger('trace');
    let t = T0;
    const d = new NotificationDelivery({ db, log: cap.log, channels: [telegramChannel({ apiUrl: r.url, botToken: BOT_TOKEN, chatId: '-100123' })], now: () => t });
    await d.pass();
    t += 5000;
    await d.pass();
    expect(r.requests).toHaveLength(2);
    const req = r.requests[1]!;
    expect(req.path).toBe(`/bot${BOT_TOKEN}/sendMessage`);
    expect(req.headers['content-type']).toBe('application/json');
    expect(JSON.parse(req.body)).toEqual({ chat_id: '-100123', text: 'AAPL: bought 1 @ 191\nAAPL: bought 1 @ 192' });
    expect(cap.lines().map((l) => l.event)).toEqual(['notification_failed', 'notification_delivered']);
    expect(cap.lines()[0]!.error).toContain('telegram answered 404: Not Found: bot[redacted]');
    expect(cap.text()).not.toContain(BOT_TOKEN);
    expect(cap.text()).not.toContain('AAunit-token');
  });

  it("telegram: honours a 429's retry_after when it is longer than the backoff", async () => {
    const r = await receiver([429]);
    r.answer = (_req, res, status) =>
      res.writeHead(status, { 'content-type': 'application/json' }).end(status === 200 ? '{"ok":true}' : '{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 30","parameters":{"retry_after":30}}');
    cleanups.push(() => r.close());
    setNotificationChannels(db, ['telegram']);
    notify(db, event(1));
    let t = T0;
    const d = new NotificationDelivery({ db, log: captureLogger().log, channels: [telegramChannel({ apiUrl: r.url, botToken: BOT_TOKEN, chatId: '42' })], now: () => t });
    await d.pass();
    t = T0 + 29_999;
    await d.pass();
    expect(r.requests).toHaveLength(1);
    t = T0 + 30_000;
    await d.pass();
    expect(r.requests).toHaveLength(2);
  });

  it('telegram: a message holds 4096 characters; what does not fit ends as "… and N more"', () => {
    const lines = Array.from({ length: 200 }, (_, i) => ({ text: `${String(i).padStart(3, '0')} ${'x'.repeat(95)}` }));
    const text = telegramText(lines);
    expect(text.length).toBeLessThanOrEqual(TELEGRAM_MAX_CHARS);
    const out = text.split('\n');
    const shown = out.length - 1;
    expect(out.at(-1)).toBe(`… and ${200 - shown} more`);
    expect(out.slice(0, shown)).toEqual(lines.slice(0, shown).map((l) => l.text));
    expect(shown).toBeGreaterThan(35);
    // One line longer than a message is cut; short batches are untouched.
    const long = telegramText([{ text: 'y'.repeat(5000) }, { text: 'next' }]);
    expect(long.length).toBeLessThanOrEqual(TELEGRAM_MAX_CHARS);
    expect(long.endsWith('…\n… and 1 more')).toBe(true);
    expect(telegramText([{ text: 'a' }, { text: 'b' }])).toBe('a\nb');
  });

  it('at shutdown, what is pending goes out once more within the budget (batch window waived)', async () => {
    const r = await receiver();
    cleanups.push(() => r.close());
    setNotificationChannels(db, ['webhook']);
    const d = new NotificationDelivery({ db, log: captureLogger().log, channels: [webhookChannel({ url: r.url, secret: SECRET })], batchMs: 60_000 });
    notify(db, event(1));
    await d.pass();
    notify(db, { id: 'stopped:x:1', kind: 'stopped', text: 'crazy-trade stopping', data: {} });
    await d.pass();
    expect(r.requests).toHaveLength(1);
    await d.stop({ flushMs: 2000 });
    expect(r.requests).toHaveLength(2);
    expect(JSON.parse(r.requests[1]!.body).events.map((e: any) => e.id)).toEqual(['stopped:x:1']);
  });

  it('a receiver that does not answer is abandoned at the shutdown budget; its rows stay pending', async () => {
    const r = await receiver();
    r.answer = () => undefined; // never answers
    cleanups.push(async () => {
      r.answer = undefined;
      await r.close();
    });
    setNotificationChannels(db, ['webhook']);
    notify(db, event(1));
    const d = new NotificationDelivery({ db, log: captureLogger().log, channels: [webhookChannel({ url: r.url, secret: SECRET })] });
    const started = Date.now();
    await d.stop({ flushMs: 300 });
    expect(Date.now() - started).toBeLessThan(2000);
    expect(pendingNotifications(db, 'webhook', 10).map((n) => n.id)).toEqual(['fill:o1:1']);
  });
});

describe('stream watch', () => {
  it('tells a stream away for more than 60 s once per episode, and its return', () => {
    setNotificationChannels(db, ['webhook']);
    let t = T0;
    let state: StreamState = 'connected';
    const w = new StreamWatch({ db, log: captureLogger().log, state: () => state, now: () => t });
    w.check();
    state = 'reconnecting';
    w.check();
    t += 60_000;
    w.check();
    expect(count('notifications')).toBe(0);
    t += 1000;
    state = 'down';
    w.check();
    t += 30_000;
    w.check();
    expect(listNotifications(db).map((n) => n.id)).toEqual([`stream_down:${new Date(T0).toISOString()}`]);
    state = 'connected';
    t += 1000;
    w.check();
    // A short blip afterwards is not told.
    state = 'reconnecting';
    t += 5000;
    w.check();
    state = 'connected';
    t += 5000;
    w.check();
    expect(listNotifications(db).map((n) => n.kind).sort()).toEqual(['stream_down', 'stream_restored']);
    expect(listNotifications(db).find((n) => n.kind === 'stream_restored')?.text).toBe('trade_updates stream connected again after 92 s');
  });
});
