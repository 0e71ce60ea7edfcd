import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { D, normalize } from '../src/decimal.js';
import { startSimulator, type Simulator } from '../src/sim/index.js';
import { openDatabase, type Database } from '../src/store/database.js';
import { createBrokerClient } from '../src/broker/client.js';
import { parseFeeActivity, parseOrder } from '../src/broker/adapter.js';
import { OrderActors } from '../src/runtime/order-actors.js';
import { restart } from '../src/runtime/restart.js';
import { DriftCheck } from '../src/sync/drift.js';
import { Reconciler } from '../src/sync/reconciler.js';
import { ledgerPositions } from '../src/store/ledger.js';
import { stopAsk } from '../src/domain/protection.js';
import { stopClientOrderId } from '../src/domain/orders.js';
import { isLiveStatus } from '../src/domain/orders.js';
import { captureLogger } from './support/log-capture.js';
import { simPost } from './support/sim-traffic.js';
import { eventually, getJson } from './support/bot-process.js';
import { simsAndBots } from './support/sim-bots.js';

/**
 * Alpaca takes a crypto buy's fee from the coin (25 bps by default in the simulator): a buy of 0.5 BTC
 * leaves 0.49875, and a CFEE activity reports the 0.00125 taken. The bot folds those fees into its
 * ledger, so its position is the broker's, and its stops follow the fee-net position.
 */

/** The service's actors, reconciler and drift check in-process against a simulator (no stop worker). */
async function service(seed: number, opts: { graceS?: number; feeDelayMs?: number } = {}) {
  const sim = await startSimulator({ seed, ...(opts.feeDelayMs !== undefined ? { feeDelayMs: opts.feeDelayMs } : {}) });
  const db = await openDatabase(':memory:');
  const cap = captureLogger('info');
  const client = createBrokerClient({ keyId: 'k', secretKey: 's', paper: true, apiUrl: sim.url });
  const actors = new OrderActors({ db, log: cap.log, adopt: 'protect', cooldownMinutes: 30, fetchOrder: async () => null, onFatal: (e) => { throw e; } });
  await restart({ actors: actors });
  const drift = new DriftCheck({ db, log: cap.log, client, actors, ...(opts.graceS !== undefined ? { graceS: opts.graceS } : {}) });
  const reconciler = new Reconciler({ db, log: cap.log, client, actors, drift });
  const close = async () => {
    await reconciler.stop();
    actors.stop();
    await db.close();
    await sim.close();
  };
  /** What the entry's stop is asked to cover now (its ask less the cuts), and whether its cancel is asked for. */
  const stopOf = (entryId: string) => {
    const row = db.sqlite.prepare('select * from stops where client_order_id = ?').get(stopClientOrderId(entryId)) as any;
    return row ? { wants: normalize(new D(stopAsk(row).qty).minus(row.cut_qty)), cut: row.cut_qty, cancelRequested: row.cancel_requested === 1 } : null;
  };
  const fees = () => db.sqlite.prepare('select activity_id, symbol, qty, price from fees').all() as any[];
  const cooldowns = () => db.sqlite.prepare('select exit_fill_id, symbol from cooldowns').all() as any[];
  /** The order as the broker has it now, routed like a poll would (its fills, source "order"). */
  const routeOrder = async (id: string) => {
    const raw = await (await fetch(`${sim.url}/v2/orders/${id}`, { headers: { 'APCA-API-KEY-ID': 'k', 'APCA-API-SECRET-KEY': 's' } })).json();
    const parsed = parseOrder(raw);
    if (!parsed.ok) throw new Error(parsed.reason);
    actors.handleOrder(parsed.value);
  };
  return { sim, db, cap, actors, drift, reconciler, close, stopOf, fees, cooldowns, routeOrder };
}

describe('crypto fees in the ledger (in-process, against the simulator)', () => {
  let s: Awaited<ReturnType<typeof service>>;
  beforeAll(async () => {
    s = await service(71);
  });
  afterAll(async () => s.close());

  it('a buy of 0.5 BTC/USD is 0.49875 in the ledger, the stop is cut to it, and a re-read records no second fee', async () => {
    await simPost(s.sim, '/_sim/price', { symbol: 'BTC/USD', price: '60000' });
    const buy = await simPost(s.sim, '/_sim/trade', { symbol: 'BTC/USD', side: 'buy', qty: '0.5', type: 'market' });
    const first = await s.reconciler.trigger('poll');
    expect(first).toMatchObject({ fills_new: 1, fees_new: 1 });
    expect(s.fees()).toEqual([expect.objectContaining({ symbol: 'BTC/USD', qty: '0.00125', price: '60000' })]);
    expect(ledgerPositions(s.db).get('BTC/USD')).toBe('0.49875');
    expect(s.actors.ledgerPosition('BTC/USD')).toBe('0.49875');
    // The entry asks for all it filled; the fee took its share off, as an exit's reduction would.
    expect(s.stopOf(buy.id)).toEqual({ wants: '0.49875', cut: '0.00125', cancelRequested: false });
    expect(s.cap.lines().filter((l) => l.event === 'fee_recorded')).toEqual([expect.objectContaining({ symbol: 'BTC/USD', qty: '0.00125', position: '0.49875' })]);

    // The broker agrees (no position drift, which takes two runs in a row to report).
    await s.reconciler.trigger('poll');
    expect(s.drift.current()).toEqual([]);
    expect(s.cap.lines().filter((l) => l.event === 'ledger_drift')).toEqual([]);

    // The activities read again from the start: the fee (and the fill) are not recorded twice.
    s.db.sqlite.prepare("delete from sync_state where key = 'fill_watermark'").run();
    const again = await s.reconciler.trigger('poll');
    expect(again).toMatchObject({ fills_new: 0, fees_new: 0 });
    expect(s.fees()).toHaveLength(1);
    expect(ledgerPositions(s.db).get('BTC/USD')).toBe('0.49875');
    expect(s.stopOf(buy.id)).toMatchObject({ wants: '0.49875', cut: '0.00125' });
  });

  it('selling the fee-net quantity closes the position: its stop is canceled and the cooldown starts', async () => {
    const buy = s.db.sqlite.prepare("select order_id from fills where symbol = 'BTC/USD' and side = 'buy'").get() as { order_id: string };
    const sell = await simPost(s.sim, '/_sim/trade', { symbol: 'BTC/USD', side: 'sell', qty: '0.49875', type: 'market' });
    await s.reconciler.trigger('poll');
    expect(ledgerPositions(s.db).get('BTC/USD')).toBe('0');
    expect(s.actors.ledgerPosition('BTC/USD')).toBe('0');
    expect(s.stopOf(buy.order_id)).toMatchObject({ cancelRequested: true });
    expect(s.cooldowns()).toEqual([{ exit_fill_id: `${sell.id}:0.49875`, symbol: 'BTC/USD' }]);
    await s.reconciler.trigger('poll');
    expect(s.drift.current()).toEqual([]);
  });
});

describe('a fee learned after the exit it completed (the stream brought the fills, the poll the fee)', () => {
  let s: Awaited<ReturnType<typeof service>>;
  beforeAll(async () => {
    s = await service(72);
  });
  afterAll(async () => s.close());

  /** Buy 2 ETH/USD, sell the fee-net 1.995, both routed as the stream would: the sell looks like a reduction. */
  async function buyThenSellFeeNet() {
    await simPost(s.sim, '/_sim/price', { symbol: 'ETH/USD', price: '3000' });
    const buy = await simPost(s.sim, '/_sim/trade', { symbol: 'ETH/USD', side: 'buy', qty: '2', type: 'market' });
    await s.routeOrder(buy.id);
    // Later than the buy's millisecond, so the fee (taken at the buy) is older than the sell.
    await new Promise((r) => setTimeout(r, 5));
    const sell = await simPost(s.sim, '/_sim/trade', { symbol: 'ETH/USD', side: 'sell', qty: '1.995', type: 'market' });
    await s.routeOrder(sell.id);
    // Without the fee the sell only reduced the long (2 → 0.005): its stop shrank, nothing cooled down.
    expect(s.actors.ledgerPosition('ETH/USD')).toBe('0.005');
    expect(s.stopOf(buy.id)).toMatchObject({ wants: '0.005', cancelRequested: false });
    expect(s.cooldowns()).toEqual([]);
    return { buy, sell };
  }

  it("Alpaca's CFEE (the day only: a midnight id, sorted before both fills) closes the position: the stop goes, and the exit it completed cools down once", async () => {
    const { buy, sell } = await buyThenSellFeeNet();
    await s.reconciler.trigger('poll');
    expect(s.fees()).toEqual([expect.objectContaining({ symbol: 'ETH/USD', qty: '0.005' })]);
    expect(s.actors.ledgerPosition('ETH/USD')).toBe('0');
    expect(s.stopOf(buy.id)).toMatchObject({ cancelRequested: true });
    // Known only by its day, it is placed when it was read (after both fills), and walked from the
    // fill before it: the sale it completed is the exit, and cools down.
    const sold = s.db.sqlite.prepare("select filled_at from fills where side = 'sell' and symbol = 'ETH/USD'").get() as { filled_at: string };
    const recorded = s.cap.lines().filter((l) => l.event === 'fee_recorded');
    expect(recorded).toEqual([expect.objectContaining({ exit_walk: true })]);
    expect(String(recorded[0]!.at) > sold.filled_at).toBe(true);
    await eventually(async () => s.cooldowns().length > 0, 2000, 10);
    expect(s.cooldowns()).toEqual([{ exit_fill_id: `${sell.id}:1.995`, symbol: 'ETH/USD' }]);
    // The page read again records nothing and starts nothing more.
    await s.reconciler.trigger('poll');
    expect(s.cooldowns()).toHaveLength(1);
    expect(s.cap.lines().filter((l) => l.event === 'cooldown_started')).toHaveLength(1);
  });

  it('a CFEE whose moment is known (a transaction_time) makes the walk start the exit\'s cooldown', async () => {
    // The cooldown of the case above is not this one's.
    s.db.sqlite.exec('delete from cooldowns');
    const { buy, sell } = await buyThenSellFeeNet();
    const raw = (await getJson(`${s.sim.url}/v2/account/activities/CFEE?direction=desc&page_size=1`, { 'APCA-API-KEY-ID': 'k', 'APCA-API-SECRET-KEY': 's' })).body[0];
    const fill = (await getJson(`${s.sim.url}/v2/account/activities/FILL?direction=desc&page_size=2`, { 'APCA-API-KEY-ID': 'k', 'APCA-API-SECRET-KEY': 's' })).body.find((f: any) => f.order_id === buy.id);
    const parsed = parseFeeActivity({ ...raw, transaction_time: fill.transaction_time });
    if (!parsed.ok) throw new Error(parsed.reason);
    expect(s.actors.recordFee(parsed.value)).toBe(true);
    expect(s.actors.ledgerPosition('ETH/USD')).toBe('0');
    expect(s.stopOf(buy.id)).toMatchObject({ cancelRequested: true });
    expect(s.cap.lines().filter((l) => l.event === 'fee_recorded').at(-1)).toMatchObject({ exit_walk: true });
    // ... and the cooldown belongs to the exit fill, found by the walk in the broker's order.
    await eventually(async () => s.cooldowns().length > 0, 2000, 10);
    expect(s.cooldowns()).toEqual([{ exit_fill_id: `${sell.id}:1.995`, symbol: 'ETH/USD' }]);
  });
});

describe('a CFEE posted after its fill, its id the day at midnight (sorted before the fill watermark)', () => {
  let s: Awaited<ReturnType<typeof service>>;
  beforeAll(async () => {
    // Grace 0: every difference the check sees is reported, so one that lingered would show.
    s = await service(75, { graceS: 0, feeDelayMs: 1500 });
  });
  afterAll(async () => s.close());

  it('is read by date and recorded once; ledger and broker agree and the drift seen meanwhile goes (no baseline keeps it)', async () => {
    const broker = async () => ((await getJson(`${s.sim.url}/v2/positions/BTCUSD`, { 'APCA-API-KEY-ID': 'k', 'APCA-API-SECRET-KEY': 's' })).body as { qty: string }).qty;
    const buy = await simPost(s.sim, '/_sim/trade', { symbol: 'BTC/USD', side: 'buy', qty: '0.5', type: 'market' });
    // The first reconciliation of this database runs while the fee is taken but not posted.
    expect(await s.reconciler.trigger('start')).toMatchObject({ fills_new: 1, fees_new: 0 });
    expect(await broker()).toBe('0.49875');
    expect(ledgerPositions(s.db).get('BTC/USD')).toBe('0.5');
    expect(s.drift.current()).toEqual([expect.objectContaining({ kind: 'position', symbol: 'BTC/USD', ledger_qty: '0.5', broker_qty: '0.49875' })]);
    const watermark = (s.db.sqlite.prepare("select value from sync_state where key = 'fill_watermark'").get() as { value: string }).value;

    // Posted now, with an id before the watermark: the forward read cannot return it.
    await eventually(async () => ((await getJson(`${s.sim.url}/_sim/activities/pending`)).body.ids as string[]).length === 0, 5000, 50);
    const cfee = s.sim.engine.activities.fees[0]!;
    expect(cfee.id < watermark).toBe(true);
    await s.reconciler.trigger('poll');
    expect(s.fees()).toEqual([expect.objectContaining({ activity_id: cfee.id, symbol: 'BTC/USD', qty: '0.00125' })]);
    expect(ledgerPositions(s.db).get('BTC/USD')).toBe(await broker());
    expect(s.drift.current()).toEqual([]);
    expect(s.stopOf(buy.id)).toMatchObject({ wants: '0.49875', cut: '0.00125' });

    // Runs that read it again (forward, the trailing window, by date) record nothing twice; no drift comes back.
    (s.reconciler as any).fees.deps.everyMs = 0;
    for (let i = 0; i < 3; i += 1) expect(await s.reconciler.trigger('poll')).toMatchObject({ fees_new: 0 });
    expect(s.fees()).toHaveLength(1);
    expect(s.drift.current()).toEqual([]);
    expect(s.cap.lines().filter((l) => l.event === 'ledger_drift_cleared')).toEqual([expect.objectContaining({ drift_key: 'position:BTCUSD' })]);
  });
});

describe('the bot (a real process): a crypto fee posted seconds after its fill', () => {
  const env = simsAndBots('fees-late', 'PKFEESLATE', 'fees-late-secret');

  it('the stop covers the whole fee-net quantity (no dust left pending), the fee is recorded once, and /health never shows drift', async () => {
    const sim = await env.sim(76);
    await simPost(sim, '/_sim/crypto', { fee_delay_ms: 4000 });
    const b = env.bot(sim, 'fees-late.db', { CT_POLL_MS: '500' });
    await b.waitFor((l) => l.event === 'reconcile_done');
    const url = await b.apiUrl();
    await simPost(sim, '/_sim/price', { symbol: 'BTC/USD', price: '60000' });
    const entry = await simPost(sim, '/_sim/trade', { symbol: 'BTC/USD', side: 'buy', qty: '0.5', type: 'market' });

    const health = async () => (await getJson(`${url}/health`)).body;
    const seen: any[] = [];
    const position = await eventually(async () => {
      seen.push(await health());
      const p = (await getJson(`${url}/positions`)).body.positions.find((x: any) => x.symbol === 'BTC/USD');
      return p?.qty === '0.49875' && p.protected_qty === '0.49875' ? p : null;
    }, 30_000, 200);
    expect(position.stops).toEqual([expect.objectContaining({ entry_order_id: entry.id, qty: '0.49875' })]);
    const res = await fetch(`${sim.url}/v2/orders?status=open&limit=500`, { headers: env.headers });
    const stops = ((await res.json()) as any[]).filter((o) => String(o.client_order_id).startsWith(`ct-stop-${entry.id}`));
    expect(stops.map((o) => o.qty)).toEqual(['0.49875']);
    const h = await health();
    expect(h).toMatchObject({ status: 'ok', reasons: [], drift: [], protection: expect.objectContaining({ unprotected: [] }) });
    // Grace (CT_PROTECT_GRACE_S, 10 s) outlasts the 4 s the ledger waited for the fee: drift never showed.
    expect(seen.flatMap((x) => x.drift)).toEqual([]);
    expect(b.lines.filter((l) => l.event === 'ledger_drift')).toEqual([]);
    expect(b.lines.filter((l) => l.event === 'fee_recorded')).toEqual([expect.objectContaining({ symbol: 'BTC/USD', qty: '0.00125' })]);
    const file = new BetterSqlite3(join(env.dir, 'fees-late.db'), { readonly: true });
    const watermark = (file.prepare("select value from sync_state where key = 'fill_watermark'").get() as { value: string }).value;
    const fee = file.prepare('select activity_id from fees').all() as Array<{ activity_id: string }>;
    file.close();
    expect(fee).toHaveLength(1);
    expect(fee[0]!.activity_id < watermark).toBe(true);
    // The path of the dust: before the fee the ledger wanted 0.5, the broker had 0.49875 free, so the
    // stop went in for that; the fee then cut the ask to what was placed, and nothing stayed pending.
    const steps = b.lines.filter((l) => ['stop_partial', 'fee_recorded'].includes(String(l.event))).map((l) => [l.event, l.qty, l.wanted ?? null]);
    expect(steps).toEqual([['stop_partial', '0.49875', '0.5'], ['fee_recorded', '0.00125', null]]);
    b.proc.kill('SIGTERM');
    await b.exited;
  }, 60_000);
});

describe('a database from before fees (migration 0006)', () => {
  let s: Awaited<ReturnType<typeof service>>;
  beforeAll(async () => {
    s = await service(74);
  });
  afterAll(async () => s.close());

  it('reads once the CFEEs its FILL-only watermark went past, and the position and its stop come to the fee-net quantity', async () => {
    const buy = await simPost(s.sim, '/_sim/trade', { symbol: 'BTC/USD', side: 'buy', qty: '0.5', type: 'market' });
    await s.reconciler.trigger('poll');
    // As the service left it before fees: no fee rows, the stop uncut, and (0006) the backfill asked for.
    await s.reconciler.stop();
    s.actors.stop();
    s.db.sqlite.exec("delete from fees; update stops set cut_qty = '0'");
    s.db.sqlite.prepare("insert into sync_state (key, value, updated_at) select 'fee_backfill_until', value, updated_at from sync_state where key = 'fill_watermark'").run();
    const client = createBrokerClient({ keyId: 'k', secretKey: 's', paper: true, apiUrl: s.sim.url });
    const actors = new OrderActors({ db: s.db, log: s.cap.log, adopt: 'protect', cooldownMinutes: 30, fetchOrder: async () => null, onFatal: (e) => { throw e; } });
    await restart({ actors: actors });
    expect(actors.ledgerPosition('BTC/USD')).toBe('0.5');
    const reconciler = new Reconciler({ db: s.db, log: s.cap.log, client, actors, drift: new DriftCheck({ db: s.db, log: s.cap.log, client, actors }) });
    try {
      expect(await reconciler.trigger('start')).toMatchObject({ fills_new: 0, fees_new: 1 });
      expect(s.fees()).toHaveLength(1);
      expect(actors.ledgerPosition('BTC/USD')).toBe('0.49875');
      expect(s.stopOf(buy.id)).toMatchObject({ wants: '0.49875', cut: '0.00125' });
      expect(s.db.sqlite.prepare("select count(*) as n from sync_state where key = 'fee_backfill_until'").get()).toEqual({ n: 0 });
      expect(s.cap.lines().filter((l) => l.event === 'fee_backfill_done')).toHaveLength(1);
      expect(await reconciler.trigger('poll')).toMatchObject({ fees_new: 0 });
    } finally {
      await reconciler.stop();
      actors.stop();
    }
  });
});

describe('the bot (a real process) folds crypto fees', () => {
  const env = simsAndBots('fees', 'PKFEES', 'fees-secret');
  const live = (orders: any[]) => orders.filter((o) => isLiveStatus(o.status));
  async function stopsOf(sim: Simulator, entryId: string): Promise<any[]> {
    const res = await fetch(`${sim.url}/v2/orders?status=all&limit=500`, { headers: env.headers });
    return ((await res.json()) as any[]).filter((o) => String(o.client_order_id).startsWith(`ct-stop-${entryId}`));
  }
  async function brokerQty(sim: Simulator, symbol: string): Promise<string> {
    const res = await fetch(`${sim.url}/v2/positions/${symbol}`, { headers: env.headers });
    return res.status === 404 ? '0' : ((await res.json()) as { qty: string }).qty;
  }

  it('buy 0.5 BTC/USD: ledger, broker and stop all hold 0.49875; a restart that re-reads the activities records no second fee; the stop\'s exit closes it', async () => {
    const sim = await env.sim(73);
    const dbFile = 'fees.db';
    const botEnv = { CT_POLL_MS: '500', CT_COOLDOWN_MINUTES: '30' };
    let b = env.bot(sim, dbFile, botEnv);
    await b.waitFor((l) => l.event === 'reconcile_done');
    let url = await b.apiUrl();
    await simPost(sim, '/_sim/price', { symbol: 'BTC/USD', price: '60000' });
    const entry = await simPost(sim, '/_sim/trade', { symbol: 'BTC/USD', side: 'buy', qty: '0.5', type: 'market' });

    const position = await eventually(async () => {
      const p = (await getJson(`${url}/positions`)).body.positions.find((x: any) => x.symbol === 'BTC/USD');
      return p?.qty === '0.49875' && p.protected_qty === '0.49875' ? p : null;
    }, 20_000);
    expect(position).toMatchObject({ side: 'long', stops: [expect.objectContaining({ entry_order_id: entry.id, qty: '0.49875' })] });
    expect(await brokerQty(sim, 'BTCUSD')).toBe('0.49875');
    // /performance holds the same position; its fee is a cost apart from realized P&L (what the coin cost).
    const perf = (await getJson(`${url}/performance?symbol=${encodeURIComponent('BTC/USD')}`)).body;
    expect(perf.by_symbol['BTC/USD']).toMatchObject({ open_qty: '0.49875', realized_pnl: '0', fees: '75', net_pnl: '-75' });
    const stop = await eventually(async () => {
      const open = live(await stopsOf(sim, entry.id));
      return open.length === 1 && open[0].qty === '0.49875' ? open[0] : null;
    }, 15_000);
    expect(stop.side).toBe('sell');
    // Drift needs two runs in a row to report; give it several.
    const seen = b.lines.length;
    await eventually(async () => b.lines.slice(seen).filter((l) => l.event === 'reconcile_done').length >= 3, 15_000);
    expect(b.lines.filter((l) => l.event === 'ledger_drift')).toEqual([]);
    expect(b.lines.filter((l) => l.event === 'fee_recorded')).toEqual([expect.objectContaining({ symbol: 'BTC/USD', qty: '0.00125' })]);

    // Restart with the watermark gone: every activity is read again, nothing is recorded twice.
    b.proc.kill('SIGTERM');
    await b.exited;
    const file = new BetterSqlite3(join(env.dir, dbFile));
    file.prepare("delete from sync_state where key = 'fill_watermark'").run();
    file.close();
    b = env.bot(sim, dbFile, botEnv);
    const done = await b.waitFor((l) => l.event === 'reconcile_done');
    expect(done).toMatchObject({ fills_new: 0, fees_new: 0 });
    url = await b.apiUrl();
    expect((await getJson(`${url}/positions`)).body.positions).toEqual([expect.objectContaining({ symbol: 'BTC/USD', qty: '0.49875' })]);
    const check = new BetterSqlite3(join(env.dir, dbFile), { readonly: true });
    expect(check.prepare('select count(*) as n from fees').get()).toEqual({ n: 1 });
    check.close();

    // The price falls through the stop: its fill sells the fee-net quantity and closes the position.
    await simPost(sim, '/_sim/price', { symbol: 'BTC/USD', price: '58500' });
    const cooled = await b.waitFor((l) => l.event === 'cooldown_started' && l.symbol === 'BTC/USD', 20_000);
    const filled = (await stopsOf(sim, entry.id)).find((o) => o.status === 'filled');
    expect(filled).toMatchObject({ qty: '0.49875', filled_qty: '0.49875' });
    expect(cooled.exit_fill_id).toBe(`${filled.id}:0.49875`);
    await eventually(async () => (await getJson(`${url}/positions`)).body.positions.length === 0, 10_000);
    expect(await brokerQty(sim, 'BTCUSD')).toBe('0');
    expect(b.lines.filter((l) => l.event === 'ledger_drift')).toEqual([]);
    b.proc.kill('SIGTERM');
    await b.exited;
  }, 90_000);
});
