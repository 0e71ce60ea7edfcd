/**
 * Every request the simulator's API answered, in arrival order (GET /_sim/requests): what a checker
 * judges "who sent what, when" from, on the broker's side, instead of the client's own logs. Not an
 * Alpaca feature. A request carrying `X-Sim-Source` is tagged with it (a test's per-instance proxy
 * sets it, so several clients on one key pair can be told apart). Bounded: the oldest entries go.
 */
import type Koa from 'koa';

export const SOURCE_HEADER = 'x-sim-source';

export interface LoggedRequest {
  /** 1, 2, 3… in arrival order; never reused. */
  seq: number;
  /** Arrival, epoch ms (wall clock, comparable with a test's Date.now()). */
  at: number;
  method: string;
  path: string;
  /** The query string, without `?` ("" when none). */
  query: string;
  /** Final HTTP status (faults and refusals included). */
  status: number;
  /** The body's client_order_id, else that of the order the path names, else the answer's. */
  client_order_id: string | null;
  /** The body's symbol, else that of the order the path names. */
  symbol: string | null;
  /** The X-Sim-Source header, if any. */
  source: string | null;
  /** The answer's `message` when refused (status ≥ 400). */
  error: string | null;
}

/** Looks up an order the path names (`/v2/orders/{id}`) for its client order id and symbol. */
export type OrderLookup = (id: string) => { clientOrderId: string; asset: { symbol: string } } | undefined;

export class RequestLog {
  private readonly entries: LoggedRequest[] = [];
  private next = 1;

  constructor(private readonly capacity = 100_000) {}

  record(entry: Omit<LoggedRequest, 'seq'>): void {
    this.entries.push({ seq: this.next++, ...entry });
    if (this.entries.length > this.capacity) this.entries.splice(0, this.entries.length - this.capacity);
  }

  /** Entries after `afterSeq` (at most `limit`), optionally of one source; `first_seq` tells whether older ones were dropped. */
  read(afterSeq: number, limit: number, source?: string): { first_seq: number; next_seq: number; entries: LoggedRequest[] } {
    const out: LoggedRequest[] = [];
    for (const e of this.entries) {
      if (e.seq <= afterSeq || (source !== undefined && e.source !== source)) continue;
      out.push(e);
      if (out.length >= limit) break;
    }
    return { first_seq: this.entries[0]?.seq ?? this.next, next_seq: this.next, entries: out };
  }
}

const ORDER_PATH = /^\/v2\/orders\/([0-9a-fA-F-]{36})$/;
const str = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : null);
const field = (o: unknown, k: string): unknown => (o !== null && typeof o === 'object' ? (o as Record<string, unknown>)[k] : undefined);

/**
 * Koa middleware (first in the chain, so it sees the final status): logs every request but /_sim's.
 * The parsed body is read from `ctx.state.json` (http/body.ts puts it there).
 */
export function logRequests(log: RequestLog, order: OrderLookup): Koa.Middleware {
  return async (ctx, next) => {
    if (ctx.path === '/_sim' || ctx.path.startsWith('/_sim/')) return next();
    const at = Date.now();
    try {
      await next();
    } finally {
      const body: unknown = ctx.state.json;
      const id = ORDER_PATH.exec(ctx.path)?.[1]?.toLowerCase();
      const named = id ? order(id) : undefined;
      log.record({
        at,
        method: ctx.method,
        path: ctx.path,
        query: ctx.querystring,
        status: ctx.status,
        client_order_id: str(field(body, 'client_order_id')) ?? named?.clientOrderId ?? str(field(ctx.body, 'client_order_id')),
        symbol: str(field(body, 'symbol')) ?? named?.asset.symbol ?? null,
        source: str(ctx.get(SOURCE_HEADER)),
        error: ctx.status >= 400 ? str(field(ctx.body, 'message')) : null,
      });
    }
  };
}
