/**
 * Cash and positions. Positions are signed (equity shorts allowed); average entry is kept exact.
 * Crypto fees (crypto-fees.ts): a buy's coin fee is not credited to the position (its average entry
 * stays the fill price); a sell's USD fee is not credited to cash.
 */
import type { Asset } from './assets.js';
import { type FillFees, NO_FEES } from './crypto-fees.js';
import { Dec, ZERO } from './decimal.js';
import type { Side } from './types.js';

export interface Holding {
  asset: Asset;
  /** Signed quantity: negative for a short. */
  qty: Dec;
  avgEntry: Dec;
}

export class Portfolio {
  cash: Dec;
  readonly startingCash: Dec;
  private readonly holdings = new Map<string, Holding>();

  constructor(startingCash: Dec) {
    this.cash = startingCash;
    this.startingCash = startingCash;
  }

  holding(symbol: string): Holding | undefined {
    return this.holdings.get(symbol);
  }

  qty(symbol: string): Dec {
    return this.holdings.get(symbol)?.qty ?? ZERO;
  }

  all(): Holding[] {
    return [...this.holdings.values()].sort((a, b) => (a.asset.symbol < b.asset.symbol ? -1 : 1));
  }

  /** Apply one execution (and its fees); returns the position quantity after it. */
  apply(asset: Asset, side: Side, filledQty: Dec, price: Dec, fees: FillFees = NO_FEES): Dec {
    const qty = side === 'buy' ? filledQty.minus(fees.coin) : filledQty;
    const delta = side === 'buy' ? qty : qty.neg();
    // An option contract is 100 shares: its price is per share (option-contracts.ts).
    const gross = filledQty.times(price).times(asset.multiplier ?? 1);
    this.cash = side === 'buy' ? this.cash.minus(gross) : this.cash.plus(gross).minus(fees.usd);
    const h = this.holdings.get(asset.symbol);
    if (!h || h.qty.isZero()) {
      this.holdings.set(asset.symbol, { asset, qty: delta, avgEntry: price });
      return delta;
    }
    const next = h.qty.plus(delta);
    if (h.qty.isPositive() === delta.isPositive()) {
      // Adding to the position: volume-weighted average entry.
      h.avgEntry = h.qty.abs().times(h.avgEntry).plus(qty.times(price)).div(next.abs());
    } else if (next.isZero()) {
      this.holdings.delete(asset.symbol);
      return next;
    } else if (next.isPositive() !== h.qty.isPositive()) {
      // Crossed through zero: the remainder is a new position at this price.
      h.avgEntry = price;
    }
    h.qty = next;
    return next;
  }
}
