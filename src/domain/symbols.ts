/**
 * Symbols (pure, no imports): whether a symbol is crypto or an option contract — decided here and
 * nowhere else — and the
 * two spellings of a crypto pair. The service names pairs `BTC/USD`, as orders do; Alpaca keys crypto
 * positions without the slash (alpaca-rules.md, "Crypto"; alpaca-py#179, alpaca-py#537):
 * `GET /v2/positions/BTCUSD` works, `GET /v2/positions/BTC/USD` (and the `%2F`-encoded form) answers
 * 404 "position does not exist", and `GET /v2/positions` lists `"symbol":"BTCUSD"`.
 */

/**
 * A crypto symbol: its asset class says so, or (the class unknown or absent, as in a fill activity)
 * it is a pair (`BTC/USD`). Crypto cannot be shorted and has no trailing stop (alpaca-rules.md).
 */
export function isCrypto(symbol: string, assetClass?: string | null): boolean {
  return assetClass === 'crypto' || symbol.includes('/');
}

/**
 * An option contract: its asset class says so (`us_option`), or (the class unknown, as in a fill
 * activity) its symbol is an OCC contract symbol — root, expiry YYMMDD, C or P, strike × 1000 in
 * eight digits (`AAPL261218C00150000`). Alpaca options take market and limit orders (alpaca-rules.md,
 * "Streams and activities"); the service records their fills but never protects them with stops and
 * never cools them down (issue 26 item 5). One contract is `OPTION_MULTIPLIER` shares.
 */
export function isOption(symbol: string, assetClass?: string | null): boolean {
  return assetClass === 'us_option' || OCC_SYMBOL.test(symbol);
}

const OCC_SYMBOL = /^[A-Z][A-Z0-9.]{0,5}\d{6}[CP]\d{8}$/;

/** Shares per option contract: notional and P&L of a contract position are qty × price × this. */
export const OPTION_MULTIPLIER = 100;

/** What one unit of `symbol` is worth in price units: 100 for an option contract, else 1. */
export function multiplierOf(symbol: string, assetClass?: string | null): number {
  return isOption(symbol, assetClass) ? OPTION_MULTIPLIER : 1;
}

/** The asset class a bare symbol implies when nothing else tells it: pairs are crypto, the rest equities. */
export function assetClassOf(symbol: string): 'crypto' | 'us_equity' | 'us_option' {
  return isCrypto(symbol) ? 'crypto' : isOption(symbol) ? 'us_option' : 'us_equity';
}

/** Quote currencies of Alpaca's crypto pairs, longest first (USDT before USD). */
const QUOTES = ['USDT', 'USDC', 'USD', 'BTC'];

/** The symbol a position lookup by path takes: `BTC/USD` → `BTCUSD`; equities unchanged. */
export function positionPathSymbol(symbol: string): string {
  return symbol.replace('/', '');
}

/**
 * Any symbol as the service names it: Alpaca's legacy crypto symbols (`BTCUSD`, in older orders and
 * activities; docs "Crypto trading (broker)") become the pair (`BTC/USD`). A FILL activity carries no
 * asset class: a symbol of six letters or more that ends in a quote currency is a legacy pair (US
 * equity tickers have at most five letters before any class suffix).
 */
export function canonicalSymbol(symbol: string, assetClass?: string | null): string {
  if (symbol.includes('/')) return symbol;
  if (assetClass === 'crypto') return pairSymbol(symbol, 'crypto');
  if (assetClass == null && /^[A-Z0-9]{6,}$/.test(symbol)) {
    const pair = pairSymbol(symbol, 'crypto');
    if (pair !== symbol) return pair;
  }
  return symbol;
}

/** A position's symbol in the pair form the service uses: `BTCUSD` (crypto) → `BTC/USD`. */
export function pairSymbol(symbol: string, assetClass: string | undefined): string {
  if (assetClass !== 'crypto' || symbol.includes('/')) return symbol;
  for (const quote of QUOTES) {
    if (symbol.length > quote.length && symbol.endsWith(quote)) return `${symbol.slice(0, -quote.length)}/${quote}`;
  }
  return symbol;
}
