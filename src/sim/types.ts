/** Internal records of the simulator (wire JSON is built from these in order-json.ts etc.). */
import type { Asset } from './assets.js';
import type { Dec } from './decimal.js';

export type Side = 'buy' | 'sell';
export type OrderType = 'market' | 'limit' | 'stop' | 'stop_limit' | 'trailing_stop';
export type TimeInForce = 'day' | 'gtc' | 'opg' | 'cls' | 'ioc' | 'fok';
export type OrderStatus =
  | 'new'
  | 'partially_filled'
  | 'filled'
  | 'canceled'
  | 'expired'
  | 'rejected'
  | 'replaced'
  /** No more fills today; the order stays open for the next session (docs "Orders", order lifecycle). */
  | 'done_for_day'
  /** A fill is guaranteed but has not happened yet; the order stays open. */
  | 'stopped'
  /** Received but not yet routed (equity orders taken while the session is closed; session.ts). */
  | 'accepted'
  /** Routed, not yet acknowledged / cancel or replace requested (set by POST /_sim/order-event). */
  | 'pending_new'
  | 'pending_cancel'
  | 'pending_replace';

export const ORDER_TYPES: readonly OrderType[] = ['market', 'limit', 'stop', 'stop_limit', 'trailing_stop'];
export const TIME_IN_FORCES: readonly TimeInForce[] = ['day', 'gtc', 'opg', 'cls', 'ioc', 'fok'];
export const OPEN_STATUSES: ReadonlySet<OrderStatus> = new Set([
  'new',
  'partially_filled',
  'done_for_day',
  'stopped',
  'accepted',
  'pending_new',
  'pending_cancel',
  'pending_replace',
]);

/** Events an open order can be put through by POST /_sim/order-event: it stays open for later fills. */
export const ORDER_EVENTS = ['done_for_day', 'stopped', 'pending_new', 'pending_cancel', 'pending_replace'] as const;
export type OrderEventName = (typeof ORDER_EVENTS)[number];

/** A validated order request (POST /v2/orders, /_sim/trade). */
export interface OrderSpec {
  asset: Asset;
  side: Side;
  type: OrderType;
  timeInForce: TimeInForce;
  qty: Dec | null;
  notional: Dec | null;
  limitPrice: Dec | null;
  stopPrice: Dec | null;
  trailPrice: Dec | null;
  trailPercent: Dec | null;
  extendedHours: boolean;
  orderClass: '' | 'simple';
  clientOrderId: string | null;
}

/** A validated replace request (PATCH /v2/orders/{id}); absent fields keep the old value. */
export interface ReplaceSpec {
  qty?: Dec;
  timeInForce?: TimeInForce;
  limitPrice?: Dec;
  stopPrice?: Dec;
  trail?: Dec;
  clientOrderId?: string;
}

export type OrderOrigin = 'api' | 'outside';

/** An order as the simulator keeps it: the request's fields plus its life at the broker. */
export interface SimOrder extends Omit<OrderSpec, 'clientOrderId'> {
  /** Creation sequence number (orders are kept in this order forever). */
  seq: number;
  id: string;
  clientOrderId: string;
  hwm: Dec | null;
  status: OrderStatus;
  filledQty: Dec;
  /** Σ qty × price over this order's fills (for the VWAP). */
  filledValue: Dec;
  createdAt: number;
  updatedAt: number;
  submittedAt: number;
  filledAt: number | null;
  canceledAt: number | null;
  expiredAt: number | null;
  /** GTC: when the aged order policy cancels it (epoch µs, 16:15 ET 90 days on); else null. */
  expiresAt: number | null;
  failedAt: number | null;
  replacedAt: number | null;
  replacedBy: string | null;
  replaces: string | null;
  /** stop / stop_limit: the stop price has been reached. */
  triggered: boolean;
  /** False for outside orders placed with fill "none"/"partial": only /_sim/fill fills them. */
  autoFill: boolean;
  origin: OrderOrigin;
  /** Crypto: its JSON and FILL activities show the legacy `BTCUSD` (crypto-rules.ts `legacy_symbols`). */
  legacySymbol?: boolean;
}

export interface FillRecord {
  /** Activity id `YYYYMMDDHHMMSSmmm::<uuid>`. */
  id: string;
  executionId: string;
  micros: number;
  orderId: string;
  symbol: string;
  side: Side;
  qty: Dec;
  price: Dec;
  cumQty: Dec;
  leavesQty: Dec;
  orderStatus: OrderStatus;
  type: 'fill' | 'partial_fill';
  positionQty: Dec;
}

export type TradeEventName =
  | 'new'
  | 'fill'
  | 'partial_fill'
  | 'canceled'
  | 'expired'
  | 'replaced'
  | 'rejected'
  /** The replacement lost the race with a fill of the original (spec PATCH /v2/orders/{order_id}). */
  | 'order_replace_rejected'
  | OrderEventName;

/** One trade_updates event: `data` is the exact wire object sent on the stream. */
export interface TradeEvent {
  event: TradeEventName;
  orderId: string;
  data: Record<string, unknown>;
}
