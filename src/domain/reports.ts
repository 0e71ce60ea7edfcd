/**
 * Broker reports: the plain, venue-agnostic shapes the rest of the service consumes
 * (DESIGN §1). Money and quantities are canonical decimal strings; times are ISO-8601 strings.
 * src/broker/adapter.ts makes them from the SDK's objects; the machines, the runtime and the
 * store read them. Pure: no imports.
 */

export type Side = 'buy' | 'sell';

export interface OrderReport {
  orderId: string;
  clientOrderId: string;
  symbol: string;
  assetClass: string;
  side: Side;
  type: string;
  timeInForce: string | null;
  /** Alpaca's status; which ones are final is decided in one place, src/domain/orders.ts. */
  status: string;
  qty: string | null;
  notional: string | null;
  filledQty: string;
  filledAvgPrice: string | null;
  limitPrice: string | null;
  stopPrice: string | null;
  trailPercent: string | null;
  trailPrice: string | null;
  replacedBy: string | null;
  replaces: string | null;
  submittedAt: string | null;
  updatedAt: string | null;
  filledAt: string | null;
  /** A GTC order's aged-order deadline (`expires_at`: Alpaca cancels it then), ISO UTC to the ms; null for others. */
  expiresAt: string | null;
}

/** Where a report came from: trade_updates, REST activities, an order read, the activity event stream. */
export type ExecutionSource = 'stream' | 'activity' | 'order' | 'event';

/**
 * One execution, or (source "order") the cumulative state of an order's executions.
 * Identity is (orderId, cumQty): cumQty strictly grows per order (DESIGN §3.2).
 */
export interface ExecutionReport {
  orderId: string;
  symbol: string;
  side: Side;
  source: ExecutionSource;
  /** Cumulative filled quantity of the order after this execution. */
  cumQty: string;
  /** This execution's own quantity and price; null for an order snapshot, which only knows totals. */
  qty: string | null;
  price: string | null;
  /** The order's VWAP after this execution, when the source tells it. */
  avgPrice: string | null;
  /** The id of the report: broker execution id (stream), activity id (activities API), event id (event stream). */
  execId: string | null;
  /**
   * The broker's execution id (trade_updates `execution_id`, the event stream's trade `ref_id`); null
   * where the source has none (REST FILL activities, order snapshots).
   */
  executionId: string | null;
  /**
   * Set by the runtime on a report whose `executionId` a fill of the ledger holds already, for an
   * order a bust or correction changed (machines/fill-plan.ts): a replay of that execution, not a new one.
   */
  executionRecorded?: boolean;
  /** The order's status right after this execution, when the source tells it. */
  orderStatus: string | null;
  at: string;
}

/**
 * A trade bust or correction (the activity event stream's trade with `execution_type` `trade_bust` /
 * `trade_correct`): the venue took an execution back, or changed its terms, after the fact. It names
 * the execution it changes (`previousId`: a fill's execution id, or an earlier correction's `refId`)
 * and has an execution id of its own (`refId`), the key it is applied once by.
 */
export interface ExecutionChange {
  type: 'bust' | 'correct';
  /** The change's own execution id (the event's `ref_id`). */
  refId: string;
  /** The execution it busts or corrects. */
  previousId: string;
  /** A correction's new terms, as a whole (not a difference); a bust's: the busted execution's, when told. */
  qty: string | null;
  price: string | null;
  /** From the event's details, where present. */
  orderId: string | null;
  symbol: string | null;
  side: Side | null;
  at: string;
}

/**
 * A crypto fee taken in the coin (Alpaca's CFEE activity; docs "Crypto fees", alpaca-py#374): a buy
 * of q leaves q less the fee in the position, and the fee is reported on its own. Identity: the
 * activity id (one row per fee, DESIGN §3.2 as for fills).
 */
export interface FeeReport {
  activityId: string;
  /** The pair form the service uses (`BTC/USD`), whatever form the activity spelled. */
  symbol: string;
  /** The coin taken, positive (the activity shows it negative). */
  qty: string;
  /** The price the activity quotes (its fill's), when given. */
  price: string | null;
  /**
   * When it was taken, as precisely as the activity tells (transaction time, its id's time); known
   * only by its day (a midnight id, a date): when it was read, or that New York day's end if sooner.
   */
  at: string;
  /**
   * `at` is the moment the fee was taken (a transaction time, or its id's time to the millisecond),
   * not only its day (a date, or an id stamped at midnight as end-of-day postings are).
   */
  timed: boolean;
}

export type TradeUpdateEvent =
  | 'new'
  | 'fill'
  | 'partial_fill'
  | 'canceled'
  | 'expired'
  | 'done_for_day'
  | 'replaced'
  | 'rejected'
  | 'pending_new'
  | 'stopped'
  | 'pending_cancel'
  | 'pending_replace'
  | 'calculated'
  | 'suspended'
  | 'order_replace_rejected'
  | 'order_cancel_rejected'
  | (string & {});

export interface TradeUpdateReport {
  event: TradeUpdateEvent;
  at: string;
  order: OrderReport;
  /** Present for fill and partial_fill events. */
  execution: ExecutionReport | null;
  positionQty: string | null;
}

export type Parsed<T> = { ok: true; value: T } | { ok: false; reason: string };

/** The cumulative execution state an order snapshot carries; null when nothing is filled. */
export function executionFromOrder(order: OrderReport): ExecutionReport | null {
  if (order.filledQty === '0') return null;
  return {
    orderId: order.orderId,
    symbol: order.symbol,
    side: order.side,
    source: 'order',
    cumQty: order.filledQty,
    qty: null,
    price: null,
    avgPrice: order.filledAvgPrice,
    execId: null,
    executionId: null,
    orderStatus: order.status,
    at: order.filledAt ?? order.updatedAt ?? new Date(0).toISOString(),
  };
}
