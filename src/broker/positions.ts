import { NotFoundError } from '@alpacahq/alpaca-trade-api';
import { D, normalize } from '../decimal.js';
import type { BrokerClient } from './client.js';

/**
 * Positions at Alpaca. Crypto positions are keyed without the slash (alpaca-rules.md, "Crypto";
 * alpaca-py#179, alpaca-py#537): `GET /v2/positions/BTCUSD` works, `GET /v2/positions/BTC/USD`
 * (and the `%2F`-encoded form) answers 404 "position does not exist", and `GET /v2/positions`
 * lists `"symbol":"BTCUSD"`. The rest of the service names pairs `BTC/USD`, as orders do: lookups
 * go out un-slashed, and list entries come back as pairs.
 */

/** Quote currencies of Alpaca's crypto pairs, longest first (USDT before USD). */
const QUOTES = ['USDT', 'USDC', 'USD', 'BTC'];

/** The symbol a position lookup by path takes: `BTC/USD` → `BTCUSD`; equities unchanged. */
export function positionPathSymbol(symbol: string): string {
  return symbol.replace('/', '');
}

/** A position's symbol in the pair form the service uses: `BTCUSD` (crypto) → `BTC/USD`. */
export function pairSymbol(symbol: string, assetClass: string | undefined): string {
  if (assetClass !== 'crypto' || symbol.includes('/')) return symbol;
  for (const quote of QUOTES) {
    if (symbol.length > quote.length && symbol.endsWith(quote)) return `${symbol.slice(0, -quote.length)}/${quote}`;
  }
  return symbol;
}

export interface BrokerPosition {
  /** Pair form for crypto (`BTC/USD`). */
  symbol: string;
  assetClass: string;
  /** Signed: negative for a short. */
  qty: string;
}

function toPosition(raw: unknown): BrokerPosition | null {
  const p = raw as { symbol?: unknown; qty?: unknown; side?: unknown; asset_class?: unknown; assetClass?: unknown };
  if (typeof p.symbol !== 'string' || typeof p.qty !== 'string') return null;
  const assetClass = String(p.asset_class ?? p.assetClass ?? (p.symbol.includes('/') ? 'crypto' : 'us_equity'));
  const qty = p.side === 'short' && !p.qty.startsWith('-') ? `-${p.qty}` : p.qty;
  return { symbol: pairSymbol(p.symbol, assetClass), assetClass, qty: normalize(qty) };
}

/** The signed position in a symbol ("0" when the broker has none: a definite 404); other errors throw. */
export async function fetchPositionQty(client: BrokerClient, symbol: string): Promise<InstanceType<typeof D>> {
  try {
    const raw = await client.positions.getOpenPosition({ symbolOrAssetId: positionPathSymbol(symbol) });
    const p = toPosition(raw);
    return new D(p?.qty ?? 0);
  } catch (err) {
    if (err instanceof NotFoundError) return new D(0);
    throw err;
  }
}

/** Every open position, crypto symbols in pair form. */
export async function listPositions(client: BrokerClient): Promise<BrokerPosition[]> {
  const out: BrokerPosition[] = [];
  for (const raw of await client.positions.getAllOpenPositions()) {
    const p = toPosition(raw);
    if (p) out.push(p);
  }
  return out;
}
