import { D, normalize, type Dec } from '../decimal.js';
import type { OpenLots } from '../performance/fifo.js';

/**
 * What a trader reads off one position (pure, decimal.js, no I/O): the average entry of its open
 * FIFO lots, what it is worth at the last price, the unrealized P&L, and how far the nearest stop
 * is. For GET /positions and the dashboard's position rows.
 *
 * A trailing stop's level is not known here: the broker trails it from a high-water mark it does
 * not report on the stream. What is known is a bound — the level is at least the one confirmed at
 * placement and at least `trail %` under the last price (the mark is never below the last price) —
 * so it is given as a bound (`level_is_bound`), with a distance that is at most the one shown.
 */

/** Money and prices past this many places are noise from a division (an average, a percentage). */
const PLACES = 10;

export interface StopForLevel {
  stop_order_id: string | null;
  type: string | null;
  /** buy covers a short, sell a long. */
  side: 'buy' | 'sell';
  stop_price: string | null;
  trail_percent: string | null;
}

export interface StopLevel {
  /** The stop level, or for a trailing stop the bound on it; null when nothing is known. */
  level: string | null;
  /** true: `level` is a bound (a trailing stop's level is at least it for a sell, at most for a buy). */
  level_is_bound: boolean;
  /** How far the price may move against the position before the stop triggers, in % of the last price (2 places); negative: crossed. */
  level_distance_pct: string | null;
}

export interface NearestStop extends StopLevel {
  stop_order_id: string | null;
  type: string | null;
}

export interface PositionFigures {
  /** Σ cost / Σ qty of the open FIFO lots; null when the ledger holds no open lot for it. */
  avg_entry: string | null;
  /** avg_entry × qty (signed like qty). */
  cost_basis: string | null;
  /** qty × last price (signed: a short is negative). */
  market_value: string | null;
  /** market_value − cost_basis. */
  unrealized_pnl: string | null;
  /** unrealized_pnl / |cost_basis| in %, 2 places. */
  unrealized_pnl_pct: string | null;
  nearest_stop: NearestStop | null;
}

const places = (d: Dec, n = PLACES) => normalize(d.toDecimalPlaces(n));

/** A stop's level (or the bound on a trailing stop's) and its distance from the last price. */
export function stopLevel(stop: Omit<StopForLevel, 'stop_order_id'>, lastPrice: string | null): StopLevel {
  const last = lastPrice !== null && new D(lastPrice).gt(0) ? new D(lastPrice) : null;
  const sell = stop.side === 'sell';
  let level: Dec | null = stop.stop_price !== null ? new D(stop.stop_price) : null;
  const trailing = stop.type === 'trailing_stop';
  if (trailing && stop.trail_percent !== null && last) {
    const fromLast = last.times(new D(100).plus(sell ? new D(stop.trail_percent).negated() : stop.trail_percent)).div(100);
    level = level === null ? fromLast : sell ? D.max(level, fromLast) : D.min(level, fromLast);
  }
  if (level === null) return { level: null, level_is_bound: trailing, level_distance_pct: null };
  const distance = last ? places(last.minus(level).times(sell ? 1 : -1).div(last).times(100), 2) : null;
  return { level: places(level), level_is_bound: trailing, level_distance_pct: distance };
}

/** The stop that triggers first: the smallest distance, else (no last price) the highest sell / lowest buy level. */
export function nearestStop(stops: readonly StopForLevel[], lastPrice: string | null): NearestStop | null {
  let best: { stop: StopForLevel; at: StopLevel; key: Dec } | null = null;
  for (const stop of stops) {
    const at = stopLevel(stop, lastPrice);
    if (at.level === null) continue;
    // Smaller key = nearer: the distance, or the level itself (negated for a sell: higher is nearer).
    const key = at.level_distance_pct !== null ? new D(at.level_distance_pct) : stop.side === 'sell' ? new D(at.level).negated() : new D(at.level);
    if (best === null || key.lt(best.key)) best = { stop, at, key };
  }
  return best && { stop_order_id: best.stop.stop_order_id, type: best.stop.type, ...best.at };
}

/**
 * The figures of a position of signed `qty` whose open lots are `open`, at `lastPrice`, covered by
 * `stops`. `multiplier`: what one unit is worth in price units (100 for an option contract, whose
 * price is per share): money figures are multiplied by it, `avg_entry` stays a price.
 */
export function positionFigures(qty: string, open: OpenLots | undefined, lastPrice: string | null, stops: readonly StopForLevel[], multiplier = 1): PositionFigures {
  const q = new D(qty).times(multiplier);
  const avg = open && !new D(open.qty).isZero() ? new D(open.cost).div(open.qty) : null;
  const cost = avg ? q.times(avg) : null;
  const value = lastPrice !== null ? q.times(lastPrice) : null;
  const pnl = cost && value ? value.minus(cost) : null;
  return {
    avg_entry: avg && places(avg),
    cost_basis: cost && places(cost),
    market_value: value && places(value),
    unrealized_pnl: pnl && places(pnl),
    unrealized_pnl_pct: pnl && cost && !cost.isZero() ? places(pnl.div(cost.abs()).times(100), 2) : null,
    nearest_stop: nearestStop(stops, lastPrice),
  };
}

/** The positions' sums, over those with a last price and an average entry (`priced` of `positions`). */
export function positionTotals(figures: ReadonlyArray<Pick<PositionFigures, 'market_value' | 'unrealized_pnl' | 'cost_basis'>>) {
  const priced = figures.filter((f) => f.market_value !== null && f.unrealized_pnl !== null && f.cost_basis !== null);
  const sum = (key: 'market_value' | 'unrealized_pnl' | 'cost_basis') => normalize(priced.reduce((s, f) => s.plus(f[key]!), new D(0)));
  return { market_value: sum('market_value'), unrealized_pnl: sum('unrealized_pnl'), cost_basis: sum('cost_basis'), priced: priced.length, positions: figures.length };
}
