import { D, normalize } from '../src/decimal.js';
import { stopAsk } from '../src/domain/protection.js';
import { isCrypto } from '../src/domain/symbols.js';
import { floorToIncrement } from '../src/domain/grid.js';
import { stopWants } from './position.js';

/**
 * The rules a protective stop's machine (machines/stop.ts) applies: how a broker refusal is
 * classified, how long each kind of failure waits, and whether a placed stop is what is wanted
 * (pure, no I/O).
 */

/**
 * Why the broker refused a stop (stored as `<kind>: <message>` in `last_error`), from Alpaca's
 * answers (alpaca-rules.md): a crossing order of the account's own (`wash_trade`, 403 "potential wash
 * trade detected"), shares or coins held by other orders or taken by the fee (`insufficient_qty`, 403
 * "insufficient qty available" / "insufficient balance"), a fractional quantity in an order type or
 * time in force that does not take one (`fractional`, 422), pattern-day-trader protection (`pdt`,
 * 403), a quantity or price off the rules (`invalid`), keys without the right (`forbidden`).
 */
export type RefusalKind = 'wash_trade' | 'insufficient_qty' | 'fractional' | 'pdt' | 'invalid' | 'forbidden' | 'unknown';

/** Far in the future: nothing to do until something changes the stop (next_attempt_at). */
export const IDLE = 8_640_000_000_000_000;
/** A sent order not visible yet is looked up again after this (within the grace period). */
export const GRACE_RECHECK_MS = 1000;
/** A stop placed short of what it wants (another order holds the rest) tries to grow this often. */
export const SHORT_RECHECK_MS = 30_000;

const DUPLICATE = /client_order_id must be unique/i;
const NOT_CHANGED = /order parameters are not changed/i;

/** Alpaca's answer to a replace that changes nothing (403, alpaca-trade-api-js#123): the order stands as it was. */
export function isUnchangedReplace(status: number, message: string): boolean {
  return status === 403 && NOT_CHANGED.test(message);
}

/** Alpaca's answer when the client order id was used already: the order exists, adopt it. */
export function isDuplicateClientOrderId(status: number, message: string): boolean {
  return status === 422 && DUPLICATE.test(message);
}

/**
 * A definite refusal (nothing was placed) and its kind, or null when the answer is not one: a 404
 * (the lookup by client order id decides), a 422 duplicate (adopted), 408 / 429 / 5xx (the request
 * may or may not have landed: unknown).
 */
export function classifyRefusal(status: number, message: string): RefusalKind | null {
  if (status < 400 || status >= 500 || status === 404 || status === 408 || status === 429) return null;
  if (isDuplicateClientOrderId(status, message)) return null;
  if (/wash trade/i.test(message)) return 'wash_trade';
  if (/insufficient/i.test(message)) return 'insufficient_qty';
  if (/pattern day trad/i.test(message)) return 'pdt';
  if (/fractional/i.test(message)) return 'fractional';
  if (status === 401 || status === 403) return 'forbidden';
  if (status === 400 || status === 422) return 'invalid';
  return 'unknown';
}

/** After a failure whose outcome is unknown (or a send that could not be prepared): 1 s doubling to 60 s. */
export function retryBackoffMs(attempts: number): number {
  return Math.min(60_000, 500 * 2 ** Math.min(Math.max(attempts, 1), 7));
}

/**
 * After a refusal: 1 s doubling per attempt, capped at a minute for what may clear by itself
 * (quantity held by another order, an unexplained refusal) and at five minutes for what will not
 * without a change (invalid, forbidden). A change to the stop (a new ask, a resize) wakes it sooner.
 */
export function refusalBackoffMs(kind: RefusalKind, attempts: number): number {
  // A crossing order of the user's usually goes soon (filled or canceled): retried within a poll or two.
  if (kind === 'wash_trade') return Math.min(10_000, 1000 * 2 ** Math.min(Math.max(attempts, 1) - 1, 12));
  const cap = kind === 'invalid' || kind === 'forbidden' || kind === 'fractional' || kind === 'pdt' ? 300_000 : 60_000;
  return Math.min(cap, 1000 * 2 ** Math.min(Math.max(attempts, 1) - 1, 12));
}

/**
 * What the stop should cover now: the ask less what exits cut. An equity entry of one share or more
 * is covered by two stops: the whole shares by its trailing stop, the fraction by a `day` stop (its
 * `fraction` part); under one share, the first covers it all.
 */
export function wantedOf(row: { payload: string; cut_qty: string }): string {
  const ask = stopAsk(row);
  const left = stopWants({ asked: ask.qty, cut: row.cut_qty });
  // Crypto: on the asset's grid (a fee-net 0.09975 BTC is a 0.0997 stop where the increment is 0.0001).
  if (isCrypto(ask.symbol, ask.assetClass)) return ask.qtyIncrement ? floorToIncrement(left, ask.qtyIncrement) : left;
  return ask.part === 'fraction' ? fractionPart(left) : wholePart(left);
}

/** The whole shares of an equity quantity of one share or more; under one share, all of it. */
export function wholePart(qty: string): string {
  const q = new D(qty);
  return q.lt(1) ? qty : normalize(q.floor());
}

/** The fraction of an equity quantity of one share or more, which its trailing stop cannot take; under one share, nothing. */
export function fractionPart(qty: string): string {
  // Whole shares written without a point (the usual ask): no fraction, and no decimal arithmetic.
  if (/^\d+$/.test(qty)) return '0';
  const q = new D(qty);
  return q.lt(1) ? '0' : normalize(q.minus(q.floor()));
}

/**
 * A placed stop needs nothing: its quantity is what is wanted, (a trailing stop) its trail is the
 * one asked for, and (crypto) its stop is at the ratchet's target.
 */
export function placedAsWanted(row: {
  payload: string;
  cut_qty: string;
  placed_qty: string | null;
  placed_stop_price: string | null;
  placed_trail_percent: string | null;
  target_stop_price: string | null;
}): boolean {
  if (row.placed_qty === null || !new D(row.placed_qty).eq(wantedOf(row))) return false;
  const ask = stopAsk(row);
  if (ask.trailPercent !== undefined && row.placed_trail_percent !== null && !new D(row.placed_trail_percent).eq(ask.trailPercent)) return false;
  if (!isCrypto(ask.symbol, ask.assetClass) || row.target_stop_price === null) return true;
  return row.placed_stop_price !== null && new D(row.placed_stop_price).gte(row.target_stop_price);
}

/**
 * A replace prepared for `qty` (and a crypto stop price, or a trailing stop's trail) would send what
 * the working order already has: Alpaca refuses such a PATCH (403 "order parameters are not changed").
 */
export function sameAsPlaced(
  row: { placed_qty: string | null; placed_stop_price: string | null; placed_trail_percent: string | null },
  send: { qty: string; stopPrice: string | null; trailPercent: string | null },
): boolean {
  if (row.placed_qty === null || !new D(row.placed_qty).eq(send.qty)) return false;
  if (send.stopPrice !== null) return row.placed_stop_price !== null && new D(row.placed_stop_price).eq(send.stopPrice);
  return send.trailPercent !== null && row.placed_trail_percent !== null && new D(row.placed_trail_percent).eq(send.trailPercent);
}
