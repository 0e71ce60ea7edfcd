/**
 * Serializes a SimOrder to Alpaca's wire JSON (keys as in order-limit-accepted.json, plus the spec's
 * `expires_at` on GTC orders: the aged order policy's deadline; absent on others).
 */
import { legacySymbol } from './assets.js';
import { rfc3339 } from './clock.js';
import { fmt, fmtDp, fmtNullable } from './decimal.js';
import type { SimOrder } from './types.js';

const ts = (micros: number | null): string | null => (micros === null ? null : rfc3339(micros));

export function orderJson(o: SimOrder): Record<string, unknown> {
  return {
    asset_class: o.asset.assetClass,
    asset_id: o.asset.id,
    canceled_at: ts(o.canceledAt),
    client_order_id: o.clientOrderId,
    created_at: rfc3339(o.createdAt),
    expired_at: ts(o.expiredAt),
    // Whole seconds, as in the spec's example ("2024-12-10T21:00:00Z").
    ...(o.expiresAt !== null ? { expires_at: rfc3339(o.expiresAt).replace(/\.\d+Z$/, 'Z') } : {}),
    extended_hours: o.extendedHours,
    failed_at: ts(o.failedAt),
    filled_at: ts(o.filledAt),
    filled_avg_price: o.filledQty.isZero() ? null : fmtDp(o.filledValue.div(o.filledQty), 9),
    filled_qty: fmt(o.filledQty),
    hwm: fmtNullable(o.hwm),
    id: o.id,
    legs: null,
    limit_price: fmtNullable(o.limitPrice),
    notional: fmtNullable(o.notional),
    order_class: o.orderClass,
    order_type: o.type,
    qty: fmtNullable(o.qty),
    replaced_at: ts(o.replacedAt),
    replaced_by: o.replacedBy,
    replaces: o.replaces,
    side: o.side,
    source: null,
    status: o.status,
    stop_price: fmtNullable(o.stopPrice),
    submitted_at: rfc3339(o.submittedAt),
    subtag: null,
    symbol: o.legacySymbol ? legacySymbol(o.asset) : o.asset.symbol,
    time_in_force: o.timeInForce,
    trail_percent: fmtNullable(o.trailPercent),
    trail_price: fmtNullable(o.trailPrice),
    type: o.type,
    updated_at: rfc3339(o.updatedAt),
  };
}
