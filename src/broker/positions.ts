import { NotFoundError } from '@alpacahq/alpaca-trade-api';
import { D, normalize } from '../decimal.js';
import { assetClassOf, pairSymbol, positionPathSymbol } from '../domain/symbols.js';
import type { BrokerClient } from './client.js';

/**
 * Positions at Alpaca. Crypto positions are keyed without the slash (src/domain/symbols.ts): the
 * rest of the service names pairs `BTC/USD`, as orders do, so lookups go out un-slashed
 * (`positionPathSymbol`) and list entries come back as pairs (`pairSymbol`).
 */

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
  const assetClass = String(p.asset_class ?? p.assetClass ?? assetClassOf(p.symbol));
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

/**
 * What of a position other orders do not hold (`qty_available`, spec Position; shares or coins held
 * by open orders cannot be sold again: 403 held_for_orders / insufficient balance). Unsigned;
 * "0" when there is no position.
 */
export async function fetchAvailableQty(client: BrokerClient, symbol: string): Promise<InstanceType<typeof D>> {
  try {
    const raw = (await client.positions.getOpenPosition({ symbolOrAssetId: positionPathSymbol(symbol) })) as { qtyAvailable?: unknown; qty_available?: unknown; qty?: unknown };
    const available = raw.qtyAvailable ?? raw.qty_available ?? raw.qty;
    return typeof available === 'string' ? new D(available).abs() : new D(0);
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
