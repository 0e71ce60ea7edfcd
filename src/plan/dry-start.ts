import type { AccountConfig, Config } from '../config.js';
import type { Logger } from '../log.js';
import type { Database } from '../store/database.js';
import type { BrokerClient } from '../broker/client.js';
import type { PriceSource } from '../broker/market-data.js';
import { fetchOrder } from '../broker/fetch-order.js';
import { AssetGrids } from '../broker/asset-grids.js';
import { MarketClock } from '../broker/market-clock.js';
import { isCrypto } from '../domain/symbols.js';
import { OrderActors } from '../runtime/order-actors.js';
import { StopWorker } from '../protection/stop-worker.js';
import { CryptoRatchet } from '../protection/crypto-ratchet.js';
import { restart } from '../runtime/restart.js';
import { dueStops } from '../store/stops.js';
import { DriftCheck } from '../sync/drift.js';
import { Reconciler, type ReconcileResult } from '../sync/reconciler.js';

/**
 * A start, as src/account.ts composes it, run through src/runtime/restart.ts (the one place that
 * restores, resumes and reconciles), on the plan's scratch store and dry broker (./scratch-store.ts,
 * ./dry-broker.ts): the same order actors, stop worker, crypto ratchet, reconciler and drift check,
 * with the same settings. What differs:
 * - the stop worker's passes run once the first reconciliation is done (a real start also runs them
 *   while the history is read, so with a long history it may place a stop and resize it as later
 *   pages arrive): the plan shows where the start settles;
 * - the crypto ratchet runs once, before those passes;
 * - no stream, no status API, no notifications sent, no coverage alarms, no extended-hours guard.
 */
export interface DryStartDeps {
  config: Config;
  account: AccountConfig;
  db: Database;
  /** The dry broker's client (reads go to Alpaca; order changes are kept). */
  client: BrokerClient;
  prices: PriceSource;
  log: Logger;
}

export interface DryStartResult {
  actors: OrderActors;
  reconciled: ReconcileResult;
  clock: MarketClock;
  /** Crypto stops the ratchet raised before the passes: client order id → the price it raised them to. */
  raised: Map<string, string>;
}

/** Passes of the stop worker at most (each drives every due stop up to its answer). */
const MAX_PASSES = 6;

export async function dryStart(deps: DryStartDeps): Promise<DryStartResult> {
  const { config, account, db, client, prices, log } = deps;
  let fatal: unknown = null;
  const lookups = new Set<Promise<unknown>>();
  let worker: StopWorker | null = null;
  let passesOpen = false;
  const actors = new OrderActors({
    db,
    log,
    adopt: account.adopt,
    cooldownMinutes: account.cooldownMinutes,
    onIntents: () => {
      if (passesOpen) void worker?.kick();
    },
    onOrderEnded: (symbol) => worker?.orderEnded(symbol),
    fetchOrder: (id) => {
      const p = fetchOrder(client, log, id);
      lookups.add(p);
      void p.finally(() => lookups.delete(p)).catch(() => undefined);
      return p;
    },
    onFatal: (err) => {
      fatal = err;
    },
  });
  const protecting: BrokerClient = { ...client, ...client.protection };
  const grids = new AssetGrids({ client: protecting, log });
  const clock = new MarketClock({ client, log, refreshMs: config.marketClockS * 1000 });
  // One read of Alpaca's clock: the session shown, and the re-arm of stops near their aged-order deadline.
  await clock.refresh().catch((err: unknown) => log.warn({ event: 'market_clock_failed', err: String(err) }, 'could not read Alpaca’s clock'));
  worker = new StopWorker({
    grids,
    db,
    log,
    client: protecting,
    actors,
    settings: { trailPercent: account.trailPercent, cryptoLimitSlippagePercent: '1' },
    ledgerPosition: (symbol) => actors.ledgerPosition(symbol),
    latestPrice: async (symbol) => {
      const p = (await (isCrypto(symbol) ? prices.latestCrypto([symbol]) : prices.latestStock([symbol]))).get(symbol);
      if (!p) throw new Error(`no latest price for ${symbol}`);
      return p;
    },
    aging: { brokerNow: () => clock.brokerNowIfRead(), rearmBeforeMs: config.rearmBeforeMs, everyMs: 0 },
  });
  const ratchet = new CryptoRatchet({ db, log, prices, grids, trailPercent: account.trailPercent, minStepPercent: '0.25', onRaised: () => undefined });
  const drift = new DriftCheck({ db, log, client, actors, graceS: config.protectGraceS });
  const reconciler = new Reconciler({ db, log, client, actors, drift, resyncWindowS: config.resyncWindowS });

  const settle = async () => {
    // The exit walk and the stop worker's wake-up run after the batch (setImmediate); order lookups the actors asked for are awaited.
    for (let i = 0; i < 50; i++) {
      await new Promise<void>((r) => setImmediate(r));
      if (lookups.size === 0) {
        await new Promise<void>((r) => setImmediate(r));
        if (lookups.size === 0) return;
      }
      await Promise.allSettled([...lookups]);
    }
  };
  const check = () => {
    if (fatal) throw fatal instanceof Error ? fatal : new Error(String(fatal));
  };

  try {
    // restart.ts: actors, what a crash cut off, stops resumed; its worker timer is not started (the
    // passes below come after the history is read); the first reconciliation, awaited here whole.
    let first: Promise<ReconcileResult | null> = Promise.resolve(null);
    await restart({
      log,
      actors,
      stops: { db, worker: { start: () => undefined }, passMs: 1000 },
      reconciler: { trigger: (reason) => (first = reconciler.trigger(reason)) },
    });
    const reconciled = await first;
    await settle();
    check();
    if (!reconciled) throw new Error('could not read the account’s fills and orders');

    const raised = new Map<string, string>();
    const before = new Map(db.all(db.kysely.selectFrom('stops').select(['client_order_id', 'target_stop_price'])).map((r) => [r.client_order_id, r.target_stop_price]));
    if ((await ratchet.run()) > 0) {
      for (const r of db.all(db.kysely.selectFrom('stops').select(['client_order_id', 'target_stop_price']))) {
        if (r.target_stop_price !== null && r.target_stop_price !== before.get(r.client_order_id)) raised.set(r.client_order_id, r.target_stop_price);
      }
    }

    passesOpen = true;
    for (let pass = 0; pass < MAX_PASSES; pass++) {
      await worker.kick();
      await settle();
      check();
      if (dueStops(db, Date.now()).length === 0) break;
    }
    return { actors, reconciled, clock, raised };
  } finally {
    passesOpen = false;
    await worker.stop();
    await reconciler.stop();
    actors.stop();
    clock.stop();
  }
}
