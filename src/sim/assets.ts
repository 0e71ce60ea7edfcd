/**
 * The simulator's asset catalog: a known set of US equities and any `XXX/USD` crypto
 * pair. Asset ids are the real ones where a fixture shows them, otherwise a stable
 * uuid derived from the symbol.
 */
export type AssetClass = 'us_equity' | 'crypto';

export interface Asset {
  symbol: string;
  id: string;
  assetClass: AssetClass;
  /** Position `exchange` (the spec's ExchangeForPosition enum; crypto has none). */
  exchange: string;
  marginable: boolean;
  /** Starting price, decimal string. */
  seedPrice: string;
}

const EQUITIES: Record<string, { price: string; exchange: string }> = {
  AAPL: { price: '190', exchange: 'NASDAQ' },
  MSFT: { price: '410', exchange: 'NASDAQ' },
  TSLA: { price: '250', exchange: 'NASDAQ' },
  SPY: { price: '520', exchange: 'ARCA' },
  QQQ: { price: '440', exchange: 'NASDAQ' },
  IWM: { price: '200', exchange: 'ARCA' },
  NVDA: { price: '900', exchange: 'NASDAQ' },
  AMZN: { price: '180', exchange: 'NASDAQ' },
  GOOGL: { price: '170', exchange: 'NASDAQ' },
  META: { price: '480', exchange: 'NASDAQ' },
  AMD: { price: '160', exchange: 'NASDAQ' },
  F: { price: '12', exchange: 'NYSE' },
};

const CRYPTO_PRICES: Record<string, string> = {
  BTC: '65000',
  ETH: '3200',
  SOL: '150',
  LTC: '80',
  AVAX: '35',
  LINK: '15',
  DOGE: '0.15',
};

/** Asset ids taken from the fixtures (order-limit-accepted.json, position-crypto-js-sdk.json). */
const KNOWN_IDS: Record<string, string> = {
  AAPL: 'b0b6dd9d-8b9b-48a9-ba46-b9d54906e415',
  'BTC/USD': '64bbff51-59d6-4b3c-9351-13ad85e3c752',
};

/** Stable v4-formatted uuid from a string (FNV-1a, four rounds). */
function stableUuid(text: string): string {
  let hex = '';
  for (let round = 0; round < 4; round++) {
    let h = (0x811c9dc5 ^ round) >>> 0;
    for (const ch of `${round}:${text}`) {
      h ^= ch.charCodeAt(0);
      h = Math.imul(h, 0x01000193) >>> 0;
    }
    hex += h.toString(16).padStart(8, '0');
  }
  const variant = ((parseInt(hex[16] ?? '0', 16) & 0x3) | 0x8).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

const CRYPTO_RE = /^([A-Z0-9]{2,10})\/USD$/;
const LEGACY_CRYPTO_RE = /^([A-Z0-9]{2,10})USD$/;

export const EQUITY_SYMBOLS: readonly string[] = Object.keys(EQUITIES);
export const CRYPTO_SYMBOLS: readonly string[] = Object.keys(CRYPTO_PRICES).map((b) => `${b}/USD`);

export class AssetCatalog {
  private readonly cache = new Map<string, Asset>();
  private readonly byId = new Map<string, Asset>();

  constructor() {
    for (const s of [...EQUITY_SYMBOLS, ...CRYPTO_SYMBOLS]) this.resolve(s);
  }

  /**
   * Resolve a symbol as a client may send it: `AAPL`, `BTC/USD`, or legacy `BTCUSD`
   * for a known crypto base. Returns null for an unknown symbol.
   */
  resolve(input: string): Asset | null {
    const symbol = input.trim().toUpperCase();
    const cached = this.cache.get(symbol);
    if (cached) return cached;
    let asset: Asset | null = null;
    const eq = EQUITIES[symbol];
    if (eq) {
      asset = {
        symbol,
        id: KNOWN_IDS[symbol] ?? stableUuid(symbol),
        assetClass: 'us_equity',
        exchange: eq.exchange,
        marginable: true,
        seedPrice: eq.price,
      };
    } else {
      const pair = CRYPTO_RE.exec(symbol);
      const legacy = pair ? null : LEGACY_CRYPTO_RE.exec(symbol);
      const base = pair?.[1] ?? (legacy && CRYPTO_PRICES[legacy[1] ?? ''] ? legacy[1] : undefined);
      if (base) {
        const canonical = `${base}/USD`;
        if (canonical !== symbol) return this.resolve(canonical);
        asset = {
          symbol: canonical,
          id: KNOWN_IDS[canonical] ?? stableUuid(canonical),
          assetClass: 'crypto',
          exchange: '',
          marginable: false,
          seedPrice: CRYPTO_PRICES[base] ?? '1',
        };
      }
    }
    if (asset) {
      this.cache.set(symbol, asset);
      this.byId.set(asset.id, asset);
    }
    return asset;
  }

  /** Resolve a symbol or an asset id. */
  resolveSymbolOrId(input: string): Asset | null {
    return this.byId.get(input.trim().toLowerCase()) ?? this.resolve(input);
  }
}
