/**
 * Validates a POST /v2/orders body (Alpaca field names) into an OrderSpec, with
 * Alpaca's error codes: 40010001 for malformed/missing parameters, 42210000 for
 * requests that are well-formed but not allowed (symbol, crypto rules, sub-penny).
 */
import type { Asset, AssetCatalog } from './assets.js';
import { type Dec, isAbsent, parsePositiveDecimal } from './decimal.js';
import { decodeError, invalid, unprocessable } from './errors.js';
import { checkCryptoPrice, checkCryptoQty } from './crypto-grid.js';
import { MSG_EXTENDED, extendedHoursAllowed } from './order-sessions.js';
import {
  ORDER_TYPES,
  type OrderSpec,
  type OrderType,
  type Side,
  TIME_IN_FORCES,
  type TimeInForce,
} from './types.js';

export const CRYPTO_TYPES: readonly OrderType[] = ['market', 'limit', 'stop_limit'];
export const CRYPTO_TIFS: readonly TimeInForce[] = ['gtc', 'ioc'];
export const EQUITY_TIFS: readonly TimeInForce[] = ['day', 'gtc', 'ioc', 'fok'];

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Parse an optional positive decimal field; throws 422 naming the field. */
export function decimalField(body: Record<string, unknown>, name: string): Dec | null {
  const raw = body[name];
  if (isAbsent(raw)) return null;
  const parsed = parsePositiveDecimal(raw);
  if (parsed.ok) return parsed.value;
  if (parsed.reason === 'not_positive') throw invalid(`${name} must be > 0`);
  if (parsed.reason === 'too_precise') throw invalid(`${name} must have at most 9 decimal places`);
  throw invalid(`invalid ${name}`);
}

function stringField(body: Record<string, unknown>, name: string): string | null {
  const raw = body[name];
  if (isAbsent(raw)) return null;
  if (typeof raw !== 'string') throw invalid(`invalid ${name}`);
  return raw;
}

/** Equity prices: ≥ $1 at most 2 decimals, below $1 at most 4 (Alpaca's sub-penny rule). */
export function checkPriceIncrement(asset: Asset, name: string, price: Dec | null): void {
  if (asset.assetClass === 'crypto' && name !== 'trail') return checkCryptoPrice(asset, name, price);
  if (price === null || asset.assetClass !== 'us_equity') return;
  const maxDp = price.gte(1) ? 2 : 4;
  if (price.decimalPlaces() > maxDp) {
    throw unprocessable(
      `invalid ${name} ${price.toFixed()}. sub-penny increment does not fulfill minimum pricing criteria`,
    );
  }
}

export function checkTimeInForce(asset: Asset, tif: TimeInForce): void {
  if (asset.assetClass === 'crypto') {
    if (!CRYPTO_TIFS.includes(tif)) {
      throw unprocessable(`invalid crypto time_in_force: ${tif} (crypto orders accept gtc or ioc)`);
    }
  } else if (!EQUITY_TIFS.includes(tif)) {
    throw unprocessable(`time_in_force ${tif} is not supported by the simulator`);
  }
}

export function clientOrderIdField(body: Record<string, unknown>): string | null {
  const coid = stringField(body, 'client_order_id');
  if (coid !== null && coid.length > 128) {
    throw invalid('client_order_id must be no more than 128 characters');
  }
  return coid;
}

export function parseOrderRequest(body: unknown, assets: AssetCatalog): OrderSpec {
  if (!isPlainObject(body)) throw decodeError();

  const symbolRaw = stringField(body, 'symbol');
  if (symbolRaw === null) throw invalid('symbol is required');

  const hasQty = !isAbsent(body.qty);
  const hasNotional = !isAbsent(body.notional);
  if (!hasQty && !hasNotional) throw invalid('qty or notional is required');
  if (hasQty && hasNotional) throw invalid('only one of qty or notional is accepted');

  const sideRaw = stringField(body, 'side');
  if (sideRaw === null) throw invalid('side is required');
  if (sideRaw !== 'buy' && sideRaw !== 'sell') throw invalid(`invalid side: ${sideRaw}`);
  const side: Side = sideRaw;

  const typeRaw = stringField(body, 'type') ?? stringField(body, 'order_type');
  if (typeRaw === null) throw invalid('type is required');
  const type = ORDER_TYPES.find((t) => t === typeRaw);
  if (!type) throw invalid(`invalid order type: ${typeRaw}`);

  const tifRaw = stringField(body, 'time_in_force');
  if (tifRaw === null) throw invalid('time_in_force is required');
  const timeInForce = TIME_IN_FORCES.find((t) => t === tifRaw);
  if (!timeInForce) throw invalid(`invalid time_in_force: ${tifRaw}`);

  const qty = decimalField(body, 'qty');
  const notional = decimalField(body, 'notional');

  const orderClassRaw = stringField(body, 'order_class') ?? '';
  if (orderClassRaw !== '' && orderClassRaw !== 'simple') {
    throw unprocessable(`order_class ${orderClassRaw} is not supported by the simulator`);
  }

  const extendedRaw = body.extended_hours;
  if (!isAbsent(extendedRaw) && typeof extendedRaw !== 'boolean') throw invalid('invalid extended_hours');
  const extendedHours = extendedRaw === true;

  const clientOrderId = clientOrderIdField(body);

  const asset = assets.resolve(symbolRaw);
  if (!asset) throw unprocessable('invalid symbol');

  if (asset.assetClass === 'crypto' && !CRYPTO_TYPES.includes(type)) {
    throw unprocessable(`invalid order type for crypto order: ${type} (crypto accepts market, limit, stop_limit)`);
  }
  checkTimeInForce(asset, timeInForce);
  if (type === 'trailing_stop' && timeInForce !== 'day' && timeInForce !== 'gtc') {
    throw unprocessable('trailing_stop orders must be day or gtc');
  }
  if (notional !== null && type !== 'market') {
    throw unprocessable('notional orders are only supported for market orders');
  }

  const wantsLimit = type === 'limit' || type === 'stop_limit';
  const wantsStop = type === 'stop' || type === 'stop_limit';
  const limitPrice = wantsLimit ? decimalField(body, 'limit_price') : null;
  const stopPrice = wantsStop ? decimalField(body, 'stop_price') : null;
  if (wantsLimit && limitPrice === null) throw invalid('limit_price is required');
  if (wantsStop && stopPrice === null) throw invalid('stop_price is required');

  let trailPrice: Dec | null = null;
  let trailPercent: Dec | null = null;
  if (type === 'trailing_stop') {
    trailPrice = decimalField(body, 'trail_price');
    trailPercent = decimalField(body, 'trail_percent');
    if (trailPrice === null && trailPercent === null) throw invalid('trail_price or trail_percent is required');
    if (trailPrice !== null && trailPercent !== null) {
      throw invalid('only one of trail_price or trail_percent is accepted');
    }
    if (trailPercent !== null && trailPercent.gte(100)) throw invalid('trail_percent must be < 100');
  }
  checkPriceIncrement(asset, 'limit_price', limitPrice);
  checkPriceIncrement(asset, 'stop_price', stopPrice);
  checkPriceIncrement(asset, 'trail_price', trailPrice);
  checkCryptoQty(asset, qty);

  if (extendedHours && asset.assetClass === 'us_equity' && !extendedHoursAllowed(type, timeInForce)) {
    throw unprocessable(MSG_EXTENDED);
  }

  return {
    asset,
    side,
    type,
    timeInForce,
    qty,
    notional,
    limitPrice,
    stopPrice,
    trailPrice,
    trailPercent,
    extendedHours,
    orderClass: orderClassRaw,
    clientOrderId,
  };
}
