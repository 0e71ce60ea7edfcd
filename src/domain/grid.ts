import { D, normalize } from '../decimal.js';

/**
 * An asset's order grids (`GET /v2/assets/{symbol}`: `min_order_size`, `min_trade_increment`,
 * `price_increment`; docs "Crypto Spot Trading", alpaca-py#161): quantities and prices off them are
 * refused. Pure: what a quantity or price becomes on the grid.
 */
export interface AssetGrid {
  minOrderSize: string | null;
  minTradeIncrement: string | null;
  priceIncrement: string | null;
}

export const NO_GRID: AssetGrid = { minOrderSize: null, minTradeIncrement: null, priceIncrement: null };

/** `value` rounded down to a multiple of `increment` (unchanged without one). */
export function floorToIncrement(value: string, increment: string | null): string {
  if (!increment || new D(increment).lte(0)) return normalize(new D(value));
  const inc = new D(increment);
  return normalize(new D(value).div(inc).floor().times(inc));
}

/**
 * A crypto price on the grid, rounded down (a sell stop below the market). Without an increment:
 * cents from $1 up, else 8 significant places of the price (SHIB/USD at 0.00002345 must not become 0).
 */
export function priceOnGrid(price: string | InstanceType<typeof D>, increment: string | null): string {
  const p = new D(price);
  if (increment && new D(increment).gt(0)) return floorToIncrement(p.toFixed(), increment);
  if (p.gte(1)) return normalize(p.toDecimalPlaces(2, D.ROUND_DOWN));
  return normalize(p.toSignificantDigits(8, D.ROUND_DOWN));
}

/** The quantity a stop may be placed for on the grid, or why none can (below the minimum order size). */
export function qtyOnGrid(qty: string, grid: AssetGrid): { ok: true; qty: string } | { ok: false; reason: string } {
  const q = floorToIncrement(qty, grid.minTradeIncrement);
  if (new D(q).lte(0) || (grid.minOrderSize !== null && new D(q).lt(grid.minOrderSize))) {
    return { ok: false, reason: `qty ${qty} is below the minimum order size ${grid.minOrderSize ?? grid.minTradeIncrement}` };
  }
  return { ok: true, qty: q };
}
