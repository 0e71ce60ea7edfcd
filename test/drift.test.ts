import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../src/sim/index.js';
import { openDatabase, type Database } from '../src/store/database.js';
import { createBrokerClient } from '../src/broker/client.js';
import { OrderActors } from '../src/runtime/order-actors.js';
import { restart } from '../src/runtime/restart.js';
import { DriftCheck } from '../src/sync/drift.js';
import { ledgerPositions } from '../src/store/ledger.js';
import { Reconciler } from '../src/sync/reconciler.js';
import { captureLogger } from './support/log-capture.js';
import { makeFills, simPost } from './support/sim-traffic.js';

let sim: Simulator;
let db: Database;
let actors: OrderActors;
let drift: DriftCheck;
let reconciler: Reconciler;
const cap = captureLogger('info');

beforeAll(async () => {
  sim = await startSimulator({ seed: 21 });
  db = await openDatabase(':memory:');
  const client = createBrokerClient({ keyId: 'k', secretKey: 's', paper: true, apiUrl: sim.url });
  actors = new OrderActors({ db, log: cap.log, adopt: 'record', fetchOrder: async () => null, onFatal: (e) => { throw e; } });
  await restart({ actors: actors });
  drift = new DriftCheck({ db, log: cap.log, client, actors, graceS: 0 });
  reconciler = new Reconciler({ db, log: cap.log, client, actors, drift });
});
afterAll(async () => {
  await reconciler.stop();
  actors.stop();
  await db.close();
  await sim.close();
});

describe('drift is loud', () => {
  it('a ledger that loses a fill behind the actors\' back is reported per order and per position, on /health, and logged once', async () => {
    const { orderIds } = await makeFills(sim, { orders: 2, fillsPerOrder: 2 });
    const first = await reconciler.trigger('poll');
    expect(first).toMatchObject({ fills_new: 4 });
    expect(drift.current()).toEqual([]);

    // Corrupt the ledger: one fill row disappears.
    db.sqlite.prepare('delete from fills where order_id = ? and cum_qty = ?').run(orderIds[0], '10');
    // The next activity page is empty, so make the broker report the order again.
    await reconciler.trigger('poll');
    await drift.check(new Map([[orderIds[0]!, '10']]));
    await reconciler.trigger('poll');
    const entries = drift.current();
    expect(entries).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ kind: 'order', order_id: orderIds[0], ledger_qty: '5', broker_qty: '10' }),
        expect.objectContaining({ kind: 'position', symbol: 'AAPL', ledger_qty: '5', broker_qty: '10' }),
      ]),
    );
    const logged = cap.lines().filter((l) => l.event === 'ledger_drift');
    expect(logged.filter((l) => l.kind === 'order')).toHaveLength(1);
    expect(logged.filter((l) => l.kind === 'position')).toHaveLength(1);
    // Told once per episode (notifications outbox), however often the check sees it again.
    await drift.check(new Map([[orderIds[0]!, '10']]));
    const told = db.sqlite.prepare("select id, kind from notifications where kind = 'ledger_drift' order by id").all() as Array<{ id: string }>;
    expect(told.map((n) => n.id.replace(/:\d{4}-\d\d-\d\dT.*$/, ''))).toEqual([`ledger_drift:order:${orderIds[0]}`, 'ledger_drift:position:AAPL']);
  });

  it('compares crypto positions the broker lists as BTCUSD with the ledger\'s BTC/USD, and names them as pairs', async () => {
    const buy = await simPost(sim, '/_sim/trade', { symbol: 'BTC/USD', side: 'buy', qty: '0.5', type: 'market' });
    await reconciler.trigger('poll');
    await reconciler.trigger('poll');
    const crypto = () => drift.current().filter((e) => e.kind === 'position' && e.symbol.replace('/', '') === 'BTCUSD');
    // The broker holds the buy less its fee (25 bps, a CFEE activity): so does the ledger.
    expect(ledgerPositions(db).get('BTC/USD')).toBe('0.49875');
    expect(crypto()).toEqual([]);
    // The buy vanishes from the ledger, its fee with it.
    db.sqlite.prepare('delete from fills where order_id = ?').run(buy.id);
    db.sqlite.prepare("delete from fees where symbol = 'BTC/USD'").run();
    await reconciler.trigger('poll');
    await reconciler.trigger('poll');
    expect(crypto()).toEqual([expect.objectContaining({ symbol: 'BTC/USD', ledger_qty: '0', broker_qty: '0.49875' })]);
  });
});

describe('drift has a grace (CT_PROTECT_GRACE_S): only a difference that lasts is reported', () => {
  let gsim: Simulator;
  let gdb: Database;
  let gactors: OrderActors;
  let gdrift: DriftCheck;
  let greconciler: Reconciler;
  const gcap = captureLogger('debug');
  beforeAll(async () => {
    // Each crypto buy's fee is posted 800 ms after it: the ledger is 25 bps long for a moment.
    gsim = await startSimulator({ seed: 22, feeDelayMs: 800 });
    gdb = await openDatabase(':memory:');
    const client = createBrokerClient({ keyId: 'k', secretKey: 's', paper: true, apiUrl: gsim.url });
    gactors = new OrderActors({ db: gdb, log: gcap.log, adopt: 'record', fetchOrder: async () => null, onFatal: (e) => { throw e; } });
    await restart({ actors: gactors });
    gdrift = new DriftCheck({ db: gdb, log: gcap.log, client, actors: gactors, graceS: 5 });
    greconciler = new Reconciler({ db: gdb, log: gcap.log, client, actors: gactors, drift: gdrift });
  });
  afterAll(async () => {
    await greconciler.stop();
    gactors.stop();
    await gdb.close();
    await gsim.close();
  });

  it('a fee read a moment after its fill: the difference is seen, never reported, and gone', async () => {
    await simPost(gsim, '/_sim/trade', { symbol: 'ETH/USD', side: 'buy', qty: '2', type: 'market' });
    const started = Date.now();
    const fees = () => (gdb.sqlite.prepare('select count(*) as n from fees').get() as { n: number }).n;
    // Reconcile as the poll would, every 150 ms, until the fee is in and one more check ran.
    let after = 0;
    while (after < 1) {
      if (fees() === 1) after += 1;
      await greconciler.trigger('poll');
      expect(gdrift.current()).toEqual([]);
      expect(Date.now() - started).toBeLessThan(5000);
      await new Promise((r) => setTimeout(r, 150));
    }
    expect(ledgerPositions(gdb).get('ETH/USD')).toBe('1.995');
    const transient = gcap.lines().filter((l) => l.event === 'ledger_drift_transient');
    expect(transient).toEqual([expect.objectContaining({ drift_key: 'position:ETHUSD' })]);
    expect(transient[0]!.lasted_ms).toBeGreaterThan(0);
    expect(gcap.lines().filter((l) => l.event === 'ledger_drift')).toEqual([]);
    expect(gdb.sqlite.prepare("select count(*) as n from notifications where kind = 'ledger_drift'").get()).toEqual({ n: 0 });
  });

  it('one that lasts the grace is reported from its first sighting, and goes at the first check that finds them agreeing', async () => {
    // The check's clock is given: 5 s of grace without waiting them. The ledger loses the fee row.
    const row = gdb.sqlite.prepare("select * from fees where symbol = 'ETH/USD'").get() as Record<string, unknown>;
    gdb.sqlite.prepare('delete from fees where activity_id = ?').run(row.activity_id);
    const t0 = Date.parse('2026-06-01T14:00:00Z');
    await gdrift.check(new Map(), t0);
    await gdrift.check(new Map(), t0 + 4999);
    expect(gdrift.current()).toEqual([]);
    expect(gdrift.feeOwed()).toBe(true);
    await gdrift.check(new Map(), t0 + 5000);
    expect(gdrift.current()).toEqual([
      { kind: 'position', order_id: null, symbol: 'ETH/USD', ledger_qty: '2', broker_qty: '1.995', since: new Date(t0).toISOString() },
    ]);
    expect(gcap.lines().filter((l) => l.event === 'ledger_drift')).toHaveLength(1);
    gdb.sqlite.prepare('insert into fees (activity_id, symbol, qty, price, at, created_at) values (@activity_id, @symbol, @qty, @price, @at, @created_at)').run(row);
    await gdrift.check(new Map(), t0 + 5001);
    expect(gdrift.current()).toEqual([]);
    expect(gdrift.feeOwed()).toBe(false);
    expect(gcap.lines().filter((l) => l.event === 'ledger_drift_cleared')).toEqual([expect.objectContaining({ drift_key: 'position:ETHUSD' })]);
  });
});
