import { NotFoundError } from '@alpacahq/alpaca-trade-api';
import type { Logger } from '../log.js';
import { parseOrder } from './adapter.js';
import type { BrokerClient } from './client.js';
import type { OrderReport } from '../domain/reports.js';

/**
 * GET /v2/orders/{id} as a report. A definite 404 is "the broker does not know it" (null); a
 * payload that does not parse is logged and treated the same; network trouble throws, because
 * it means "unknown", never "absent" (DESIGN §3.3).
 */
export async function fetchOrder(client: BrokerClient, log: Logger, orderId: string): Promise<OrderReport | null> {
  try {
    const raw = await client.orders.getOrderByOrderID({ orderId });
    const parsed = parseOrder(raw);
    if (!parsed.ok) {
      log.warn({ event: 'broker_payload_rejected', source: 'order', order_id: orderId, reason: parsed.reason }, 'skipped a malformed order');
      return null;
    }
    return parsed.value;
  } catch (err) {
    if (err instanceof NotFoundError) return null;
    throw err;
  }
}
