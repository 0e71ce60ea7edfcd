/**
 * The simulator's asset catalog: a known set of US equities and any `XXX/USD` crypto
 * pair. Asset ids are the real ones where a fixture shows them, otherwise a stable
 * uuid derived from the symbol. Crypto pairs carry Alpaca's order grid
 * (`min_order_size`, `min_trade_increment`, `price_increment`; docs "Crypto Spot Trading",
 * assets entity), enforced by crypto-grid.ts.
 */
import { type OptionTerms, optionAsset } from './option-contracts.js';

export type AssetClass = 'us_equity' | 'crypto' | 'us_option';

export interface Asset {
  symbol: string;
  id: string;
  assetClass: AssetClass;
  /** Position `exchange` (the spec's ExchangeForPosition enum; crypto has none). */
  exchange: string;
  marginable: boolean;
  /** Starting price, decimal string. */
  seedPrice: string;
  /** Asset `name` as GET /v2/assets shows it. */
  name: string;
  /** Crypto only: the coin bought or sold (`BTC` for `BTC/USD`); null for equities. */
  base: string | null;
  /** Crypto only (decimal strings, Alpaca's asset fields); null for equities. */
  minOrderSize: string | null;
  minTradeIncrement: string | null;
  priceIncrement: string | null;
  /** Options only (option-contracts.ts): shares per contract (100); absent = 1. */
  multiplier?: number;
  /** Options only: the OCC contract's terms. */
  option?: OptionTerms;
}

/** A crypto pair's starting price and order grid. */
interface CryptoSpec {
  price: string;
  name: string;
  minOrderSize: string;
  minTradeIncrement: string;
  priceIncrement: string;
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

/**
 * BTC/USD: min_order_size and price_increment as in the docs' asset example (docs "Crypto Spot
 * Trading" / "Crypto Assets": 0.0001, 1); min_trade_increment 0.000000001 as current payloads show
 * (the 2022 docs example has 0.0001). The other grids are ours, in the same style: coarse price
 * grids for the big coins, whole-coin quantities for DOGE, and a sub-cent coin (SHIB ≈ 0.00002345)
 * whose prices need 8 decimals (alpaca-py#161, Alpaca-API#239).
 */
const CRYPTO: Record<string, CryptoSpec> = {
  BTC: { price: '65000', name: 'Bitcoin / US Dollar', minOrderSize: '0.0001', minTradeIncrement: '0.000000001', priceIncrement: '1' },
  ETH: { price: '3200', name: 'Ethereum / US Dollar', minOrderSize: '0.001', minTradeIncrement: '0.000000001', priceIncrement: '0.1' },
  SOL: { price: '150', name: 'Solana / US Dollar', minOrderSize: '0.01', minTradeIncrement: '0.000000001', priceIncrement: '0.01' },
  LTC: { price: '80', name: 'Litecoin / US Dollar', minOrderSize: '0.01', minTradeIncrement: '0.000000001', priceIncrement: '0.01' },
  AVAX: { price: '35', name: 'Avalanche / US Dollar', minOrderSize: '0.1', minTradeIncrement: '0.000000001', priceIncrement: '0.001' },
  LINK: { price: '15', name: 'Chainlink / US Dollar', minOrderSize: '0.1', minTradeIncrement: '0.000000001', priceIncrement: '0.001' },
  DOGE: { price: '0.15', name: 'Dogecoin / US Dollar', minOrderSize: '1', minTradeIncrement: '1', priceIncrement: '0.00001' },
  SHIB: { price: '0.00002345', name: 'Shiba Inu / US Dollar', minOrderSize: '100000', minTradeIncrement: '1', priceIncrement: '0.00000001' },
};

/** Grid of a pair outside the table (any `XXX/USD` resolves): the finest grid Alpaca's 9 decimals allow. */
const DEFAULT_CRYPTO: Omit<CryptoSpec, 'name'> = {
  price: '1',
  minOrderSize: '0.000000001',
  minTradeIncrement: '0.000000001',
  priceIncrement: '0.000000001',
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
export const CRYPTO_SYMBOLS: readonly string[] = Object.keys(CRYPTO).map((b) => `${b}/USD`);

/** The pair's legacy symbol (`BTCUSD` for `BTC/USD`; docs "Crypto Spot Trading": both name the same asset). */
export function legacySymbol(asset: Asset): string {
  return asset.assetClass === 'crypto' ? asset.symbol.replace('/', '') : asset.symbol;
}

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
        name: symbol,
        base: null,
        minOrderSize: null,
        minTradeIncrement: null,
        priceIncrement: null,
      };
    } else if (/^[A-Z]{1,6}\d{6}[CP]\d{8}$/.test(symbol)) {
      asset = optionAsset(symbol, (u) => this.resolve(u), stableUuid);
    } else {
      const pair = CRYPTO_RE.exec(symbol);
      const legacy = pair ? null : LEGACY_CRYPTO_RE.exec(symbol);
      const base = pair?.[1] ?? (legacy && CRYPTO[legacy[1] ?? ''] ? legacy[1] : undefined);
      if (base) {
        const canonical = `${base}/USD`;
        if (canonical !== symbol) return this.resolve(canonical);
        const spec = CRYPTO[base] ?? { ...DEFAULT_CRYPTO, name: `${base} / US Dollar` };
        asset = {
          symbol: canonical,
          id: KNOWN_IDS[canonical] ?? stableUuid(canonical),
          assetClass: 'crypto',
          exchange: '',
          marginable: false,
          seedPrice: spec.price,
          name: spec.name,
          base,
          minOrderSize: spec.minOrderSize,
          minTradeIncrement: spec.minTradeIncrement,
          priceIncrement: spec.priceIncrement,
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

  /** The catalog's listed assets (the equities and the crypto table), in symbol order. */
  list(): Asset[] {
    return [...EQUITY_SYMBOLS, ...CRYPTO_SYMBOLS]
      .map((s) => this.resolve(s))
      .filter((a): a is Asset => a !== null)
      .sort((a, b) => (a.symbol < b.symbol ? -1 : 1));
  }
}

/**
 * GET /v2/assets/{symbol} JSON, keys as in test/fixtures/alpaca/asset-crypto.json (docs "Crypto Spot
 * Trading"); the grid fields only for crypto ("Field available for crypto only", docs assets entity).
 */
export function assetJson(asset: Asset): Record<string, unknown> {
  const crypto = asset.assetClass === 'crypto';
  const json: Record<string, unknown> = {
    id: asset.id,
    class: asset.assetClass,
    exchange: crypto ? 'CRYPTO' : asset.exchange,
    symbol: asset.symbol,
    name: asset.name,
    status: 'active',
    tradable: true,
    marginable: asset.marginable,
    shortable: !crypto,
    easy_to_borrow: !crypto,
    fractionable: true,
  };
  if (crypto) {
    json.min_order_size = asset.minOrderSize;
    json.min_trade_increment = asset.minTradeIncrement;
    json.price_increment = asset.priceIncrement;
  }
  return json;
}
