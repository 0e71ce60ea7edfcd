import { hostname } from 'node:os';
import type Koa from 'koa';
import type { AccountConfig, Config } from './config.js';
import type { Logger } from './log.js';
import type { Database } from './store/database.js';
import { createBrokerClient, type BrokerClient } from './broker/client.js';
import { TradeUpdateFeed } from './broker/trade-update-feed.js';
import { keysRefused, verifyCredentials } from './broker/credentials.js';
import { createApiApp } from './api/server.js';
import { healthReport, type HealthReport, type HealthSource } from './api/health.js';
import { fetchOrder } from './broker/fetch-order.js';
import { fetchOrderFills } from './broker/order-fills.js';
import { OrderActors } from './runtime/order-actors.js';
import { DriftCheck } from './sync/drift.js';
import { createPriceSource } from './broker/market-data.js';
import { StopWorker } from './protection/stop-worker.js';
import { CryptoRatchet } from './protection/crypto-ratchet.js';
import { AssetGrids } from './broker/asset-grids.js';
import { MarketClock } from './broker/market-clock.js';
import { isCrypto, isOption } from './domain/symbols.js';
import { CoverageWatch } from './protection/coverage-watch.js';
import { createMetrics } from './metrics.js';
import type { StreamState } from './domain/stream.js';
import type { Inspector } from './inspect/inspector.js';
import { Reconciler } from './sync/reconciler.js';
import { ActivityEventStream } from './sync/event-stream.js';
import { PollTimer } from './sync/poll-timer.js';
import { PollRelaxGate } from './sync/poll-relax.js';
import { ExecutionIdLookup } from './sync/execution-ids.js';
import { restart } from './runtime/restart.js';
import { EntryGate } from './protection/entry-gate.js';
import { PositionCloser } from './protection/position-close.js';
import { ExtendedHoursGuard } from './protection/extended-hours-guard.js';
import { guardExits } from './store/guard-exits.js';
import { LastPrices } from './api/last-prices.js';
import { StartupRefusal } from './startup-refusal.js';
import { notifyControlAction, setNotificationChannels } from './notify/outbox.js';
import { notifyLifecycle } from './notify/events.js';
import { NotificationDelivery } from './notify/delivery.js';
import { StreamWatch } from './notify/stream-watch.js';
import { webhookChannel } from './notify/webhook.js';
import { telegramChannel } from './notify/telegram.js';
import type { Channel } from './notify/channel.js';
import { LeadershipLost } from './store/leadership-lost.js';
import { PgError } from './store/pg-sync.js';

/**
 * What ends a PostgreSQL leader's term rather than the process: fenced off, or its connection gone
 * (SQLSTATE 08…, 57P0…, and 25P03: ended by idle_in_transaction_session_timeout while stopped).
 */
const stepsDown = (err: unknown) => err instanceof LeadershipLost || (err instanceof PgError && /^(08|57P0|25P03)/.test(err.code ?? ''));

/** Where one account's broker is: the account's keys and hosts (or the demo simulator's). */
export interface Endpoints {
  keyId: string;
  secretKey: string;
  paper: boolean;
  apiUrl?: string;
  streamUrl?: string;
  dataUrl: string;
}

export interface AccountDeps {
  config: Config;
  account: AccountConfig;
  endpoints: Endpoints;
  /** The account's store, open and migrated (closed by the caller after close()). */
  db: Database;
  log: Logger;
  inspector: Inspector | null;
  /** State that is not on disk: the process must stop (the supervisor restarts it). */
  onFatal(): void;
  /** Alpaca refused the keys: the process must stop and say so. */
  onRefused(err: StartupRefusal): void;
  /**
   * PostgreSQL: a write was fenced off (another instance leads the account), or the store's
   * connection died inside a transaction (a stopped leader's, ended by the server): step down; the
   * next term rehydrates from what did commit.
   */
  onLeadershipLost?(err: Error): void;
  /** PostgreSQL: right before an order leaves, the leader's session was heard from lately (AccountLeader.assertLease); throws LeadershipLost. */
  assertLease?(): Promise<void>;
}

/** One account's running service: its API app (served by the process's API host) and how to stop it. */
export interface RunningAccount {
  app: Koa;
  /** What GET /health answers for the account. */
  health(): HealthReport;
  close(reason?: string): Promise<void>;
}

/**
 * One account's runtime, composed: notifications, order actors (rehydrated from the store), stop
 * worker, ratchet, coverage watch, reconciler (the watermark first), stream, and the API app. Called
 * at start for each account (SQLite), or when this instance takes an account's leadership (PostgreSQL).
 */
export async function startAccount(deps: AccountDeps): Promise<RunningAccount> {
  const { config, account, endpoints, db, log, inspector } = deps;
  const closers: Array<() => Promise<void> | void> = [];
  const closeAll = async () => {
    for (let close = closers.pop(); close; close = closers.pop()) {
      try {
        await close();
      } catch (err) {
        log.warn({ event: 'close_failed', err: String(err) }, 'error while closing');
      }
    }
  };
  let stopReason = 'error';
  try {
    // Notifications: every fact from here on writes its alert in its own transaction; the delivery
    // loop sends them (and what a crash left undelivered) to the configured channels.
    const channels: Channel[] = [
      ...(config.notify.webhook ? [webhookChannel(config.notify.webhook)] : []),
      ...(config.notify.telegram ? [telegramChannel(config.notify.telegram)] : []),
    ];
    setNotificationChannels(db, channels.map((c) => c.name));
    const delivery = new NotificationDelivery({ db, log, channels, batchMs: config.notify.batchMs });
    delivery.start();
    const lifecycle = { startedAt: new Date().toISOString(), pid: process.pid, mode: account.mode, host: hostname(), account: account.name };
    let announced = false;
    closers.push(async () => {
      // Last before the database closes: every other fact of this run is committed by now.
      try {
        if (announced) notifyLifecycle(db, 'stopped', { ...lifecycle, reason: stopReason }, new Date());
      } finally {
        await delivery.stop({ flushMs: 3000 });
      }
    });
    log.info({ event: 'notifications_ready', channels: channels.map((c) => c.name) }, channels.length ? `notifications to ${channels.map((c) => c.name).join(', ')}` : 'no notification channel configured');

    // Every order change checks the fence as it leaves (PostgreSQL: the epoch; SQLite: nothing to check).
    // Last, the leader's session must have been heard from lately (PostgreSQL: AccountLeader.assertLease).
    const broker = createBrokerClient(endpoints, {
      log,
      rateLimit: config.brokerRateLimit,
      beforeOrderChange: async () => {
        db.assertLeading();
        await deps.assertLease?.();
      },
    });
    let stopWorker: StopWorker | null = null;
    const actors = new OrderActors({
      db,
      log,
      adopt: account.adopt,
      cooldownMinutes: account.cooldownMinutes,
      onIntents: () => void stopWorker?.kick(),
      onOrderEnded: (symbol) => stopWorker?.orderEnded(symbol),
      extraInspect: inspector?.inspect,
      fetchOrder: (id) => fetchOrder(broker, log, id),
      orderFills: (id) => fetchOrderFills(broker, log, id),
      onFatal: (err) => {
        // A commit fenced off: another instance leads now. Step down (the next term rehydrates);
        // anything else is state that did not reach the disk: the process must stop.
        if (deps.onLeadershipLost && stepsDown(err)) return deps.onLeadershipLost(err as Error);
        stopReason = 'fatal error';
        deps.onFatal();
      },
    });
    closers.push(() => actors.stop());

    // Protection: the outbox worker places/resizes stops; the ratchet trails crypto stops.
    // Market data comes from the same host when the API is overridden (the simulator serves both).
    const prices = createPriceSource({ keyId: endpoints.keyId, secretKey: endpoints.secretKey, dataUrl: endpoints.dataUrl });
    // The stop worker's reads are steps of placing a stop: they wait in the rate limit's high lane.
    const protecting: BrokerClient = { ...broker, ...broker.protection };
    const grids = new AssetGrids({ client: protecting, log });
    // Alpaca's clock (read below): the re-arm of aging stops and the session shown go by Alpaca's time.
    const marketClock = new MarketClock({ client: broker, log, refreshMs: config.marketClockS * 1000 });
    const worker = new StopWorker({
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
      onLeadershipLost: (err) => deps.onLeadershipLost?.(err),
      graceMs: config.stopLookupGraceMs,
      aging: { brokerNow: () => marketClock.brokerNowIfRead(), rearmBeforeMs: config.rearmBeforeMs, everyMs: config.rearmScanMs },
    });
    stopWorker = worker;
    closers.push(() => worker.stop());
    const ratchet = new CryptoRatchet({ db, log, prices, grids, trailPercent: account.trailPercent, minStepPercent: '0.25', onRaised: () => void worker.kick() });
    closers.push(() => ratchet.stop());
    // Alpaca's session (its clock and calendar): whether equity stops can trigger now, shown, never alarmed on.
    closers.push(() => marketClock.stop());
    // Opt-in (CT_EXTENDED_HOURS_GUARD): outside regular hours a crossed stop level is exited by an extended-hours limit.
    // Turned off with exits still recorded, it only winds them down (their stops placed again).
    const g = config.extendedHoursGuard;
    if (g.enabled || guardExits(db).length > 0) {
      const guard = new ExtendedHoursGuard({ db, log, client: broker, actors, latestTrades: (s) => prices.latestStock(s), session: () => marketClock.session(), brokerNow: () => marketClock.brokerNow(), kickStops: () => worker.kick(), watching: g.enabled, slippagePct: g.slippagePct, repriceMs: g.repriceS * 1000, onLeadershipLost: (err) => deps.onLeadershipLost?.(err) });
      guard.start(g.checkMs);
      closers.push(() => guard.stop());
      if (g.enabled) log.info({ event: 'guard_enabled', slippage_pct: g.slippagePct, reprice_s: g.repriceS }, 'extended-hours guard on: outside regular hours a crossed stop level is exited by a limit order');
      else log.warn({ event: 'guard_winding_down', symbols: guardExits(db).map((e) => e.symbol) }, 'extended-hours guard off with exits in progress: they are canceled and their stops placed again');
    }
    // Positions from the actors' book, not a scan of the fills table at every check.
    const coverage = new CoverageWatch({ db, log, graceS: config.protectGraceS, adopt: account.adopt, positions: () => actors.ledgerPositions(), marketSession: () => marketClock.session() });
    closers.push(() => coverage.stop());

    const drift = new DriftCheck({ db, log, client: broker, actors, graceS: config.protectGraceS });
    let feedState: () => StreamState = () => 'down';
    const metrics = createMetrics({ db, streamState: () => feedState(), driftCount: () => drift.current().length, unprotected: () => coverage.current().unprotected });
    const reconciler = new Reconciler({ db, log, client: broker, actors, drift, resyncWindowS: config.resyncWindowS, onDone: (r) => metrics.observeReconcile(r) });
    // Restart, in the order docs/architecture.md gives: actors, what a crash cut off, stops, then
    // the reconciler's first run — lossless first (the watermark), then fast (the stream, below),
    // with polling as the safety net.
    await restart({ log, actors, stops: { db, worker, passMs: 1000 }, reconciler });
    ratchet.start(config.ratchetMs);
    marketClock.start();
    coverage.start(1000);
    const feed = new TradeUpdateFeed(broker, log, {
      onUpdate: (u) => actors.handleTradeUpdate(u),
      onListening: () => void reconciler.trigger('stream'),
      onAuthRejected: (detail) => deps.onRefused(keysRefused(detail, broker.apiUrl)),
    });
    feedState = () => feed.state;
    closers.push(() => reconciler.stop());
    // The activity event stream (CT_EVENT_STREAM): fills pushed from a persisted cursor, beside trade_updates.
    const lookup = new ExecutionIdLookup({ db, log, client: broker, actors });
    closers.push(() => lookup.stop());
    const events = config.eventStream ? new ActivityEventStream({ db, log, client: broker, actors, lookup, onLeadershipLost: (err) => deps.onLeadershipLost?.(err) }) : null;
    if (!events) log.info({ event: 'event_stream_off' }, 'activity event stream off (CT_EVENT_STREAM=0): fills from trade_updates and activity polling');
    // Polling is the net under the pushed sources: relaxed while both are healthy, never stopped.
    // …and not while a crypto fee may be due (sync/poll-relax.ts): fees come only from the poll's reads.
    const relaxGate = new PollRelaxGate({ db, feeOwed: () => drift.feeOwed() });
    const poll = new PollTimer({
      pollMs: config.pollMs,
      relax: config.pollRelax,
      relaxed: () => events?.state === 'live' && feed.state === 'connected' && relaxGate.feesSettled(),
      poll: () => void reconciler.trigger('poll'),
    });
    poll.start();
    closers.push(() => poll.stop());

    const healthSource: HealthSource = {
      mode: account.mode,
      streamState: () => feed.state,
      eventStream: () => ({ state: events?.state ?? 'off', reason: events?.reason() ?? null }),
      drift: () => drift.current(),
      protection: () => coverage.check(),
    };
    const app = createApiApp({
      host: config.api.host,
      token: config.api.token,
      tokenName: config.api.tokenName,
      lastPrices: new LastPrices(async (symbols) => {
        const crypto = symbols.filter((s) => isCrypto(s));
        // Option contracts have no price on the stocks endpoint: shown unpriced, and never in a stocks batch.
        const stocks = symbols.filter((s) => !isCrypto(s) && !isOption(s));
        const [c, e] = await Promise.all([crypto.length ? prices.latestCrypto(crypto) : new Map<string, string>(), stocks.length ? prices.latestStock(stocks) : new Map<string, string>()]);
        return new Map([...c, ...e]);
      }),
      allowedHosts: config.api.allowedHosts,
      marketSession: () => marketClock.session(),
      assetGrid: (symbol) => grids.peek(symbol),
      db,
      log,
      health: healthSource,
      metrics: metrics.registry,
      // Entries and closes through the service: tracked by the order actors from the broker's first answer.
      operator: {
        entries: new EntryGate({ db, log, client: broker, track: (o) => actors.handleOrder(o) }),
        kickStops: () => worker.kick(),
        onAction: (a) => void notifyControlAction(db, { action: a.action, who: a.by, detail: a.detail }),
        closer: new PositionCloser({ db, log, client: broker, grids, ledgerPosition: (symbol) => actors.ledgerPosition(symbol), kickStops: () => worker.kick(), track: (o) => actors.handleOrder(o) }),
      },
    });

    // Keys Alpaca refuses (on the first account read or the stream's authentication) end the
    // process: a service that runs on with them protects nothing while looking alive.
    const credentialCheck = new AbortController();
    closers.push(() => credentialCheck.abort());
    void verifyCredentials(broker, log, credentialCheck.signal).catch((err) => {
      if (err instanceof StartupRefusal) deps.onRefused(err);
      else log.error({ event: 'credentials_check_failed', err: String(err) }, 'could not check the API keys');
    });
    feed.start();
    closers.push(() => feed.stop());
    if (events) {
      events.start();
      closers.push(() => events.stop());
    }
    const streamWatch = new StreamWatch({ db, log, state: () => feed.state });
    streamWatch.start(1000);
    closers.push(() => streamWatch.stop());
    notifyLifecycle(db, 'started', lifecycle, new Date());
    announced = true;
    return {
      app,
      health: () => healthReport(db, healthSource),
      close: (reason) => {
        stopReason = reason ?? 'shutdown';
        return closeAll();
      },
    };
  } catch (err) {
    await closeAll();
    throw err;
  }
}
