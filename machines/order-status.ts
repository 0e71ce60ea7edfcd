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

/** The client_order_id of a replacement of that stop: `<base>-v<version>`. */
export function stopVersionClientOrderId(entryOrderId: string, version: number): string {
  const base = stopClientOrderId(entryOrderId);
  return version === 0 ? base : `${base}-v${version}`;
}

/** The entry order a protective stop (or one of its replacements) belongs to, from its client_order_id. */
export function entryOfStop(clientOrderId: string): string | null {
  const m = /^ct-stop-(.+?)(?:-v\d+)?$/.exec(clientOrderId);
  return m ? m[1]! : null;
}

/** Orders this service placed carry the ct- prefix; everything else was placed elsewhere. */
export function placedByUs(clientOrderId: string): boolean {
  return clientOrderId.startsWith('ct-');
}
