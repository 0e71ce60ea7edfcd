import type { OrderReport, Side } from '../domain/reports.js';
import { D } from '../decimal.js';

/**
 * What to do about a stop Alpaca refused as a potential wash trade (pure). Alpaca refuses an order
 * when an open order of the same account on the other side of the symbol could trade with it (docs
 * "User Protection", "Preventing Wash Trades"; alpaca-rules.md): when both carry a limit price
 * (limit, stop_limit), only if the buy's limit is at or above the sell's; otherwise (market, stop)
 * always. Trailing stops are exempt. The refusal does not say which order crosses: these name the
 * account's open orders that do, from one read of its open orders on the symbol's other side, and
 * say what clears the way.
 */

/** The stop as sent: its side and, for a stop-limit, its limit price. */
export interface RefusedStop {
  side: Side;
  limitPrice: string | null;
}

/** How many crossing orders the advice names; the rest are counted. */
const NAMED = 3;

const hasLimit = (o: Pick<OrderReport, 'type' | 'limitPrice'>) => (o.type === 'limit' || o.type === 'stop_limit') && o.limitPrice !== null;

/** The open orders (on the other side of the stop's symbol) that could trade with the stop, oldest first as given. */
export function crossingOrders(stop: RefusedStop, open: readonly OrderReport[]): OrderReport[] {
  return open.filter((o) => {
    if (o.side === stop.side || o.type === 'trailing_stop') return false;
    if (stop.limitPrice === null || !hasLimit(o)) return true;
    const buy = stop.side === 'buy' ? stop.limitPrice : o.limitPrice!;
    const sell = stop.side === 'buy' ? o.limitPrice! : stop.limitPrice;
    return new D(buy).gte(sell);
  });
}

/** `buy limit order <id> at 180.00 (qty 2)`. */
function describe(o: OrderReport): string {
  const type = o.type.replace('_', ' ');
  const at = o.limitPrice !== null ? ` at ${o.limitPrice}` : o.stopPrice !== null ? ` stop ${o.stopPrice}` : '';
  const left = o.qty !== null ? new D(o.qty).minus(o.filledQty) : null;
  const size = left !== null ? ` (qty ${left.toFixed()})` : o.notional !== null ? ` (notional ${o.notional})` : '';
  return `${o.side} ${type} order ${o.orderId}${at}${size}`;
}

/**
 * The words that follow Alpaca's message, e.g. "crossed by your open buy limit order 61e6… at 180.00
 * (qty 2): cancel it, or lower its limit below 176.40 (this stop's limit); the stop is sent again as
 * soon as that order ends". Null when none of the open orders crosses (the order ended meanwhile).
 */
export function washAdvice(stop: RefusedStop, crossing: readonly OrderReport[]): string | null {
  if (crossing.length === 0) return null;
  const names = crossing.slice(0, NAMED).map(describe).join(', ');
  const more = crossing.length > NAMED ? ` and ${crossing.length - NAMED} more` : '';
  const one = crossing.length === 1;
  const them = one ? 'it' : 'them';
  // A limit order crosses a stop-limit by its price: moved past the stop's limit, it no longer does.
  const repriceable = stop.limitPrice !== null && crossing.every(hasLimit);
  const move = stop.side === 'sell' ? `lower ${one ? 'its limit' : 'their limits'} below` : `raise ${one ? 'its limit' : 'their limits'} above`;
  const or = repriceable ? `, or ${move} ${stop.limitPrice} (this stop's limit)` : '';
  return `crossed by your open ${one ? '' : 'orders: '}${names}${more}: cancel ${them}${or}; the stop is sent again as soon as ${one ? 'that order ends' : 'they end'}`;
}
