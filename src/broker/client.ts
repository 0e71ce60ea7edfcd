import {
  OrdersApi,
  streaming,
  trading,
  type RateLimitConfig,
} from '@alpacahq/alpaca-trade-api';
import type { Logger } from '../log.js';

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
 * (safe verbs only, never an order POST), the token-bucket rate limiter and typed errors all come
 * from that Configuration, exactly as the facade would set them up.
 */
export interface BrokerClient {
  readonly orders: OrdersApi;
  readonly activities: trading.AccountActivitiesApi;
  readonly positions: trading.PositionsApi;
  readonly account: trading.AccountsApi;
  readonly apiUrl: string;
  readonly streamUrl: string;
  /** HTTP requests sent so far (every attempt, retries included). */
  requestCount(): number;
  /** Pages of FILL activities after `afterId` (exclusive), oldest first, following page tokens to the end. */
  fillActivityPages(afterId: string | null): AsyncGenerator<trading.GetAccountActivities200ResponseInner[]>;
  /** A trade_updates stream that reconnects forever; call connect() on it. */
  createStream(): streaming.TradingStream;
}

export const ACTIVITY_PAGE_SIZE = 100;

export function streamUrlFor(apiUrl: string): string {
  const u = new URL(apiUrl);
  u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
  u.pathname = `${u.pathname.replace(/\/+$/, '')}/stream`;
  return u.toString();
}

export function createBrokerClient(
  endpoints: BrokerEndpoints,
  options: { log?: Logger; rateLimit?: RateLimitConfig | false; maxRetries?: number } = {},
): BrokerClient {
  const apiUrl = endpoints.apiUrl ?? (endpoints.paper ? trading.TRADING_PAPER_HOST : trading.TRADING_LIVE_HOST);
  const streamUrl = endpoints.streamUrl ?? streamUrlFor(apiUrl);
  const log = options.log;
  let requests = 0;
  const config = new trading.Configuration({
    basePath: apiUrl,
    keyId: endpoints.keyId,
    secret: endpoints.secretKey,
    timeoutMs: 15_000,
    retry: {
      maxRetries: options.maxRetries ?? 6,
      retryDelayMs: 200,
      maxDelayMs: 5_000,
      onRetry: (e) => log?.debug({ event: 'broker_retry', method: e.method, url: e.url, status: e.status, attempt: e.attempt }, 'retrying broker request'),
      onGiveUp: (e) => log?.warn({ event: 'broker_gave_up', method: e.method, url: e.url, status: e.status, attempts: e.attempt }, 'broker request failed after retries'),
    },
    middleware: [
      {
        pre: async () => {
          requests += 1;
        },
      },
    ],
    rateLimit: options.rateLimit === false ? undefined : (options.rateLimit ?? { maxRequests: 200, intervalMs: 60_000 }),
  });
  const activities = new trading.AccountActivitiesApi(config);

  return {
    orders: new OrdersApi(config),
    activities,
    positions: new trading.PositionsApi(config),
    account: new trading.AccountsApi(config),
    apiUrl,
    streamUrl,
    requestCount: () => requests,
    async *fillActivityPages(afterId) {
      // GET /v2/account/activities?activity_types=FILL rather than /activities/FILL: in SDK
      // 4.0.2 the by-type endpoint maps every item as a non-trade activity and drops
      // order_id, cum_qty, price, side and transaction_time. Pages are followed by hand (as the
      // SDK's paginateCursor does) because the caller commits page by page.
      let token = afterId ?? undefined;
      const visited = new Set<string>();
      for (;;) {
        const page = await activities.getAccountActivities({
          activityTypes: ['FILL'],
          direction: 'asc',
          pageSize: ACTIVITY_PAGE_SIZE,
          pageToken: token,
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
