/**
 * Order rules for option contracts (OCC symbols, option-contracts.ts), checked in `engine.place` (so
 * `/_sim/trade` too):
 * - Order types (Alpaca changelog 2026-08-27 "Options orders support stop and stop limit order types":
 *   options take market, limit, stop, stop_limit; before it, market and limit only, docs "Options
 *   trading"). Setting `stop_orders` (POST /_sim/options; default true, the changelog's rule) — false
 *   restores the older market/limit-only rule. A refused type gets 422
 *   `{"code":42210000,"message":"invalid options order_type"}` (the body a user got for an option stop
 *   order in 2024, alpaca-trade-api-csharp#746). trailing_stop is refused either way.
 * - Whole contracts only: a fractional qty gets 422 `{"code":40010001,"message":"qty must be integer"}`
 *   (Alpaca's wording for a non-whole qty, error-422-qty-must-be-integer.json; **ours** for options), and
 *   a notional order 422 `notional orders are not supported for options` (**wording ours**).
 * - No extended hours: 422 `extended hours orders are not supported for options` (**wording ours**);
 *   options act in the regular session only (order-sessions.ts).
 */
import { invalid, unprocessable } from './errors.js';
import type { OrderSpec, OrderType } from './types.js';

export class OptionRules {
  /** Stop and stop_limit orders on contracts (changelog 2026-08-27); false: market and limit only. */
  stopOrders = true;

  types(): readonly OrderType[] {
    return this.stopOrders ? ['market', 'limit', 'stop', 'stop_limit'] : ['market', 'limit'];
  }

  check(spec: Pick<OrderSpec, 'asset' | 'type' | 'qty' | 'notional' | 'extendedHours'>): void {
    if (spec.asset.assetClass !== 'us_option') return;
    if (!this.types().includes(spec.type)) throw unprocessable('invalid options order_type');
    if (spec.notional !== null) throw unprocessable('notional orders are not supported for options');
    if (spec.qty !== null && !spec.qty.isInteger()) throw invalid('qty must be integer');
    if (spec.extendedHours) throw unprocessable('extended hours orders are not supported for options');
  }

  json(): Record<string, unknown> {
    return { stop_orders: this.stopOrders, order_types: this.types() };
  }

  update(body: Record<string, unknown>): Record<string, unknown> {
    for (const [key, value] of Object.entries(body)) {
      if (key !== 'stop_orders') throw invalid(`unknown option setting: ${key}`);
      if (typeof value !== 'boolean') throw invalid('stop_orders must be true or false');
    }
    if (typeof body.stop_orders === 'boolean') this.stopOrders = body.stop_orders;
    return this.json();
  }
}
