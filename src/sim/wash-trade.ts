/**
 * Wash-trade protection (docs "User Protection", "Preventing Wash Trades": "does apply to crypto
 * trading"; the body as users report it: Alpaca forum "Potential trade wash detected",
 * Petersoj/alpaca-java#145). A new order is refused with 403
 * `{"code":40310000,"message":"potential wash trade detected. use complex orders"}` when the account
 * has an open order on the other side of the same symbol and, per the docs' table:
 * - both carry a limit price (limit or stop_limit): refused if the buy's limit >= the sell's limit;
 * - otherwise (either is market or stop): always refused.
 * Trailing stops are exempt (bracket and OCO orders, also exempt, are not simulated). Mode `crypto`
 * (default) applies it to crypto only, `all` to equities too, `off` nowhere.
 */
import { Dec } from './decimal.js';
import { SimError, CODE } from './errors.js';
import type { OrderSpec, SimOrder } from './types.js';

export const WASH_TRADE_MODES = ['crypto', 'all', 'off'] as const;
export type WashTradeMode = (typeof WASH_TRADE_MODES)[number];

export const WASH_TRADE_MESSAGE = 'potential wash trade detected. use complex orders';

export const washTradeRefusal = (): SimError =>
  new SimError(403, { code: CODE.FORBIDDEN, message: WASH_TRADE_MESSAGE });

type OrderShape = Pick<OrderSpec, 'asset' | 'side' | 'type' | 'limitPrice'>;

const hasLimit = (o: OrderShape): boolean => (o.type === 'limit' || o.type === 'stop_limit') && o.limitPrice !== null;

/** True when `a` and `b` (opposite sides) could trade with each other. */
export function couldInteract(a: OrderShape, b: OrderShape): boolean {
  if (a.type === 'trailing_stop' || b.type === 'trailing_stop') return false;
  if (!hasLimit(a) || !hasLimit(b)) return true;
  const buy = a.side === 'buy' ? a : b;
  const sell = a.side === 'buy' ? b : a;
  return (buy.limitPrice as Dec).gte(sell.limitPrice as Dec);
}

/** Throws the 403 when `order` would wash against one of the account's open orders. */
export function checkWashTrade(mode: WashTradeMode, order: OrderShape, open: readonly SimOrder[], excludeId: string | null = null): void {
  if (mode === 'off' || (mode === 'crypto' && order.asset.assetClass !== 'crypto')) return;
  for (const o of open) {
    if (o.id === excludeId || o.asset.symbol !== order.asset.symbol || o.side === order.side) continue;
    if (couldInteract(o, order)) throw washTradeRefusal();
  }
}
