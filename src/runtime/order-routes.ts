import type { Database } from '../store/database.js';
import type { Logger } from '../log.js';
import type { OrderReport } from '../domain/reports.js';
import type { OrderRole } from '../domain/protection.js';
import { placedByUs } from '../domain/orders.js';
import { isOption } from '../domain/symbols.js';
import { D } from '../decimal.js';
import { ledgerNetFilled, ledgerOf } from '../store/ledger.js';
import { orderRow } from '../store/order-rows.js';
import { stopClientIdOfBrokerOrder } from '../store/stops.js';
import { roleAtFirstFill } from '../../machines/position.js';
import type { Routing } from '../../machines/supervisor.machine.js';

/**
 * What the runtime knows about an order before its report goes to the supervisor: its role (from
 * its row, else the symbol's position at its first fill), whether this service placed it, whether it
 * is to be protected (`CT_ADOPT`; never an option contract), and its ledger when its actor must be seeded; and that a report
 * for an order whose actor finished is dropped (logged as drift when it carries more fill).
 */
export class OrderRoutes {
  private readonly terminal = new Set<string>();

  constructor(
    private readonly db: Database,
    private readonly log: Logger,
    private readonly adopt: 'protect' | 'record',
    private readonly isLive: (orderId: string) => boolean,
    private readonly positionOf: (symbol: string) => string,
  ) {}

  /** The order's actor finished: later reports for it are dropped without reading its row. */
  finished(orderId: string): void {
    this.terminal.add(orderId);
  }

  /** Decides role / tracked / protect for a report; null when the order's actor already finished. */
  routing(orderId: string, clientOrderId: string, order: Pick<OrderReport, 'symbol' | 'side' | 'assetClass'>): Routing | null {
    if (this.isLive(orderId)) {
      return { role: roleAtFirstFill(this.positionOf(order.symbol), { ...order, clientOrderId }), untracked: !placedByUs(clientOrderId), protect: !isOption(order.symbol, order.assetClass) };
    }
    if (this.terminal.has(orderId)) return null;
    const row = orderRow(this.db, orderId);
    if (row?.terminal) {
      this.terminal.add(orderId);
      return null;
    }
    // A FILL activity has no client order id: a stop we placed is still known by its broker id.
    const knownClientId = clientOrderId || row?.client_order_id || stopClientIdOfBrokerOrder(this.db, orderId) || '';
    const untracked = !placedByUs(knownClientId);
    const ledger = ledgerOf(this.db, orderId);
    return {
      clientOrderId: knownClientId,
      role: (row?.role as OrderRole | null) ?? roleAtFirstFill(this.positionOf(order.symbol), { ...order, clientOrderId: knownClientId }),
      untracked,
      // An option contract never gets a stop: its entry is done once filled (issue 26 item 5).
      protect: isOption(order.symbol, order.assetClass) ? false : untracked ? this.adopt === 'protect' : true,
      ledger: ledger.filledQty === '0' ? undefined : ledger,
    };
  }

  dropForFinishedOrder(orderId: string, cumQty: string, source: string): void {
    const row = orderRow(this.db, orderId);
    // What the fills add up to (busted ones out, corrected ones at their new qty) is the broker's filled_qty.
    if (row && new D(cumQty).gt(row.filled_qty) && new D(cumQty).gt(ledgerNetFilled(this.db, orderId))) {
      this.log.warn(
        { event: 'ledger_drift', order_id: orderId, ledger_qty: row.filled_qty, broker_filled_qty: cumQty, source },
        'broker reports more fill for an order whose actor finished',
      );
      return;
    }
    // Every fill arrives by stream, activities and polls: the later deliveries are routine (debug).
    if (cumQty !== '0') this.log.debug({ event: 'fill_already_processed', order_id: orderId, cum_qty: cumQty, source }, 'report for a finished order ignored');
  }
}
