import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page, type Request } from 'playwright-core';
import { afterAll, describe, expect, it } from 'vitest';
import { getJson, startBot, type BotProcess } from './support/bot-process.js';
import { browserRequired, findChromium, NO_CHROMIUM_MESSAGE } from './support/chromium.js';
import { openDatabase, type Database } from '../src/store/database.js';
import { startApi, type ApiServer } from '../src/api/server.js';
import { startCooldown } from '../src/store/cooldowns.js';
import { captureLogger } from './support/log-capture.js';
import { CloseFailed, type PositionCloser } from '../src/protection/position-close.js';
import type { EntryGate } from '../src/protection/entry-gate.js';
import { LastPrices } from '../src/api/last-prices.js';
import { seedDemoLike, SEEDED_GRIDS, SEEDED_PRICES } from './support/dashboard-seed.js';

/** CT_CHROMIUM, else chromium / chromium-browser / google-chrome on PATH. */
const CHROMIUM = findChromium();
/** No browser: skipped with one line, unless CT_REQUIRE_BROWSER=1 (CI), where the test fails instead. */
const SKIP = CHROMIUM === undefined && !browserRequired();
if (SKIP) console.warn(`dashboard.test.ts skipped: ${NO_CHROMIUM_MESSAGE}`);

let dir: string | undefined;
/** Kept after the run (overwritten by the next one) so a person can look at it. */
const SCREENSHOT = join(tmpdir(), 'crazy-trade-dashboard.png');
/** The seeded six-position book at 1400×900: what docs/dashboard.png shows (CT_UPDATE_SCREENSHOT=1 copies it there). */
const SCREENSHOT_SEEDED = join(tmpdir(), 'crazy-trade-dashboard-1400x900.png');
let bot: BotProcess | undefined;
let browser: Browser | undefined;
let api: ApiServer | undefined;
let db: Database | undefined;
const TOKEN = 'dash-token-8c1f-0a9e-long-enough';
const LAUNCH_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** Enters the token in the page's form, the one way the page learns it. */
async function enterToken(page: Page, token: string): Promise<void> {
  await page.waitForSelector('#token-form:not([hidden])', { timeout: 10_000 });
  await page.fill('#token-input', token);
  await page.click('#token-save');
}

/** Every request the page made to its origin (the page load aside) carried the token as a header, none in its URL. */
async function expectHeaderOnly(requests: Request[], origin: string, token: string, alsoTried: string[] = []): Promise<number> {
  let withToken = 0;
  for (const req of requests) {
    for (const t of [token, ...alsoTried]) expect(req.url()).not.toContain(t);
    expect(req.url()).not.toMatch(/token=/i);
    const auth = (await req.allHeaders())['authorization'];
    if (auth !== undefined) {
      expect([token, ...alsoTried].map((t) => `Bearer ${t}`)).toContain(auth);
      if (auth === `Bearer ${token}` && req.url().startsWith(origin)) withToken++;
    }
  }
  return withToken;
}

afterAll(async () => {
  await browser?.close();
  await api?.close();
  await db?.close();
  if (bot && bot.proc.exitCode === null && bot.proc.signalCode === null) {
    bot.proc.kill('SIGTERM');
    const timer = setTimeout(() => bot?.proc.kill('SIGKILL'), 10_000);
    await bot.exited;
    clearTimeout(timer);
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe.skipIf(SKIP)('dashboard at GET /', () => {
  it('renders health, actor states, fills and the equity curve from the live demo bot in headless chromium', async () => {
    if (CHROMIUM === undefined) throw new Error(`CT_REQUIRE_BROWSER=1 but ${NO_CHROMIUM_MESSAGE}`);
    dir = mkdtempSync(join(tmpdir(), 'ct-dashboard-'));
    bot = startBot({ CT_DB_PATH: join(dir, 'crazy-trade.db'), CT_API_PORT: '0', CT_API_TOKEN: TOKEN });
    const [url, launched] = await Promise.all([bot.apiUrl(), chromium.launch({ executablePath: CHROMIUM, args: LAUNCH_ARGS })]);
    browser = launched;
    await bot.waitFor((l) => l.event === 'fill_received', 20_000);

    const res = await fetch(`${url}/`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const csp = res.headers.get('content-security-policy') ?? '';
    expect(csp).toMatch(/default-src 'none'/);
    expect(csp).toMatch(/script-src 'sha256-[A-Za-z0-9+/]+=*'(;|$)/);
    expect(csp).not.toMatch(/unsafe-inline|unsafe-eval/);

    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    const problems: string[] = [];
    const requests: string[] = [];
    const sent: Request[] = [];
    page.on('pageerror', (err) => problems.push(`pageerror: ${err.message}`));
    page.on('console', (msg) => {
      // The first load has no token yet: the API's 401s are expected, not problems.
      if (msg.type() === 'error' && !/401 \(Unauthorized\)/.test(msg.text())) problems.push(`console: ${msg.text()}`);
    });
    page.on('request', (req) => {
      requests.push(req.url());
      sent.push(req);
    });

    await page.goto(`${url}/`);
    // CT_API_TOKEN is set: the page asks for it once, keeps it in sessionStorage, sends it as a header.
    await enterToken(page, TOKEN);
    // Page-side predicates as functions (a string would be eval'd in the page, which its CSP forbids).
    await page.waitForFunction(
      () => {
        const document = (globalThis as any).document;
        return document.querySelectorAll('#fills-body tr').length > 0 && document.querySelectorAll('#orders-body tr').length > 0 && document.getElementById('h-stream').textContent === 'connected';
      },
      undefined,
      { timeout: 15_000, polling: 200 },
    );

    expect(await page.textContent('#h-mode')).toBe('demo');
    // Demo mode is said in a banner, not only in a header field.
    expect(await page.isVisible('#mode-banner')).toBe(true);
    expect(await page.textContent('#mode-banner')).toMatch(/^DEMO\b.*no real account is watched/);
    expect(await page.textContent('#h-stream')).toBe('connected');
    expect(await page.textContent('#h-drift')).toMatch(/^\d+$/);

    const fills = await getJson<{ fills: Array<{ symbol: string }> }>(`${url}/fills?limit=50`, { authorization: `Bearer ${TOKEN}` });
    const apiSymbols = new Set(fills.body.fills.map((f) => f.symbol));
    const pageSymbols = await page.$$eval('#fills-body tr td:nth-child(2)', (tds) => tds.map((td) => td.textContent ?? ''));
    expect(pageSymbols.some((s) => apiSymbols.has(s))).toBe(true);

    const states = await page.$$eval('#orders-body tr td:nth-child(5)', (tds) => tds.map((td) => td.textContent ?? ''));
    expect(states.length).toBeGreaterThan(0);
    for (const s of states) expect(s).toMatch(/^(pending|working|partiallyFilled|placingStop|protected|exited|done|canceled|rejected|expired|replaced)$/);
    // A stop order open at the broker reads "working", never "pending".
    const stopStates = await page.$$eval('#orders-body tr', (trs) => trs.filter((tr) => tr.children[3]?.textContent === 'stop').map((tr) => tr.children[4]?.textContent ?? ''));
    expect(stopStates).not.toContain('pending');
    expect(await page.$$eval('#state-counts .chip', (c) => c.length)).toBeGreaterThan(0);

    // Positions with what covers them (the demo's outside trades get stops).
    await page.waitForFunction(() => { const d = (globalThis as any).document; return d.querySelectorAll('#positions-body tr.position').length > 0 && d.querySelectorAll('#positions-body .stop-line').length > 0; }, undefined, { timeout: 15_000, polling: 200 });
    // The demo trades on meanwhile: the page and the API are compared in form, not value by value.
    const positions = await getJson<{ positions: Array<{ stops: Array<{ type: string | null }> }> }>(`${url}/positions`, { authorization: `Bearer ${TOKEN}` });
    // type: null only until the stop order's own report has been seen.
    for (const stop of positions.body.positions.flatMap((p) => p.stops)) expect(stop.type ?? 'null').toMatch(/^(trailing_stop|stop|stop_limit|null)$/);
    for (const covered of await page.$$eval('#positions-body td.covered', (tds) => tds.map((td) => td.textContent ?? ''))) expect(covered).toMatch(/^[\d,]+(\.\d+)? \/ [\d,]+(\.\d+)?$/);
    const lines = await page.$$eval('#positions-body .stop-line', (ls) => ls.map((l) => [...l.children].map((td) => td.textContent ?? '')));
    for (const [entry, type, qty, level, trail, distance, state] of lines) {
      expect(entry).toMatch(/^entry /);
      expect(type).toMatch(/^(trailing stop|stop|stop limit)$/);
      expect(qty).toMatch(/^[\d,]+(\.\d+)?$/);
      expect(level).toMatch(/^@ ([\u2264\u2265] )?[\d,]+(\.\d+)?$|^@ \u2014$/);
      expect(trail).toMatch(/^(trail \d+\.\d{2}%)?$/);
      expect(distance).toMatch(/^((\u2264 )?-?\d+\.\d{2}% away)?$/);
      expect(state).toBe('working');
    }
    // The demo's prices come from its simulator's market data: each placed stop shows how far it is.
    expect(lines.some((l) => / away$/.test(l[5] ?? ''))).toBe(true);
    expect(await page.$$eval('#positions-body td.last', (tds) => tds.map((td) => td.textContent))).not.toContain('\u2014');
    // entries_paused (top level of /health) is shown when the API gives it.
    const health = await getJson<{ entries_paused?: boolean }>(`${url}/health`, { authorization: `Bearer ${TOKEN}` });
    if (typeof health.body.entries_paused === 'boolean') expect(await page.textContent('#h-entries')).toBe(health.body.entries_paused ? 'paused' : 'active');

    // A control action end to end: pause entries from its button (the header from sessionStorage), then resume.
    for (const [button, path, shown] of [['#btn-pause', '/control/pause', 'paused'], ['#btn-resume', '/control/resume', 'active']] as const) {
      const [req, res] = await Promise.all([
        page.waitForRequest((r) => r.method() === 'POST'),
        page.waitForResponse((r) => r.request().method() === 'POST'),
        page.click(button),
      ]);
      expect(req.url()).toBe(`${url}${path}`);
      expect((await req.allHeaders())['authorization']).toBe(`Bearer ${TOKEN}`);
      expect(res.status()).toBe(200);
      await page.waitForFunction((want) => (globalThis as any).document.getElementById('h-entries').textContent === want, shown, { polling: 100, timeout: 5_000 });
      expect(await page.textContent('#action-msg')).toMatch(/: done$/);
    }

    const perf = await fetch(`${url}/performance`, { headers: { authorization: `Bearer ${TOKEN}` } });
    if (perf.ok) {
      await page.waitForSelector('svg#equity-curve', { timeout: 6_000 });
      const total = ((await perf.json()) as { total: { realized_pnl: string } }).total;
      expect(await page.textContent('#perf-realized-pnl')).toMatch(/^[+-]?\$[\d,]+\.\d{2}$/);
      expect(typeof total.realized_pnl).toBe('string');
    } else {
      await page.waitForFunction(() => { const d = (globalThis as any).document; return d.getElementById('perf').textContent.includes('no performance data'); }, undefined, { polling: 100, timeout: 6_000 });
    }

    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    const png = readFileSync(SCREENSHOT);
    expect(png.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))).toBe(true);
    expect(png.length).toBeGreaterThan(10_000);

    // Offline on loopback: nothing but the page's own origin (and the data: favicon) was asked for.
    const origin = new URL(url).origin;
    expect(requests.filter((r) => !r.startsWith(`${origin}/`) && !r.startsWith('data:'))).toEqual([]);
    // The token travelled as a header only, and stayed in this tab's sessionStorage.
    expect(await expectHeaderOnly(sent, origin, TOKEN)).toBeGreaterThan(5);
    expect(page.url()).toBe(`${origin}/`);
    expect(await page.evaluate("sessionStorage.getItem('crazy-trade.api-token')")).toBe(TOKEN);
    expect(await page.evaluate('localStorage.length')).toBe(0);
    expect(problems).toEqual([]);
  }, 50_000);

  it('shows positions with their cover, cooldowns with time left, the LIVE banner and the alarms, and acts with the bearer header', async () => {
    if (CHROMIUM === undefined) throw new Error(`CT_REQUIRE_BROWSER=1 but ${NO_CHROMIUM_MESSAGE}`);
    db = await openDatabase(':memory:');
    const at = '2026-01-02T15:00:01.000000000Z';
    const fill = (order_id: string, symbol: string, qty: string, price: string) =>
      db!.run(db!.kysely.insertInto('fills').values({ order_id, cum_qty: qty, qty, price, symbol, side: 'buy', exec_id: null, source: 'stream', filled_at: at, recorded_at: at }));
    fill('00000000-0000-4000-8000-00000000aa01', 'AAPL', '4', '101.5');
    fill('00000000-0000-4000-8000-00000000bb01', 'BTC/USD', '0.5', '65000');
    // AAPL is covered by a working trailing stop (its row, and the stop order's actor row).
    const entry = '00000000-0000-4000-8000-00000000aa01';
    const stopId = '00000000-0000-4000-8000-00000000aa02';
    const payload = JSON.stringify({ entryOrderId: entry, clientOrderId: `ct-stop-${entry}`, symbol: 'AAPL', assetClass: 'us_equity', side: 'sell', qty: '4' });
    db.run(
      db.kysely.insertInto('stops').values({
        client_order_id: `ct-stop-${entry}`, kind: 'protective_stop', entry_order_id: entry, symbol: 'AAPL', payload, status: 'confirmed', broker_order_id: stopId,
        attempts: 0, last_error: null, current_client_order_id: `ct-stop-${entry}`, sent_at: at, placed_qty: '4', placed_stop_price: '99.47', target_stop_price: null, created_at: at, updated_at: at,
      }),
    );
    db.run(
      db.kysely.insertInto('orders').values({
        order_id: stopId, client_order_id: `ct-stop-${entry}`, symbol: 'AAPL', side: 'sell', type: 'trailing_stop', asset_class: 'us_equity', role: 'stop', state: 'pending', terminal: 0,
        filled_qty: '0', filled_avg_price: null, stop_order_id: null, machine_version: 1, snapshot: '{}', created_at: at, updated_at: at,
      }),
    );
    startCooldown(db, { exitFillId: 'x:1', symbol: 'TSLA', startedAt: new Date(), until: new Date(Date.now() + 20 * 60_000) });
    const since = new Date(Date.now() - 30_000).toISOString();
    const protection = {
      unprotected: [{ symbol: 'BTC/USD', position: '0.5', covered: '0', uncovered: '0.5', reason: 'stop_refused: invalid: qty too small', since, uncovered_for_s: 30, past_grace: true, critical: true }],
      overprotected: [],
      critical: true,
      grace_s: 10,
    };
    const drift = [{ kind: 'position' as const, order_id: null, symbol: 'BTC/USD', ledger_qty: '0.5', broker_qty: '0.4', since }];
    const { log } = captureLogger();
    // The write routes over this database; the closer's broker refuses, to show a non-2xx answer.
    const closer = { close: async () => Promise.reject(new CloseFailed('broker_refused', 'the broker refused the market sell: insufficient qty available', false)) };
    const operator = { entries: {} as EntryGate, closer: closer as unknown as PositionCloser };
    // After-hours: the equity's trailing stop cannot trigger now (a badge, not an alarm); crypto trades on.
    api = await startApi({ host: '127.0.0.1', port: 0, db, log, token: TOKEN, operator, marketSession: () => 'after', health: { mode: 'live', streamState: () => 'reconnecting', drift: () => drift, protection: () => protection } });
    browser ??= await chromium.launch({ executablePath: CHROMIUM, args: LAUNCH_ARGS });
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    const problems: string[] = [];
    const sent: Request[] = [];
    page.on('pageerror', (err) => problems.push(`pageerror: ${err.message}`));
    page.on('request', (req) => sent.push(req));
    const dialogs: string[] = [];
    let acceptDialogs = false;
    page.on('dialog', (d) => {
      dialogs.push(d.message());
      void (acceptDialogs ? d.accept() : d.dismiss());
    });

    // A legacy ?token= link: the page drops the query string unread, then asks with its form.
    await page.goto(`${api.url}/?token=${TOKEN}`);
    expect(page.url()).toBe(`${api.url}/`);
    // A wrong token is refused and forgotten; the form comes back.
    await enterToken(page, 'not-the-token');
    await page.waitForFunction(() => { const d = (globalThis as any).document; return d.getElementById('token-why').textContent.indexOf('rejected') >= 0 && !d.getElementById('token-form').hidden; }, undefined, { polling: 100, timeout: 10_000 });
    expect(await page.evaluate("sessionStorage.getItem('crazy-trade.api-token')")).toBeNull();
    await enterToken(page, TOKEN);
    await page.waitForFunction(() => { const d = (globalThis as any).document; return d.querySelectorAll('#positions-body tr.position').length === 2 && d.querySelectorAll('#cooldowns-body tr').length === 1; }, undefined, { timeout: 10_000, polling: 100 });

    // Mode, stream, alarms.
    expect(await page.textContent('#mode-banner')).toMatch(/^LIVE\b.*real-money/);
    expect(await page.getAttribute('#mode-banner', 'data-mode')).toBe('live');
    expect(await page.textContent('#h-stream')).toBe('reconnecting');
    expect(await page.isVisible('#alarm-unprotected')).toBe(true);
    expect(await page.getAttribute('#alarm-unprotected', 'data-unprotected')).toBe('BTC/USD');
    expect(await page.textContent('#alarm-unprotected')).toMatch(/^UNPROTECTED POSITIONS\. BTC\/USD 0\.5 covered 0 .*stop_refused: invalid/);
    expect(await page.isVisible('#alarm-drift')).toBe(true);
    expect(await page.textContent('#alarm-drift')).toMatch(/^LEDGER DRIFT on 1: position BTC\/USD: ledger 0\.5 vs broker 0\.4/);

    // Positions with what covers them.
    expect(await page.textContent('#positions-body tr[data-symbol="AAPL"] td.covered')).toBe('4 / 4');
    // Its stop folds under the row: no last price here, so the trailing stop's level is at least where it was placed.
    expect(await page.isVisible('#positions-body tr.stops-row[data-symbol="AAPL"]')).toBe(false);
    await page.click('#positions-body tr.position[data-symbol="AAPL"] td.sym');
    expect(await page.isVisible('#positions-body tr.stops-row[data-symbol="AAPL"]')).toBe(true);
    expect(await page.$$eval('#positions-body tr.stops-row[data-symbol="AAPL"] .stop-line td', (tds) => tds.map((td) => td.textContent))).toEqual(['entry 00000000\u2026', 'trailing stop', '4', '@ \u2265 99.47', '', '', 'working', 'order 00000000\u2026']);
    expect(await page.textContent('#positions-body tr.position[data-symbol="AAPL"] td.stop')).toBe('\u2265 99.47');
    // Its stop order's actor is open at the broker: working, not pending.
    expect(await page.$$eval('#orders-body tr', (trs) => trs.filter((tr) => tr.children[3]?.textContent === 'stop').map((tr) => tr.children[4]?.textContent))).toEqual(['working']);
    expect(await page.getAttribute('#positions-body tr[data-symbol="BTC/USD"]', 'class')).toBe('position unprot');
    expect(await page.textContent('#positions-body tr[data-symbol="BTC/USD"] td.covered')).toBe('0 / 0.5');
    expect(await page.textContent('#positions-body tr[data-symbol="BTC/USD"] td.acting')).toBe('no live stop');
    expect(await page.textContent('#positions-body tr[data-symbol="AAPL"] .pill.idle')).toBe('stops idle: outside regular hours');
    expect(await page.getAttribute('#positions-body tr[data-symbol="AAPL"] .pill.idle', 'title')).toMatch(/^session: after;/);
    expect(await page.$('#positions-body tr[data-symbol="BTC/USD"] .pill.idle')).toBeNull();

    // The cooldown with its time left, counting down.
    const left = (await page.textContent('#cooldowns-body tr[data-symbol="TSLA"] td.left'))!;
    expect(left).toMatch(/^(20m 00s|19m [0-5]\ds)$/);
    await page.waitForFunction(
      (was) => (globalThis as any).document.querySelector('#cooldowns-body tr[data-symbol="TSLA"] td.left').textContent !== was,
      left,
      { polling: 100, timeout: 3_000 },
    );

    // Close asks first; dismissed, nothing is sent.
    const before = sent.length;
    await page.click('#positions-body tr[data-symbol="AAPL"] button.close');
    expect(dialogs).toEqual(['Close the whole AAPL position (4) at market?']);
    expect(sent.slice(before).filter((r) => r.method() !== 'GET')).toEqual([]);

    /** Clicks a button and returns the write it sent, once the page shows the answer. */
    const act = async (selector: string) => {
      const [request, response] = await Promise.all([
        page.waitForRequest((r) => r.method() !== 'GET'),
        page.waitForResponse((r) => r.request().method() !== 'GET'),
        page.click(selector),
      ]);
      expect((await request.allHeaders())['authorization']).toBe(`Bearer ${TOKEN}`);
      await page.waitForFunction((status) => (globalThis as any).document.getElementById('action-msg').getAttribute('data-status') === status, String(response.status()), { polling: 100, timeout: 5_000 });
      return { request, response, body: (await response.json()) as any, msg: (await page.textContent('#action-msg'))! };
    };

    // Accepted, the close is sent; the broker's refusal comes back as JSON and is shown as the server said it.
    acceptDialogs = true;
    const close = await act('#positions-body tr[data-symbol="AAPL"] button.close');
    expect(close.request.url()).toBe(`${api.url}/positions/AAPL/close`);
    expect(close.request.method()).toBe('POST');
    expect(close.response.status()).toBe(502);
    expect(close.msg).toBe(`close AAPL failed (502) \u2014 broker_refused: ${close.body.error.message}`);
    expect(close.msg).toContain('the broker refused the market sell');

    // Clear the cooldown: a DELETE with the bearer header from sessionStorage; the row goes at the next refresh.
    const cleared = await act('#cooldowns-body tr[data-symbol="TSLA"] button.clear-cooldown');
    expect(cleared.request.url()).toBe(`${api.url}/cooldowns/TSLA`);
    expect(cleared.response.status()).toBe(200);
    expect(cleared.msg).toMatch(/^clear cooldown TSLA: done/);
    await page.waitForFunction(() => (globalThis as any).document.querySelectorAll('#cooldowns-body tr').length === 0, undefined, { polling: 100, timeout: 5_000 });
    expect(await page.textContent('#cooldowns-empty')).toBe('no running cooldowns');

    // Pause entries: the header says so once /health does.
    const pause = await act('#btn-pause');
    expect(pause.request.url()).toBe(`${api.url}/control/pause`);
    expect(pause.response.status()).toBe(200);
    await page.waitForFunction(() => (globalThis as any).document.getElementById('h-entries').textContent === 'paused', undefined, { polling: 100, timeout: 5_000 });
    expect(await page.isDisabled('#btn-pause')).toBe(true);
    expect(await page.isEnabled('#btn-resume')).toBe(true);

    // A malformed ?account= (a broken %-escape made decodeURIComponent throw and the page stop): ignored, said, and the page works.
    await page.goto(`${api.url}/?account=%E0%A4%A`);
    await page.waitForFunction(() => (globalThis as any).document.querySelectorAll('#positions-body tr.position').length === 2, undefined, { timeout: 10_000, polling: 100 });
    expect(await page.getAttribute('#action-msg', 'data-status')).toBe('account_ignored');
    expect(await page.textContent('#action-msg')).toMatch(/^ignored \?account=%E0%A4%A in the address/);
    expect(sent.filter((r) => r.url().includes('account=')).map((r) => r.url())).toEqual([`${api.url}/?account=%E0%A4%A`]);

    await page.screenshot({ path: join(tmpdir(), 'crazy-trade-dashboard-live.png'), fullPage: true });
    const origin = new URL(api.url).origin;
    // The wrong token's requests carried it as a header too; the legacy link's query was the only URL with one.
    expect(await expectHeaderOnly(sent.filter((r) => r.url() !== `${api!.url}/?token=${TOKEN}` && !r.url().includes('?account=')), origin, TOKEN, ['not-the-token'])).toBeGreaterThan(6);
    expect(problems).toEqual([]);
  }, 40_000);

  it('fits six positions and the P&L headline in 1400x900, formats numbers for people, folds stops under rows, and goes stale within 10 s of the API stopping', async () => {
    if (CHROMIUM === undefined) throw new Error(`CT_REQUIRE_BROWSER=1 but ${NO_CHROMIUM_MESSAGE}`);
    const seeded = await openDatabase(':memory:');
    seedDemoLike(seeded);
    const { log } = captureLogger();
    const protection = { unprotected: [], overprotected: [], critical: false, grace_s: 10, session: 'regular' as const };
    const server = await startApi({
      host: '127.0.0.1', port: 0, db: seeded, log, marketSession: () => 'regular',
      lastPrices: new LastPrices(async (symbols) => new Map(symbols.filter((s) => SEEDED_PRICES.has(s)).map((s) => [s, SEEDED_PRICES.get(s)!]))),
      assetGrid: (symbol) => SEEDED_GRIDS.get(symbol),
      health: { mode: 'demo', streamState: () => 'connected', drift: () => [], protection: () => protection },
    });
    let closed = false;
    try {
      browser ??= await chromium.launch({ executablePath: CHROMIUM, args: LAUNCH_ARGS });
      const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
      const problems: string[] = [];
      page.on('pageerror', (err) => problems.push(`pageerror: ${err.message}`));
      page.on('console', (msg) => {
        // Once the API is closed on purpose, the page's fetches fail: that is what is tested.
        if (msg.type() === 'error' && !closed) problems.push(`console: ${msg.text()}`);
      });
      await page.goto(`${server.url}/`);
      await page.waitForFunction(
        () => { const d = (globalThis as any).document; return d.querySelectorAll('#positions-body tr.position').length === 6 && d.querySelector('#fills-body tr') && d.querySelector('svg#equity-curve .curve') && d.getElementById('hl-unrealized').textContent !== '\u2014'; },
        undefined,
        { timeout: 15_000, polling: 100 },
      );

      // Everything a trader watches is on the first screen: no scrolling, no clipping box around the positions.
      const fit = await page.evaluate(() => {
        const d = (globalThis as any).document;
        const w = globalThis as any;
        const bottom = (e: any) => e.getBoundingClientRect().bottom;
        let clipped = false;
        for (let e = d.getElementById('positions-table'); e && e !== d.body; e = e.parentElement) {
          const o = w.getComputedStyle(e);
          if (o.overflowY !== 'visible' || o.maxHeight !== 'none') clipped = true;
        }
        return {
          innerHeight: w.innerHeight,
          scrollY: w.scrollY,
          headline: bottom(d.getElementById('headline')),
          rows: [...d.querySelectorAll('#positions-body tr.position')].map(bottom),
          clipped,
        };
      });
      expect(fit.scrollY).toBe(0);
      expect(fit.clipped).toBe(false);
      expect(fit.headline).toBeLessThanOrEqual(fit.innerHeight);
      expect(fit.rows).toHaveLength(6);
      for (const b of fit.rows) expect(b).toBeLessThanOrEqual(fit.innerHeight);

      // One row per position with what a trader reads off it, rounded for people.
      const cells: Record<string, Record<string, string>> = await page.$$eval('#positions-body tr.position', (trs) =>
        Object.fromEntries(trs.map((tr) => [tr.getAttribute('data-symbol'), Object.fromEntries([...tr.querySelectorAll('td[class]')].map((td) => [td.className.split(' ')[1] ?? td.className, td.textContent]))])),
      );
      expect(Object.keys(cells)).toEqual(['AAPL', 'BTC/USD', 'DOGE/USD', 'MSFT', 'NVDA', 'TSLA']);
      // AAPL: 6 @ 187.40 and 4 @ 189.15 → 188.10; 10 × 191.32 = 1,913.20; +32.20 (+1.71%).
      expect(cells.AAPL).toMatchObject({ qty: '10', avg: '188.10', last: '191.32', value: '$1,913.20', upnl: '+$32.20', upct: '+1.71%', covered: '10 / 10', stop: '\u2265 187.49', dist: '\u2264 2.00%' });
      // MSFT: three entries, three stops, one row.
      expect(cells.MSFT).toMatchObject({ qty: '12', avg: '412.62', covered: '12 / 12' });
      // NVDA: 5 of 20 sold, FIFO leaves 15 @ 121.34; a fixed stop at 118.
      expect(cells.NVDA).toMatchObject({ qty: '15', avg: '121.34', upnl: '+$52.95', stop: '118.00', dist: '5.50%' });
      // TSLA short: covered by a buy trailing stop, at most 4% above the last price.
      expect(cells.TSLA).toMatchObject({ qty: '-5', value: '-$1,237.75', upnl: '+$18.25', upct: '+1.45%', stop: '\u2264 257.45' });
      // Coins on their asset's increments: BTC/USD's price on whole dollars, DOGE/USD's on 0.00001.
      expect(cells['BTC/USD']).toMatchObject({ qty: '0.25', avg: '64,211', last: '65,130', value: '$16,282.60', stop: '62,800' });
      expect(cells['DOGE/USD']).toMatchObject({ qty: '1,500', avg: '0.15234', last: '0.15611', value: '$234.17', upnl: '+$5.66', stop: '0.14800' });
      for (const c of Object.values(cells)) expect(c.acting).toMatch(/^act now( \(24\/7\))?$/);

      // The headline: realized (AMD +36.50, META -19.80, SPY +13.50, NVDA +23.80 = +54.00) and unrealized.
      expect(await page.textContent('#hl-realized')).toBe('+$54.00');
      expect(await page.textContent('#perf-realized-pnl')).toBe('+$54.00');
      for (const id of ['#hl-realized', '#hl-unrealized', '#hl-total', '#hl-value']) expect(await page.textContent(id)).toMatch(/^[+-]?\$[\d,]+\.\d{2}$/);
      expect(await page.textContent('#hl-covered')).toBe('6 / 6');
      expect(await page.textContent('#hl-acting')).toBe('all act now');

      // Fills with their role, and what each exit realized.
      const fills = await page.$$eval('#fills-body tr', (trs) => trs.map((tr) => [...tr.children].map((td) => td.textContent)));
      const bySymbol = (sym: string) => fills.filter((f) => f[1] === sym).map((f) => [f[3], f[6]]);
      expect(bySymbol('AMD')).toEqual([['exit', '+$36.50'], ['entry', '']]);
      expect(bySymbol('META')).toEqual([['stop', '-$19.80'], ['entry', '']]);
      expect(bySymbol('SPY')).toEqual([['outside', '+$13.50'], ['outside', '']]);
      // Times are local to the second (the UTC instant on hover): no nanoseconds, no ISO text.
      for (const f of fills) expect(f[0]).toMatch(/^\d{2}:\d{2}:\d{2}$|^[A-Z][a-z]{2} \d{1,2} \d{2}:\d{2}:\d{2}$/);
      expect(await page.getAttribute('#fills-body tr td.at', 'title')).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d{1,3})? UTC$/);
      const text = await page.evaluate(() => (globalThis as any).document.body.innerText as string);
      expect(text).not.toMatch(/\d{2}:\d{2}:\d{2}\.\d|\d{4}-\d{2}-\d{2}T/);

      // The chart's axes: dollars with 2 places and times of day, every label inside the drawing.
      const axes = await page.$$eval('svg#equity-curve text.ytick, svg#equity-curve text.xtick', (ts) =>
        ts.map((t: any) => { const b = t.getBBox(); return { cls: t.getAttribute('class'), text: t.textContent, left: b.x, right: b.x + b.width }; }),
      );
      expect(axes.filter((a) => a.cls === 'ytick').length).toBeGreaterThanOrEqual(3);
      for (const a of axes) {
        expect(a.text).toMatch(a.cls === 'ytick' ? /^-?\$[\d,]+\.\d{2}$/ : /^\d{2}:\d{2}$|^[A-Z][a-z]{2} \d{1,2}$/);
        expect(a.left).toBeGreaterThanOrEqual(0);
        expect(a.right).toBeLessThanOrEqual(640);
      }

      // A row's stops fold under it: MSFT's three, each working; open, they stay open across refreshes.
      expect(await page.isVisible('#positions-body tr.stops-row[data-symbol="MSFT"]')).toBe(false);
      await page.click('#positions-body tr.position[data-symbol="MSFT"] button.toggle');
      expect(await page.isVisible('#positions-body tr.stops-row[data-symbol="MSFT"]')).toBe(true);
      expect(await page.$$eval('#positions-body tr.stops-row[data-symbol="MSFT"] .stop-line', (ls) => ls.map((l) => l.children[6]?.textContent))).toEqual(['working', 'working', 'working']);
      expect(await page.getAttribute('#positions-body tr.position[data-symbol="MSFT"] button.toggle', 'aria-expanded')).toBe('true');
      const updated = await page.textContent('#updated');
      await page.waitForFunction((was) => (globalThis as any).document.getElementById('updated').textContent !== was, updated, { polling: 200, timeout: 8_000 });
      expect(await page.isVisible('#positions-body tr.stops-row[data-symbol="MSFT"]')).toBe(true);
      // Still one screen with MSFT open.
      expect(await page.evaluate(() => { const d = (globalThis as any).document; return [...d.querySelectorAll('#positions-body tr.position')].every((r: any) => r.getBoundingClientRect().bottom <= (globalThis as any).innerHeight); })).toBe(true);
      expect(await page.$$eval('#orders-body tr', (trs) => trs.filter((tr) => tr.children[3]?.textContent === 'stop' && tr.children[4]?.textContent === 'pending').length)).toBe(0);

      await page.mouse.move(0, 0);
      await page.screenshot({ path: SCREENSHOT_SEEDED });
      await page.screenshot({ path: join(tmpdir(), 'crazy-trade-dashboard-full.png'), fullPage: true });
      // CT_UPDATE_SCREENSHOT=1 (a person asked for it): the README's picture is this one.
      if (process.env.CT_UPDATE_SCREENSHOT === '1') copyFileSync(SCREENSHOT_SEEDED, join(process.cwd(), 'docs', 'dashboard.png'));
      expect(problems).toEqual([]);

      // The API stops answering: within 10 s every status pill is grey "stale" and a banner says since when.
      const pillsBefore = await page.$$eval('header .pill', (ps) => ps.map((p) => p.textContent));
      expect(pillsBefore).toContain('connected');
      closed = true;
      const stoppedAt = Date.now();
      await server.close();
      await page.waitForFunction(() => (globalThis as any).document.body.classList.contains('stale'), undefined, { polling: 100, timeout: 10_000 });
      expect(Date.now() - stoppedAt).toBeLessThan(10_000);
      const pills = await page.$$eval('.pill', (ps) => ps.map((p) => ({ text: p.textContent, header: !!p.closest('header'), bg: (globalThis as any).getComputedStyle(p).backgroundColor })));
      expect(pills.filter((p) => p.header).map((p) => p.text)).toEqual(['stale', 'stale', 'stale', 'stale']);
      for (const p of pills) expect(p.bg).toBe('rgb(140, 149, 159)');
      expect(await page.isVisible('#stale-banner')).toBe(true);
      expect(await page.textContent('#stale-banner')).toMatch(/^No answer from the API since \d{2}:\d{2}:\d{2} \(\d+ s ago\)/);
      // Greyed, and nothing green: the page's contents go grey with the pills.
      expect(await page.evaluate(() => (globalThis as any).getComputedStyle((globalThis as any).document.querySelector('main')).filter)).toBe('grayscale(1)');
      await page.screenshot({ path: join(tmpdir(), 'crazy-trade-dashboard-stale.png'), fullPage: true });
    } finally {
      if (!closed) await server.close();
      await seeded.close();
    }
  }, 60_000);
});
