/**
 * GET /v2/assets and GET /v2/assets/{symbol_or_asset_id}. A crypto pair answers to `BTC/USD`
 * (%2F-encoded, as the JS SDK sends it, or raw as `/v2/assets/BTC/USD`) and to the legacy `BTCUSD`
 * (docs "Crypto Spot Trading": "Our API has made proper changes to support the legacy convention as
 * well"); the body always shows the current `BTC/USD`. Unknown: 404 "asset not found for X".
 */
import { assetJson } from '../assets.js';
import { notFound } from '../errors.js';
import { qs } from '../query-params.js';
import type { Router } from './router.js';
import type { SimServices } from './services.js';

export function registerAssetRoutes(router: Router, s: SimServices): void {
  const { assets } = s.engine;

  router.add('GET', '/v2/assets', (ctx) => {
    const assetClass = qs(ctx.query, 'asset_class');
    const status = qs(ctx.query, 'status');
    ctx.body = assets
      .list()
      .filter((a) => (assetClass === undefined || a.assetClass === assetClass) && (status === undefined || status === 'active'))
      .map(assetJson);
  });

  const lookup = (symbolOrId: string): Record<string, unknown> => {
    const asset = assets.resolveSymbolOrId(symbolOrId);
    if (!asset) throw notFound(`asset not found for ${symbolOrId}`);
    return assetJson(asset);
  };
  router.add('GET', '/v2/assets/{symbol_or_asset_id}', (ctx, p) => {
    ctx.body = lookup(p.symbol_or_asset_id ?? '');
  });
  router.add('GET', '/v2/assets/{base}/{quote}', (ctx, p) => {
    ctx.body = lookup(`${p.base ?? ''}/${p.quote ?? ''}`);
  });
}
