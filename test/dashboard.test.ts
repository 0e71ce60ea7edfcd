import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, describe, expect, it } from 'vitest';
import { getJson, startBot, type BotProcess } from './support/bot-process.js';
import { browserRequired, findChromium, NO_CHROMIUM_MESSAGE } from './support/chromium.js';

/** CT_CHROMIUM, else chromium / chromium-browser / google-chrome on PATH. */
const CHROMIUM = findChromium();
/** No browser: skipped with one line, unless CT_REQUIRE_BROWSER=1 (CI), where the test fails instead. */
const SKIP = CHROMIUM === undefined && !browserRequired();
if (SKIP) console.warn(`dashboard.test.ts skipped: ${NO_CHROMIUM_MESSAGE}`);

let dir: string | undefined;
/** Kept after the run (overwritten by the next one) so a person can look at it. */
const SCREENSHOT = join(tmpdir(), 'crazy-trade-dashboard.png');
let bot: BotProcess | undefined;
let browser: Browser | undefined;

afterAll(async () => {
  await browser?.close();
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
    bot = startBot({ CT_DB_PATH: join(dir, 'crazy-trade.db'), CT_API_PORT: '0' });
    const [url, launched] = await Promise.all([
      bot.apiUrl(),
      chromium.launch({
        executablePath: CHROMIUM,
        args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      }),
    ]);
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
    page.on('pageerror', (err) => problems.push(`pageerror: ${err.message}`));
    page.on('console', (msg) => {
      if (msg.type() === 'error') problems.push(`console: ${msg.text()}`);
    });
    page.on('request', (req) => requests.push(req.url()));

    await page.goto(`${url}/`);
    // Page-side predicates as strings: the project's tsconfig has no DOM lib.
    await page.waitForFunction(
      "document.querySelectorAll('#fills-body tr').length > 0 && document.querySelectorAll('#orders-body tr').length > 0 && document.getElementById('h-stream').textContent === 'connected'",
      undefined,
      { timeout: 15_000, polling: 200 },
    );

    expect(await page.textContent('#h-mode')).toBe('demo');
    // Demo mode is said in a banner, not only in a header field.
    expect(await page.isVisible('#mode-banner')).toBe(true);
    expect(await page.textContent('#mode-banner')).toMatch(/^DEMO\b.*no real account is watched/);
    expect(await page.textContent('#h-stream')).toBe('connected');
    expect(await page.textContent('#h-drift')).toMatch(/^\d+$/);

    const fills = await getJson<{ fills: Array<{ symbol: string }> }>(`${url}/fills?limit=50`);
    const apiSymbols = new Set(fills.body.fills.map((f) => f.symbol));
    const pageSymbols = await page.$$eval('#fills-body tr td:nth-child(2)', (tds) => tds.map((td) => td.textContent ?? ''));
    expect(pageSymbols.some((s) => apiSymbols.has(s))).toBe(true);

    const states = await page.$$eval('#orders-body tr td:nth-child(5)', (tds) => tds.map((td) => td.textContent ?? ''));
    expect(states.length).toBeGreaterThan(0);
    for (const s of states) expect(s).toMatch(/^(pending|partiallyFilled|placingStop|protected|exited|done|canceled|rejected|expired|replaced)$/);
    expect(await page.$$eval('#state-counts .chip', (c) => c.length)).toBeGreaterThan(0);

    const perf = await fetch(`${url}/performance`);
    if (perf.ok) {
      await page.waitForSelector('svg#equity-curve', { timeout: 6_000 });
      const total = ((await perf.json()) as { total: { realized_pnl: string } }).total;
      expect(await page.textContent('#perf-realized-pnl')).toMatch(/^-?\d+(\.\d+)?$/);
      expect(typeof total.realized_pnl).toBe('string');
    } else {
      await page.waitForFunction("document.getElementById('perf').textContent.includes('no performance data')", undefined, { timeout: 6_000 });
    }

    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    const png = readFileSync(SCREENSHOT);
    expect(png.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))).toBe(true);
    expect(png.length).toBeGreaterThan(10_000);

    // Offline on loopback: nothing but the page's own origin (and the data: favicon) was asked for.
    const origin = new URL(url).origin;
    expect(requests.filter((r) => !r.startsWith(`${origin}/`) && !r.startsWith('data:'))).toEqual([]);
    expect(problems).toEqual([]);
  }, 40_000);
});
