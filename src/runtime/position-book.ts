import { D, normalize } from '../decimal.js';
import type { Side } from '../domain/reports.js';
import type { OrderRole } from '../domain/protection.js';
import { roleAtFirstFill, signedQty } from '../../machines/position.js';

/**
 * Signed positions per symbol as the ledger knows them, kept in memory and moved by every fill
 * the store commits. It answers an order's role at its first fill (machines/position.ts decides:
 * a fill that opens or grows a position is an entry, one that shrinks it an exit; DESIGN §2).
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
    this.qty.set(symbol, (this.qty.get(symbol) ?? new D(0)).plus(signedQty(side, qty)));
  }

  roleFor(order: { clientOrderId: string; symbol: string; side: Side; assetClass: string }): OrderRole {
    return roleAtFirstFill(this.get(order.symbol), order);
  }

  entries(): Array<[string, string]> {
    return [...this.qty].map(([s, q]) => [s, normalize(q)]);
  }
}
