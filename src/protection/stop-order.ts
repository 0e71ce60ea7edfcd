import type { trading } from '@alpacahq/alpaca-trade-api';
import { D, normalize } from '../decimal.js';
import type { StopAsk } from '../domain/protection.js';
import { isCrypto } from '../domain/symbols.js';
import { priceOnGrid } from '../domain/grid.js';

/**
 * The protective order for an entry (DESIGN §3.4). Equities: a native trailing stop
 * (`trail_percent`, gtc). Crypto has no trailing stop on Alpaca: a stop-limit whose stop the
 * ratchet raises as the price rises, so the position stays protected while the process is down.
 */

export interface StopSettings {
  trailPercent: string;
  /** Crypto stop-limit: how far below the stop the limit sits, in percent of the stop. */
  cryptoLimitSlippagePercent: string;
}

/** A fractional equity stop's price: `price × (1 − trail%)` rounded down to Alpaca's equity tick ($0.01 from $1, $0.0001 below). */
export function equityStopPrice(price: string, trailPercent: string): string {
  const stop = new D(price).times(new D(1).minus(new D(trailPercent).div(100)));
  return normalize(stop.toDecimalPlaces(stop.gte(1) ? 2 : 4, D.ROUND_DOWN));
}

/**
 * Crypto: the stop price for a reference price, `price × (1 − trail%)`, rounded down onto the
 * asset's `price_increment` (without one: cents from $1, else 8 significant places).
 */
export function cryptoStopPrice(price: string, trailPercent: string, priceIncrement: string | null = null): string {
  return priceOnGrid(new D(price).times(new D(1).minus(new D(trailPercent).div(100))), priceIncrement);
}

function cryptoLimitPrice(stop: string, settings: StopSettings, priceIncrement: string | null): string {
  return priceOnGrid(new D(stop).times(new D(1).minus(new D(settings.cryptoLimitSlippagePercent).div(100))), priceIncrement);
}

export function newStopOrder(
  ask: StopAsk,
  qty: string,
  clientOrderId: string,
  stopPrice: string | null,
  settings: StopSettings,
  priceIncrement: string | null = null,
): trading.PostOrderRequest {
  if (isCrypto(ask.symbol, ask.assetClass)) {
    if (!stopPrice) throw new Error(`crypto stop for ${ask.symbol} needs a stop price`);
    return {
      symbol: ask.symbol,
      qty,
      side: ask.side,
      type: 'stop_limit',
      timeInForce: 'gtc',
      stopPrice,
      limitPrice: cryptoLimitPrice(stopPrice, settings, priceIncrement),
      clientOrderId,
    };
  }
  // Fractional shares: no trailing stop, day orders only (docs "Fractional trading"): a day stop,
  // placed again each session (it expires at the close and the stop machine re-places it).
  if (stopPrice !== null) return { symbol: ask.symbol, qty, side: ask.side, type: 'stop', timeInForce: 'day', stopPrice, clientOrderId };
  return {
    symbol: ask.symbol,
    qty,
    side: ask.side,
    type: 'trailing_stop',
    timeInForce: 'gtc',
    trailPercent: trailOf(ask, settings),
    clientOrderId,
  };
}

export function replaceStopOrder(
  ask: StopAsk,
  qty: string,
  clientOrderId: string,
  stopPrice: string | null,
  settings: StopSettings,
  priceIncrement: string | null = null,
): trading.PatchOrderRequest {
  if (isCrypto(ask.symbol, ask.assetClass)) {
    if (!stopPrice) throw new Error(`crypto stop for ${ask.symbol} needs a stop price`);
    return { qty, stopPrice, limitPrice: cryptoLimitPrice(stopPrice, settings, priceIncrement), clientOrderId };
  }
  if (stopPrice !== null) return { qty, stopPrice, clientOrderId };
  return { qty, trail: trailOf(ask, settings), clientOrderId };
}

/** How much a re-arm moves a trailing stop's trail (percentage points). */
export const REARM_TRAIL_STEP = '0.01';

/**
 * What a re-arm (a replace before Alpaca's aged-order deadline) changes, as Alpaca refuses a replace
 * that changes nothing (403 "order parameters are not changed"): a trailing stop placed at its own
 * trail goes 0.01 tighter, one placed otherwise back to its own; a stop price moves one tick (crypto:
 * the asset's price increment) away from the market.
 */
export function rearmChange(
  placed: { side: 'buy' | 'sell'; trailPercent: string | null; stopPrice: string | null },
  ownTrail: string,
  priceIncrement: string | null,
): { trailPercent: string } | { stopPrice: string } {
  if (placed.stopPrice === null) {
    if (placed.trailPercent === null || !new D(placed.trailPercent).eq(ownTrail)) return { trailPercent: ownTrail };
    const tighter = new D(ownTrail).minus(REARM_TRAIL_STEP);
    return { trailPercent: normalize(tighter.gt(0) ? tighter : new D(ownTrail).plus(REARM_TRAIL_STEP)) };
  }
  const p = new D(placed.stopPrice);
  const tick = priceIncrement && new D(priceIncrement).gt(0) ? new D(priceIncrement) : p.gte(1) ? new D('0.01') : new D(10).pow(p.e - 7);
  const away = placed.side === 'sell' ? p.minus(tick) : p.plus(tick);
  return { stopPrice: normalize(away.gt(0) ? away : p.plus(tick)) };
}

/** The stop's trail: the operator's for this stop, else the setting (CT_TRAIL_PERCENT). */
export function trailOf(ask: Pick<StopAsk, 'trailPercent'>, settings: Pick<StopSettings, 'trailPercent'>): string {
  return ask.trailPercent ?? settings.trailPercent;
}
