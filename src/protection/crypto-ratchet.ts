import { D } from '../decimal.js';
import type { PriceSource } from '../broker/market-data.js';
import type { Database } from '../store/database.js';
import { confirmedCryptoStops } from '../store/stops.js';
import type { Logger } from '../log.js';
import { stopAsk } from '../domain/protection.js';
import { cryptoStopPrice } from './stop-order.js';
import type { AssetGrids } from '../broker/asset-grids.js';
import { applyStopTransition } from './stop-transitions.js';

/**
 * Crypto has no trailing stop on Alpaca, so the engine trails one: every `everyMs` it reads the
 * latest prices of the symbols it protects (one market-data request) and, where `price × (1 − trail)`
 * is above the placed stop by at least `minStepPercent`, raises the stop's target (a `raised` event
 * of its machine, machines/stop.ts); the stop worker then replaces the order. Stops only ever move
 * up. The step and the interval keep replaces (and requests) rare while the price wiggles.
 */
export class CryptoRatchet {
  private timer: ReturnType<typeof setInterval> | null = null;
  private busy = false;

  constructor(
    private readonly deps: {
      db: Database;
      log: Logger;
      prices: PriceSource;
      /** Crypto order grids: the raised stop stays on the price increment. */
      grids?: AssetGrids;
      trailPercent: string;
      minStepPercent: string;
      onRaised: () => void;
    },
  ) {}

  start(everyMs: number): void {
    this.timer = setInterval(() => void this.run(), everyMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  async run(): Promise<number> {
    if (this.busy) return 0;
    this.busy = true;
    try {
      const { db, log, prices } = this.deps;
      const stops = confirmedCryptoStops(db).filter((r) => r.placed_stop_price !== null);
      if (stops.length === 0) return 0;
      const symbols = [...new Set(stops.map((r) => stopAsk(r).symbol))];
      const latest = await prices.latestCrypto(symbols);
      let raised = 0;
      for (const row of stops) {
        const ask = stopAsk(row);
        const price = latest.get(ask.symbol);
        if (!price || ask.side !== 'sell') continue;
        const next = cryptoStopPrice(price, ask.trailPercent ?? this.deps.trailPercent, (await this.deps.grids?.of(ask.symbol))?.priceIncrement ?? null);
        const current = new D(row.target_stop_price ?? row.placed_stop_price!);
        const step = current.times(new D(this.deps.minStepPercent).div(100));
        if (new D(next).lt(current.plus(step))) continue;
        // Only a working stop is raised (one being canceled or replaced refuses it).
        if (!applyStopTransition(db, row.client_order_id, { type: 'raised', stopPrice: next }).applied) continue;
        log.info({ event: 'stop_ratchet', entry_order_id: ask.entryOrderId, symbol: ask.symbol, price, from: current.toFixed(), to: next }, `raising ${ask.symbol} stop to ${next}`);
        raised += 1;
      }
      if (raised > 0) this.deps.onRaised();
      return raised;
    } catch (err) {
      this.deps.log.warn({ event: 'stop_ratchet_failed', err: String(err) }, 'could not ratchet crypto stops');
      return 0;
    } finally {
      this.busy = false;
    }
  }
}
