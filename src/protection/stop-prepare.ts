import type { StoredStopRow } from '../store/stops.js';
import { stopAsk } from '../domain/protection.js';
import { isCrypto } from '../domain/symbols.js';
import { priceOnGrid, qtyOnGrid } from '../domain/grid.js';
import { D, normalize } from '../decimal.js';
import type { AssetGrids } from '../broker/asset-grids.js';
import { replaceTarget, stopBasis, stopStateOf, type StopEvent } from '../../machines/stop-model.js';
import { sameAsPlaced } from '../../machines/stop-policy.js';
import type { RefusedRetryBudget } from './stop-budget.js';
import type { StopSizing } from './stop-sizing.js';
import type { WashBlocks } from './stop-wash-blocks.js';
import { cryptoStopPrice, equityStopPrice, rearmChange, trailOf, type StopSettings } from './stop-order.js';

/**
 * What a stop's send carries, worked out when its machine asks to `place` it: the protectable
 * quantity (stop-sizing.ts), the prices on the asset's grids, and whether it may go at all (a
 * wash-trade block of its symbol, a refused stop's retry budget). The answer is the machine's next
 * event: `sendStarted`, or `unchanged` / `postponed` / `deferred` / `notNeeded`.
 */
export interface StopPrepareDeps {
  settings: StopSettings;
  /** Latest trade price of a symbol (the SDK's market data). */
  latestPrice: (symbol: string) => Promise<string>;
  sizing: StopSizing;
  grids: AssetGrids;
  budget: RefusedRetryBudget;
  washBlocks: WashBlocks;
}

export class StopPreparation {
  constructor(private readonly deps: StopPrepareDeps) {}

  /** What to send: the protectable quantity and (crypto) the stop price; a refused stop only within its symbol's budget. */
  async prepare(row: StoredStopRow, clientOrderId: string, rearm: boolean): Promise<StopEvent> {
    const blocked = this.deps.washBlocks.blockedUntil(row.symbol, Date.now());
    if (blocked !== null) {
      if (stopStateOf(row) === 'refused') return { type: 'postponed', until: blocked };
      return { type: 'deferred', reason: `wash trade: a crossing order of the account blocks ${row.symbol} stops` };
    }
    if (stopStateOf(row) === 'refused') {
      const until = this.deps.budget.take(row.symbol, Date.now());
      if (until !== null) return { type: 'postponed', until };
    }
    const ask = stopAsk(row);
    const sized = await this.deps.sizing.protectableQty(row);
    if (typeof sized !== 'string') return sized;
    if (!isCrypto(ask.symbol, ask.assetClass)) return this.unlessUnchanged(row, await this.prepareEquity(row, clientOrderId, sized), rearm);
    // Crypto: the quantity and the prices on the asset's grids (off them, Alpaca refuses the order).
    const grid = await this.deps.grids.of(ask.symbol);
    const qty = qtyOnGrid(sized, grid);
    if (!qty.ok) return { type: 'deferred', reason: qty.reason };
    // A re-arm keeps the stop where it is (then moves it one increment), not where the latest price would put it.
    // A kept price goes on the grid now: it may have been worked out while the grid could not be read.
    const kept = row.target_stop_price ?? (rearm ? row.placed_stop_price : null);
    const stopPrice = kept !== null ? priceOnGrid(kept, grid.priceIncrement) : cryptoStopPrice(await this.deps.latestPrice(ask.symbol), trailOf(ask, this.deps.settings), grid.priceIncrement);
    const increment = grid.minTradeIncrement ?? undefined;
    return this.unlessUnchanged(row, { type: 'sendStarted', clientOrderId, basis: stopBasis(row), qty: qty.qty, stopPrice, ...(increment ? { qtyIncrement: increment } : {}) }, rearm);
  }

  /**
   * A replace that would send what the working order has is not sent (Alpaca refuses it: 403 "order
   * parameters are not changed"). One that would grow a stop placed short is sent only when the
   * position has more free now (one read, `qty_available`), not to be refused again for held shares.
   * A re-arm that would change nothing changes something harmless instead (`rearmChange`).
   */
  private async unlessUnchanged(row: StoredStopRow, ev: StopEvent, rearm: boolean): Promise<StopEvent> {
    if (ev.type !== 'sendStarted' || replaceTarget(row) === null) return ev;
    const unchanged = async (same: typeof ev): Promise<StopEvent> => (rearm ? this.rearmed(row, same) : { type: 'unchanged', clientOrderId: ev.clientOrderId });
    const send = { qty: ev.qty, stopPrice: ev.stopPrice, trailPercent: ev.stopPrice === null ? trailOf(stopAsk(row), this.deps.settings) : null };
    if (sameAsPlaced(row, send)) return unchanged(ev);
    const placed = row.placed_qty === null ? null : new D(row.placed_qty);
    if (placed === null || !new D(ev.qty).gt(placed)) return ev;
    const free = await this.deps.sizing.partialQty(row);
    if (free === null || new D(free).gt(placed)) return free === null ? ev : { ...ev, qty: free };
    const kept = { ...ev, qty: normalize(placed) };
    return sameAsPlaced(row, { ...send, qty: kept.qty }) ? unchanged(kept) : kept;
  }

  /** The re-arm of an order as wanted: its trail or stop price moved harmlessly, so Alpaca takes the replace. */
  private async rearmed(row: StoredStopRow, ev: Extract<StopEvent, { type: 'sendStarted' }>): Promise<StopEvent> {
    const ask = stopAsk(row);
    const increment = isCrypto(ask.symbol, ask.assetClass) ? (await this.deps.grids.of(ask.symbol)).priceIncrement : null;
    const placed = { side: ask.side, trailPercent: row.placed_trail_percent, stopPrice: ev.stopPrice === null ? null : (row.placed_stop_price ?? ev.stopPrice) };
    return { ...ev, ...rearmChange(placed, trailOf(ask, this.deps.settings), increment) };
  }

  /**
   * Equities: whole shares get the gtc trailing stop; a position under one share gets a `day` stop
   * priced from the latest trade (fractional orders are day-only and cannot trail: docs "Fractional
   * trading"). Above one share the fraction is its fraction stop's (machines/fraction-stop.ts), a
   * `day` stop too; if the broker holds less than the whole shares wanted, what it holds is covered.
   */
  private async prepareEquity(row: StoredStopRow, clientOrderId: string, sized: string): Promise<StopEvent> {
    const whole = new D(sized).floor();
    if (whole.eq(sized) || whole.gte(1)) return { type: 'sendStarted', clientOrderId, basis: stopBasis(row), qty: normalize(whole), stopPrice: null };
    const price = row.target_stop_price ?? equityStopPrice(await this.deps.latestPrice(stopAsk(row).symbol), trailOf(stopAsk(row), this.deps.settings));
    return { type: 'sendStarted', clientOrderId, basis: stopBasis(row), qty: sized, stopPrice: price };
  }
}
