import { D, normalize } from '../decimal.js';
import type { Side } from '../broker/reports.js';
import type { OrderRole } from '../../machines/order.machine.js';
import { entryOfStop } from '../../machines/order-status.js';

/** A move from `before` to `after` closed the position, or crossed flat to the other side. */
export function closesPosition(before: InstanceType<typeof D>, after: InstanceType<typeof D>): boolean {
  return !before.isZero() && (after.isZero() || after.isPositive() !== before.isPositive());
}

/**
 * Signed positions per symbol as the ledger knows them, kept in memory and moved by every fill
 * the store commits. It decides an order's role at its first fill: a fill that opens or grows a
 * position is an entry, one that shrinks it an exit (DESIGN §2).
 */
export class PositionBook {
  private readonly qty = new Map<string, InstanceType<typeof D>>();

  constructor(initial: Map<string, string> = new Map()) {
    for (const [symbol, q] of initial) this.qty.set(symbol, new D(q));
  }

  get(symbol: string): string {
    return normalize(this.qty.get(symbol) ?? new D(0));
  }

  apply(symbol: string, side: Side, qty: string): void {
    const prev = this.qty.get(symbol) ?? new D(0);
    this.qty.set(symbol, side === 'buy' ? prev.plus(qty) : prev.minus(qty));
  }

  roleFor(order: { clientOrderId: string; symbol: string; side: Side; assetClass: string }): OrderRole {
    if (entryOfStop(order.clientOrderId)) return 'stop';
    const pos = this.qty.get(order.symbol) ?? new D(0);
    if (order.side === 'buy') return pos.gte(0) ? 'entry' : 'exit';
    // Crypto cannot be shorted: a sell is always an exit (of a position the ledger may predate).
    if (order.assetClass === 'crypto' || order.symbol.includes('/')) return 'exit';
    return pos.gt(0) ? 'exit' : 'entry';
  }

  entries(): Array<[string, string]> {
    return [...this.qty].map(([s, q]) => [s, normalize(q)]);
  }
}
