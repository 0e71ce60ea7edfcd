import Database from 'better-sqlite3';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.js';
import { startBot, eventually, getJson } from './support/bot-process.js';
import { openDatabase } from '../src/store/database.js';
import { OrderActors } from '../src/runtime/order-actors.js';
import { restart } from '../src/runtime/restart.js';
import { readStopRow, updateStopRow } from '../src/store/stops.js';
import { upsertStop } from '../src/protection/stop-transitions.js';
import { captureLogger } from './support/log-capture.js';
import { orderReport } from './machines/helpers.js';
import { simsAndBots } from './support/sim-bots.js';
import { simPost } from './support/sim-traffic.js';

const env = simsAndBots('stop-rearm', 'PKREARM', 'rearm-secret');
const HOUR = 3_600_000;

interface BookOrder {
  id: string;
  client_order_id: string;
  symbol: string;
  side: string;
  type: string;
  qty: string | null;
}
interface Book {
  positions: Array<{ symbol: string; qty: string; min_trade_increment: string | null }>;
  open_orders: BookOrder[];
}

const ours = (o: BookOrder) => o.client_order_id.startsWith('ct-stop-') && o.side === 'sell' && ['trailing_stop', 'stop', 'stop_limit'].includes(o.type);

/**
 * Watches the simulator's book every 50 ms (the broker's side, not the bot's word): each sample where
 * a long is not covered by our open sell stops (a crypto rest below its trade increment is fee dust).
 */
function watchCoverage(url: string) {
  const gaps: string[] = [];
  let samples = 0;
  let stopped = false;
  const done = (async () => {
    while (!stopped) {
      const book = (await getJson<Book>(`${url}/_sim/book`)).body;
      samples += 1;
      for (const p of book.positions) {
        const covered = book.open_orders.filter((o) => o.symbol === p.symbol && ours(o)).reduce((sum, o) => sum + Number(o.qty), 0);
        const dust = p.min_trade_increment === null ? 0 : Number(p.min_trade_increment);
        if (Number(p.qty) - covered > dust + 1e-12) gaps.push(`${p.symbol}: ${p.qty} held, ${covered} covered`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  return {
    gaps,
    samples: () => samples,
    stop: async () => {
      stopped = true;
      await done;
    },
  };
}

describe('aged GTC stops are re-armed before Alpaca cancels them (issue 22 item 14)', () => {
  it('within CT_REARM_BEFORE_H of expires_at each stop is replaced by a fresh order; past the old deadline the position is still covered', async () => {
    const s = await env.sim(91);
    const dbPath = join(env.dir, 'rearm.db');
    // The clock read every second, the rows scanned for aging stops every 500 ms (5 s by default) and
    // the poll, which brings the crypto fee the stop is sized to, every second: sooner, not otherwise.
    const b = env.bot(s, 'rearm.db', { CT_MARKET_CLOCK_S: '1', CT_REARM_SCAN_MS: '500', CT_POLL_MS: '1000' });
    await b.waitFor((l) => l.event === 'reconcile_done');
    const url = await b.apiUrl();

    await simPost(s, '/_sim/trade', { symbol: 'AAPL', side: 'buy', qty: '5', type: 'market' });
    await simPost(s, '/_sim/trade', { symbol: 'BTC/USD', side: 'buy', qty: '0.01', type: 'market' });
    const row = (body: any, symbol: string) => body.positions.find((p: any) => p.symbol === symbol);
    await eventually(async () => {
      const p = (await getJson(`${url}/positions`)).body;
      const h = (await getJson(`${url}/health`)).body;
      const aapl = row(p, 'AAPL');
      const btc = row(p, 'BTC/USD');
      return h.status === 'ok' && h.protection.unprotected.length === 0 && aapl?.protected_qty === '5' && btc && btc.protected_qty === btc.qty ? true : null;
    }, 30_000, 200);
    const watch = watchCoverage(s.url);

    // The stops as the simulator has them, each with Alpaca's aged-order deadline (gtc: 90 days on).
    const openStops = async () => ((await getJson(`${s.url}/v2/orders?status=open&limit=500`, env.headers)).body as any[]).filter((o) => o.client_order_id.startsWith('ct-stop-'));
    const first = await openStops();
    expect(first.map((o) => [o.symbol, o.type, o.time_in_force]).sort()).toEqual([
      ['AAPL', 'trailing_stop', 'gtc'],
      ['BTC/USD', 'stop_limit', 'gtc'],
    ]);
    // The bot read each deadline from Alpaca's answer and keeps it on the stop's row.
    const db = new Database(dbPath, { readonly: true, fileMustExist: true });
    const stored = () => db.prepare('select client_order_id, broker_order_id, expires_at, placed_trail_percent, placed_stop_price from stops order by symbol').all() as any[];
    for (const o of first) {
      expect(stored().find((r) => r.broker_order_id === o.id)?.expires_at).toBe(new Date(o.expires_at).toISOString());
    }
    const deadline = Math.min(...first.map((o) => Date.parse(o.expires_at)));

    // Two hours before the deadline (the default window is 24 h): both are replaced.
    await simPost(s, '/_sim/clock', { now: new Date(deadline - 2 * HOUR).toISOString() });
    for (const o of first) await b.waitFor((l) => l.event === 'stop_rearm' && l.stop_order_id === o.id, 20_000);
    const renewed = await eventually(async () => {
      const now = await openStops();
      return now.length === 2 && now.every((o) => !first.some((f) => f.id === o.id)) ? now : null;
    }, 20_000, 100);
    for (const old of first) {
      const was = (await getJson(`${s.url}/v2/orders/${old.id}`, env.headers)).body;
      const next = renewed.find((o) => o.symbol === old.symbol)!;
      // Replaced (PATCH), not canceled: the old order stood until its replacement existed.
      expect(was).toMatchObject({ status: 'replaced', replaced_by: next.id });
      expect(next).toMatchObject({ replaces: old.id, client_order_id: `${old.client_order_id}-v1`, qty: old.qty });
      expect(Date.parse(next.expires_at)).toBeGreaterThan(Date.parse(old.expires_at) + 80 * 24 * HOUR);
      // The bot records the replacement once its PATCH answer is back: the simulator may show it first.
      const row = await eventually(async () => {
        const r = stored().find((x) => x.client_order_id === old.client_order_id);
        return r?.broker_order_id === next.id ? r : null;
      }, 10_000, 50);
      expect(row).toMatchObject({ broker_order_id: next.id, expires_at: new Date(next.expires_at).toISOString() });
    }
    // What changed is harmless: the trail 0.01 tighter, the crypto stop one price increment lower.
    const trailing = renewed.find((o) => o.symbol === 'AAPL')!;
    expect(trailing.trail_percent).toBe('1.99');
    const btcOld = first.find((o) => o.symbol === 'BTC/USD')!;
    const btcNew = renewed.find((o) => o.symbol === 'BTC/USD')!;
    const asset = (await getJson(`${s.url}/v2/assets/BTCUSD`, env.headers)).body;
    expect(Number(btcOld.stop_price) - Number(btcNew.stop_price)).toBeCloseTo(Number(asset.price_increment), 10);

    // Past the original deadline: nothing of ours expired, the renewed stops still stand.
    await simPost(s, '/_sim/clock', { now: new Date(deadline + HOUR).toISOString() });
    await new Promise((r) => setTimeout(r, 1500));
    expect((await openStops()).map((o) => o.id).sort()).toEqual(renewed.map((o) => o.id).sort());
    expect(b.lines.filter((l) => l.event === 'stop_lost' || l.event === 'stop_expired')).toEqual([]);
    // One re-arm each: the renewed orders are far from their own deadlines.
    expect(b.lines.filter((l) => l.event === 'stop_rearm')).toHaveLength(2);

    await watch.stop();
    db.close();
    expect(watch.samples()).toBeGreaterThan(20);
    expect(watch.gaps).toEqual([]);
    b.proc.kill('SIGTERM');
    expect((await b.exited).code).toBe(0);
  }, 90_000);
});

describe("a stop order's deadline read from the stream or an open-orders read", () => {
  it("is kept on the stop's row for its current order only", async () => {
    const db = await openDatabase(':memory:');
    const actors = new OrderActors({ db, log: captureLogger().log, adopt: 'protect', fetchOrder: async () => null, onFatal: (e) => { throw e; } });
    await restart({ actors });
    upsertStop(db, { entryOrderId: 'e1', clientOrderId: 'ct-stop-e1', symbol: 'AAPL', assetClass: 'us_equity', side: 'sell', qty: '5' });
    updateStopRow(db, 'ct-stop-e1', { status: 'confirmed', broker_order_id: 'o-stop', placed_qty: '5', sent_at: new Date().toISOString(), expires_at: null });
    const stop = (over: Parameters<typeof orderReport>[0]) => orderReport({ clientOrderId: 'ct-stop-e1', side: 'sell', type: 'trailing_stop', timeInForce: 'gtc', qty: '5', trailPercent: '2', ...over });

    actors.handleOrder(stop({ orderId: 'o-stop', expiresAt: '2027-03-01T21:15:00.000Z' }));
    expect(readStopRow(db, 'ct-stop-e1')?.expires_at).toBe('2027-03-01T21:15:00.000Z');
    // A replacement's own deadline (not accepted as the stop's order yet), or a deadline not said: nothing.
    actors.handleOrder(stop({ orderId: 'o-new', clientOrderId: 'ct-stop-e1-v1', expiresAt: '2027-05-30T20:15:00.000Z' }));
    actors.handleOrder(stop({ orderId: 'o-stop', expiresAt: null }));
    expect(readStopRow(db, 'ct-stop-e1')?.expires_at).toBe('2027-03-01T21:15:00.000Z');
    // The stream's update of the same order.
    actors.handleTradeUpdate({ event: 'new', at: '2026-12-01T15:00:00Z', order: stop({ orderId: 'o-stop', expiresAt: '2027-03-02T21:15:00.000Z' }), execution: null, positionQty: null });
    expect(readStopRow(db, 'ct-stop-e1')?.expires_at).toBe('2027-03-02T21:15:00.000Z');
    actors.stop();
    await db.close();
  });
});

describe('CT_REARM_BEFORE_H', () => {
  it('defaults to 24 hours and takes decimals', () => {
    expect(loadConfig({}).rearmBeforeMs).toBe(24 * HOUR);
    expect(loadConfig({ CT_REARM_BEFORE_H: '1.5' }).rearmBeforeMs).toBe(1.5 * HOUR);
    expect(loadConfig({ CT_REARM_BEFORE_H: '1440' }).rearmBeforeMs).toBe(1440 * HOUR);
  });

  it.each(['0', '0.0', '-1', '1440.5', '2000', 'soon', '1e3', ' 24'])('refuses %j, naming the variable in one line', (value) => {
    let err: unknown;
    try {
      loadConfig({ CT_REARM_BEFORE_H: value });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).variable).toBe('CT_REARM_BEFORE_H');
    expect((err as Error).message).not.toContain('\n');
  });

  it('an invalid value stops the process with status 2 and one line naming it', async () => {
    const b = startBot({ CT_DEMO: '1', CT_REARM_BEFORE_H: '0', CT_DB_PATH: join(env.dir, 'refused.db'), CT_API_PORT: '0' });
    expect((await b.exited).code).toBe(2);
    const lines = b.stderr().trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('CT_REARM_BEFORE_H');
  }, 30_000);
});
