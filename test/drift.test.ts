import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../src/sim/index.js';
import { openDatabase, type Database } from '../src/store/database.js';
import { createBrokerClient } from '../src/broker/client.js';
import { OrderActors } from '../src/runtime/order-actors.js';
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
  await actors.start();
  drift = new DriftCheck({ db, log: cap.log, client, actors });
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
