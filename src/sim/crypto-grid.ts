/**
 * Crypto order grids (docs "Crypto Spot Trading", assets entity; alpaca-py#161): every crypto pair
 * has `min_order_size`, `min_trade_increment` and `price_increment`, and an order off them is
 * refused with 422 / 42210000. Alpaca's exact messages for these refusals were not found in any
 * source; the messages here are ours, in Alpaca's style ("invalid limit_price 11.055. sub-penny
 * increment does not fulfill minimum pricing criteria").
 */
import type { Asset } from './assets.js';
import { Dec, fmt } from './decimal.js';
import { unprocessable } from './errors.js';

function onGrid(value: Dec, step: string): boolean {
  return value.mod(new Dec(step)).isZero();
}

/** Quantity checks: at least min_order_size, a multiple of min_trade_increment. */
export function checkCryptoQty(asset: Asset, qty: Dec | null): void {
  if (qty === null || asset.assetClass !== 'crypto') return;
  const { minOrderSize, minTradeIncrement } = asset;
  if (minOrderSize !== null && qty.lt(minOrderSize)) {
    throw unprocessable(`invalid qty ${fmt(qty)}. qty must be >= min_order_size ${minOrderSize} for ${asset.symbol}`);
  }
  if (minTradeIncrement !== null && !onGrid(qty, minTradeIncrement)) {
    throw unprocessable(
      `invalid qty ${fmt(qty)}. qty must be a multiple of min_trade_increment ${minTradeIncrement} for ${asset.symbol}`,
    );
  }
}

/** Price checks (limit_price, stop_price): a multiple of price_increment. */
export function checkCryptoPrice(asset: Asset, name: string, price: Dec | null): void {
  if (price === null || asset.assetClass !== 'crypto' || asset.priceIncrement === null) return;
  if (!onGrid(price, asset.priceIncrement)) {
    throw unprocessable(
      `invalid ${name} ${fmt(price)}. ${name} must be a multiple of price_increment ${asset.priceIncrement} for ${asset.symbol}`,
    );
  }
}

/** A price rounded down onto the asset's price grid (crypto), or unchanged (equities). */
export function roundToPriceGrid(asset: Asset, price: Dec): Dec {
  if (asset.assetClass !== 'crypto' || asset.priceIncrement === null) return price;
  const step = new Dec(asset.priceIncrement);
  const rounded = price.div(step).floor().times(step);
  return rounded.gt(0) ? rounded : step;
}
