import Koa from 'koa';
import Router from '@koa/router';
import { dashboardRoutes } from './dashboard.js';
import { openApiRoutes } from './openapi.js';
import { listen, type ConnectionLimits } from './server.js';
import type { Logger } from '../log.js';
import { apiAuth, type TokenFailures } from './auth.js';
import { hostCheck } from './host-check.js';
import { errorMiddleware, HttpError } from './errors.js';

/** What the host knows of an account it serves: its app while this instance leads it. */
export interface HostedAccount {
  name: string;
  /** The account's own API (src/api/server.ts createApiApp) while it runs here; null on standby. */
  app(): Koa | null;
  /** Who leads the account and since when (PostgreSQL); null when this process alone serves it. */
  leader(): Promise<AccountLeaderView | null>;
  /** The account's health while it runs here (what its /health answers); null on standby. */
  health(): { status: string } | null;
  /** Starting, standby, leading: what this instance is for the account. */
  role(): 'starting' | 'standby' | 'leading' | 'stopping';
  /** Why this instance could not try to lead the account (e.g. the database is unreachable). */
  problem?(): string | null;
}

export interface AccountLeaderView {
  leader: string;
  epoch: number;
  since: string;
  heartbeat_at: string;
}

export interface ApiHostOptions {
  host: string;
  port: number;
  token?: string;
  tokenName?: string;
  /** Wrong-token budgets shared with the inspector's feed (src/inspect/inspector.ts). */
  tokenFailures?: TokenFailures;
  allowedHosts?: string[];
  log: Logger;
  accounts: HostedAccount[];
  /** Connection limits (CT_API_MAX_CONNECTIONS; the timeouts are fixed). */
  limits?: Partial<ConnectionLimits>;
}

export interface ApiHost {
  url: string;
  close(): Promise<void>;
}

const callbacks = new WeakMap<Koa, ReturnType<Koa['callback']>>();
const callbackOf = (app: Koa) => {
  let cb = callbacks.get(app);
  if (!cb) callbacks.set(app, (cb = app.callback()));
  return cb;
};

/**
 * The process's one HTTP listener. Each request goes to an account's app: the one named by
 * `?account=`, or the only one. An account this instance does not lead answers `/health` with
 * `"status":"standby"` (200) and who leads it, and anything else with 503; a starting account answers
 * `/health` with `"status":"starting"` and 503 until it runs. With several accounts,
 * `/health` without `?account=` lists each account's leader and status here.
 */
export function createApiHost(opts: ApiHostOptions): Koa {
  const byName = new Map(opts.accounts.map((a) => [a.name, a]));
  const app = new Koa();
  app.use(errorMiddleware(opts.log));
  app.use(hostCheck(opts.host, opts.allowedHosts));
  app.use(apiAuth({ token: opts.token, tokenName: opts.tokenName, log: opts.log, failures: opts.tokenFailures }));
  // The dashboard page and the schema are the same for every account, and served on standby too.
  const shared = new Router();
  dashboardRoutes(shared);
  openApiRoutes(shared);
  app.use(shared.routes());
  app.use(async (ctx) => {
    const asked = typeof ctx.query.account === 'string' ? ctx.query.account : undefined;
    if (Array.isArray(ctx.query.account)) throw new HttpError(400, 'invalid_request', 'give ?account= once');
    const account = asked !== undefined ? byName.get(asked) : opts.accounts.length === 1 ? opts.accounts[0] : undefined;
    if (asked !== undefined && !account) throw new HttpError(404, 'unknown_account', `no account "${asked}" here; accounts: ${[...byName.keys()].join(', ')}`);
    if (!account) {
      if (ctx.path === '/health' && ctx.method === 'GET') {
        const body = await overview(opts.accounts);
        ctx.body = body;
        ctx.status = body.status === 'critical' ? 503 : 200;
        return;
      }
      throw new HttpError(400, 'account_required', `this instance serves ${opts.accounts.length} accounts (${[...byName.keys()].join(', ')}): add ?account=<name>`);
    }
    const accountApp = account!.app();
    if (!accountApp) {
      const leader = await account!.leader();
      if (ctx.path === '/health' && ctx.method === 'GET') {
        const problem = account!.problem?.() ?? null;
        const starting = account!.role() !== 'standby';
        ctx.body = { status: starting ? 'starting' : 'standby', reasons: problem ? [problem] : [], account: account!.name, leader };
        // Not ready yet: a supervisor or load balancer must not take a starting account for a healthy one.
        if (starting) {
          ctx.set('Retry-After', '2');
          ctx.status = 503;
        }
        return;
      }
      ctx.set('Retry-After', '2');
      if (account!.role() === 'starting' && !leader) throw new HttpError(503, 'starting', `account ${account!.name} is starting (store, broker, rehydration); try again in a moment`);
      throw new HttpError(503, 'standby', leader ? `account ${account!.name} is led by ${leader.leader}; ask it` : `account ${account!.name} is not led by this instance`);
    }
    const health = ctx.path === '/health' && ctx.method === 'GET' ? account!.health() : null;
    if (health) {
      ctx.body = { ...health, account: account!.name, leader: await account!.leader() };
      ctx.status = health.status === 'critical' ? 503 : 200;
      return;
    }
    ctx.respond = false;
    await callbackOf(accountApp)(ctx.req, ctx.res);
  });
  return app;
}

const RANK = ['standby', 'ok', 'degraded', 'critical'];

/** Every account: who leads it, and its status where this instance leads it. The worst status is the instance's. */
async function overview(accounts: HostedAccount[]) {
  const list = await Promise.all(
    accounts.map(async (a) => {
      const health = a.health();
      return { account: a.name, here: a.role(), status: health?.status ?? 'standby', leader: await a.leader() };
    }),
  );
  const status = list.reduce((worst, a) => (RANK.indexOf(a.status) > RANK.indexOf(worst) ? a.status : worst), 'standby');
  return { status, accounts: list };
}

export function startApiHost(opts: ApiHostOptions): Promise<ApiHost> {
  return listen(createApiHost(opts), opts.host, opts.port, opts.limits);
}
