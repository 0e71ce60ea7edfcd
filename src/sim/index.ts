/**
 * Alpaca Trading API v2 simulator: HTTP (Koa) + the trade_updates websocket on one
 * loopback port, plus /_sim/* control endpoints. See DESIGN.md §5.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AssetCatalog } from './assets.js';
import { MonotonicClock } from './clock.js';
import { Engine } from './engine.js';
import { DEMO_FAULT_MIX, Faults } from './faults.js';
import { createApp } from './http/app.js';
import { startMarketDataServer } from './market-data-server.js';
import type { WashTradeMode } from './wash-trade.js';
import type { SimServices } from './http/services.js';
import { IdFactory } from './ids.js';
import { DEFAULT_OUTSIDE_INTERVAL_MS, OutsideTrader } from './outside-trader.js';
import { Rng, deriveSeed } from './rng.js';
import { syncSession } from './session-control.js';
import { Stats } from './stats.js';
import { RequestLog } from './request-log.js';
import { type CredentialCheck, STREAM_PATH, TradeStream } from './stream.js';
import { ActivitySse } from './activity-sse.js';
import { UlidFactory } from './ulid.js';

export type { Engine } from './engine.js';
export type { Faults, FaultConfig } from './faults.js';
export type { Stats } from './stats.js';
export type { TradeStream } from './stream.js';
export type { OutsideTrader } from './outside-trader.js';
export type { TradeEvent, SimOrder, FillRecord } from './types.js';

export interface SimOptions {
  /** 0 (default) = ephemeral port. */
  port?: number;
  /** Default 127.0.0.1; only loopback hosts are allowed. */
  host?: string;
  /** PRNG seed for every id and random choice (default: random). */
  seed?: number;
  /**
   * Place random outside orders on a timer (default interval 1500 ms). `fractionalRate` (0..1, default 0):
   * that share of its equity entries is fractional (outside-trader.ts). The `done_for_day_rate` fault acts on its orders.
   * Careful by default: its resting orders never cross a protective bot's stops nor hold their shares;
   * `careless: true` drops that care (outside-trader.ts).
   */
  outsideTrader?: boolean | { intervalMs?: number; fractionalRate?: number; careless?: boolean };
  /**
   * The demo's full fault mix from the start (faults.ts DEMO_FAULT_MIX), and a careless outside trader
   * unless `outsideTrader.careless` says otherwise. Default false: no fault (`POST /_sim/faults` sets some).
   */
  demoFaults?: boolean;
  /** If both unset, any non-empty key/secret pair is accepted. */
  keyId?: string;
  secretKey?: string;
  /** Starting cash, decimal string (default "100000"). */
  startingCash?: string;
  /** Crypto fee in basis points, taken from the coin on buys (default 25, Alpaca's top tier). */
  feeBps?: number;
  /** New crypto orders and their FILL activities show the legacy `BTCUSD` (default false). */
  legacyCryptoSymbols?: boolean;
  /** A crypto buy's CFEE is posted this long after its fill (default 0: at once). crypto-rules.ts */
  feeDelayMs?: number;
  /** Where wash-trade protection applies: `crypto` (default), `all`, `off`. */
  washTrade?: WashTradeMode;
  /** Port of the market-data listener (`dataUrl`); 0 (default) = ephemeral. */
  dataPort?: number;
  /** trade_updates connections allowed per key pair (default 1, as Alpaca; 0 = no limit). stream.ts */
  streamConnectionsPerKey?: number;
}

export interface Simulator {
  /** http://127.0.0.1:PORT */
  url: string;
  /** ws://127.0.0.1:PORT/stream */
  streamUrl: string;
  /** http://127.0.0.1:DATAPORT — market data (Alpaca's data.alpaca.markets); the trading url has none. */
  dataUrl: string;
  port: number;
  seed: number;
  engine: Engine;
  faults: Faults;
  stats: Stats;
  stream: TradeStream;
  outsideTrader: OutsideTrader | null;
  close(): Promise<void>;
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);

export function isLoopbackHost(host: string): boolean {
  return LOOPBACK.has(host) || /^127(\.\d{1,3}){3}$/.test(host);
}

export function credentialCheck(keyId?: string, secretKey?: string): CredentialCheck {
  return (k, s) => {
    if (typeof k !== 'string' || typeof s !== 'string' || k === '' || s === '') return false;
    if (keyId !== undefined && k !== keyId) return false;
    if (secretKey !== undefined && s !== secretKey) return false;
    return true;
  };
}

export async function startSimulator(opts: SimOptions = {}): Promise<Simulator> {
  const host = opts.host ?? '127.0.0.1';
  if (!isLoopbackHost(host)) throw new Error(`simulator host must be loopback, got ${host}`);
  const seed = (opts.seed ?? Math.floor(Math.random() * 2 ** 32)) >>> 0;

  const clock = new MonotonicClock();
  const idRng = new Rng(deriveSeed(seed, 0));
  const engine = new Engine({
    clock,
    ids: new IdFactory(idRng),
    assets: new AssetCatalog(),
    eventIds: new UlidFactory(new Rng(deriveSeed(seed, 9))),
    ...(opts.startingCash !== undefined ? { startingCash: opts.startingCash } : {}),
    crypto: {
      ...(opts.feeBps !== undefined ? { feeBps: opts.feeBps } : {}),
      ...(opts.legacyCryptoSymbols !== undefined ? { legacySymbols: opts.legacyCryptoSymbols } : {}),
      ...(opts.washTrade !== undefined ? { washTrade: opts.washTrade } : {}),
      ...(opts.feeDelayMs !== undefined ? { feeDelayMs: opts.feeDelayMs } : {}),
    },
  });
  const faults = new Faults(new Rng(deriveSeed(seed, 1)));
  faults.orders.useRng(new Rng(deriveSeed(seed, 7)));
  if (opts.demoFaults) faults.update({ ...DEMO_FAULT_MIX });
  const stats = new Stats();
  const accountRng = new Rng(deriveSeed(seed, 3));
  const services: SimServices = {
    engine,
    faults,
    stats,
    requests: new RequestLog(),
    account: { id: accountRng.uuid(), accountNumber: `PA${accountRng.hex(10).toUpperCase()}` },
    checkCredentials: credentialCheck(opts.keyId, opts.secretKey),
    sse: new ActivitySse(engine.events, () => faults.sseDuplicate(), () => engine.nowMicros()),
  };

  const server = createServer(createApp(services).callback());
  const stream = new TradeStream(server, services.checkCredentials, faults, {
    ...(opts.streamConnectionsPerKey !== undefined ? { connectionsPerKey: opts.streamConnectionsPerKey } : {}),
  });
  services.stream = stream;
  engine.onEvent((ev) => stream.broadcast(ev.data));

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host.replace(/^\[|\]$/g, ''), () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const hostInUrl = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
  engine.activities.lateDelayMs = () => faults.lateActivityDelayMs();
  engine.activities.feeDelayMs = () => engine.crypto.feeDelayMs;
  const dataServer = await startMarketDataServer(services, host, hostInUrl, opts.dataPort ?? 0);

  let outsideTrader: OutsideTrader | null = null;
  if (opts.outsideTrader) {
    const traderOpts = typeof opts.outsideTrader === 'object' ? opts.outsideTrader : {};
    const intervalMs = traderOpts.intervalMs ?? DEFAULT_OUTSIDE_INTERVAL_MS;
    const fractionalRate = traderOpts.fractionalRate ?? 0;
    if (!(fractionalRate >= 0 && fractionalRate <= 1)) throw new Error(`fractionalRate must be between 0 and 1, got ${fractionalRate}`);
    outsideTrader = new OutsideTrader(engine, new Rng(deriveSeed(seed, 2)), intervalMs, {
      fractionalRate,
      doneForDay: () => faults.orders.doneForDay(),
      careless: traderOpts.careless ?? opts.demoFaults === true,
    }).start();
  }
  services.outsideTrader = outsideTrader;
  // Session changes and aged orders happen as the simulated time passes, requests or not.
  const sessionTimer = setInterval(() => syncSession(engine), 250);
  sessionTimer.unref();

  let closing: Promise<void> | null = null;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      outsideTrader?.stop();
      clearInterval(sessionTimer);
      await stream.close();
      services.sse.closeAll();
      await dataServer.close();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    })();
    return closing;
  };

  return {
    url: `http://${hostInUrl}:${port}`,
    streamUrl: `ws://${hostInUrl}:${port}${STREAM_PATH}`,
    dataUrl: dataServer.url,
    port,
    seed,
    engine,
    faults,
    stats,
    stream,
    outsideTrader,
    close,
  };
}
