import {
  OrdersApi,
  streaming,
  trading,
  type RateLimitConfig,
} from '@alpacahq/alpaca-trade-api';
import type { Logger } from '../log.js';
import { PriorityLimiter, type Lane } from './priority-limiter.js';

export interface BrokerEndpoints {
  keyId: string;
  secretKey: string;
  paper: boolean;
  /** REST base (ALPACA_API_URL); Alpaca's paper or live host when unset. */
  apiUrl?: string;
  /** trade_updates websocket (ALPACA_STREAM_URL); derived from apiUrl or the paper flag when unset. */
  streamUrl?: string;
}

/**
 * The SDK's trading APIs pointed at one host. The SDK's `Alpaca` facade has no base-URL option, so
 * the generated APIs are built on a `trading.Configuration` with an explicit `basePath`; retries
 * (safe verbs only, never an order POST) and typed errors come from that Configuration. The rate
 * limit does not: the SDK's limiter queues FIFO, so on a busy account stop placements waited behind
 * polls. A `pre` middleware (awaited by the SDK before each attempt, retries included, inside the
 * attempt's deadline) takes a token from a two-lane limiter instead: order changes and the stop
 * worker's lookups by client order id first, reads after (see laneFor), same 200/min budget.
 */
export interface BrokerClient {
  readonly orders: OrdersApi;
  readonly activities: trading.AccountActivitiesApi;
  readonly positions: trading.PositionsApi;
  readonly account: trading.AccountsApi;
  /** Asset details (crypto order grids). */
  readonly assets: trading.AssetsApi;
  /** GET /v2/clock and GET /v2/calendar (market-clock.ts): reads, low lane. */
  readonly clock: trading.ClockApi;
  readonly calendar: trading.CalendarApi;
  /**
   * GET /v2beta1/events/activities (SSE, broker/activity-events.ts): no attempt deadline (the SDK's
   * covers the body too, and this body is endless) and no SDK retries (the reader backs off itself);
   * rate-limited and counted like every request. Use the `…Raw` call: the plain one parses SSE as JSON.
   */
  readonly events: trading.EventsApi;
  readonly apiUrl: string;
  readonly streamUrl: string;
  /** HTTP requests sent so far (every attempt, retries included). */
  requestCount(): number;
  /** Requests waiting for the rate limit, per lane (zeros without a limit). */
  queued(): { high: number; low: number };
  /**
   * Pages of activities after `afterId` (exclusive), oldest first, following page tokens to the end:
   * FILL and CFEE (a crypto buy's fee in the coin) together, in one id order, unless `types` says.
   */
  activityPages(afterId: string | null, types?: ActivityKind[], since?: Date): AsyncGenerator<trading.GetAccountActivities200ResponseInner[]>;
  /** A trade_updates stream that reconnects forever; call connect() on it. */
  createStream(): streaming.TradingStream;
  /**
   * The same client whose every request waits in the `high` lane: for the stop worker, whose reads
   * (the stop's order by id, the position's `qty_available`, a crypto asset's grids) are steps of
   * placing a stop, and must not queue behind polls. Same budget, same counters.
   */
  readonly protection: Pick<BrokerClient, 'orders' | 'positions' | 'assets'>;
}

export const ACTIVITY_PAGE_SIZE = 100;

/**
 * The activity types the service reads: fills, crypto fees taken in the coin, and option exercises
 * and assignments with the share trades they make (src/domain/option-events.ts).
 */
export type ActivityKind = 'FILL' | 'CFEE' | 'OPEXC' | 'OPASN' | 'OPTRD';

/** What the watermark pages read: every kind above, in one id order. */
export const WATERMARK_KINDS: ActivityKind[] = ['FILL', 'CFEE', 'OPEXC', 'OPASN', 'OPTRD'];

export function streamUrlFor(apiUrl: string): string {
  const u = new URL(apiUrl);
  u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
  u.pathname = `${u.pathname.replace(/\/+$/, '')}/stream`;
  return u.toString();
}

/** Order changes: POST /v2/orders, PATCH and DELETE /v2/orders/{id} (and DELETE /v2/orders). */
const ORDER_CHANGE = /\/v2\/orders(\/[^/]+)?$/;
/** The stop worker's lookup of its stop (GET /v2/orders:by_client_order_id): part of placing it. */
const STOP_LOOKUP = /\/v2\/orders:by_client_order_id$/;

/**
 * Which lane a request waits in when the rate limit is reached: `high` for what protects a
 * position (order changes, lookups by client order id), `low` for every read that sync, drift and
 * the actors make (activity pages, open-order polls, order lookups by id, positions).
 */
export function laneFor(method: string, url: string): Lane {
  const path = new URL(url).pathname;
  const verb = method.toUpperCase();
  if (verb !== 'GET' && ORDER_CHANGE.test(path)) return 'high';
  if (verb === 'GET' && STOP_LOOKUP.test(path)) return 'high';
  return 'low';
}

export function createBrokerClient(
  endpoints: BrokerEndpoints,
  options: {
    log?: Logger;
    rateLimit?: RateLimitConfig | false;
    maxRetries?: number;
    /** Runs right before each attempt of an order change leaves (after the rate-limit wait); throws to keep it from leaving. */
    beforeOrderChange?: () => void | Promise<void>;
    /** Reads only (`npm run plan`): every request but a GET throws before it leaves, whatever it is. */
    readOnly?: boolean;
  } = {},
): BrokerClient {
  const apiUrl = endpoints.apiUrl ?? (endpoints.paper ? trading.TRADING_PAPER_HOST : trading.TRADING_LIVE_HOST);
  const streamUrl = endpoints.streamUrl ?? streamUrlFor(apiUrl);
  const log = options.log;
  let requests = 0;
  const limit = options.rateLimit === false ? null : (options.rateLimit ?? { maxRequests: 200, intervalMs: 60_000 });
  if (limit?.maxConcurrent !== undefined) throw new Error('rateLimit.maxConcurrent is not supported (the limiter only paces requests)');
  const limiter = limit ? new PriorityLimiter({ maxRequests: limit.maxRequests, intervalMs: limit.intervalMs }) : null;
  /** One SDK configuration; `lane` set: every request waits in that lane, whatever it is. */
  const configFor = (lane: Lane | null, stream = false) =>
    new trading.Configuration({
      basePath: apiUrl,
      keyId: endpoints.keyId,
      secret: endpoints.secretKey,
      timeoutMs: stream ? 0 : 15_000,
      retry: {
        maxRetries: stream ? 0 : (options.maxRetries ?? 6),
        retryDelayMs: 200,
        maxDelayMs: 5_000,
        onRetry: (e) => log?.debug({ event: 'broker_retry', method: e.method, url: e.url, status: e.status, attempt: e.attempt }, 'retrying broker request'),
        onGiveUp: (e) => log?.warn({ event: 'broker_gave_up', method: e.method, url: e.url, status: e.status, attempts: e.attempt }, 'broker request failed after retries'),
      },
      middleware: [
        {
          // Runs once per attempt; init.signal is the attempt's deadline (and the caller's abort), so
          // a wait that outlives it leaves the line without spending a token.
          pre: async ({ url, init }) => {
            if (options.readOnly && (init.method ?? 'GET').toUpperCase() !== 'GET') throw new Error(`read-only broker client: ${init.method} ${new URL(url).pathname} not sent`);
            if (limiter) await limiter.acquire(lane ?? laneFor(init.method ?? 'GET', url), init.signal);
            // A leader stopped (SIGSTOP) between its fence check and here must not send once resumed: checked again now.
            if (options.beforeOrderChange && (init.method ?? 'GET') !== 'GET' && /\/v2\/orders/.test(url)) await options.beforeOrderChange();
            requests += 1;
          },
        },
      ],
      // The SDK's own (FIFO) limiter stays off: the middleware above is the only one.
      rateLimit: undefined,
    });
  const config = configFor(null);
  const high = configFor('high');
  const activities = new trading.AccountActivitiesApi(config);

  return {
    orders: new OrdersApi(config),
    activities,
    positions: new trading.PositionsApi(config),
    assets: new trading.AssetsApi(config),
    account: new trading.AccountsApi(config),
    clock: new trading.ClockApi(config),
    calendar: new trading.CalendarApi(config),
    events: new trading.EventsApi(configFor(null, true)),
    protection: { orders: new OrdersApi(high), positions: new trading.PositionsApi(high), assets: new trading.AssetsApi(high) },
    apiUrl,
    streamUrl,
    requestCount: () => requests,
    queued: () => limiter?.queued() ?? { high: 0, low: 0 },
    async *activityPages(afterId, types = ['FILL', 'CFEE'], since) {
      // GET /v2/account/activities?activity_types=FILL,CFEE rather than /activities/FILL: in SDK
      // 4.0.2 the by-type endpoint maps every item as a non-trade activity and drops
      // order_id, cum_qty, price, side and transaction_time. Pages are followed by hand (as the
      // SDK's paginateCursor does) because the caller commits page by page.
      let token = afterId ?? undefined;
      const visited = new Set<string>();
      for (;;) {
        const page = await activities.getAccountActivities({
          activityTypes: types,
          direction: 'asc',
          pageSize: ACTIVITY_PAGE_SIZE,
          pageToken: token,
          // The first page of a re-read starts at a time (`after`); the next pages follow ids.
          after: token === undefined ? since : undefined,
        });
        yield page;
        const last = page[page.length - 1]?.id;
        if (page.length === 0 || page.length < ACTIVITY_PAGE_SIZE || !last || visited.has(last)) return;
        visited.add(last);
        token = last;
      }
    },
    createStream() {
      return new streaming.TradingStream({
        url: streamUrl,
        credentials: { keyId: endpoints.keyId, secret: endpoints.secretKey },
        maxReconnectAttempts: streaming.UNLIMITED_RECONNECT_ATTEMPTS,
        initialReconnectMs: 500,
        maxReconnectMs: 15_000,
      });
    },
  };
}
