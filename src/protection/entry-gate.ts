import { randomUUID } from 'node:crypto';
import type { trading } from '@alpacahq/alpaca-trade-api';
import type { BrokerClient } from '../broker/client.js';
import { parseOrder } from '../broker/adapter.js';
import type { OrderReport, Side } from '../domain/reports.js';
import { isCrypto } from '../domain/symbols.js';
import type { Database } from '../store/database.js';
import { activeCooldown } from '../store/cooldowns.js';
import type { Logger } from '../log.js';

export interface EntryRequest {
  symbol: string;
  side: Side;
  qty: string;
  type?: 'market' | 'limit';
  limitPrice?: string;
  timeInForce?: 'day' | 'gtc' | 'ioc';
}

/** An entry the engine would not send, and why. */
export class EntryRefused extends Error {
  constructor(
    readonly reason: 'cooldown',
    readonly symbol: string,
    readonly until: string,
  ) {
    super(`entry refused: ${symbol} is cooling down until ${until} after an exit`);
    this.name = 'EntryRefused';
  }
}

/**
 * The way a strategy places entries through the engine: refused while the symbol cools down after
 * an exit (DESIGN §3.5), otherwise sent with a `ct-entry-` client order id, so the service knows it
 * as its own (tracked) and protects it once it fills.
 */
export class EntryGate {
  constructor(private readonly deps: { db: Database; client: BrokerClient; log: Logger }) {}

  async submit(req: EntryRequest, now = new Date()): Promise<OrderReport> {
    const cooling = activeCooldown(this.deps.db, req.symbol, now);
    if (cooling) {
      this.deps.log.info({ event: 'entry_refused', symbol: req.symbol, reason: 'cooldown', until: cooling.until, exit_fill_id: cooling.exit_fill_id }, `entry refused: ${req.symbol} cooling down`);
      throw new EntryRefused('cooldown', req.symbol, cooling.until);
    }
    const crypto = isCrypto(req.symbol);
    const body: trading.PostOrderRequest = {
      symbol: req.symbol,
      qty: req.qty,
      side: req.side,
      type: req.type ?? 'market',
      timeInForce: req.timeInForce ?? (crypto ? 'gtc' : 'day'),
      limitPrice: req.limitPrice,
      clientOrderId: `ct-entry-${randomUUID()}`,
    };
    const parsed = parseOrder(await this.deps.client.orders.postOrder({ postOrderRequest: body }));
    if (!parsed.ok) throw new Error(`broker answered an unreadable order: ${parsed.reason}`);
    this.deps.log.info({ event: 'entry_submitted', order_id: parsed.value.orderId, client_order_id: parsed.value.clientOrderId, symbol: req.symbol, side: req.side, qty: req.qty }, `entry submitted for ${req.symbol}`);
    return parsed.value;
  }
}
