import type { BrokerClient } from './client.js';
import type { Logger } from '../log.js';
import { NO_GRID, type AssetGrid } from '../domain/grid.js';

/**
 * Each crypto asset's order grids, read once per symbol per process (`GET /v2/assets/{symbol}`,
 * the SDK encodes `BTC/USD` as `BTC%2FUSD` as the docs ask). A failed read is not kept: the next
 * stop asks again, and meanwhile the stop uses the fallback rounding (`NO_GRID`).
 */
export class AssetGrids {
  private readonly known = new Map<string, AssetGrid>();

  constructor(private readonly deps: { client: Pick<BrokerClient, 'assets'>; log: Logger }) {}

  /** The grids read already, without asking (the dashboard's rounding: a display must not spend requests). */
  peek(symbol: string): AssetGrid | undefined {
    return this.known.get(symbol);
  }

  async of(symbol: string): Promise<AssetGrid> {
    const hit = this.known.get(symbol);
    if (hit) return hit;
    try {
      const a = await this.deps.client.assets.getV2AssetsSymbolOrAssetId({ symbolOrAssetId: symbol });
      const grid: AssetGrid = { minOrderSize: a.minOrderSize ?? null, minTradeIncrement: a.minTradeIncrement ?? null, priceIncrement: a.priceIncrement ?? null };
      this.known.set(symbol, grid);
      return grid;
    } catch (err) {
      this.deps.log.warn({ event: 'asset_grid_unavailable', symbol, err: String(err) }, 'could not read the asset’s order grids; rounding without them');
      return NO_GRID;
    }
  }
}
