/**
 * Crypto fees (docs "Crypto Spot Trading" fees table and "Crypto fees"; alpaca-py#374): a crypto
 * fill pays `feeBps` (default 25 bps, Alpaca's tier-1 rate, its highest) of what the account receives.
 * A buy receives the coin, so the fee is taken from the coin: buying 0.1 BTC leaves 0.09975 BTC in the
 * position, and a `CFEE` activity (shape of test/fixtures/alpaca/activity-cfee.json) records the coin
 * taken, its id stamped with the day at midnight as in Alpaca's example, posted at the fill or later
 * (`fee_delay_ms`). A sell receives USD: the simulator takes the fee from the cash received and
 * publishes no activity for it (a simplification; Alpaca reports it too).
 */
import type { Asset } from './assets.js';
import { legacySymbol } from './assets.js';
import { nyDate } from './clock.js';
import { Dec, ZERO, fmt } from './decimal.js';
import type { Side } from './types.js';
import type { EventBody } from './activity-events.js';
import { nonTradeEventBody } from './activity-event-json.js';

/** Alpaca's tier-1 crypto fee (the highest): 25 bps. */
export const DEFAULT_FEE_BPS = 25;
export const MAX_FEE_BPS = 1000;

/** Fees of one crypto fill: `coin` leaves the bought quantity, `usd` leaves the sale's proceeds. */
export interface FillFees {
  coin: Dec;
  usd: Dec;
}

export const NO_FEES: FillFees = { coin: ZERO, usd: ZERO };

/** The fees of a fill of `qty` at `price` (equities pay none). Amounts are rounded to 9 decimals. */
export function fillFees(asset: Asset, side: Side, qty: Dec, price: Dec, feeBps: number): FillFees {
  if (asset.assetClass !== 'crypto' || feeBps <= 0) return NO_FEES;
  const rate = new Dec(feeBps).div(10_000);
  if (side === 'buy') return { coin: qty.times(rate).toDecimalPlaces(9, Dec.ROUND_HALF_UP), usd: ZERO };
  return { coin: ZERO, usd: qty.times(price).times(rate).toDecimalPlaces(9, Dec.ROUND_HALF_UP) };
}

/** A CFEE activity: the coin taken from one buy fill. */
export interface FeeRecord {
  /** Activity id `YYYYMMDD000000000::<uuid>`: the fill's New York day at midnight (sorts before that day's fills). */
  id: string;
  /** The FILL activity id it belongs to. */
  fillId: string;
  /** The fill's time: `date` is its New York day. */
  micros: number;
  /** When the fee was posted (its creation time, what `after`/`until`/`date` filter on): the fill's, or later. */
  createdMicros: number;
  asset: Asset;
  /** The coin taken (positive; the activity shows it negative). */
  qty: Dec;
  price: Dec;
}

/** Wire JSON, keys in the order of activity-cfee.json; the symbol is the legacy form (`ETHUSD`) as there. */
export function cfeeActivityJson(f: FeeRecord): Record<string, unknown> {
  return {
    id: f.id,
    activity_type: 'CFEE',
    date: nyDate(f.micros),
    net_amount: '0',
    description: 'Coin Pair Transaction Fee (Non USD)',
    symbol: legacySymbol(f.asset),
    qty: fmt(f.qty.neg()),
    price: fmt(f.price),
    status: 'executed',
  };
}

/** The CFEE on the activity event stream (activity-event-json.ts): `ref_id` is the uuid of its activity id. */
export function cfeeEventBody(f: FeeRecord): EventBody {
  return nonTradeEventBody({
    refId: f.id.split('::')[1] ?? f.id,
    micros: f.createdMicros,
    asset: f.asset,
    qty: f.qty.neg(),
    price: f.price,
    netAmount: ZERO,
    details: { symbol: legacySymbol(f.asset) },
  });
}
