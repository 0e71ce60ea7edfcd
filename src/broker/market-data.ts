import { marketData } from '@alpacahq/alpaca-trade-api';
import { isDecimalString, normalize } from '../decimal.js';

/**
 * Latest crypto trade prices through the SDK's market-data API (one request for many symbols).
 * Alpaca's market data sends prices as JSON numbers; they are turned into decimal strings here,
 * once, and everything after works on strings.
 */
export interface PriceSource {
  latestCrypto(symbols: string[]): Promise<Map<string, string>>;
  /** Latest stock trade prices (a fractional position's day stop is priced from it). */
  latestStock(symbols: string[]): Promise<Map<string, string>>;
  requestCount(): number;
}

export function createPriceSource(opts: { keyId: string; secretKey: string; dataUrl?: string }): PriceSource {
  let requests = 0;
  const config = new marketData.Configuration({
      basePath: opts.dataUrl,
      keyId: opts.keyId,
      secret: opts.secretKey,
      timeoutMs: 10_000,
      retry: { maxRetries: 3 },
      rateLimit: { maxRequests: 200, intervalMs: 60_000 },
      middleware: [{ pre: async () => void (requests += 1) }],
    });
  const api = new marketData.CryptoApi(config);
  const stocks = new marketData.StockApi(config);
  const prices = (trades: Record<string, unknown> | undefined): Map<string, string> => {
    const out = new Map<string, string>();
    for (const [symbol, trade] of Object.entries(trades ?? {})) {
      const text = String((trade as { p?: unknown }).p);
      if (isDecimalString(text) && Number(text) > 0) out.set(symbol, normalize(text));
    }
    return out;
  };
  return {
    requestCount: () => requests,
    async latestCrypto(symbols) {
      const out = new Map<string, string>();
      if (symbols.length === 0) return out;
      const res = await api.cryptoLatestTrades({ loc: 'us', symbols: symbols.join(',') });
      return prices(res.trades);
    },
    async latestStock(symbols) {
      if (symbols.length === 0) return new Map();
      const res = await stocks.stockLatestTrades({ symbols: symbols.join(',') });
      return prices(res.trades as Record<string, unknown> | undefined);
    },
  };
}
