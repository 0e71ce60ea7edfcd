import { pino } from 'pino';
import { startSimulator } from '../src/sim/index.js';
import { createBrokerClient } from '../src/broker/client.js';
import { OrderActors } from '../src/runtime/order-actors.js';
import { restart } from '../src/runtime/restart.js';
import { DriftCheck } from '../src/sync/drift.js';
import { Reconciler } from '../src/sync/reconciler.js';
import { makeFills } from '../test/support/sim-traffic.js';
import { onStore, type StoreKind } from './store.js';

/**
 * Catch-up after downtime: N fills happen on the simulator while nothing listens; then one
 * reconciliation (real SDK over loopback, a real SQLite file or PostgreSQL database, the full
 * actor path) brings them in.
 */
export function benchCatchup(fills = 10_000, kind: StoreKind = 'sqlite') {
  return onStore(kind, 'catchup', async (store) => {
    const sim = await startSimulator({ seed: 99 });
    try {
      const fillsPerOrder = 4;
      const made = await makeFills(sim, { orders: Math.ceil(fills / fillsPerOrder), fillsPerOrder });
      const db = await store.open('bench');
      const log = pino({ level: 'silent' });
      const client = createBrokerClient({ keyId: 'k', secretKey: 's', paper: true, apiUrl: sim.url });
      const actors = new OrderActors({ db, log, adopt: 'record', fetchOrder: async () => null, onFatal: (e) => { throw e; } });
      await restart({ actors: actors });
      const reconciler = new Reconciler({ db, log, client, actors, drift: new DriftCheck({ db, log, client, actors }) });
      const t0 = performance.now();
      const result = await reconciler.trigger('start');
      const seconds = (performance.now() - t0) / 1000;
      actors.stop();
      await db.close();
      if (!result) throw new Error('reconciliation failed');
      const budget = Math.ceil(made.fills / 100) + 10;
      return {
        fills: made.fills,
        fills_recorded: result.fills_new,
        requests: result.requests,
        activity_pages: result.pages,
        seconds: Number(seconds.toFixed(3)),
        fills_per_second: Math.round(made.fills / seconds),
        request_budget: budget,
        within_budget: result.requests <= budget,
      };
    } finally {
      await sim.close();
    }
  });
}
