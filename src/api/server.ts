import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Koa from 'koa';
import Router from '@koa/router';
import type { Database } from '../store/database.js';
import type { Logger } from '../log.js';
import { bearerAuth } from './auth.js';
import { errorMiddleware, HttpError } from './errors.js';
import { healthReport, type HealthSource } from './health.js';
import { orderRoutes } from './orders.js';
import { performanceRoutes } from './performance.js';
import { fillRoutes } from './fills.js';
import { positionRoutes } from './positions.js';
import { dashboardRoutes } from './dashboard.js';
import type { Registry } from 'prom-client';

export interface ApiOptions {
  host: string;
  port: number;
  token?: string;
  db: Database;
  health: HealthSource;
  log: Logger;
  metrics?: Registry;
}

export interface ApiServer {
  url: string;
  close(): Promise<void>;
}

export function createApiApp(opts: Omit<ApiOptions, 'host' | 'port'>): Koa {
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
  positionRoutes(router, opts.db);
  dashboardRoutes(router);
  const metrics = opts.metrics;
  if (metrics) {
    router.get('/metrics', async (ctx) => {
      ctx.type = metrics.contentType;
      ctx.body = await metrics.metrics();
    });
  }

  const app = new Koa();
  app.use(errorMiddleware(opts.log));
  app.use(async (ctx, next) => {
    if (ctx.method !== 'GET' && ctx.method !== 'HEAD') throw new HttpError(405, 'method_not_allowed', 'the status API is read-only');
    await next();
  });
  app.use(bearerAuth(opts.token));
  app.use(router.routes());
  return app;
}

/** Starts the status API on host:port (port 0 = ephemeral). */
export async function startApi(opts: ApiOptions): Promise<ApiServer> {
  const app = createApiApp(opts);
  const server: Server = createServer(app.callback());
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const host = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
  return {
    url: `http://${host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
