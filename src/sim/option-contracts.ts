/**
 * Option contracts by OCC symbol (`AAPL250620C00100000`: root, expiry YYMMDD, C/P, strike × 1000 in 8
 * digits; spec OptionOrderResponse example, test/fixtures/alpaca/order-option-limit-pending-new.json):
 * an asset of class `us_option` on a known equity underlying, 100 shares per contract. An OCC symbol
 * on an unknown underlying does not resolve (orders: Alpaca's 404 `option contract … not found`,
 * error-404-option-contract-not-found.json). Order rules (option-rules.ts) and exercise / assignment
 * (option-events.ts) use these terms.
 */
import type { Asset } from './assets.js';
import { Dec, ZERO, fmt } from './decimal.js';

export interface OptionTerms {
  underlying: string;
  /** `YYYY-MM-DD`. */
  expiration: string;
  type: 'call' | 'put';
  strike: Dec;
}

const OCC_RE = /^([A-Z]{1,6})(\d{2})(\d{2})(\d{2})([CP])(\d{8})$/;

export const OPTION_MULTIPLIER = 100;

export function parseOcc(symbol: string): OptionTerms | null {
  const m = OCC_RE.exec(symbol);
  if (!m) return null;
  const [, root, yy, mm, dd, cp, strike] = m;
  return {
    underlying: root ?? '',
    expiration: `20${yy}-${mm}-${dd}`,
    type: cp === 'C' ? 'call' : 'put',
    strike: new Dec(strike ?? '0').div(1000),
  };
}

/**
 * The contract's asset, or null when the symbol is no OCC symbol or its underlying is not an equity
 * the simulator knows. Its starting price is its intrinsic value at the underlying's starting price
 * plus 1 (**ours**: a simple premium).
 */
export function optionAsset(symbol: string, resolve: (s: string) => Asset | null, uuidOf: (s: string) => string): Asset | null {
  const terms = parseOcc(symbol);
  const under = terms ? resolve(terms.underlying) : null;
  if (!terms || !under || under.assetClass !== 'us_equity') return null;
  const spot = new Dec(under.seedPrice);
  const intrinsic = Dec.max(terms.type === 'call' ? spot.minus(terms.strike) : terms.strike.minus(spot), ZERO);
  return {
    symbol,
    id: uuidOf(symbol),
    assetClass: 'us_option',
    exchange: '',
    marginable: false,
    seedPrice: fmt(intrinsic.plus(1)),
    name: `${terms.underlying} ${terms.expiration} ${terms.type} ${fmt(terms.strike)}`,
    base: null,
    minOrderSize: null,
    minTradeIncrement: null,
    priceIncrement: null,
    multiplier: OPTION_MULTIPLIER,
    option: terms,
  };
}
