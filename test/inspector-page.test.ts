import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { chromium, type Browser, type Frame, type Page } from 'playwright-core';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createActor } from 'xstate';
import { startInspector, type Inspector } from '../src/inspect/inspector.js';
import { orderActorId, supervisorMachine } from '../machines/supervisor.machine.js';
import { orderReport } from './machines/helpers.js';
import { browserRequired, findChromium, NO_CHROMIUM_MESSAGE } from './support/chromium.js';
import { captureLogger } from './support/log-capture.js';

/** The inspector's bridge page in headless Chromium, with a local stand-in for Stately's UI. */
const CHROMIUM = findChromium();
const SKIP = CHROMIUM === undefined && !browserRequired();
if (SKIP) console.warn(`inspector-page.test.ts skipped: ${NO_CHROMIUM_MESSAGE}`);
const LAUNCH_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const TOKEN = 'inspect-page-token-7d41-long-enough';

/**
 * The stand-in UI, at http://127.0.0.1:<port>/inspect: records what its parent posts to it (and
 * whether it had said it was connected by then); says `@statelyai.connected` at once, or, with
 * ?silent, not until told, while an impostor frame of another origin (localhost:<port>) says it.
 */
const UI_HTML = `<!DOCTYPE html><html><body><script>
window.received = [];
window.said = false;
window.addEventListener('message', function (e) { if (e.source === window.parent) window.received.push({ data: e.data, said: window.said }); });
window.sayConnected = function () { window.said = true; window.parent.postMessage({ type: '@statelyai.connected' }, '*'); };
if (location.search.indexOf('silent') < 0) window.sayConnected();
else { var f = document.createElement('iframe'); f.src = 'http://localhost:' + location.port + '/impostor'; document.body.appendChild(f); }
</script></body></html>`;
const IMPOSTOR_HTML = `<!DOCTYPE html><html><body><script>
window.top.postMessage({ type: '@statelyai.connected' }, '*');
window.posted = true;
</script></body></html>`;

let browser: Browser | undefined;
let ui: Server | undefined;
const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (let c = cleanup.pop(); c; c = cleanup.pop()) await c();
});
afterAll(async () => {
  await browser?.close();
  if (ui) await new Promise((r) => ui!.close(r));
});

async function uiServer(): Promise<number> {
  if (!ui) {
    ui = createServer((req, res) => {
      const html = req.url?.startsWith('/inspect') ? UI_HTML : req.url === '/impostor' ? IMPOSTOR_HTML : null;
      if (!html) return void res.writeHead(404).end();
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(html);
    });
    await new Promise<void>((r) => ui!.listen(0, '127.0.0.1', r));
  }
  return (ui.address() as AddressInfo).port;
}

async function setup(opts: { token?: string; silent?: boolean }): Promise<{ ins: Inspector; page: Page; sendOrder: () => string }> {
  const uiPort = await uiServer();
  const { log } = captureLogger();
  const ins = await startInspector({ port: 0, log, token: opts.token, uiUrl: `http://127.0.0.1:${uiPort}/inspect${opts.silent ? '?silent' : ''}` });
  cleanup.push(() => ins.close());
  const actor = createActor(supervisorMachine, { systemId: 'supervisor', inspect: ins.inspect });
  actor.start();
  cleanup.push(() => actor.stop());
  const sendOrder = () => {
    const order = orderReport({});
    actor.send({ type: 'broker.order', order, role: 'entry', untracked: true, protect: false });
    return order.orderId;
  };
  browser ??= await chromium.launch({ executablePath: CHROMIUM, args: LAUNCH_ARGS });
  const page = await browser.newPage();
  cleanup.push(() => page.close());
  const problems: string[] = [];
  page.on('pageerror', (err) => problems.push(err.message));
  cleanup.push(() => expect(problems).toEqual([]));
  await page.goto(`http://127.0.0.1:${new URL(ins.url).port}/`);
  return { ins, page, sendOrder };
}

const uiFrame = (page: Page, path: string): Frame => {
  const f = page.frames().find((fr) => fr.url().includes(path));
  if (!f) throw new Error(`no frame ${path}: ${page.frames().map((fr) => fr.url()).join(', ')}`);
  return f;
};

/** The stand-in UI has received the order actor's registration. */
const uiSawOrder = (frame: Frame, orderId: string) =>
  frame.waitForFunction((name) => (globalThis as any).received.some((r: any) => r.data?.type === '@xstate.actor' && r.data?.name === name), orderActorId(orderId), {
    polling: 50,
    timeout: 10_000,
  });

describe.skipIf(SKIP)('the inspector page in Chromium', () => {
  it('asks for the token, then hands the feed to the UI frame by postMessage', async () => {
    const { page, sendOrder } = await setup({ token: TOKEN });
    const orderId = sendOrder();
    // The page has no token: the feed says so at once, the form comes up.
    await page.waitForSelector('#token-form:not([hidden])', { timeout: 10_000 });
    expect(await page.textContent('#token-why')).toContain('token required');
    await page.fill('#token-input', TOKEN);
    await page.click('#token-form button[type=submit]');
    const frame = uiFrame(page, '/inspect');
    await uiSawOrder(frame, orderId);
    const later = sendOrder();
    await uiSawOrder(frame, later);
    // Kept in this tab's sessionStorage, not in the address.
    expect(await page.evaluate(() => (globalThis as any).sessionStorage.getItem('crazy-trade.api-token'))).toBe(TOKEN);
    expect(page.url()).not.toContain(TOKEN);
  });

  it('a frame of another origin saying "connected" gets the page to post nothing', async () => {
    const { page, sendOrder } = await setup({ silent: true });
    const orderId = sendOrder();
    const frame = uiFrame(page, '/inspect');
    const impostor = await (async () => {
      for (const end = Date.now() + 10_000; Date.now() < end; await new Promise((r) => setTimeout(r, 50))) {
        const f = page.frames().find((fr) => fr.url().endsWith('/impostor'));
        if (f && (await f.evaluate(() => (globalThis as any).posted === true))) return f;
      }
      throw new Error('the impostor frame never posted');
    })();
    expect(impostor.url()).toMatch(/^http:\/\/localhost:\d+\/impostor$/);
    // The impostor has spoken; events keep coming. Nothing may reach the UI before it says so
    // itself (an absence needs a bound: one second).
    sendOrder();
    await new Promise((r) => setTimeout(r, 1_000));
    expect(await frame.evaluate(() => (globalThis as any).received.length)).toBe(0);
    // The real UI says it: the buffered feed arrives, and only after that.
    await frame.evaluate(() => (globalThis as any).sayConnected());
    await uiSawOrder(frame, orderId);
    expect(await frame.evaluate(() => (globalThis as any).received.every((r: any) => r.said === true))).toBe(true);
  });
});
