/** Alpaca order statuses, grouped the way the order lifecycle needs them (pure). */

export type BrokerOutcome = 'working' | 'filled' | 'canceled' | 'expired' | 'rejected' | 'replaced';

export function brokerOutcome(status: string): BrokerOutcome {
  switch (status) {
    case 'filled':
      return 'filled';
    case 'canceled':
    case 'stopped':
      return 'canceled';
    case 'expired':
    case 'done_for_day':
      return 'expired';
    case 'rejected':
      return 'rejected';
    case 'replaced':
      return 'replaced';
    default:
      return 'working';
  }
}

/** The deterministic client_order_id of an entry's protective stop (DESIGN §3.3, ≤ 128 chars). */
export function stopClientOrderId(entryOrderId: string): string {
  return `ct-stop-${entryOrderId}`.slice(0, 128);
}

/** The entry order a protective stop belongs to, from the stop's client_order_id. */
export function entryOfStop(clientOrderId: string): string | null {
  return clientOrderId.startsWith('ct-stop-') ? clientOrderId.slice('ct-stop-'.length) : null;
}

/** Orders this service placed carry the ct- prefix; everything else was placed elsewhere. */
export function placedByUs(clientOrderId: string): boolean {
  return clientOrderId.startsWith('ct-');
}
