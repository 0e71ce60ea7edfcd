/**
 * Minimal market data from the simulator's current prices, in Alpaca's market-data
 * shapes (numbers, not strings): the SDK's stockLatestTradeSingle / stockLatestTrades
 * (`getLatestPrice`) and cryptoLatestTrades.
 */
import type { Asset } from '../assets.js';
import { rfc3339 } from '../clock.js';
import { notFound } from '../errors.js';
import { qList } from '../query-params.js';
import type { Router } from './router.js';
import type { SimServices } from './services.js';

export function registerMarketRoutes(router: Router, s: SimServices): void {
  const { engine } = s;

  const stockTrade = (asset: Asset): Record<string, unknown> => {
    const st = engine.prices.state(asset);
    return { t: rfc3339(st.updatedMicros), x: 'V', p: st.price.toNumber(), s: 100, c: ['@'], i: st.tradeId, z: 'C' };
  };
  const cryptoTrade = (asset: Asset): Record<string, unknown> => {
    const st = engine.prices.state(asset);
    return { t: rfc3339(st.updatedMicros), p: st.price.toNumber(), s: 0.01, tks: 'B', i: st.tradeId };
  };
  const equity = (symbol: string): Asset | null => {
    const a = engine.assets.resolve(symbol);
    return a && a.assetClass === 'us_equity' ? a : null;
  };
  const crypto = (symbol: string): Asset | null => {
    const a = engine.assets.resolve(symbol);
    return a && a.assetClass === 'crypto' ? a : null;
  };

  router.add('GET', '/v2/stocks/{symbol}/trades/latest', (ctx, p) => {
    const asset = equity(p.symbol ?? '');
    if (!asset) throw notFound(`no trade found for ${p.symbol ?? ''}`);
    ctx.body = { symbol: asset.symbol, trade: stockTrade(asset) };
  });

  router.add('GET', '/v2/stocks/trades/latest', (ctx) => {
    const trades: Record<string, unknown> = {};
    for (const sym of qList(ctx.query, 'symbols') ?? []) {
      const asset = equity(sym);
      if (asset) trades[asset.symbol] = stockTrade(asset);
    }
    ctx.body = { trades };
  });

  // Crypto market data needs no auth (the SDK's CryptoApi sends no key headers).
  router.add(
    'GET',
    '/v1beta3/crypto/{loc}/latest/trades',
    (ctx) => {
      const trades: Record<string, unknown> = {};
      for (const sym of qList(ctx.query, 'symbols') ?? []) {
        const asset = crypto(sym);
        if (asset) trades[asset.symbol] = cryptoTrade(asset);
      }
      ctx.body = { trades };
    },
    { public: true },
  );
}
