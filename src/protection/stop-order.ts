import type { trading } from '@alpacahq/alpaca-trade-api';
import { D, normalize } from '../decimal.js';
import type { StopIntent } from '../domain/protection.js';
import { isCrypto } from '../domain/symbols.js';

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

/** Crypto: the stop price for a reference price, `price × (1 − trail%)`, rounded down to cents. */
export function cryptoStopPrice(price: string, trailPercent: string): string {
  const stop = new D(price).times(new D(1).minus(new D(trailPercent).div(100)));
  return normalize(stop.toDecimalPlaces(2, D.ROUND_DOWN));
}

function cryptoLimitPrice(stop: string, settings: StopSettings): string {
  const limit = new D(stop).times(new D(1).minus(new D(settings.cryptoLimitSlippagePercent).div(100)));
  return normalize(limit.toDecimalPlaces(2, D.ROUND_DOWN));
}

export function newStopOrder(intent: StopIntent, qty: string, clientOrderId: string, stopPrice: string | null, settings: StopSettings): trading.PostOrderRequest {
  if (isCrypto(intent.symbol, intent.assetClass)) {
    if (!stopPrice) throw new Error(`crypto stop for ${intent.symbol} needs a stop price`);
    return {
      symbol: intent.symbol,
      qty,
      side: intent.side,
      type: 'stop_limit',
      timeInForce: 'gtc',
      stopPrice,
      limitPrice: cryptoLimitPrice(stopPrice, settings),
      clientOrderId,
    };
  }
  return {
    symbol: intent.symbol,
    qty,
    side: intent.side,
    type: 'trailing_stop',
    timeInForce: 'gtc',
    trailPercent: settings.trailPercent,
    clientOrderId,
  };
}

export function replaceStopOrder(intent: StopIntent, qty: string, clientOrderId: string, stopPrice: string | null, settings: StopSettings): trading.PatchOrderRequest {
  if (isCrypto(intent.symbol, intent.assetClass)) {
    if (!stopPrice) throw new Error(`crypto stop for ${intent.symbol} needs a stop price`);
    return { qty, stopPrice, limitPrice: cryptoLimitPrice(stopPrice, settings), clientOrderId };
  }
  return { qty, trail: settings.trailPercent, clientOrderId };
}
