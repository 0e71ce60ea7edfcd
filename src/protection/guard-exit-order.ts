import { ApiError, NotFoundError, RateLimitError, type trading } from '@alpacahq/alpaca-trade-api';
import type { BrokerClient } from '../broker/client.js';
import { parseOrder } from '../broker/adapter.js';
import type { Database } from '../store/database.js';
import { orderRow } from '../store/order-rows.js';
import { writeGuardExit } from '../store/guard-exits.js';
import { isFinalStatus } from '../domain/orders.js';
import type { OrderReport } from '../domain/reports.js';
import { repriceClientOrderId, type ExitOrderState, type GuardExit } from '../domain/extended-hours-guard.js';
import { isDuplicateClientOrderId, isUnchangedReplace } from '../../machines/stop-policy.js';
import { LeadershipLost } from '../store/leadership-lost.js';
import { crashPoint } from '../runtime/crash-points.js';
import type { Logger } from '../log.js';

/**
 * The guard's exit order at Alpaca, placed exactly once per client order id: the id is written
 * (in the guard's record) before a request leaves, a 422 "client_order_id must be unique" is the
 * order sent before (looked up, never sent twice), a replacement is looked up by its own id after
 * a crash. A limit `day` order with `extended_hours: true`: pre-market and after-hours take only
 * that, overnight only limit orders (docs "24/5 Trading"; alpaca-rules.md, Equities).
 */
export interface GuardOrderDeps {
  db: Database;
  client: BrokerClient;
  log: Logger;
  /** Hands an order the broker answered to the order actors (its fills are recorded like any). */
  track: (order: OrderReport) => void;
}

/** The exit's order as the order actors last recorded it: none yet, still live, or ended. */
export function exitOrderState(db: Database, exit: GuardExit): ExitOrderState {
  if (exit.orderId === null) return 'none';
  const row = orderRow(db, exit.orderId);
  const status = row ? (JSON.parse(row.snapshot) as { context?: { order?: { status?: string } } }).context?.order?.status : undefined;
  return status !== undefined && isFinalStatus(status) ? 'ended' : 'live';
}

/** Placement times (`placedAt`) are taken when the broker's answer is in: the re-price clock never starts before the order exists. */
export class GuardExitOrders {
  constructor(private readonly deps: GuardOrderDeps) {}

  /**
   * The exit under `exit.cid` if the broker has it already (sent before a crash, or its answer
   * lost): recorded and returned; null when it does not (a definite 404).
   */
  async find(exit: GuardExit): Promise<GuardExit | null> {
    const order = await this.lookup(exit.cid);
    if (!order) return null;
    this.deps.track(order);
    const next: GuardExit = { ...exit, orderId: order.orderId, limitPrice: order.limitPrice, placedAt: Date.now() };
    writeGuardExit(this.deps.db, next);
    this.deps.log.warn({ event: 'guard_exit_found', symbol: exit.symbol, order_id: order.orderId, client_order_id: exit.cid, status: order.status }, `extended-hours exit of ${exit.symbol} found at the broker (sent before); not sent again`);
    return next;
  }

  /** POST the exit under `exit.cid` (already recorded); a duplicate is the one sent before. Returns the record with its order. */
  async place(exit: GuardExit, qty: string, limitPrice: string): Promise<GuardExit> {
    const body: trading.PostOrderRequest = { symbol: exit.symbol, qty, side: exit.side, type: 'limit', timeInForce: 'day', limitPrice, extendedHours: true, clientOrderId: exit.cid };
    this.deps.db.assertLeading();
    let order: OrderReport;
    try {
      const raw = await this.deps.client.orders.postOrder({ postOrderRequest: body });
      crashPoint('after_guard_post');
      order = this.parsed(raw);
    } catch (err) {
      if (!(err instanceof ApiError) || err instanceof RateLimitError || !isDuplicateClientOrderId(err.status, err.message)) throw err;
      order = await this.lookup(exit.cid).then((o) => o ?? Promise.reject(new Error(`${exit.cid} was sent before but is not found`)));
    }
    this.deps.track(order);
    const next: GuardExit = { ...exit, orderId: order.orderId, limitPrice: order.limitPrice ?? limitPrice, placedAt: Date.now() };
    writeGuardExit(this.deps.db, next);
    this.deps.log.warn({ event: 'guard_exit_placed', symbol: exit.symbol, order_id: order.orderId, client_order_id: exit.cid, side: exit.side, qty: order.qty ?? qty, limit_price: next.limitPrice }, `extended-hours exit of ${exit.symbol} placed`);
    return next;
  }

  /**
   * PATCH the working exit to `limitPrice` under its next client order id (recorded first). An
   * unchanged answer only restarts the re-price clock; a refusal (the order filled or ended
   * meanwhile) leaves it to the order actors to say what became of it.
   */
  async reprice(exit: GuardExit, limitPrice: string): Promise<GuardExit> {
    const cid = repriceClientOrderId(exit.baseCid, exit.reprices + 1);
    let next: GuardExit = { ...exit, pendingReplace: { cid, limitPrice } };
    writeGuardExit(this.deps.db, next);
    this.deps.db.assertLeading();
    try {
      const order = this.parsed(await this.deps.client.orders.patchOrderByOrderId({ orderId: exit.orderId!, patchOrderRequest: { limitPrice, clientOrderId: cid } }));
      return this.adopt(next, order);
    } catch (err) {
      if (err instanceof LeadershipLost || !(err instanceof ApiError) || err instanceof RateLimitError || err.status >= 500) throw err;
      if (isDuplicateClientOrderId(err.status, err.message)) return this.settle(next);
      next = { ...exit, pendingReplace: null, placedAt: Date.now() };
      writeGuardExit(this.deps.db, next);
      if (!isUnchangedReplace(err.status, err.message)) this.deps.log.warn({ event: 'guard_reprice_refused', symbol: exit.symbol, order_id: exit.orderId, err: err.message }, `re-price of the ${exit.symbol} exit refused`);
      return next;
    }
  }

  /** After a crash or a lost answer: a replacement sent is adopted if the broker has it, else forgotten (sent again later under the same id). */
  async settle(exit: GuardExit): Promise<GuardExit> {
    if (!exit.pendingReplace) return exit;
    const found = await this.lookup(exit.pendingReplace.cid);
    if (found) return this.adopt(exit, found);
    const next = { ...exit, pendingReplace: null };
    writeGuardExit(this.deps.db, next);
    return next;
  }

  /** DELETE the exit (regular hours: the stops come back and need its shares); gone already is fine. */
  async cancel(exit: GuardExit): Promise<void> {
    if (!exit.orderId) return;
    this.deps.db.assertLeading();
    try {
      await this.deps.client.orders.deleteOrderByOrderID({ orderId: exit.orderId });
      this.deps.log.info({ event: 'guard_exit_canceled', symbol: exit.symbol, order_id: exit.orderId }, `extended-hours exit of ${exit.symbol} canceled`);
    } catch (err) {
      if (!(err instanceof ApiError) || err instanceof RateLimitError || err.status >= 500) throw err;
    }
  }

  private adopt(exit: GuardExit, order: OrderReport): GuardExit {
    this.deps.track(order);
    const next: GuardExit = { ...exit, cid: order.clientOrderId, orderId: order.orderId, limitPrice: order.limitPrice ?? exit.pendingReplace?.limitPrice ?? exit.limitPrice, placedAt: Date.now(), reprices: exit.reprices + 1, pendingReplace: null };
    writeGuardExit(this.deps.db, next);
    this.deps.log.info({ event: 'guard_exit_repriced', symbol: exit.symbol, order_id: order.orderId, client_order_id: order.clientOrderId, limit_price: next.limitPrice, reprices: next.reprices }, `extended-hours exit of ${exit.symbol} re-priced`);
    return next;
  }

  private async lookup(cid: string): Promise<OrderReport | null> {
    try {
      return this.parsed(await this.deps.client.orders.getOrderByClientOrderId({ clientOrderId: cid }));
    } catch (err) {
      if (err instanceof NotFoundError) return null;
      throw err;
    }
  }

  private parsed(raw: unknown): OrderReport {
    const p = parseOrder(raw);
    if (!p.ok) throw new Error(`unreadable order: ${p.reason}`);
    return p.value;
  }
}
