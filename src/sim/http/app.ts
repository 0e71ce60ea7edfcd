/**
 * The Koa application: the request log, error mapping, per-route request stats, latency
 * and error faults, APCA header auth, and dispatch through the route table.
 */
import Koa from 'koa';
import { SimError, endpointNotFound, internal, methodNotAllowed, unauthorized } from '../errors.js';
import { registerAccountRoutes } from './account-routes.js';
import { registerAssetRoutes } from './asset-routes.js';
import { registerControlRoutes } from './control-routes.js';
import { registerCryptoControlRoutes } from './crypto-control-routes.js';
import { registerOrderRoutes } from './order-routes.js';
import { registerSessionRoutes } from './session-routes.js';
import { Router } from './router.js';
import { syncSession } from '../session-control.js';
import { logRequests } from '../request-log.js';
import { registerBrokerViewRoutes } from './broker-view-routes.js';
import { registerEventRoutes } from './event-routes.js';
import { registerExecutionControlRoutes } from './execution-control-routes.js';
import type { SimServices } from './services.js';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

const isApiPath = (path: string): boolean => /^\/(v2|v2beta\d+|v1beta\d*)(\/|$)/.test(path);
const isControlPath = (path: string): boolean => path === '/_sim' || path.startsWith('/_sim/');

function respondError(ctx: Koa.Context, err: unknown): void {
  const e = err instanceof SimError ? err : internal();
  if (!(err instanceof SimError)) {
    process.stderr.write(`[sim] internal error on ${ctx.method} ${ctx.path}: ${String((err as Error)?.stack ?? err)}\n`);
  }
  ctx.status = e.status;
  for (const [k, v] of Object.entries(e.headers)) ctx.set(k, v);
  ctx.body = e.body;
}

export type RouteRegistrar = (router: Router, services: SimServices) => void;

/**
 * The trading host's routes. Market data is not among them: Alpaca serves it from its own host
 * (data.alpaca.markets), so /v2/stocks/… and /v1beta3/crypto/… answer 404 here and are served by
 * market-data-server.ts (`createApp(services, registerMarketRoutes)`).
 */
export function registerTradingRoutes(router: Router, services: SimServices): void {
  registerOrderRoutes(router, services);
  registerSessionRoutes(router, services);
  registerAccountRoutes(router, services);
  registerAssetRoutes(router, services);
  registerCryptoControlRoutes(router, services);
  registerControlRoutes(router, services);
  registerBrokerViewRoutes(router, services);
  registerEventRoutes(router, services);
  registerExecutionControlRoutes(router, services);
}

export function createApp(services: SimServices, register: RouteRegistrar = registerTradingRoutes): Koa {
  const router = new Router();
  register(router, services);

  const app = new Koa();
  app.silent = true;
  app.on('error', () => {
    // Socket-level errors (client went away) are not the simulator's problem.
  });

  app.use(logRequests(services.requests, (id) => services.engine.getOrder(id)));
  app.use(async (ctx, next) => {
    try {
      await next();
    } catch (err) {
      respondError(ctx, err);
    }
  });

  app.use(async (ctx) => {
    // The simulated time moved on since the last request: apply the session changes it passed first.
    syncSession(services.engine);
    const match = router.match(ctx.method, ctx.path);
    if (!isControlPath(ctx.path) && isApiPath(ctx.path)) {
      services.stats.count(match.kind === 'found' ? match.key : `${ctx.method} (unmatched)`);
      const latency = services.faults.config.latency_ms;
      if (latency > 0) await sleep(latency);
      if (match.kind === 'found' && !match.route.public) {
        const ok = services.checkCredentials(ctx.get('APCA-API-KEY-ID'), ctx.get('APCA-API-SECRET-KEY'));
        if (!ok) throw unauthorized();
      }
      if (match.kind === 'found') {
        const fault = services.faults.httpFault();
        if (fault) throw fault;
      }
    }
    if (match.kind === 'not_found') throw endpointNotFound();
    if (match.kind === 'method_not_allowed') throw methodNotAllowed();
    await match.route.handler(ctx, match.params);
  });

  return app;
}
