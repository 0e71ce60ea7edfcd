import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { ConfigError, loadConfig, type Config } from './config.js';
import { StartupRefusal } from './startup-refusal.js';
import { createLogger, type Logger } from './log.js';
import { openDatabase } from './store/database.js';
import { acquireProcessLock } from './store/process-lock.js';
import { createBrokerClient } from './broker/client.js';
import { TradeUpdateFeed } from './broker/trade-update-feed.js';
import { keysRefused, verifyCredentials } from './broker/credentials.js';
import { startApi } from './api/server.js';
import { fetchOrder } from './broker/fetch-order.js';
import { OrderActors } from './runtime/order-actors.js';
import { DriftCheck } from './sync/drift.js';
import { createPriceSource } from './broker/market-data.js';
import { StopWorker } from './protection/stop-worker.js';
import { CryptoRatchet } from './protection/crypto-ratchet.js';
import { AssetGrids } from './broker/asset-grids.js';
import { isCrypto } from './domain/symbols.js';
import { CoverageWatch } from './protection/coverage-watch.js';
import { armCrashPoint } from './runtime/crash-points.js';
import { createMetrics } from './metrics.js';
import type { StreamState } from './domain/stream.js';
import type { Inspector } from './inspect/inspector.js';
import { Reconciler } from './sync/reconciler.js';
import { EntryGate } from './protection/entry-gate.js';
import { PositionCloser } from './protection/position-close.js';
import { LastPrices } from './api/last-prices.js';
import type { Simulator } from './sim/index.js';
import { hostname } from 'node:os';
import { notifyControlAction, setNotificationChannels } from './notify/outbox.js';
import { notifyLifecycle } from './notify/events.js';
import { NotificationDelivery } from './notify/delivery.js';
import { StreamWatch } from './notify/stream-watch.js';
import { webhookChannel } from './notify/webhook.js';
import { telegramChannel } from './notify/telegram.js';
import type { Channel } from './notify/channel.js';

/** The composition root: config → logger → (demo simulator) → store → broker → API. */

interface Running {
  /** `reason`: what the `stopped` notification says (the signal). */
  close(reason?: string): Promise<void>;
}

async function startDemoSimulator(log: Logger): Promise<{ sim: Simulator; keyId: string; secretKey: string }> {
  const { startSimulator } = await import('./sim/index.js');
  const keyId = `DEMO${randomBytes(8).toString('hex').toUpperCase()}`;
  const secretKey = randomBytes(24).toString('hex');
  const sim = await startSimulator({ port: 0, host: '127.0.0.1', outsideTrader: true, keyId, secretKey });
  // Warn, not info: a live account expected here would be protected by nothing.
  log.warn({ event: 'demo_mode', sim_url: sim.url }, 'demo mode: the embedded Alpaca simulator, no real account is watched');
  return { sim, keyId, secretKey };
}

/** Demo fills come from a fresh simulator each run, so they get a fresh database beside the real one. */
function demoDbPath(config: Config): string {
  return join(dirname(config.dbPath), 'demo.db');
}

/** Prints a refusal as one line on stderr and exits 2: the keys, the lock or the database say no. */
function exitRefused(log: Logger, err: StartupRefusal): never {
  log.fatal({ event: 'start_refused', reason: err.message }, err.message);
  process.stderr.write(`crazy-trade: ${err.message}\n`);
  process.exit(err.exitCode);
}

async function start(config: Config, log: Logger): Promise<Running> {
  const closers: Array<() => Promise<void> | void> = [];
  // Last opened, first closed; each closer runs once even if shutdown and a fatal error race.
  const closeAll = async () => {
    for (let close = closers.pop(); close; close = closers.pop()) {
      try {
        await close();
      } catch (err) {
        log.warn({ event: 'close_failed', err: String(err) }, 'error while closing');
      }
    }
  };
  const refuse = (err: StartupRefusal) => void closeAll().finally(() => exitRefused(log, err));
  let stopReason = 'error';
  try {
    let endpoints = {
      keyId: config.alpaca.keyId ?? '',
      secretKey: config.alpaca.secretKey ?? '',
      paper: config.alpaca.paper,
      apiUrl: config.alpaca.apiUrl,
      streamUrl: config.alpaca.streamUrl,
      dataUrl: config.alpaca.dataUrl,
    };
    let dbPath = config.dbPath;
    // One process per database: the lock is taken before anything else touches it.
    const lock = acquireProcessLock(resolve(config.mode === 'demo' ? demoDbPath(config) : dbPath));
    closers.push(() => lock.release());
    if (config.mode === 'demo') {
      dbPath = lock.dbPath;
      // Locked first: another demo bot on this data directory keeps its live database.
      for (const suffix of ['', '-wal', '-shm']) rmSync(dbPath + suffix, { force: true });
      const demo = await startDemoSimulator(log);
      closers.push(() => demo.sim.close());
      endpoints = { ...endpoints, keyId: demo.keyId, secretKey: demo.secretKey, apiUrl: demo.sim.url, streamUrl: demo.sim.streamUrl, dataUrl: demo.sim.dataUrl };
    }

    const db = await openDatabase(dbPath, { lock });
    closers.push(() => db.close());
    log.info({ event: 'store_opened', path: dbPath }, 'database ready');

    // Notifications: every fact from here on writes its alert in its own transaction; the delivery
    // loop sends them (and what a crash left undelivered) to the configured channels.
    const channels: Channel[] = [
      ...(config.notify.webhook ? [webhookChannel(config.notify.webhook)] : []),
      ...(config.notify.telegram ? [telegramChannel(config.notify.telegram)] : []),
    ];
    setNotificationChannels(db, channels.map((c) => c.name));
    const delivery = new NotificationDelivery({ db, log, channels });
    delivery.start();
    const lifecycle = { startedAt: new Date().toISOString(), pid: process.pid, mode: config.mode, host: hostname() };
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

    armCrashPoint(config.crashAt);
    let inspector: Inspector | null = null;
    if (config.inspect.enabled) {
      // Loaded only when asked for; started before the actors so rehydrated ones are seen too.
      const { startInspector } = await import('./inspect/inspector.js');
      const started = await startInspector({ port: config.inspect.port, log });
      inspector = started;
      closers.push(() => started.close());
    }
    const broker = createBrokerClient(endpoints, { log });
    let stopWorker: StopWorker | null = null;
    const actors = new OrderActors({
      db,
      log,
      adopt: config.adopt,
      cooldownMinutes: config.cooldownMinutes,
      onIntents: () => void stopWorker?.kick(),
      onOrderEnded: (symbol) => stopWorker?.orderEnded(symbol),
      extraInspect: inspector?.inspect,
      fetchOrder: (id) => fetchOrder(broker, log, id),
      onFatal: () => {
        // Running on with state that is not on disk would break every invariant: stop, let the
        // supervisor (pm2/systemd) restart us, and rehydrate from what did commit.
        process.exitCode = 1;
        stopReason = 'fatal error';
        void closeAll().finally(() => process.exit(1));
      },
    });
    await actors.start();
    closers.push(() => actors.stop());

    // Protection: the outbox worker places/resizes stops; the ratchet trails crypto stops.
    // Market data comes from the same host when the API is overridden (the simulator serves both).
    const prices = createPriceSource({ keyId: endpoints.keyId, secretKey: endpoints.secretKey, dataUrl: endpoints.dataUrl });
    const grids = new AssetGrids({ client: broker, log });
    const worker = new StopWorker({
      grids,
      db,
      log,
      client: broker,
      actors,
      settings: { trailPercent: config.trailPercent, cryptoLimitSlippagePercent: '1' },
      ledgerPosition: (symbol) => actors.ledgerPosition(symbol),
      latestPrice: async (symbol) => {
        const p = (await (isCrypto(symbol) ? prices.latestCrypto([symbol]) : prices.latestStock([symbol]))).get(symbol);
        if (!p) throw new Error(`no latest price for ${symbol}`);
        return p;
      },
    });
    stopWorker = worker;
    worker.start(1000);
    closers.push(() => worker.stop());
    const ratchet = new CryptoRatchet({ db, log, prices, grids, trailPercent: config.trailPercent, minStepPercent: '0.25', onRaised: () => void worker.kick() });
    ratchet.start(config.ratchetMs);
    closers.push(() => ratchet.stop());
    // Positions from the actors' book, not a scan of the fills table at every check.
    const coverage = new CoverageWatch({ db, log, graceS: config.protectGraceS, adopt: config.adopt, positions: () => actors.ledgerPositions() });
    coverage.start(1000);
    closers.push(() => coverage.stop());
    const clock = setInterval(() => actors.tick(Date.now()), 1000);
    closers.push(() => clearInterval(clock));

    const drift = new DriftCheck({ db, log, client: broker, actors });
    let feedState: () => StreamState = () => 'down';
    const metrics = createMetrics({ db, streamState: () => feedState(), driftCount: () => drift.current().length, unprotected: () => coverage.current().unprotected });
    const reconciler = new Reconciler({ db, log, client: broker, actors, drift, resyncWindowS: config.resyncWindowS, onDone: (r) => metrics.observeReconcile(r) });
    // Lossless first (the watermark), then fast (the stream), with polling as the safety net.
    void reconciler.trigger('start');
    const feed = new TradeUpdateFeed(broker, log, {
      onUpdate: (u) => actors.handleTradeUpdate(u),
      onListening: () => void reconciler.trigger('stream'),
      onAuthRejected: (detail) => refuse(keysRefused(detail, broker.apiUrl)),
    });
    feedState = () => feed.state;
    closers.push(() => reconciler.stop());
    const poll = setInterval(() => void reconciler.trigger('poll'), config.pollMs);
    closers.push(() => clearInterval(poll));

    const api = await startApi({
      host: config.api.host,
      port: config.api.port,
      token: config.api.token,
      tokenName: config.api.tokenName,
      lastPrices: new LastPrices(async (symbols) => {
        const crypto = symbols.filter((s) => isCrypto(s));
        const stocks = symbols.filter((s) => !isCrypto(s));
        const [c, e] = await Promise.all([crypto.length ? prices.latestCrypto(crypto) : new Map<string, string>(), stocks.length ? prices.latestStock(stocks) : new Map<string, string>()]);
        return new Map([...c, ...e]);
      }),
      allowedHosts: config.api.allowedHosts,
      db,
      log,
      health: { mode: config.mode, streamState: () => feed.state, drift: () => drift.current(), protection: () => coverage.check() },
      metrics: metrics.registry,
      // Entries and closes through the service: tracked by the order actors from the broker's first answer.
      operator: {
        entries: new EntryGate({ db, log, client: broker, track: (o) => actors.handleOrder(o) }),
        kickStops: () => worker.kick(),
        onAction: (a) => void notifyControlAction(db, { action: a.action, who: a.by, detail: a.detail }),
        closer: new PositionCloser({ db, log, client: broker, grids, ledgerPosition: (symbol) => actors.ledgerPosition(symbol), kickStops: () => worker.kick(), track: (o) => actors.handleOrder(o) }),
      },
    });
    closers.push(() => api.close());
    log.info({ event: 'api_listening', url: api.url, mode: config.mode, broker: broker.apiUrl }, `status API on ${api.url}`);

    // Keys Alpaca refuses (on the first account read or the stream's authentication) end the
    // process: a service that runs on with them protects nothing while looking alive. Both start
    // last, so a refusal never races a start still in progress.
    const credentialCheck = new AbortController();
    closers.push(() => credentialCheck.abort());
    void verifyCredentials(broker, log, credentialCheck.signal).catch((err) => {
      if (err instanceof StartupRefusal) refuse(err);
      else log.error({ event: 'credentials_check_failed', err: String(err) }, 'could not check the API keys');
    });
    feed.start();
    closers.push(() => feed.stop());
    const streamWatch = new StreamWatch({ db, log, state: () => feed.state });
    streamWatch.start(1000);
    closers.push(() => streamWatch.stop());
    notifyLifecycle(db, 'started', lifecycle, new Date());
    announced = true;
    return {
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

async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`crazy-trade: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const log = createLogger(config.logLevel);
  for (const warning of config.warnings) log.warn({ event: 'config_warning' }, warning);
  process.on('uncaughtException', (err) => {
    log.fatal({ event: 'uncaught_exception', err }, 'uncaught exception');
    process.exit(1);
  });
  process.on('unhandledRejection', (err) => {
    log.error({ event: 'unhandled_rejection', err }, 'unhandled promise rejection');
  });

  // Signals are handled from the first moment: one that arrives while starting waits for the start
  // to finish, then closes everything it opened (a start that fails exits on its own).
  const starting = start(config, log);
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ event: 'shutdown', signal }, 'stopping');
    const running = await starting.catch(() => null);
    if (!running) return;
    await running.close(signal);
    log.info({ event: 'shutdown_complete' }, 'stopped cleanly');
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));

  try {
    await starting;
  } catch (err) {
    if (err instanceof StartupRefusal) exitRefused(log, err);
    log.fatal({ event: 'start_failed', err }, `could not start: ${(err as Error).message}`);
    process.exit(1);
  }
}

void main();
