import { pino } from 'pino';
import { startSimulator, type Simulator } from '../src/sim/index.js';
import { createBrokerClient } from '../src/broker/client.js';
import { OrderActors } from '../src/runtime/order-actors.js';
import { restart } from '../src/runtime/restart.js';
import { DriftCheck } from '../src/sync/drift.js';
import { Reconciler } from '../src/sync/reconciler.js';
import { StopWorker } from '../src/protection/stop-worker.js';
import { onStore, type StoreKind } from './store.js';

const SYMBOLS = [
  ['AAPL', 190],
  ['MSFT', 410],
  ['TSLA', 250],
  ['SPY', 520],
] as const;

async function post(sim: Simulator, path: string, body: unknown): Promise<{ id: string }> {
  const res = await fetch(`${sim.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  if (res.status !== 200) throw new Error(`${path} → ${res.status} ${await res.text()}`);
  return (await res.json()) as { id: string };
}

/**
 * Catch-up in CT_ADOPT=protect mode (issue 14): while nothing listens, `entries` outside buys fill
 * in `fillsPerEntry` parts each; then one reconciliation brings the fills in and the stop worker
 * protects every entry. Counts the requests both made, against the budget
 * ceil(fills / 100) + entries + 5 (activity pages, one POST per stop, a few reads).
 */
export function benchCatchupProtect(entries = 1000, fillsPerEntry = 10, kind: StoreKind = 'sqlite') {
  return onStore(kind, 'catchup-protect', async (store) => {
    const sim = await startSimulator({ seed: 7 });
    try {
      let fills = 0;
      for (let i = 0; i < entries; i++) {
        const [symbol, price] = SYMBOLS[i % SYMBOLS.length]!;
        const order = await post(sim, '/_sim/trade', { symbol, side: 'buy', qty: String(fillsPerEntry), type: 'limit', limit_price: String(price * 2), time_in_force: 'gtc', fill: 'partial', fill_qty: '1' });
        fills += 1;
        for (let p = 1; p < fillsPerEntry; p++) {
          await post(sim, '/_sim/fill', { order_id: order.id, qty: '1' });
          fills += 1;
        }
      }
      const db = await store.open('bench');
      const log = pino({ level: 'silent' });
      // No rate limit: the figure is the request count (at 180/min the same requests take minutes).
      const client = createBrokerClient({ keyId: 'k', secretKey: 's', paper: true, apiUrl: sim.url }, { rateLimit: false });
      const actors = new OrderActors({ db, log, adopt: 'protect', fetchOrder: async () => null, onFatal: (e) => { throw e; } });
      await restart({ actors: actors });
      const reconciler = new Reconciler({ db, log, client, actors, drift: new DriftCheck({ db, log, client, actors }) });
      const worker = new StopWorker({
        db,
        log,
        client,
        actors,
        settings: { trailPercent: '2', cryptoLimitSlippagePercent: '1' },
        latestPrice: async () => '100',
        ledgerPosition: (symbol) => actors.ledgerPosition(symbol),
      });
      const t0 = performance.now();
      const result = await reconciler.trigger('start');
      if (!result) throw new Error('reconciliation failed');
      let confirmed = 0;
      for (let pass = 0; pass < 50; pass++) {
        await worker.kick();
        confirmed = (db.first(db.kysely.selectFrom('stops').select((eb) => eb.fn.countAll<number>().as('n')).where('status', '=', 'confirmed')) as { n: number }).n;
        if (confirmed >= entries) break;
      }
      const seconds = (performance.now() - t0) / 1000;
      const requests = client.requestCount();
      const stopPosts = sim.stats.get('POST /v2/orders');
      await worker.stop();
      actors.stop();
      await db.close();
      const budget = Math.ceil(fills / 100) + entries + 5;
      return { fills, entries, stops_confirmed: confirmed, requests, reconcile_requests: result.requests, stop_posts: stopPosts, request_budget: budget, within_budget: requests <= budget, seconds: Number(seconds.toFixed(3)) };
    } finally {
      await sim.close();
    }
  });
}
