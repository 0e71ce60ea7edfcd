/** Current (and previous-close) price per symbol, seeded from the asset catalog. */
import type { Asset } from './assets.js';
import { Dec } from './decimal.js';

export interface PriceState {
  price: Dec;
  /** The seed price, used as "last day" close for change_today. */
  lastday: Dec;
  /** Market-data trade id, bumped on every move. */
  tradeId: number;
  updatedMicros: number;
}

export class PriceBook {
  private readonly states = new Map<string, PriceState>();

  constructor(private readonly now: () => number) {}

  state(asset: Asset): PriceState {
    let s = this.states.get(asset.symbol);
    if (!s) {
      const seed = new Dec(asset.seedPrice);
      s = { price: seed, lastday: seed, tradeId: 1, updatedMicros: this.now() };
      this.states.set(asset.symbol, s);
    }
    return s;
  }

  get(asset: Asset): Dec {
    return this.state(asset).price;
  }

  set(asset: Asset, price: Dec): void {
    const s = this.state(asset);
    s.price = price;
    s.tradeId += 1;
    s.updatedMicros = this.now();
  }

  /** Symbols whose price has been read or set. */
  symbols(): string[] {
    return [...this.states.keys()];
  }
}
