import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/store/database.js';
import { TEST_STORES, pgSkipReason, stopTestStores, type TestStore } from '../support/test-stores.js';
import { OrderActors } from '../../src/runtime/order-actors.js';
import { restart } from '../../src/runtime/restart.js';
import { assembleSupervisorSnapshot } from '../../src/runtime/rehydrate.js';
import type { OrderReport, TradeUpdateReport } from '../../src/domain/reports.js';
import { readStopRow, updateStopRow } from '../../src/store/stops.js';
import { wantedQty } from '../../src/protection/stop-transitions.js';
import { migrationProvider } from '../../src/store/migrations.js';
import { captureLogger } from '../support/log-capture.js';
import { execution, orderReport } from '../machines/helpers.js';

/** The runtime's commits on both servers (the store's synchronous contract holds on each). */
const pgSkip = await pgSkipReason();
if (pgSkip) console.log(`order-actors.test.ts: postgres cases skipped: ${pgSkip}`);
let store: TestStore = TEST_STORES[0]!;
afterAll(() => stopTestStores(), 30_000);

const open: Array<{ actors: OrderActors; db: Database }> = [];
afterEach(async () => {
  for (const o of open.splice(0)) {
    o.actors.stop();
    await o.db.close();
  }
});

async function boot(db?: Database, brokerOrders = new Map<string, OrderReport>(), adopt: 'protect' | 'record' = 'protect', cooldownMinutes = 0) {
  const database = db ?? (await store.open());
  const cap = captureLogger();
  const fatal: unknown[] = [];
  const actors = new OrderActors({
    db: database,
    log: cap.log,
    adopt,
    fetchOrder: async (id) => brokerOrders.get(id) ?? null,
    onFatal: (e) => fatal.push(e),
    cooldownMinutes,
  });
  await restart({ actors: actors });
  open.push({ actors, db: database });
  const events = (name: string) => cap.lines().filter((l) => l.event === name);
  return { db: database, actors, events, fatal };
}

const fillUpdate = (o: OrderReport, cum: string, qty: string, price: string, status: string): TradeUpdateReport => ({
  event: status === 'filled' ? 'fill' : 'partial_fill',
  at: '2026-01-02T15:00:01Z',
  order: { ...o, status, filledQty: cum, filledAvgPrice: price },
  execution: execution(o, { cumQty: cum, qty, price, avgPrice: price, orderStatus: status }),
  positionQty: cum,
});

const fills = (db: Database) => db.all(db.kysely.selectFrom('fills').selectAll().orderBy('id'));
const row = (db: Database, id: string) => db.first(db.kysely.selectFrom('orders').selectAll().where('order_id', '=', id));

describe.each(TEST_STORES.map((s) => [s.name, s] as const))('on %s', (name, s) => {
  beforeAll(() => {
    store = s;
  });
  if (name === 'postgres' && pgSkip) return void it.skip('PostgreSQL unavailable', () => undefined);

  describe('order actors runtime', () => {
    it('records a fill once, with the actor snapshot and the stop in the same commit', async () => {
      const { db, actors, events } = await boot();
      const o = orderReport({ qty: '10' });
      actors.handleTradeUpdate(fillUpdate(o, '4', '4', '100', 'partially_filled'));
      actors.handleTradeUpdate(fillUpdate(o, '4', '4', '100', 'partially_filled'));
      actors.handleExecution(execution(o, { source: 'activity', cumQty: '4', qty: '4', price: '100' }), null);
      expect(fills(db)).toHaveLength(1);
      expect(events('fill_received')).toHaveLength(1);
      expect(events('fill_already_processed')).toHaveLength(2);
      expect(events('untracked_fill_detected')).toHaveLength(1);
      const r = row(db, o.orderId)!;
      expect(r).toMatchObject({ state: 'partiallyFilled', terminal: 0, filled_qty: '4', role: 'entry', machine_version: 1 });
      expect(JSON.parse(r.snapshot).context.ledger.filledQty).toBe('4');
      const intents = db.all(db.kysely.selectFrom('stops').selectAll());
      expect(intents).toEqual([expect.objectContaining({ client_order_id: `ct-stop-${o.orderId}`, status: 'pending' })]);
      expect(JSON.parse(intents[0]!.payload).qty).toBe('4');
    });

    it('keeps the state history of each order', async () => {
      const { db, actors } = await boot(undefined, undefined, 'record');
      const o = orderReport({ qty: '10' });
      actors.handleOrder(o);
      actors.handleTradeUpdate(fillUpdate(o, '4', '4', '100', 'partially_filled'));
      actors.handleTradeUpdate(fillUpdate(o, '10', '6', '100', 'filled'));
      const history = db.all(db.kysely.selectFrom('order_history').select(['from_state', 'to_state', 'event']).where('order_id', '=', o.orderId).orderBy('id'));
      expect(history.map((h) => [h.from_state, h.to_state])).toEqual([
        [null, 'pending'],
        ['pending', 'partiallyFilled'],
        ['partiallyFilled', 'done'],
      ]);
      expect(row(db, o.orderId)).toMatchObject({ terminal: 1, state: 'done', filled_qty: '10', filled_avg_price: '100' });
      expect(actors.live(o.orderId)).toBeUndefined();
      // A late duplicate for the finished order is dropped, not respawned.
      actors.handleTradeUpdate(fillUpdate(o, '10', '6', '100', 'filled'));
      expect(actors.live(o.orderId)).toBeUndefined();
      expect(fills(db)).toHaveLength(2);
    });

    it('a stream trade update wakes the stop worker once its commit returns (one wake for a burst); other reports after the batch', async () => {
      const db = await store.open();
      const kicks: string[] = [];
      const actors = new OrderActors({ db, log: captureLogger().log, adopt: 'protect', fetchOrder: async () => null, onFatal: (e) => { throw e; }, onIntents: () => kicks.push('kick') });
      await restart({ actors });
      open.push({ actors, db });
      const a = orderReport({ qty: '10' });
      const b = orderReport({ qty: '5', symbol: 'MSFT' });
      actors.handleTradeUpdate(fillUpdate(a, '4', '4', '100', 'partially_filled'));
      actors.handleTradeUpdate(fillUpdate(b, '5', '5', '400', 'filled'));
      expect(kicks).toEqual([]);
      await Promise.resolve();
      // Before any other callback of this turn (an activity event of the same fill would be one).
      expect(kicks).toEqual(['kick']);
      await new Promise((r) => setImmediate(r));
      expect(kicks).toEqual(['kick']);
      // A report from a batch (an activity page): the worker wakes after the batch's turn.
      actors.handleExecution(execution(a, { source: 'activity', cumQty: '10', qty: '6', price: '100', orderStatus: 'filled' }), null);
      await Promise.resolve();
      expect(kicks).toEqual(['kick']);
      await new Promise((r) => setImmediate(r));
      expect(kicks).toEqual(['kick', 'kick']);
    });

    it('a stop of ours canceled frees the shares it held: a stop of the symbol placed short is due at once, not at its recheck', async () => {
      const { db, actors } = await boot();
      const a = orderReport({ qty: '6' });
      actors.handleTradeUpdate(fillUpdate(a, '6', '6', '100', 'filled'));
      const cid = `ct-stop-${a.orderId}`;
      // Placed short, 3 of 6 (another stop of ours held 3): rechecked in 30 s, as stop-outcomes.ts leaves it.
      const recheck = Date.now() + 30_000;
      db.run(db.kysely.updateTable('stops').set({ status: 'confirmed', broker_order_id: 'o-a', placed_qty: '3', sent_at: new Date().toISOString(), next_attempt_at: recheck }).where('client_order_id', '=', cid));
      const nextAttempt = () => Number(db.first(db.kysely.selectFrom('stops').select('next_attempt_at').where('client_order_id', '=', cid))!.next_attempt_at);
      // A replaced stop order (its replacement holds the shares) changes nothing.
      actors.handleOrder(orderReport({ clientOrderId: 'ct-stop-another-entry', side: 'sell', type: 'trailing_stop', timeInForce: 'gtc', qty: '3', status: 'replaced' }));
      expect(nextAttempt()).toBe(recheck);
      // The other stop is canceled (its entry's fill was busted): its 3 shares are free.
      actors.handleOrder(orderReport({ clientOrderId: 'ct-stop-other-entry', side: 'sell', type: 'trailing_stop', timeInForce: 'gtc', qty: '3', status: 'canceled' }));
      expect(nextAttempt()).toBe(0);
    });

    it("knows a stop it placed by its broker order id when the stop's fill arrives only as an activity", async () => {
      const { db, actors, events } = await boot();
      const entry = orderReport({ qty: '10', clientOrderId: 'engine-1' });
      actors.handleTradeUpdate(fillUpdate(entry, '10', '10', '100', 'filled'));
      const cid = `ct-stop-${entry.orderId}`;
      const stopId = '00000000-0000-4000-9000-000000000001';
      // What the stop worker records once the broker accepted the stop (the service then went down).
      updateStopRow(db, cid, { status: 'confirmed', broker_order_id: stopId, current_client_order_id: cid, placed_qty: '10', sent_at: '2026-01-02T15:00:02Z' });
      actors.stopWorking(entry.orderId, stopId);
      expect(row(db, entry.orderId)).toMatchObject({ state: 'protected' });

      // The stop filled while the service was down; the activity carries no client order id.
      const stop = orderReport({ orderId: stopId, clientOrderId: '', side: 'sell', qty: '10' });
      actors.handleExecution(execution(stop, { source: 'activity', cumQty: '10', qty: '10', price: '95', orderStatus: 'filled' }), null);

      expect(row(db, stopId)).toMatchObject({ role: 'stop', client_order_id: cid, terminal: 1 });
      expect(row(db, entry.orderId)).toMatchObject({ state: 'exited', terminal: 1 });
      expect(readStopRow(db, cid)).toMatchObject({ status: 'done' });
      expect(events('untracked_fill_detected').filter((l) => l.order_id === stopId)).toHaveLength(0);
      expect(actors.ledgerPosition('AAPL')).toBe('0');
    });

    it('arms the own stop of an order that crosses flat again after its first short was closed', async () => {
      for (const cancelLanded of [true, false]) {
        const { db, actors } = await boot();
        const entry = orderReport({ qty: '10', symbol: 'SPY' });
        actors.handleTradeUpdate(fillUpdate(entry, '10', '10', '100', 'filled'));
        // An outside sell of 30 fills 15: the long is closed and 5 are short, protected by the sell's own stop.
        const sell = orderReport({ qty: '30', symbol: 'SPY', side: 'sell' });
        actors.handleTradeUpdate(fillUpdate(sell, '15', '15', '101', 'partially_filled'));
        const own = `ct-stop-${sell.orderId}`;
        expect(JSON.parse(readStopRow(db, own)!.payload)).toMatchObject({ side: 'buy', qty: '5' });
        updateStopRow(db, own, { status: 'confirmed', broker_order_id: 'stop-x', placed_qty: '5', sent_at: '2026-01-02T15:00:02Z' });
        // Someone buys the 5 back: flat, the own stop is to be canceled.
        const cover = orderReport({ qty: '5', symbol: 'SPY', side: 'buy' });
        actors.handleTradeUpdate(fillUpdate(cover, '5', '5', '99', 'filled'));
        expect(readStopRow(db, own)).toMatchObject({ cancel_requested: 1 });
        if (cancelLanded) updateStopRow(db, own, { status: 'done' });
        // The sell fills 10 more: short 10 again, and the own stop must protect it.
        actors.handleTradeUpdate(fillUpdate(sell, '25', '10', '101', 'partially_filled'));
        expect(actors.ledgerPosition('SPY')).toBe('-10');
        const row = readStopRow(db, own)!;
        expect(JSON.parse(row.payload)).toMatchObject({ side: 'buy', qty: '10' });
        expect(wantedQty(row)).toBe('10');
        expect(row.cancel_requested).toBe(0);
        if (cancelLanded) {
          // The canceled order's id was used at the broker: the stop starts over under the next one.
          expect(row).toMatchObject({ status: 'pending', version: 1, current_client_order_id: `${own}-v1`, broker_order_id: null, sent_at: null });
        } else {
          // Still live at the broker: kept, and resized by the worker to the new short.
          expect(row).toMatchObject({ status: 'confirmed', broker_order_id: 'stop-x' });
        }
      }
    });

    it('follows the position whatever the role: an entry that keeps filling after others closed its position', async () => {
      const { db, actors, events } = await boot(undefined, undefined, 'protect', 30);
      // An outside buy of 5 fills 2: a long of 2, covered by its stop.
      const entry = orderReport({ qty: '5', symbol: 'TSLA' });
      actors.handleTradeUpdate(fillUpdate(entry, '2', '2', '100', 'partially_filled'));
      const entryStop = `ct-stop-${entry.orderId}`;
      expect(wantedQty(readStopRow(db, entryStop)!)).toBe('2');
      // A sell of 4 closes the long and opens a short of 2: the entry's stop goes, the sell covers its short.
      const sell = orderReport({ qty: '4', symbol: 'TSLA', side: 'sell' });
      actors.handleTradeUpdate(fillUpdate(sell, '4', '4', '101', 'filled'));
      expect(readStopRow(db, entryStop)).toMatchObject({ cancel_requested: 1 });
      updateStopRow(db, entryStop, { status: 'done' });
      expect(wantedQty(readStopRow(db, `ct-stop-${sell.orderId}`)!)).toBe('2');
      // The buy fills its last 3: the short closes (a cooldown, the sell's stop goes) and 1 is long again.
      actors.handleTradeUpdate(fillUpdate(entry, '5', '3', '99', 'filled'));
      expect(actors.ledgerPosition('TSLA')).toBe('1');
      // The exits are walked once the batch is in (after this tick): both closes, in the broker's order.
      expect(events('cooldown_started')).toEqual([]);
      await new Promise((r) => setImmediate(r));
      expect(events('cooldown_started').map((l) => l.exit_fill_id)).toEqual([`${sell.orderId}:4`, `${entry.orderId}:5`]);
      expect(readStopRow(db, `ct-stop-${sell.orderId}`)).toMatchObject({ cancel_requested: 1 });
      const again = readStopRow(db, entryStop)!;
      expect(again).toMatchObject({ status: 'pending', cancel_requested: 0, current_client_order_id: `${entryStop}-v1` });
      expect(wantedQty(again)).toBe('1');
    });

    it("judges a late fill's exit in the broker's order of fills, durably across a crash", async () => {
      for (const crash of [false, true]) {
        const first = await boot(undefined, undefined, 'protect', 30);
        const at = (s: number) => `2026-01-02T15:00:0${s}Z`;
        const filled = (o: OrderReport, qty: string, s: number, source: 'stream' | 'activity' = 'stream') =>
          execution(o, { cumQty: qty, qty, price: '100', at: at(s), orderStatus: 'filled', source });
        const a = orderReport({ qty: '5', symbol: 'TSLA' });
        const b = orderReport({ qty: '4', symbol: 'TSLA', side: 'sell' });
        const c = orderReport({ qty: '2', symbol: 'TSLA', side: 'sell' });
        const d = orderReport({ qty: '4', symbol: 'TSLA' });
        first.actors.handleExecution(filled(a, '5', 1), { ...a, status: 'filled' });
        first.actors.handleExecution(filled(b, '4', 2), { ...b, status: 'filled' });
        // The stream brings d (15:00:04); c (15:00:03) was missed and comes later from activities.
        first.actors.handleExecution(filled(d, '4', 4), { ...d, status: 'filled' });
        first.actors.handleExecution(filled(c, '2', 3, 'activity'), null);
        // In arrival order the position went 5, 1, 5, 3: no exit. In the broker's: 5, 1, -1, 3 — c
        // closed the long (and opened a short), then d closed that short.
        const cooldownIds = (db: Database) => db.all(db.kysely.selectFrom('cooldowns').select('exit_fill_id')).map((r) => r.exit_fill_id).sort();
        const expected = [`${c.orderId}:2`, `${d.orderId}:4`].sort();
        if (crash) {
          first.actors.stop(); // killed before the walk ran: the mark is in the database
          expect(cooldownIds(first.db)).toEqual([]);
          open.splice(open.findIndex((o) => o.db === first.db), 1);
          const second = await boot(first.db, undefined, 'protect', 30);
          expect(cooldownIds(second.db)).toEqual(expected);
          expect(second.events('cooldown_started')).toHaveLength(2);
        } else {
          await new Promise((r) => setImmediate(r));
          expect(cooldownIds(first.db)).toEqual(expected);
          expect(first.events('cooldown_started')).toHaveLength(2);
        }
      }
    });

    it('records fills after done_for_day or stopped (not final at Alpaca): no ledger_drift, one stop ask for the whole entry', async () => {
      for (const status of ['done_for_day', 'stopped']) {
        const { db, actors, events } = await boot();
        const o = orderReport({ qty: '10' });
        actors.handleTradeUpdate(fillUpdate(o, '4', '4', '100', 'partially_filled'));
        actors.handleTradeUpdate({ event: status, at: '2026-01-02T21:00:00Z', order: { ...o, status, filledQty: '4', filledAvgPrice: '100' }, execution: null, positionQty: null });
        expect(row(db, o.orderId)).toMatchObject({ state: 'partiallyFilled', terminal: 0 });
        expect(actors.live(o.orderId)).toBeDefined();
        // Next session.
        actors.handleTradeUpdate(fillUpdate(o, '10', '6', '101', 'filled'));
        expect(fills(db).map((f) => [f.cum_qty, f.qty])).toEqual([
          ['4', '4'],
          ['10', '6'],
        ]);
        expect(events('ledger_drift')).toEqual([]);
        expect(row(db, o.orderId)).toMatchObject({ state: 'placingStop', filled_qty: '10' });
        const intents = db.all(db.kysely.selectFrom('stops').selectAll());
        expect(intents).toHaveLength(1);
        expect(wantedQty(intents[0]!)).toBe('10');
        expect(actors.ledgerPosition('AAPL')).toBe('10');
      }
    });

    it('a protected entry whose position another order closes ends exited (terminal, never rehydrated)', async () => {
      const first = await boot();
      const entry = orderReport({ qty: '10', symbol: 'SPY' });
      first.actors.handleTradeUpdate(fillUpdate(entry, '10', '10', '100', 'filled'));
      const cid = `ct-stop-${entry.orderId}`;
      updateStopRow(first.db, cid, { status: 'confirmed', broker_order_id: 'stop-1', placed_qty: '10', sent_at: '2026-01-02T15:00:02Z' });
      first.actors.stopWorking(entry.orderId, 'stop-1');
      expect(row(first.db, entry.orderId)).toMatchObject({ state: 'protected' });
      // Sold by hand: flat, the stop is to be canceled, and the entry is over.
      const sell = orderReport({ qty: '10', symbol: 'SPY', side: 'sell' });
      first.actors.handleTradeUpdate(fillUpdate(sell, '10', '10', '99', 'filled'));
      expect(readStopRow(first.db, cid)).toMatchObject({ cancel_requested: 1 });
      expect(row(first.db, entry.orderId)).toMatchObject({ state: 'exited', terminal: 1 });
      expect(first.actors.live(entry.orderId)).toBeUndefined();
      first.actors.stop();
      open.splice(open.findIndex((o) => o.actors === first.actors), 1);
      const second = await boot(first.db);
      expect(second.events('actor_rehydrated')).toEqual([]);
    });

    it('an entry whose stop exits cut to nothing (FIFO) ends exited; the younger entry stays protected', async () => {
      const { db, actors } = await boot();
      const a = orderReport({ qty: '5', symbol: 'QQQ' });
      const b = orderReport({ qty: '5', symbol: 'QQQ' });
      for (const [o, stopId] of [[a, 'stop-a'], [b, 'stop-b']] as const) {
        actors.handleTradeUpdate(fillUpdate(o, '5', '5', '100', 'filled'));
        updateStopRow(db, `ct-stop-${o.orderId}`, { status: 'confirmed', broker_order_id: stopId, placed_qty: '5' });
        actors.stopWorking(o.orderId, stopId);
      }
      actors.handleTradeUpdate(fillUpdate(orderReport({ qty: '5', symbol: 'QQQ', side: 'sell' }), '5', '5', '101', 'filled'));
      expect(row(db, a.orderId)).toMatchObject({ state: 'exited', terminal: 1 });
      expect(row(db, b.orderId)).toMatchObject({ state: 'protected', terminal: 0 });
    });

    it('crash-safe: an entry whose stop cancel committed but whose own transition did not ends exited at the next start', async () => {
      const first = await boot();
      const entry = orderReport({ qty: '10', symbol: 'IWM' });
      first.actors.handleTradeUpdate(fillUpdate(entry, '10', '10', '100', 'filled'));
      first.actors.stopWorking(entry.orderId, 'stop-1');
      expect(row(first.db, entry.orderId)).toMatchObject({ state: 'protected' });
      // What the exit's commit wrote (the cancel) — then the process died before the entry moved.
      updateStopRow(first.db, `ct-stop-${entry.orderId}`, { cancel_requested: 1 });
      first.actors.stop();
      open.splice(open.findIndex((o) => o.actors === first.actors), 1);
      const second = await boot(first.db);
      expect(row(second.db, entry.orderId)).toMatchObject({ state: 'exited', terminal: 1 });
      expect(second.actors.live(entry.orderId)).toBeUndefined();
      second.actors.stop();
      open.splice(open.findIndex((o) => o.actors === second.actors), 1);
      const third = await boot(first.db);
      expect(third.events('actor_rehydrated')).toEqual([]);
    });

    it('a partially filled entry whose position closed keeps working; it ends exited once it is done filling', async () => {
      const { db, actors } = await boot();
      const entry = orderReport({ qty: '10', symbol: 'F' });
      actors.handleTradeUpdate(fillUpdate(entry, '4', '4', '12', 'partially_filled'));
      actors.handleTradeUpdate(fillUpdate(orderReport({ qty: '4', symbol: 'F', side: 'sell' }), '4', '4', '12', 'filled'));
      expect(row(db, entry.orderId)).toMatchObject({ state: 'partiallyFilled', terminal: 0 });
      // Canceled with nothing more filled: nothing of it is left to protect.
      actors.handleOrder({ ...entry, status: 'canceled', filledQty: '4', filledAvgPrice: '12' });
      expect(row(db, entry.orderId)).toMatchObject({ state: 'exited', terminal: 1 });
    });

    it('rolls the fill back with the snapshot when the commit fails, and reports it as fatal', async () => {
      const { db, actors, fatal } = await boot();
      await store.exec(db, {
        sqlite: `create trigger fail_orders before insert on orders begin select raise(abort, 'disk full'); end;`,
        postgres: `create function fail_orders() returns trigger language plpgsql as $$ begin raise exception 'disk full'; end $$;
          create trigger fail_orders before insert on orders for each row execute function fail_orders();`,
      });
      actors.handleTradeUpdate(fillUpdate(orderReport(), '4', '4', '100', 'partially_filled'));
      expect(fills(db)).toHaveLength(0);
      expect(fatal.length).toBeGreaterThan(0);
    });
  });

  describe('upgrade: orders an older version took for final on done_for_day / stopped', () => {
    it('are reopened by migration 0005 and rebuilt from the broker at the next start, their later fills recorded', async () => {
      const first = await boot();
      const o = orderReport({ qty: '10', symbol: 'AMD' });
      // What the old version wrote: done_for_day mapped to expired, the actor final.
      first.actors.handleOrder(o);
      first.actors.handleOrder({ ...o, status: 'expired' });
      const old = row(first.db, o.orderId)!;
      expect(old).toMatchObject({ state: 'expired', terminal: 1 });
      const snap = JSON.parse(old.snapshot);
      snap.context.order.status = 'done_for_day';
      first.db.run(first.db.kysely.updateTable('orders').set({ snapshot: JSON.stringify(snap) }).where('order_id', '=', o.orderId));
      first.actors.stop();
      open.splice(open.findIndex((x) => x.actors === first.actors), 1);
      const migrations = await migrationProvider.getMigrations();
      const migrating = await store.executing(first.db);
      await migrations['0005_reopen_non_final_orders']!.up(migrating.kysely);
      await migrating.close();
      expect(row(first.db, o.orderId)).toMatchObject({ terminal: 0 });

      // Next session it filled.
      const broker = new Map([[o.orderId, { ...o, status: 'filled', filledQty: '10', filledAvgPrice: '160' }]]);
      const second = await boot(first.db, broker);
      await new Promise((r) => setImmediate(r));
      expect(second.events('actor_rebuild').map((e) => e.order_id)).toEqual([o.orderId]);
      expect(fills(second.db).map((f) => [f.order_id, f.cum_qty, f.price, f.source])).toEqual([[o.orderId, '10', '160', 'order']]);
      expect(row(second.db, o.orderId)).toMatchObject({ state: 'placingStop', terminal: 0, filled_qty: '10' });
      expect(second.events('ledger_drift')).toEqual([]);
    });
  });

  describe('rehydration', () => {
    it('round-trips: the assembled supervisor snapshot equals the live one, and actors continue where they stopped', async () => {
      const first = await boot();
      const a = orderReport({ qty: '10' });
      const b = orderReport({ qty: '5', symbol: 'MSFT' });
      const c = orderReport({ qty: '1' });
      first.actors.handleTradeUpdate(fillUpdate(a, '4', '4', '100', 'partially_filled'));
      first.actors.handleTradeUpdate(fillUpdate(b, '5', '5', '400', 'filled'));
      first.actors.handleOrder(c);
      first.actors.stopWorking(b.orderId, 'stop-b');
      const live = JSON.parse(JSON.stringify((first.actors as any).actor.getPersistedSnapshot()));
      // Position actors are not persisted: they are rebuilt from the ledger and the stop rows.
      const positions = Object.keys(live.children).filter((id) => id.startsWith('position:'));
      expect(positions.sort()).toEqual(['position:AAPL', 'position:MSFT']);
      for (const id of positions) delete live.children[id];
      const assembled = JSON.parse(JSON.stringify(assembleSupervisorSnapshot(first.db).snapshot));
      expect(assembled).toEqual(live);
      const before = first.actors.ledgerPositions();
      first.actors.stop();
      open.splice(open.findIndex((o) => o.actors === first.actors), 1);

      const second = await boot(first.db);
      const restored = [
        [a.orderId, 'partiallyFilled'],
        [b.orderId, 'protected'],
        [c.orderId, 'pending'],
      ].sort();
      // Every live order is known at once, each actor restored when something first reaches it.
      expect(second.events('actors_rehydrated')).toMatchObject([{ restored: 3, restored_now: 0, by_state: { partiallyFilled: 1, protected: 1, pending: 1 } }]);
      expect(second.actors.liveStates().map((l) => [l.orderId, l.state]).sort()).toEqual(restored);
      expect(second.events('actor_rehydrated')).toEqual([]);
      for (const [id] of restored) expect(second.actors.live(id!)).toBeDefined();
      expect(second.events('actor_rehydrated').map((e) => [e.order_id, e.state]).sort()).toEqual(restored);
      expect(second.actors.live(b.orderId)?.getSnapshot().context.stop).toEqual({ clientOrderId: `ct-stop-${b.orderId}`, orderId: 'stop-b' });
      // The position actors come back as they were: the ledger's quantity and the live stops.
      expect(second.actors.ledgerPositions()).toEqual(before);
      const msft = (second.actors as any).actor.system.get('position:MSFT').getSnapshot();
      expect(msft.value).toBe('long');
      expect(msft.context.stops.map((s: { stopOf: string; asked: string }) => [s.stopOf, s.asked])).toEqual([[b.orderId, '5']]);
      second.actors.handleTradeUpdate(fillUpdate(a, '10', '6', '100', 'filled'));
      expect(second.actors.live(a.orderId)?.getSnapshot().value).toBe('placingStop');
      expect(fills(second.db).filter((f) => f.order_id === a.orderId).map((f) => f.cum_qty)).toEqual(['4', '10']);
      // Rehydrated snapshots are not rewritten just for being restored.
      expect(second.db.all(second.db.kysely.selectFrom('order_history').selectAll().where('order_id', '=', c.orderId))).toHaveLength(1);
    });

    it('an order actor a restart left unrestored comes back with its first report: the fill recorded once and protected', async () => {
      const first = await boot();
      const a = orderReport({ qty: '10' });
      first.actors.handleTradeUpdate(fillUpdate(a, '4', '4', '100', 'partially_filled'));
      first.actors.stop();
      open.splice(open.findIndex((o) => o.actors === first.actors), 1);

      const second = await boot(first.db);
      expect(second.actors.liveStates()).toEqual([{ orderId: a.orderId, state: 'partiallyFilled' }]);
      expect(second.events('actor_rehydrated')).toEqual([]);
      // The rest of the fill as an activity (no order), then the same fill from the stream.
      second.actors.handleExecution(execution(a, { source: 'activity', cumQty: '10', qty: '6', price: '100', orderStatus: 'filled' }), null);
      second.actors.handleTradeUpdate(fillUpdate(a, '10', '6', '100', 'filled'));
      expect(second.events('actor_rehydrated').map((e) => [e.order_id, e.state])).toEqual([[a.orderId, 'partiallyFilled']]);
      expect(fills(second.db).filter((f) => f.order_id === a.orderId).map((f) => [f.cum_qty, f.source])).toEqual([['4', 'stream'], ['10', 'activity']]);
      expect(row(second.db, a.orderId)).toMatchObject({ state: 'placingStop', filled_qty: '10' });
      expect(wantedQty(readStopRow(second.db, `ct-stop-${a.orderId}`)!)).toBe('10');
      expect(second.fatal).toEqual([]);
    });

    it("a stop order's fill reaches its entry when a restart left both unrestored: the entry ends exited", async () => {
      const first = await boot();
      const entry = orderReport({ qty: '10', clientOrderId: 'engine-1' });
      first.actors.handleTradeUpdate(fillUpdate(entry, '10', '10', '100', 'filled'));
      const cid = `ct-stop-${entry.orderId}`;
      const stopId = '00000000-0000-4000-9000-000000000002';
      updateStopRow(first.db, cid, { status: 'confirmed', broker_order_id: stopId, current_client_order_id: cid, placed_qty: '10', sent_at: '2026-01-02T15:00:02Z' });
      first.actors.stopWorking(entry.orderId, stopId);
      const stop = orderReport({ orderId: stopId, clientOrderId: cid, side: 'sell', qty: '10', type: 'trailing_stop', status: 'new' });
      first.actors.handleOrder(stop);
      expect(row(first.db, stopId)).toMatchObject({ role: 'stop', terminal: 0 });
      first.actors.stop();
      open.splice(open.findIndex((o) => o.actors === first.actors), 1);

      const second = await boot(first.db);
      expect(second.actors.liveStates().map((l) => l.orderId).sort()).toEqual([entry.orderId, stopId].sort());
      // The stop's fill as an activity: it names neither the entry nor the stop's client order id.
      second.actors.handleExecution(execution(stop, { source: 'activity', cumQty: '10', qty: '10', price: '95', orderStatus: 'filled' }), null);
      expect(row(second.db, stopId)).toMatchObject({ terminal: 1 });
      expect(row(second.db, entry.orderId)).toMatchObject({ state: 'exited', terminal: 1 });
      // Ended by the stop's own fill (the supervisor's stop.filled), not only by its position closing.
      expect(JSON.parse(row(second.db, entry.orderId)!.snapshot).context.exitFillId).toBe(`${stopId}:10`);
      expect(second.actors.liveStates()).toEqual([]);
      expect(second.actors.ledgerPosition('AAPL')).toBe('0');
    });

    it('with the Stately inspector on, a restart restores every order actor at once (the inspector sees them)', async () => {
      const first = await boot();
      const a = orderReport({ qty: '10' });
      const b = orderReport({ qty: '5', symbol: 'MSFT' });
      first.actors.handleTradeUpdate(fillUpdate(a, '4', '4', '100', 'partially_filled'));
      first.actors.handleOrder(b);
      first.actors.stop();
      open.splice(open.findIndex((o) => o.actors === first.actors), 1);

      const seen: string[] = [];
      const cap = captureLogger();
      const actors = new OrderActors({
        db: first.db, log: cap.log, adopt: 'protect', fetchOrder: async () => null, onFatal: (e) => { throw e; },
        extraInspect: (ev) => {
          if (ev.type === '@xstate.actor') seen.push(String((ev.actorRef as { systemId?: string; id?: string }).systemId ?? (ev.actorRef as { id?: string }).id));
        },
      });
      await restart({ actors });
      open.push({ actors, db: first.db });
      expect(seen.filter((id) => id.startsWith('order:')).sort()).toEqual([`order:${a.orderId}`, `order:${b.orderId}`].sort());
      expect(cap.lines().filter((l) => l.event === 'actors_rehydrated')).toMatchObject([{ restored: 2, restored_now: 2 }]);
      actors.handleTradeUpdate(fillUpdate(a, '10', '6', '100', 'filled'));
      expect(fills(first.db).filter((f) => f.order_id === a.orderId).map((f) => f.cum_qty)).toEqual(['4', '10']);
      expect(row(first.db, a.orderId)).toMatchObject({ state: 'placingStop' });
    });

    it('an unrestored order whose snapshot turns out unreadable is rebuilt when its first report arrives, its fill recorded once', async () => {
      const first = await boot();
      const a = orderReport({ qty: '10' });
      first.actors.handleTradeUpdate(fillUpdate(a, '4', '4', '100', 'partially_filled'));
      first.actors.stop();
      open.splice(open.findIndex((o) => o.actors === first.actors), 1);
      first.db.run(first.db.kysely.updateTable('orders').set({ snapshot: '{not json' }).where('order_id', '=', a.orderId));

      const broker = new Map([[a.orderId, { ...a, status: 'filled', filledQty: '10', filledAvgPrice: '100' }]]);
      const second = await boot(first.db, broker);
      expect(second.actors.liveStates()).toEqual([{ orderId: a.orderId, state: 'partiallyFilled' }]);
      second.actors.handleTradeUpdate(fillUpdate(a, '10', '6', '100', 'filled'));
      expect(second.events('actor_rebuild').map((e) => [e.order_id, e.reason])).toEqual([[a.orderId, 'snapshot is not JSON']]);
      await new Promise((r) => setImmediate(r));
      // Seeded from its ledger: the 4 kept, the 6 recorded once (the broker's view, read for the rebuild, adds nothing).
      expect(fills(second.db).filter((f) => f.order_id === a.orderId).map((f) => [f.cum_qty, f.qty])).toEqual([['4', '4'], ['10', '6']]);
      expect(row(second.db, a.orderId)).toMatchObject({ state: 'placingStop', filled_qty: '10' });
      expect(wantedQty(readStopRow(second.db, `ct-stop-${a.orderId}`)!)).toBe('10');
      expect(second.fatal).toEqual([]);
    });

    it('rebuilds an actor whose snapshot is of an unknown version or restores into a missing state — never crashes', async () => {
      const first = await boot();
      const a = orderReport({ qty: '10' });
      const b = orderReport({ qty: '10' });
      first.actors.handleTradeUpdate(fillUpdate(a, '4', '4', '100', 'partially_filled'));
      first.actors.handleTradeUpdate(fillUpdate(b, '2', '2', '50', 'partially_filled'));
      first.actors.stop();
      open.splice(open.findIndex((o) => o.actors === first.actors), 1);
      const db = first.db;
      db.run(db.kysely.updateTable('orders').set({ machine_version: 0 }).where('order_id', '=', a.orderId));
      const snapB = JSON.parse(row(db, b.orderId)!.snapshot);
      snapB.value = 'stateThatNoLongerExists';
      // The state column is written with the snapshot it names (a machine that lost a state finds both).
      db.run(db.kysely.updateTable('orders').set({ snapshot: JSON.stringify(snapB), state: snapB.value }).where('order_id', '=', b.orderId));

      const broker = new Map<string, OrderReport>([
        [a.orderId, { ...a, status: 'filled', filledQty: '10', filledAvgPrice: '103' }],
        [b.orderId, { ...b, status: 'partially_filled', filledQty: '2', filledAvgPrice: '50' }],
      ]);
      const second = await boot(db, broker);
      expect(second.events('actor_rebuild').map((e) => e.order_id).sort()).toEqual([a.orderId, b.orderId].sort());
      // a: the ledger's 4 @ 100 kept; the broker's remaining 6 recorded from its VWAP (6 @ 105).
      const fa = fills(db).filter((f) => f.order_id === a.orderId);
      expect(fa.map((f) => [f.cum_qty, f.qty, f.price, f.source])).toEqual([
        ['4', '4', '100', 'stream'],
        ['10', '6', '105', 'order'],
      ]);
      expect(row(db, a.orderId)).toMatchObject({ filled_qty: '10', filled_avg_price: '103', machine_version: 1 });
      expect(second.actors.live(b.orderId)?.getSnapshot().value).toBe('partiallyFilled');
      expect(second.actors.live(b.orderId)?.getSnapshot().context.ledger).toEqual({ filledQty: '2', notional: '100' });
      expect(second.fatal).toEqual([]);
    });
  });
});
