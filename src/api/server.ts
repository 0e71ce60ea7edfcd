import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Koa from 'koa';
import Router from '@koa/router';
import type { Database } from '../store/database.js';
import type { Logger } from '../log.js';
import { apiAuth } from './auth.js';
import { hostCheck } from './host-check.js';
import { answerHeaders } from './answer-headers.js';
import { errorMiddleware, HttpError } from './errors.js';
import { healthReport, type HealthSource } from './health.js';
import { orderRoutes } from './orders.js';
import { performanceRoutes } from './performance.js';
import { fillRoutes } from './fills.js';
import { positionRoutes } from './positions.js';
import { dashboardRoutes } from './dashboard.js';
import { entryRoutes } from './entries.js';
import { controlRoutes } from './control.js';
import { openApiRoutes } from './openapi.js';
import type { EntryGate } from '../protection/entry-gate.js';
import type { PositionCloser } from '../protection/position-close.js';
import type { LastPrices } from './last-prices.js';
import type { Registry } from 'prom-client';
import type { MarketSession } from '../domain/market-session.js';
import type { AssetGrid } from '../domain/grid.js';

export interface ApiOptions {
  host: string;
  port: number;
  token?: string;
  /** Latest prices for /positions (the distance of each stop); absent, none are shown. */
  lastPrices?: LastPrices;
  /** The equity session now (broker/market-clock.ts), for /positions; absent: unknown (null). */
  marketSession?: () => MarketSession | null;
  /** An asset's order grids if read already (broker/asset-grids.ts `peek`), for /positions' increments; absent: none. */
  assetGrid?: (symbol: string) => AssetGrid | undefined;
  /** CT_API_TOKEN_NAME: who acts with the token. */
  tokenName?: string;
  /** CT_API_ALLOWED_HOSTS: Host names answered besides loopback and the bind host. */
  allowedHosts?: string[];
  db: Database;
  health: HealthSource;
  log: Logger;
  metrics?: Registry;
  /** The operator's side (entries, control): absent, the API only reads. */
  operator?: {
    entries: EntryGate;
    closer: PositionCloser;
    kickStops?: () => unknown;
    /** Told of every control action (the notifications outbox). */
    onAction?: (action: { action: string; by: string; detail: Record<string, unknown> }) => void;
  };
}

export interface ApiServer {
  url: string;
  close(): Promise<void>;
}

export function createApiApp(opts: Omit<ApiOptions, 'host' | 'port'> & { host?: string }): Koa {
  const router = new Router();
  router.get('/health', (ctx) => {
    const report = healthReport(opts.db, opts.health);
    ctx.body = report;
    // An unprotected position past its grace period fails the check; stream or drift trouble does not.
    ctx.status = report.status === 'critical' ? 503 : 200;
  });
  orderRoutes(router, opts.db);
  performanceRoutes(router, opts.db);
  fillRoutes(router, opts.db);
  positionRoutes(router, opts.db, opts.lastPrices, opts.marketSession, opts.assetGrid);
  dashboardRoutes(router);
  openApiRoutes(router);
  if (opts.operator) {
    entryRoutes(router, opts.operator.entries);
    controlRoutes(router, { db: opts.db, log: opts.log, closer: opts.operator.closer, kickStops: opts.operator.kickStops, onAction: opts.operator.onAction });
  }
  const metrics = opts.metrics;
  if (metrics) {
    router.get('/metrics', async (ctx) => {
      ctx.type = metrics.contentType;
      ctx.body = await metrics.metrics();
    });
  }

  const app = new Koa();
  app.use(answerHeaders());
  app.use(errorMiddleware(opts.log));
  // Host first (DNS rebinding), then who may read / write (src/api/auth.ts), then the routes.
  app.use(hostCheck(opts.host, opts.allowedHosts));
  app.use(apiAuth({ token: opts.token, tokenName: opts.tokenName, log: opts.log }));
  app.use(router.routes());
  app.use(
    router.allowedMethods({
      throw: true,
      methodNotAllowed: () => new HttpError(405, 'method_not_allowed', 'this route does not take that method'),
      notImplemented: () => new HttpError(501, 'not_implemented', 'unknown method'),
    }),
  );
  return app;
}

/** Starts the status API on host:port (port 0 = ephemeral). */
export async function startApi(opts: ApiOptions & { limits?: Partial<ConnectionLimits> }): Promise<ApiServer> {
  return listen(createApiApp(opts), opts.host, opts.port, opts.limits);
}

/**
 * What one client may hold of the server: a request must have sent its headers within
 * `headersTimeoutMs` and all of itself within `requestTimeoutMs`, an idle kept-alive connection goes
 * after `keepAliveTimeoutMs`, and past `maxConnections` open at once new ones are closed at accept.
 * Node checks the timeouts every `checkEveryMs`, so a half-sent request is dropped within
 * requestTimeoutMs + checkEveryMs (27 s by default).
 */
export interface ConnectionLimits {
  maxConnections: number;
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  keepAliveTimeoutMs: number;
  checkEveryMs: number;
}

export const DEFAULT_CONNECTION_LIMITS: ConnectionLimits = { maxConnections: 256, headersTimeoutMs: 10_000, requestTimeoutMs: 25_000, keepAliveTimeoutMs: 5_000, checkEveryMs: 2_000 };

/** Serves a Koa app on host:port (port 0 = ephemeral): its URL, and a close that drops open connections. */
export async function listen(app: Koa, bindHost: string, bindPort: number, limits: Partial<ConnectionLimits> = {}): Promise<ApiServer> {
  const l = { ...DEFAULT_CONNECTION_LIMITS, ...limits };
  const server: Server = createServer(
    { headersTimeout: l.headersTimeoutMs, requestTimeout: l.requestTimeoutMs, keepAliveTimeout: l.keepAliveTimeoutMs, connectionsCheckingInterval: l.checkEveryMs },
    app.callback(),
  );
  server.maxConnections = l.maxConnections;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(bindPort, bindHost, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const host = bindHost.includes(':') ? `[${bindHost}]` : bindHost;
  return {
    url: `http://${host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
