import { describe, expect, it } from 'vitest';
import { nextTradingDay, isTradingDay } from '../src/sim/calendar.js';
import { nyDate, nyWallToMs } from '../src/sim/clock.js';
import type { Simulator } from '../src/sim/index.js';
import type { SimOrder } from '../src/sim/types.js';
import { eventually, getJson, type BotProcess } from './support/bot-process.js';
import { simsAndBots } from './support/sim-bots.js';
import { simPost } from './support/sim-traffic.js';

const env = simsAndBots('guard', 'PKGUARD', 'guard-secret');
/**
 * The guard's pass every 250 ms (CT_GUARD_CHECK_MS; 2 s by default) and Alpaca's clock read every
 * second: each step below waits on what the bot does, and these make it do it sooner.
 */
const FAST = { CT_GUARD_CHECK_MS: '250', CT_MARKET_CLOCK_S: '1' };

/**
 * CT_EXTENDED_HOURS_GUARD=1, the real bot (child process, SDK over HTTP) against the simulator
 * whose clock is moved: outside regular hours Alpaca's stops do not trigger, so a trade through a
 * position's stop level makes the bot cancel its stops and exit by an extended-hours limit order,
 * re-priced while it does not fill, sent once across crashes; at the regular open the stops are back.
 */

/** 08:00 (pre-market) of the next New York trading day that is still ahead (epoch ms). */
function nextPreMarket(afterMs: number): number {
  let d = nyDate(afterMs * 1000);
  if (!isTradingDay(d)) d = nextTradingDay(d);
  while (nyWallToMs(d, 8, 0) <= afterMs + 60_000) d = nextTradingDay(d);
  return nyWallToMs(d, 8, 0);
}

const guardOrders = (s: Simulator): SimOrder[] => s.engine.orders.filter((o) => o.clientOrderId.startsWith('ct-guard-'));
const openAapl = (s: Simulator) => s.engine.openOrders().filter((o) => o.asset.symbol === 'AAPL');
const aapl = async (url: string) => (await getJson(`${url}/positions`)).body.positions.find((p: any) => p.symbol === 'AAPL');
const guardRequests = async (s: Simulator) => {
  const log = await getJson(`${s.url}/_sim/requests?limit=10000`);
  return (log.body.entries as any[]).filter((r) => String(r.client_order_id ?? '').startsWith('ct-guard-'));
};

/** 10 AAPL bought in the simulator's default regular session, covered by the bot's 2% trailing stop (level 186.2 at 190). */
async function protectedLong(s: Simulator, b: BotProcess): Promise<string> {
  await b.waitFor((l) => l.event === 'reconcile_done');
  const url = await b.apiUrl();
  await simPost(s, '/_sim/trade', { symbol: 'AAPL', side: 'buy', qty: '10', type: 'market' });
  await eventually(async () => (await aapl(url))?.protected_qty === '10', 30_000, 100);
  expect(openAapl(s)).toEqual([expect.objectContaining({ type: 'trailing_stop', timeInForce: 'gtc' })]);
  expect(openAapl(s)[0]!.stopPrice?.toFixed()).toBe('186.2');
  return url;
}

/** The simulator's clock moved to pre-market, seen by the bot (Alpaca's clock, read every second). */
async function preMarket(s: Simulator, url: string): Promise<number> {
  const pre = nextPreMarket(Date.now());
  expect(await simPost(s, '/_sim/clock', { now: new Date(pre).toISOString() })).toMatchObject({ session: 'pre', is_open: false });
  await eventually(async () => (await aapl(url))?.session === 'pre', 15_000, 100);
  return pre;
}

describe('extended-hours guard', () => {
  it('pre-market: a trade through the stop level cancels the stops, one extended-hours limit exit is placed and re-priced, a restart sends no second exit, the regular open brings the stops back', async () => {
    const s = await env.sim(91);
    const guardEnv = { ...FAST, CT_EXTENDED_HOURS_GUARD: '1', CT_GUARD_REPRICE_S: '2', CT_PROTECT_GRACE_S: '1', CT_POLL_MS: '1000' };
    let b = env.bot(s, 'guard.db', guardEnv);
    let url = await protectedLong(s, b);
    const pre = await preMarket(s, url);
    const trailing = openAapl(s)[0]!;

    // A thin pre-market book: nobody takes the other side of the exit, so it rests and is re-priced.
    await simPost(s, '/_sim/liquidity', { symbol: 'AAPL', liquid: false });
    const tradedAt = Date.now();
    await simPost(s, '/_sim/price', { symbol: 'AAPL', price: '185' });

    const exit = await eventually(async () => guardOrders(s)[0], 15_000, 50);
    const placedAfterMs = Date.now() - tradedAt;
    // Its stop was canceled at the simulator first (it held the shares).
    expect(s.engine.getOrder(trailing.id)?.status).toBe('canceled');
    expect(exit.createdAt).toBeGreaterThan(s.engine.getOrder(trailing.id)!.canceledAt!);
    const date = nyDate(pre * 1000).replaceAll('-', '');
    expect(exit).toMatchObject({ clientOrderId: `ct-guard-AAPL-1-${date}p`, side: 'sell', type: 'limit', timeInForce: 'day', extendedHours: true });
    expect(exit.qty?.toFixed()).toBe('10');
    // 1% (CT_GUARD_SLIPPAGE_PCT) below the latest trade, 185 × 0.99.
    expect(exit.limitPrice?.toFixed()).toBe('183.15');
    // A state, not an alarm: /health ok past the grace period, the exit shown.
    await eventually(async () => (await aapl(url))?.guard_exit?.phase === 'exit_working', 10_000, 100);
    await new Promise((r) => setTimeout(r, 1100)); // past CT_PROTECT_GRACE_S=1 with the stops gone
    const health = await getJson(`${url}/health`);
    expect(health.status).toBe(200);
    expect(health.body).toMatchObject({ status: 'ok', protection: { unprotected: [], guard_exits: [{ symbol: 'AAPL', phase: 'exit_working', client_order_id: exit.clientOrderId, limit_price: '183.15', level: '186.2', trigger: '185', session: 'pre' }] } });

    // Not filled, the price lower: re-priced (PATCH) no sooner than CT_GUARD_REPRICE_S after it was placed.
    await simPost(s, '/_sim/price', { symbol: 'AAPL', price: '184' });
    const r1 = await eventually(async () => guardOrders(s).find((o) => o.clientOrderId === `${exit.clientOrderId}-r1`), 15_000, 50);
    expect(r1).toMatchObject({ replaces: exit.id, extendedHours: true, type: 'limit' });
    expect(r1.limitPrice?.toFixed()).toBe('182.16');
    expect(r1.createdAt - exit.createdAt).toBeGreaterThanOrEqual(2_000_000); // µs
    expect(s.engine.getOrder(exit.id)?.status).toBe('replaced');

    // A restart (SIGKILL): the exit is found, not sent again; it goes on being re-priced.
    b.proc.kill('SIGKILL');
    await b.exited;
    b = env.bot(s, 'guard.db', guardEnv);
    await b.waitFor((l) => l.event === 'reconcile_done');
    url = await b.apiUrl();
    // Its entry is not taken for closed: the stops were canceled on purpose, the position is still held.
    const entry = (await getJson(`${url}/orders`)).body.orders.find((o: any) => o.symbol === 'AAPL' && o.side === 'buy');
    expect(entry.state).toBe('protected');
    await simPost(s, '/_sim/price', { symbol: 'AAPL', price: '183' });
    const r2 = await eventually(async () => guardOrders(s).find((o) => o.clientOrderId === `${exit.clientOrderId}-r2`), 20_000, 50);
    expect(r2.replaces).toBe(r1.id);
    expect(r2.limitPrice?.toFixed()).toBe('181.17');
    const sent = await guardRequests(s);
    expect(sent.filter((r) => r.method === 'POST').map((r) => [r.client_order_id, r.status])).toEqual([[exit.clientOrderId, 200]]);
    expect(guardOrders(s).filter((o) => o.replaces === null)).toHaveLength(1);

    // The regular open, the position still open: the exit is canceled and the stops are back.
    const open = nyWallToMs(nyDate(pre * 1000), 10, 0);
    expect(await simPost(s, '/_sim/clock', { now: new Date(open).toISOString() })).toMatchObject({ session: 'regular' });
    const back = await eventually(async () => {
      const p = await aapl(url);
      return p?.session === 'regular' && p.protected_qty === '10' && !p.guard_exit ? p : null;
    }, 20_000, 100);
    expect(back.stops).toEqual([expect.objectContaining({ type: 'trailing_stop', qty: '10' })]);
    expect(s.engine.getOrder(r2.id)?.status).toBe('canceled');
    expect(openAapl(s)).toEqual([expect.objectContaining({ type: 'trailing_stop', side: 'sell', clientOrderId: expect.stringMatching(/^ct-stop-.+-v1$/) })]);
    expect(openAapl(s)[0]!.qty?.toFixed()).toBe('10');
    expect((await getJson(`${url}/health`)).body).toMatchObject({ status: 'ok', protection: { unprotected: [] } });
    expect((await getJson(`${url}/health`)).body.protection.guard_exits).toBeUndefined();
    console.log(JSON.stringify({ guard_exit_placed_after_ms: placedAfterMs }));

    b.proc.kill('SIGTERM');
    expect((await b.exited).code).toBe(0);
  }, 120_000);

  it('a crash right after the exit was sent (before its answer was recorded): the restart finds that order by its client order id, never sends a second one; a fill ends the exit', async () => {
    const s = await env.sim(92);
    const guardEnv = { ...FAST, CT_EXTENDED_HOURS_GUARD: '1', CT_GUARD_REPRICE_S: '60' };
    let b = env.bot(s, 'guard-crash.db', { ...guardEnv, CT_CRASH_AT: 'after_guard_post' });
    const url0 = await protectedLong(s, b);
    await preMarket(s, url0);
    await simPost(s, '/_sim/liquidity', { symbol: 'AAPL', liquid: false });
    await simPost(s, '/_sim/price', { symbol: 'AAPL', price: '185' });
    // The process killed itself right after the POST returned.
    expect((await b.exited).signal).toBe('SIGKILL');
    expect(guardOrders(s)).toHaveLength(1);
    const exit = guardOrders(s)[0]!;

    b = env.bot(s, 'guard-crash.db', guardEnv);
    await b.waitFor((l) => l.event === 'guard_exit_found' && l.order_id === exit.id, 20_000);
    const sent = (await guardRequests(s)).filter((r) => r.method === 'POST' || String(r.path).includes('by_client_order_id'));
    expect(sent.map((r) => [r.method, r.client_order_id, r.status])).toEqual([
      ['POST', exit.clientOrderId, 200],
      ['GET', exit.clientOrderId, 200],
    ]);
    expect(guardOrders(s)).toHaveLength(1);

    // It fills (the book thickens): the position is flat, the exit is over, its cooldown starts.
    const url = await b.apiUrl();
    await simPost(s, '/_sim/liquidity', { symbol: 'AAPL', liquid: true });
    await eventually(async () => !(await aapl(url)), 15_000, 100);
    await b.waitFor((l) => l.event === 'guard_exit_done', 15_000);
    const cooldowns = (await getJson(`${url}/cooldowns`)).body.cooldowns;
    expect(cooldowns).toEqual([expect.objectContaining({ symbol: 'AAPL', exit_fill_id: `${exit.id}:10`, active: true })]);
    b.proc.kill('SIGTERM');
    expect((await b.exited).code).toBe(0);
  }, 120_000);

  it('turned off with an exit in progress: the restart cancels the exit and places the stops again, even outside regular hours', async () => {
    const s = await env.sim(95);
    let b = env.bot(s, 'guard-off-later.db', { ...FAST, CT_EXTENDED_HOURS_GUARD: '1' });
    const url0 = await protectedLong(s, b);
    await preMarket(s, url0);
    await simPost(s, '/_sim/liquidity', { symbol: 'AAPL', liquid: false });
    await simPost(s, '/_sim/price', { symbol: 'AAPL', price: '185' });
    await b.waitFor((l) => l.event === 'guard_exit_placed', 15_000);
    const exit = guardOrders(s)[0]!;
    b.proc.kill('SIGTERM');
    expect((await b.exited).code).toBe(0);

    b = env.bot(s, 'guard-off-later.db', FAST);
    await b.waitFor((l) => l.event === 'guard_winding_down', 15_000);
    const url = await b.apiUrl();
    const back = await eventually(async () => {
      const p = await aapl(url);
      return p?.protected_qty === '10' && !p.guard_exit ? p : null;
    }, 20_000, 100);
    expect(back).toMatchObject({ session: 'pre', stops_acting: false });
    expect(s.engine.getOrder(exit.id)?.status).toBe('canceled');
    expect(openAapl(s)).toEqual([expect.objectContaining({ type: 'trailing_stop', clientOrderId: expect.stringMatching(/^ct-stop-.+-v1$/) })]);
    expect(guardOrders(s)).toHaveLength(1);
    b.proc.kill('SIGTERM');
    expect((await b.exited).code).toBe(0);
  }, 90_000);

  it('a bad guard setting stops the start: exit 2, one line naming the variable', async () => {
    const s = await env.sim(94);
    const b = env.bot(s, 'guard-bad.db', { CT_EXTENDED_HOURS_GUARD: '1', CT_GUARD_SLIPPAGE_PCT: 'lots' });
    expect((await b.exited).code).toBe(2);
    const lines = b.stderr().trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('CT_GUARD_SLIPPAGE_PCT');
  }, 30_000);

  it('guard off (the default): a trade through the stop level outside regular hours sends nothing', async () => {
    const s = await env.sim(93);
    // As the first test's bot but for the switch: were the guard on, it would pass every 250 ms.
    const b = env.bot(s, 'guard-off.db', { ...FAST, CT_POLL_MS: '1000' });
    const url = await protectedLong(s, b);
    await preMarket(s, url);
    const before = s.engine.orders.length;
    await simPost(s, '/_sim/price', { symbol: 'AAPL', price: '185' });
    // How long: the guard, when on with these settings, starts its exit at its first pass after the
    // trade and places it at the next (the first test: guard_exit_placed_after_ms, well under 2 s);
    // 3 s here is twelve of its passes, and at least two reconcile polls (CT_POLL_MS 1 s, counted
    // below) see the trade's effects, if any, in the ledger.
    const polls = b.lines.filter((l) => l.event === 'reconcile_done').length;
    await new Promise((r) => setTimeout(r, 3000));
    expect(b.lines.filter((l) => l.event === 'reconcile_done').length).toBeGreaterThanOrEqual(polls + 2);
    expect(guardOrders(s)).toEqual([]);
    expect(s.engine.orders.length).toBe(before);
    expect(openAapl(s)).toEqual([expect.objectContaining({ type: 'trailing_stop', status: 'new' })]);
    expect((await aapl(url))).toMatchObject({ protected_qty: '10', stops_acting: false });
    expect(b.lines.some((l) => String(l.event ?? '').startsWith('guard_'))).toBe(false);
    b.proc.kill('SIGTERM');
    expect((await b.exited).code).toBe(0);
  }, 60_000);
});
