/**
 * Options (issue 26 item 5), in the whole account service (src/account.ts startAccount: actors, stop
 * worker, reconciler, trade_updates, the activity event stream, API) run in-process on a SQLite file,
 * against the simulator over loopback with the real SDK, CT_ADOPT=protect:
 * - an option contract bought outside: its fill is recorded once, no stop is placed at the simulator,
 *   no cooldown starts when it is sold, /health does not alarm and /positions shows it ×100;
 * - a long call exercised: the OPEXC and OPTRD are recorded once each, and the 100 shares it bought
 *   get a stop at the simulator;
 * - a short call assigned: the shares the bot protected are sold by the OPTRD, and their stop is
 *   canceled at the simulator;
 * - a restart that reads the event stream and the REST activities again from the start records nothing twice;
 * - an option activity behind the watermark (published late) is found by the trailing re-read, once.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../src/sim/index.js';
import { openDatabase, type Database } from '../src/store/database.js';
import { loadConfig } from '../src/config.js';
import { startAccount, type RunningAccount } from '../src/account.js';
import { stopClientOrderId } from '../src/domain/orders.js';
import { D, normalize } from '../src/decimal.js';
import { OrderActors } from '../src/runtime/order-actors.js';
import { restart } from '../src/runtime/restart.js';
import { Reconciler } from '../src/sync/reconciler.js';
import { DriftCheck } from '../src/sync/drift.js';
import { createBrokerClient } from '../src/broker/client.js';
import { captureLogger } from './support/log-capture.js';
import { startAccountService, type AccountService } from './support/account-service.js';
import { simPost } from './support/sim-traffic.js';
import { eventually, getJson } from './support/bot-process.js';

type Service = AccountService;

let sim: Simulator;
let dir: string;

beforeAll(async () => {
  sim = await startSimulator({ seed: 2605 });
  dir = mkdtempSync(join(tmpdir(), 'ct-options-'));
});
afterAll(async () => {
  await sim.close();
  rmSync(dir, { recursive: true, force: true });
});

/** The account service on `file` (kept across restarts), outside positions protected, cooldowns on. */
function startService(file: string): Promise<Service> {
  return startAccountService(sim, join(dir, file), { CT_POLL_MS: '250', CT_ADOPT: 'protect', CT_COOLDOWN_MINUTES: '30' });
}

const CALL = 'AAPL261218C00150000';
const MSFT_CALL = 'MSFT261218C00300000';
const rows = (s: Service, sql: string, ...args: unknown[]) => s.db.sqlite.prepare(sql).all(...args) as Array<Record<string, any>>;
const fillsOf = (s: Service, symbol: string) => rows(s, 'select order_id, side, qty, price, cum_qty from fills where symbol = ? order by id', symbol);
const cooldowns = (s: Service) => rows(s, 'select symbol, exit_fill_id from cooldowns');
/** The simulator's open orders of a symbol with a client order id of ours (a stop the bot placed). */
const simStops = (symbol: string) => sim.engine.openOrders().filter((o) => o.asset.symbol === symbol && o.clientOrderId.startsWith('ct-stop-'));
const cursorOf = (s: Service) => (s.db.sqlite.prepare("select value from sync_state where key = 'event_cursor'").get() as { value: string } | undefined)?.value ?? null;
const live = (s: Service) => eventually(async () => (await getJson(`${s.url}/health`)).body.event_stream === 'live' && s.running.health().stream === 'connected', 20_000);

describe('options (in-process service, simulator over loopback)', () => {
  let s: Service;
  let cursorBefore: string | null = null;
  beforeAll(async () => {
    s = await startService('options.db');
    await live(s);
    // A first event through the stream, so its cursor is set before any option event (the restart below replays from it).
    await simPost(sim, '/_sim/trade', { symbol: 'F', side: 'buy', qty: '1', type: 'market' });
    await eventually(async () => (cursorBefore = cursorOf(s)) ?? undefined, 20_000);
  });
  afterAll(async () => s?.close());

  it('an option contract bought outside is recorded once, gets no stop and no cooldown, and /health does not alarm', async () => {
    const buy = await simPost(sim, '/_sim/trade', { symbol: CALL, side: 'buy', qty: '2', type: 'market' });
    await eventually(async () => fillsOf(s, CALL).length === 1 || undefined, 20_000);
    expect(fillsOf(s, CALL)).toEqual([expect.objectContaining({ order_id: buy.id, side: 'buy', qty: '2' })]);
    const positions = await getJson(`${s.url}/positions`);
    const p = positions.body.positions.find((x: any) => x.symbol === CALL);
    expect(p).toMatchObject({ qty: '2', option: true, multiplier: 100, protected_qty: '0', stops: [], last_price: null });
    // The contract, unpriced (no option market data), leaves the stocks' prices alone.
    expect(positions.body.positions.find((x: any) => x.symbol === 'F')).toMatchObject({ option: false, multiplier: 1, last_price: expect.any(String) });
    // Cost basis: 2 contracts × the premium × 100 shares.
    expect(p.cost_basis).toBe(normalize(new D(fillsOf(s, CALL)[0]!.price).times(2 * 100)));

    // Sold higher: the position closes with a profit of 100 × the premium's rise, and nothing cools down.
    await simPost(sim, '/_sim/price', { symbol: CALL, price: normalize(new D(fillsOf(s, CALL)[0]!.price).plus('0.5')) });
    const sell = await simPost(sim, '/_sim/trade', { symbol: CALL, side: 'sell', qty: '2', type: 'market' });
    await eventually(async () => fillsOf(s, CALL).length === 2 || undefined, 20_000);
    // Every source has reported both by now (the stream, the event stream, the poll): still one row each.
    await eventually(async () => s.lines().filter((l) => l.order_id === sell.id && (l.event === 'fill_received' || l.event === 'fill_already_processed')).length >= 3 || undefined, 20_000);
    expect(fillsOf(s, CALL)).toHaveLength(2);
    expect(rows(s, 'select client_order_id from stops where symbol = ?', CALL)).toEqual([]);
    expect(sim.engine.orders.filter((o) => o.asset.symbol === CALL && o.clientOrderId.startsWith('ct-'))).toEqual([]);
    expect(cooldowns(s)).toEqual([]);
    const perf = await getJson(`${s.url}/performance?symbol=${CALL}`);
    const [b, x] = fillsOf(s, CALL);
    expect(new D(x!.price).minus(b!.price).toString()).toBe('0.5');
    expect(perf.body.total.realized_pnl).toBe('100');
    const health = await getJson(`${s.url}/health`);
    expect(health.status).toBe(200);
    expect(health.body.status).not.toBe('critical');
    expect(s.lines().filter((l) => l.event === 'position_unprotected')).toEqual([]);
  });

  it('a long call exercised: OPEXC and OPTRD recorded once each, and the 100 shares get a stop at the simulator', async () => {
    await simPost(sim, '/_sim/trade', { symbol: MSFT_CALL, side: 'buy', qty: '1', type: 'market' });
    await eventually(async () => fillsOf(s, MSFT_CALL).length === 1 || undefined, 20_000);
    const ex = await simPost(sim, '/_sim/exercise', { symbol: MSFT_CALL });
    const optrd = ex.activities.find((a: any) => a.activity_type === 'OPTRD');
    const key = String(optrd.id).split('::')[1];
    await eventually(async () => fillsOf(s, 'MSFT').length === 1 || undefined, 20_000);
    expect(fillsOf(s, 'MSFT')).toEqual([{ order_id: `optrd-${key}`, side: 'buy', qty: '100', price: '300', cum_qty: '100' }]);
    // The contract left the position (no cash).
    await eventually(async () => fillsOf(s, MSFT_CALL).length === 2 || undefined, 20_000);
    expect(fillsOf(s, MSFT_CALL)[1]).toMatchObject({ side: 'sell', qty: '1', price: '0' });
    // A stop for the shares, working at the simulator.
    const cid = stopClientOrderId(`optrd-${key}`);
    await eventually(async () => simStops('MSFT').some((o) => o.clientOrderId === cid) || undefined, 20_000);
    expect(simStops('MSFT').map((o) => ({ cid: o.clientOrderId, side: o.side, qty: String(o.qty) }))).toEqual([{ cid, side: 'sell', qty: '100' }]);
    // Both sources told it: one row, one record.
    await eventually(async () => s.lines().filter((l) => (l.event === 'option_event_recorded' || l.event === 'option_event_already_recorded') && l.kind === 'OPTRD').length >= 2 || undefined, 20_000);
    expect(s.lines().filter((l) => l.event === 'option_event_recorded').map((l) => l.kind).sort()).toEqual(['OPEXC', 'OPTRD']);
    expect(cooldowns(s)).toEqual([]);
    const health = await getJson(`${s.url}/health`);
    expect(health.body.status).not.toBe('critical');
  });

  it('a short call assigned sells the protected shares: their stop is canceled at the simulator', async () => {
    const buy = await simPost(sim, '/_sim/trade', { symbol: 'AAPL', side: 'buy', qty: '100', type: 'market' });
    const cid = stopClientOrderId(buy.id);
    await eventually(async () => simStops('AAPL').some((o) => o.clientOrderId === cid) || undefined, 20_000);
    await simPost(sim, '/_sim/trade', { symbol: CALL, side: 'sell', qty: '1', type: 'market' });
    await eventually(async () => fillsOf(s, CALL).length === 3 || undefined, 20_000);
    await simPost(sim, '/_sim/assign', { symbol: CALL });
    await eventually(async () => fillsOf(s, 'AAPL').some((f) => String(f.order_id).startsWith('optrd-')) || undefined, 20_000);
    expect(fillsOf(s, 'AAPL').at(-1)).toMatchObject({ side: 'sell', qty: '100', price: '150' });
    // Nothing left to protect: the stop is canceled at the simulator.
    await eventually(async () => simStops('AAPL').length === 0 || undefined, 20_000);
    expect(sim.engine.getByClientOrderId(cid)?.status).toBe('canceled');
    await eventually(async () => rows(s, "select status from stops where client_order_id = ?", cid)[0]?.status === 'done' || undefined, 20_000);
    const health = await getJson(`${s.url}/health`);
    expect(health.body.status).not.toBe('critical');
  });

  it('a restart that reads every source again from the start records nothing twice', async () => {
    const before = {
      fills: rows(s, 'select order_id, cum_qty from fills order by id'),
      stops: rows(s, 'select client_order_id, status, version from stops order by client_order_id'),
      simOrders: sim.engine.orders.length,
    };
    await s.close();
    // Every source from the start: the REST activities from no watermark, the event stream from before the options.
    const raw = await openDatabase(join(dir, 'options.db'));
    raw.sqlite.prepare("delete from sync_state where key in ('fill_watermark', 'last_reconcile_at')").run();
    raw.sqlite.prepare("update sync_state set value = ? where key = 'event_cursor'").run(cursorBefore);
    await raw.close();
    s = await startService('options.db');
    await live(s);
    // Both sources have read past the option events again.
    await eventually(async () => s.lines().filter((l) => l.event === 'option_event_already_recorded').length >= 8 || undefined, 20_000).catch((e) => {
      console.log(s.lines().filter((l) => String(l.event).startsWith('option') || String(l.event).startsWith('event_stream') || l.event === 'reconcile_done' || l.event === 'broker_payload_rejected'));
      throw e;
    });
    await eventually(async () => s.lines().some((l) => l.event === 'reconcile_done') || undefined, 20_000);
    expect(s.lines().filter((l) => l.event === 'option_event_recorded')).toEqual([]);
    expect(s.lines().filter((l) => l.event === 'fill_received')).toEqual([]);
    expect(rows(s, 'select order_id, cum_qty from fills order by id')).toEqual(before.fills);
    expect(rows(s, 'select client_order_id, status, version from stops order by client_order_id')).toEqual(before.stops);
    // No order was sent to the simulator for them.
    expect(sim.engine.orders.length).toBe(before.simOrders);
  });
});

describe('an option activity the watermark passed (published late) is recorded by the trailing re-read, once', () => {
  it('the OPTRD is found behind the watermark, recorded, and its shares asked a stop', async () => {
    const own = await startSimulator({ seed: 2607 });
    const db = await openDatabase(':memory:');
    const cap = captureLogger('info');
    const client = createBrokerClient({ keyId: 'k', secretKey: 's', paper: true, apiUrl: own.url });
    const actors = new OrderActors({ db, log: cap.log, adopt: 'protect', cooldownMinutes: 30, fetchOrder: async () => null, onFatal: (e) => { throw e; } });
    try {
      await restart({ actors });
      const drift = new DriftCheck({ db, log: cap.log, client, actors });
      const reconciler = new Reconciler({ db, log: cap.log, client, actors, drift });
      await simPost(own, '/_sim/trade', { symbol: 'NVDA261218P00900000', side: 'buy', qty: '1', type: 'market' });
      await reconciler.trigger('poll');
      const ex = await simPost(own, '/_sim/exercise', { symbol: 'NVDA261218P00900000' });
      const optrd = ex.activities.find((a: any) => a.activity_type === 'OPTRD');
      // The watermark already past them: the forward read never returns them.
      db.sqlite.prepare("update sync_state set value = ? where key = 'fill_watermark'").run(optrd.id);
      (reconciler as any).resync.deps.everyMs = 0;
      const run = await reconciler.trigger('poll');
      expect(run).toMatchObject({ late_recovered: 2 });
      const key = String(optrd.id).split('::')[1];
      // A long put exercised sells 100 shares at the strike: a short, covered by a buy stop of its own.
      expect(db.sqlite.prepare("select side, qty, price from fills where order_id = ?").all(`optrd-${key}`)).toEqual([{ side: 'sell', qty: '100', price: '900' }]);
      expect(db.sqlite.prepare('select client_order_id from stops where entry_order_id = ?').all(`optrd-${key}`)).toEqual([{ client_order_id: stopClientOrderId(`optrd-${key}`) }]);
      expect(cap.lines().filter((l) => l.event === 'late_activity_recovered').map((l) => l.kind).sort()).toEqual(['OPEXC', 'OPTRD']);
      // Read again: nothing twice.
      expect(await reconciler.trigger('poll')).toMatchObject({ late_recovered: 0 });
      expect(db.sqlite.prepare("select count(*) as n from fills where order_id like 'op%'").get()).toEqual({ n: 2 });
      await reconciler.stop();
    } finally {
      actors.stop();
      await db.close();
      await own.close();
    }
  });
});
