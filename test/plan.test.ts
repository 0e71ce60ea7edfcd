import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../src/sim/index.js';
import { equityStopPrice } from '../src/protection/stop-order.js';
import { SECTIONS } from '../src/plan/print-plan.js';
import type { Plan } from '../src/plan/types.js';
import { eventually, startBot, type BotProcess } from './support/bot-process.js';
import { simPost } from './support/sim-traffic.js';
import { taggingProxy, type TaggingProxy } from './support/tagging-proxy.js';
import { entryArgs } from './support/entry.js';

/**
 * `npm run plan` as a real child process against the simulator: a sample account (an equity long,
 * a fractional one, crypto, a short, a position under an outside stop, one partly held by an outside
 * limit, an exit, a resting outside order), the plan as JSON and as text, and the simulator's request
 * log showing that the plan sent nothing but GET requests. Then the same account after a real start:
 * the plan takes the database's stops into account and leaves the file as it was.
 */

const KEY = 'PKPLANTEST0001';
const SECRET = 'plan-test-secret-0001';
const dir = mkdtempSync(join(tmpdir(), 'ct-plan-'));
let sim: Simulator;
let proxy: TaggingProxy;
const bots: BotProcess[] = [];
/** Order ids of the sample account, set as it is made. */
const ids = { aapl: '', msft: '', btc: '', amd: '', tsla: '', tslaStop: '', spy: '', spyLimit: '', nvdaBuy: '', nvdaSell: '', qqq: '', eth: '', ethBid: '' };

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runPlan(env: Record<string, string>, args: string[] = ['--json']): Promise<Run> {
  const proc = spawn(process.execPath, [...entryArgs('src/plan/cli.ts'), ...args], {
    cwd: process.cwd(),
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  proc.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  proc.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  return new Promise((res) => proc.once('exit', (code) => res({ code, stdout, stderr })));
}

const planEnv = (db: string, extra: Record<string, string> = {}) => ({
  APCA_API_KEY_ID: KEY,
  APCA_API_SECRET_KEY: SECRET,
  // Through the tagging proxy: the request log tells the plan's requests apart.
  ALPACA_API_URL: proxy.url,
  ALPACA_STREAM_URL: sim.streamUrl,
  ALPACA_DATA_URL: sim.dataUrl,
  CT_DB_PATH: join(dir, db),
  ...extra,
});

async function requestLog(afterSeq = 0): Promise<{ next_seq: number; entries: Array<{ method: string; path: string; source: string | null; status: number; symbol: string | null; client_order_id: string | null }> }> {
  const res = await fetch(`${sim.url}/_sim/requests?after=${afterSeq}&limit=10000`);
  return (await res.json()) as any;
}

async function planJson(db: string, extra: Record<string, string> = {}): Promise<{ plan: Plan; run: Run; requests: Array<{ method: string; path: string; source: string | null }> }> {
  const from = (await requestLog()).next_seq - 1;
  const run = await runPlan(planEnv(db, extra));
  expect(run.stderr).toBe('');
  expect(run.code).toBe(0);
  const requests = (await requestLog(from)).entries;
  return { plan: JSON.parse(run.stdout) as Plan, run, requests };
}

beforeAll(async () => {
  sim = await startSimulator({ seed: 24, keyId: KEY, secretKey: SECRET });
  proxy = await taggingProxy(sim.url, 'plan');
  const trade = (body: Record<string, unknown>) => simPost(sim, '/_sim/trade', body);
  ids.aapl = (await trade({ symbol: 'AAPL', side: 'buy', qty: '10', type: 'market' })).id;
  ids.msft = (await trade({ symbol: 'MSFT', side: 'buy', qty: '2.5', type: 'market', time_in_force: 'day' })).id;
  ids.btc = (await trade({ symbol: 'BTC/USD', side: 'buy', qty: '0.05', type: 'market', time_in_force: 'gtc' })).id;
  ids.amd = (await trade({ symbol: 'AMD', side: 'sell', qty: '4', type: 'market' })).id;
  ids.tsla = (await trade({ symbol: 'TSLA', side: 'buy', qty: '5', type: 'market' })).id;
  ids.tslaStop = (await trade({ symbol: 'TSLA', side: 'sell', qty: '5', type: 'stop', stop_price: '230', time_in_force: 'gtc', fill: 'none' })).id;
  ids.spy = (await trade({ symbol: 'SPY', side: 'buy', qty: '10', type: 'market' })).id;
  ids.spyLimit = (await trade({ symbol: 'SPY', side: 'sell', qty: '4', type: 'limit', limit_price: '9000', time_in_force: 'gtc', fill: 'none' })).id;
  ids.nvdaBuy = (await trade({ symbol: 'NVDA', side: 'buy', qty: '2', type: 'market' })).id;
  ids.nvdaSell = (await trade({ symbol: 'NVDA', side: 'sell', qty: '2', type: 'market' })).id;
  ids.qqq = (await trade({ symbol: 'QQQ', side: 'buy', qty: '3', type: 'limit', limit_price: '400', time_in_force: 'gtc', fill: 'none' })).id;
  // A crypto position beside a resting buy that a stop-limit sell would cross: a wash trade to Alpaca.
  ids.eth = (await trade({ symbol: 'ETH/USD', side: 'buy', qty: '1', type: 'market', time_in_force: 'gtc' })).id;
  ids.ethBid = (await trade({ symbol: 'ETH/USD', side: 'buy', qty: '1', type: 'limit', limit_price: '3150', time_in_force: 'gtc', fill: 'none' })).id;
});

afterAll(async () => {
  for (const b of bots) if (b.proc.exitCode === null && b.proc.signalCode === null) b.proc.kill('SIGKILL');
  await Promise.all(bots.map((b) => b.exited));
  await proxy?.close();
  await sim?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('npm run plan, first start', () => {
  it('plans a stop per position as a start would, adopts the open orders, leaves the held one, starts the exit cooldown; sends only GETs', async () => {
    const { plan, requests } = await planJson('first.db');

    const stop = (symbol: string, type?: string) => plan.stops.find((s) => s.symbol === symbol && (type === undefined || s.type === type));
    // Equity long: a gtc trailing stop at CT_TRAIL_PERCENT.
    expect(stop('AAPL')).toMatchObject({ action: 'place', side: 'sell', qty: '10', type: 'trailing_stop', trail_percent: '2', time_in_force: 'gtc', entry_order_id: ids.aapl, client_order_id: `ct-stop-${ids.aapl}`, level_now: '186.2' });
    // Fractional: the whole shares trail, the fraction gets a day stop priced from the latest trade.
    expect(stop('MSFT', 'trailing_stop')).toMatchObject({ qty: '2', trail_percent: '2', time_in_force: 'gtc' });
    expect(stop('MSFT', 'stop')).toMatchObject({ qty: '0.5', stop_price: equityStopPrice('410', '2'), time_in_force: 'day', client_order_id: `ct-stop-${ids.msft}-f` });
    expect(stop('MSFT', 'stop')!.reason).toMatch(/fractional shares cannot trail/);
    // Crypto: a stop-limit on the asset's grid (price increment 1), for the fee-net quantity.
    expect(stop('BTC/USD')).toMatchObject({ type: 'stop_limit', qty: '0.049875', stop_price: '63700', limit_price: '63063', time_in_force: 'gtc' });
    expect(stop('BTC/USD')).not.toHaveProperty('trail_percent');
    // A short: a buy trailing stop.
    expect(stop('AMD')).toMatchObject({ side: 'buy', qty: '4', type: 'trailing_stop', level_now: '163.2' });
    // Partly held by an outside limit sell: the stop covers what is free.
    expect(stop('SPY')).toMatchObject({ qty: '6', type: 'trailing_stop' });
    expect(stop('SPY')!.reason).toMatch(new RegExp(`only 6 of 10 is free.*${ids.spyLimit}`));
    // Nothing for the position the outside stop holds, nor for the closed one.
    expect(stop('TSLA')).toBeUndefined();
    expect(stop('NVDA')).toBeUndefined();
    expect(stop('ETH/USD')).toBeUndefined();
    expect(plan.stops).toHaveLength(6);
    for (const s of plan.stops) for (const v of [s.qty, s.stop_price, s.trail_percent, s.limit_price].filter((x) => x !== undefined)) expect(typeof v).toBe('string');

    // Every open order is adopted; the outside stop is followed, not taken as protection.
    const adopt = new Map(plan.adopt.map((a) => [a.order_id, a]));
    expect([...adopt.keys()].sort()).toEqual([ids.tslaStop, ids.spyLimit, ids.qqq, ids.ethBid].sort());
    expect(adopt.get(ids.tslaStop)).toMatchObject({ symbol: 'TSLA', type: 'stop', stop_price: '230', placed_by: 'outside', protection: false, known: false });
    expect(adopt.get(ids.tslaStop)!.reason).toMatch(/not counted as protection/);
    expect(adopt.get(ids.qqq)!.reason).toMatch(/CT_ADOPT=protect/);

    const leave = new Map(plan.leave.map((l) => [l.symbol, l]));
    expect(leave.get('TSLA')).toMatchObject({ qty: '5', covered: '0', order_ids: [ids.tslaStop] });
    expect(leave.get('TSLA')!.reason).toMatch(/would be refused by Alpaca: "insufficient qty available/);
    expect(leave.get('SPY')).toMatchObject({ qty: '10', covered: '6', order_ids: [ids.spyLimit] });
    expect(leave.get('ETH/USD')).toMatchObject({ covered: '0', order_ids: [ids.ethBid] });
    expect(leave.get('ETH/USD')!.reason).toMatch(new RegExp(`refused by Alpaca: "potential wash trade detected.*${ids.ethBid} \\(buy 1 limit limit 3150\\) could trade with it`));
    expect(leave.has('AAPL')).toBe(false);

    expect(plan.cooldowns).toHaveLength(1);
    expect(plan.cooldowns[0]).toMatchObject({ symbol: 'NVDA', order_id: ids.nvdaSell, exit_fill_id: `${ids.nvdaSell}:2` });
    expect(Date.parse(plan.cooldowns[0]!.until)).toBeGreaterThan(Date.now() + 25 * 60_000);

    // Reads only: every request the plan's keys sent (tagged by its proxy) is a GET, and nothing else reached the API meanwhile.
    const tagged = requests.filter((r) => r.source === 'plan');
    expect(tagged.length).toBeGreaterThan(5);
    expect(tagged.some((r) => r.path === '/v2/account/activities')).toBe(true);
    expect(requests.filter((r) => r.method !== 'GET')).toEqual([]);
    // And no database was made.
    expect(existsSync(join(dir, 'first.db'))).toBe(false);
  }, 60_000);

  it('CT_ADOPT=record: no stop for positions opened outside the service; each is left alone and says why', async () => {
    const { plan, requests } = await planJson('record.db', { CT_ADOPT: 'record' });
    expect(plan.stops).toEqual([]);
    const leave = new Map(plan.leave.map((l) => [l.symbol, l]));
    for (const symbol of ['AAPL', 'MSFT', 'BTC/USD', 'AMD', 'TSLA', 'SPY', 'ETH/USD']) expect(leave.get(symbol)?.reason).toMatch(/CT_ADOPT=record/);
    expect(plan.adopt.find((a) => a.order_id === ids.qqq)!.reason).toMatch(/recorded without a stop \(CT_ADOPT=record\)/);
    expect(plan.cooldowns.map((c) => c.symbol)).toEqual(['NVDA']);
    expect(requests.filter((r) => r.method !== 'GET')).toEqual([]);
  }, 60_000);

  it('prints a header and the four sections as text by default', async () => {
    const run = await runPlan(planEnv('text.db'), []);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^crazy-trade plan for account "default": paper, /);
    expect(run.stdout).toMatch(/store {5}first start: no database at/);
    expect(run.stdout).toMatch(/sent {6}nothing: \d+ GET requests, no order request/);
    for (const title of Object.values(SECTIONS)) expect(run.stdout).toMatch(new RegExp(`^${title} \\(\\d+\\)$`, 'm'));
    expect(run.stdout).toContain('AAPL      place   sell 10 trailing_stop trail 2% (about 186.2 now) gtc');
  }, 60_000);

  it('a bad variable exits 2 naming it; keys Alpaca refuses exit 2 with one line', async () => {
    const bad = await runPlan(planEnv('bad.db', { CT_ADOPT: 'sometimes' }));
    expect(bad.code).toBe(2);
    expect(bad.stdout).toBe('');
    expect(bad.stderr.trim().split('\n')).toEqual(['crazy-trade plan: invalid configuration: CT_ADOPT: expected protect or record']);

    const refused = await runPlan(planEnv('refused.db', { APCA_API_SECRET_KEY: 'not-the-secret' }));
    expect(refused.code).toBe(2);
    expect(refused.stdout).toBe('');
    expect(refused.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^crazy-trade plan: Alpaca refused the API keys \(40[13]\) at 127\.0\.0\.1:\d+$/)]);
    expect(existsSync(join(dir, 'refused.db'))).toBe(false);
  }, 60_000);
});

describe('npm run plan after a start', () => {
  it('a start sends what the plan said; after it, the plan takes the database into account and leaves the file as it was', async () => {
    const dbDir = join(dir, 'ran');
    mkdirSync(dbDir);
    const db = join(dbDir, 'bot.db');
    const first = await planJson('ran/bot.db');
    const tagFirst = await taggingProxy(sim.url, 'first-start');
    let book: { open_orders: Array<{ id: string; client_order_id: string; symbol: string }> };
    let sent: Array<{ method: string; path: string; status: number; symbol: string | null; client_order_id?: string | null }>;
    try {
      const from = (await requestLog()).next_seq - 1;
      const bot = startBot({ ...planEnv('ran/bot.db'), ALPACA_API_URL: tagFirst.url, CT_API_PORT: '0', CT_LOG_LEVEL: 'info' });
      bots.push(bot);
      await bot.apiUrl();
      // The bot's stops at the broker: AAPL, MSFT (two), BTC/USD, AMD, SPY.
      // …and its refused tries for TSLA and ETH/USD.
      const changes = async () => (await requestLog(from)).entries.filter((r) => r.source === 'first-start' && r.method !== 'GET');
      book = await eventually(async () => {
        const b = (await (await fetch(`${sim.url}/_sim/book`)).json()) as typeof book;
        const refusedFor = new Set((await changes()).filter((r) => r.status >= 400).map((r) => r.symbol));
        return b.open_orders.filter((o) => o.client_order_id.startsWith('ct-stop-')).length >= 6 && refusedFor.has('TSLA') && refusedFor.has('ETH/USD') ? b : null;
      }, 30_000);
      bot.proc.kill('SIGTERM');
      expect((await bot.exited).code).toBe(0);
      sent = await changes();
    } finally {
      await tagFirst.close();
    }
    // The first start placed the stops the plan listed (same client order ids), and was refused the ones it left.
    const placed = sent.filter((r) => r.status < 400);
    expect(placed.every((r) => r.method === 'POST')).toBe(true);
    expect(placed.map((r) => r.client_order_id).sort()).toEqual(first.plan.stops.map((s) => s.client_order_id).sort());
    expect([...new Set(sent.filter((r) => r.status >= 400 && r.symbol !== 'SPY').map((r) => r.symbol))].sort()).toEqual(['ETH/USD', 'TSLA']);
    const stopIds = book.open_orders.filter((o) => o.client_order_id.startsWith('ct-stop-')).map((o) => o.id);

    const files = () => readdirSync(dbDir).sort();
    const hash = () => Object.fromEntries(files().map((f) => [f, createHash('sha256').update(readFileSync(join(dbDir, f))).digest('hex')]));
    const before = { files: files(), hash: hash() };

    const { plan, requests } = await planJson('ran/bot.db');
    expect(requests.filter((r) => r.method !== 'GET')).toEqual([]);
    // Protected already: no stop to place; each position says which working stops cover it.
    expect(plan.stops).toEqual([]);
    const leave = new Map(plan.leave.map((l) => [l.symbol, l]));
    for (const symbol of ['AAPL', 'MSFT', 'BTC/USD', 'AMD']) expect(leave.get(symbol)?.reason).toMatch(/^already protected: working stop order/);
    expect(leave.get('AAPL')!.order_ids!.every((id) => stopIds.includes(id))).toBe(true);
    // Refused at the start: the plan says so from the refusal the run recorded, or, when the run was
    // stopped before recording it, from what the broker holds.
    expect(leave.get('TSLA')!.reason).toMatch(/would be refused|^stop_refused: insufficient_qty: .*held by open order/);
    expect(leave.get('ETH/USD')!.reason).toMatch(/potential wash trade/);
    // The bot's own stops are adopted as protection, known to the database; the cooldown was started by that run.
    const mine = plan.adopt.filter((a) => a.protection);
    expect(mine.map((a) => a.order_id).sort()).toEqual([...stopIds].sort());
    expect(mine.every((a) => a.known && a.placed_by === 'this service')).toBe(true);
    expect(plan.adopt.find((a) => a.order_id === ids.qqq)).toMatchObject({ known: true });
    expect(plan.cooldowns).toEqual([]);

    // The text says the database was read.
    const text = await runPlan(planEnv('ran/bot.db'), []);
    expect(text.stdout).toMatch(/store {5}\S*bot\.db \(read from a copy; the file itself is not opened\), last reconciled /);

    expect(files()).toEqual(before.files);
    expect(hash()).toEqual(before.hash);
    expect(existsSync(db)).toBe(true);

    // While the service is down, 4 AAPL are sold and the AMD short is bought back, outside it:
    // a start resizes the AAPL stop, cancels the AMD one and starts AMD's cooldown.
    const aaplStop = book.open_orders.find((o) => o.symbol === 'AAPL' && o.client_order_id.startsWith('ct-stop-'))!.id;
    const amdStop = book.open_orders.find((o) => o.symbol === 'AMD' && o.client_order_id.startsWith('ct-stop-'))!.id;
    await simPost(sim, '/_sim/trade', { symbol: 'AAPL', side: 'sell', qty: '4', type: 'market', ignore_held: true });
    const cover = await simPost(sim, '/_sim/trade', { symbol: 'AMD', side: 'buy', qty: '4', type: 'market', ignore_held: true });
    const later = await planJson('ran/bot.db');
    expect(later.requests.filter((r) => r.method !== 'GET')).toEqual([]);
    expect(later.plan.stops).toEqual([
      expect.objectContaining({ action: 'replace', symbol: 'AAPL', order_id: aaplStop, qty: '6', type: 'trailing_stop', trail_percent: '2', reason: expect.stringMatching(/covers 10; the position it protects wants 6/) }),
      expect.objectContaining({ action: 'cancel', symbol: 'AMD', order_id: amdStop, qty: '4', side: 'buy', type: 'trailing_stop', reason: expect.stringMatching(/AMD position it protected is closed/) }),
    ]);
    expect(later.plan.cooldowns).toEqual([expect.objectContaining({ symbol: 'AMD', order_id: cover.id, exit_fill_id: `${cover.id}:4` })]);
    expect(hash()).toEqual(before.hash);

    // The start itself sends what the plan said: the replace and the cancel (and, refused, the stops it left).
    const tag = await taggingProxy(sim.url, 'restart');
    try {
      const from = (await requestLog()).next_seq - 1;
      const again = startBot({ ...planEnv('ran/bot.db'), ALPACA_API_URL: tag.url, CT_API_PORT: '0', CT_LOG_LEVEL: 'info' });
      bots.push(again);
      const sent = await eventually(async () => {
        const changes = (await requestLog(from)).entries.filter((r) => r.source === 'restart' && r.method !== 'GET');
        return changes.some((r) => r.method === 'PATCH') && changes.some((r) => r.method === 'DELETE') ? changes : null;
      }, 30_000);
      again.proc.kill('SIGTERM');
      await again.exited;
      const accepted = sent.filter((r) => r.status < 400).map((r) => `${r.method} ${r.path}`);
      expect(accepted.sort()).toEqual([`DELETE /v2/orders/${amdStop}`, `PATCH /v2/orders/${aaplStop}`].sort());
      const refused = sent.filter((r) => r.status >= 400) as Array<{ symbol?: string | null }>;
      expect(refused.every((r) => r.symbol === 'TSLA' || r.symbol === 'ETH/USD')).toBe(true);
    } finally {
      await tag.close();
    }
  }, 120_000);
});
