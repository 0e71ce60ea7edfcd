/**
 * Bodies of the activity events (activity-events.ts) in the shape of SDK 4.0.2's ActivityEventV2
 * (`ActivityEventV2ToJSON` key names): `executed_at`, `net_amount`, `previous_id`, `price`, `qty`,
 * `ref_id`, `settle_date`, `status`, `details`, and the optional `asset` {id, symbol} (Alpaca changelog
 * 2026-10-28 "New asset object on Activities V2 events"; for options the contract).
 * - Trades (`activity_type` "TRD", the name of the SDK's ActivityV2DetailTRD detail schema; **ours**: no
 *   published sample shows the value): `ref_id` is the execution id (SDK: "For trades, the execution_id
 *   is used"), `details` are ActivityV2DetailTRD's fields with `execution_type` fill / partial_fill
 *   (changelog 2026-11-06: partial fills are emitted as `partial_fill`) / trade_correct / trade_bust,
 *   and a correction or bust names the execution it changes in `previous_id`.
 * - Non-trade activities (CFEE, OPASN, OPEXC, OPTRD): `ref_id` is the activity's own id (SDK: "for
 *   other activities the trns_id is used"); `details` keep `symbol` (and for options `contract_symbol`,
 *   changelog 2026-08-24 "New symbol fields on options activity events"). **Ours:** the NTA detail
 *   schema's many corporate-action fields are left out.
 * `settle_date`: the next trading day for equities and options (T+1), the trade date for crypto (**ours**).
 */
import type { Asset } from './assets.js';
import { nextTradingDay } from './calendar.js';
import { nyDate, rfc3339 } from './clock.js';
import { type Dec, fmt } from './decimal.js';
import type { EventBody } from './activity-events.js';
import type { OrderStatus, Side, SimOrder } from './types.js';

export type ExecutionType = 'fill' | 'partial_fill' | 'trade_correct' | 'trade_bust';

export interface ExecutionView {
  executionId: string;
  /** The execution a correction or bust changes; null for fills. */
  previousId: string | null;
  executionType: ExecutionType;
  executedMicros: number;
  order: SimOrder;
  symbol: string;
  side: Side;
  qty: Dec;
  price: Dec;
  cumQty: Dec;
  leavesQty: Dec;
  orderStatus: OrderStatus;
}

/** Contract multiplier: 100 shares per option contract, 1 otherwise. */
export const multiplierOf = (asset: Asset): number => asset.multiplier ?? 1;

export function settleDate(asset: Asset, micros: number): string {
  const day = nyDate(micros);
  return asset.assetClass === 'crypto' ? day : nextTradingDay(day);
}

const assetRef = (asset: Asset): Record<string, string> => ({ id: asset.id, symbol: asset.symbol });

/** Cash the execution moves: paid (negative) for a buy, received for a sell; a bust moves it back. */
function tradeNet(e: ExecutionView): Dec {
  const gross = e.qty.times(e.price).times(multiplierOf(e.order.asset));
  const paid = e.side === 'buy' ? gross.neg() : gross;
  return e.executionType === 'trade_bust' ? paid.neg() : paid;
}

export function tradeEventBody(e: ExecutionView): EventBody {
  return {
    executed_at: rfc3339(e.executedMicros),
    net_amount: fmt(tradeNet(e)),
    ...(e.previousId === null ? {} : { previous_id: e.previousId }),
    price: fmt(e.price),
    qty: fmt(e.qty),
    ref_id: e.executionId,
    settle_date: settleDate(e.order.asset, e.executedMicros),
    status: 'executed',
    details: {
      asset_id: e.order.asset.id,
      client_order_id: e.order.clientOrderId,
      commission: '0',
      cum_qty: fmt(e.cumQty),
      execution_type: e.executionType,
      leaves_qty: fmt(e.leavesQty),
      order_id: e.order.id,
      order_status: e.orderStatus,
      side: e.side,
      symbol: e.symbol,
    },
    asset: assetRef(e.order.asset),
  };
}

export interface NonTradeView {
  refId: string;
  micros: number;
  asset: Asset;
  /** Signed, as the REST activity shows it. */
  qty: Dec;
  price: Dec | null;
  netAmount: Dec;
  details: Record<string, unknown>;
}

export function nonTradeEventBody(n: NonTradeView): EventBody {
  return {
    executed_at: rfc3339(n.micros),
    net_amount: fmt(n.netAmount),
    ...(n.price === null ? {} : { price: fmt(n.price) }),
    qty: fmt(n.qty),
    ref_id: n.refId,
    settle_date: settleDate(n.asset, n.micros),
    status: 'executed',
    details: n.details,
    asset: assetRef(n.asset),
  };
}
