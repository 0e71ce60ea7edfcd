/**
 * Alpaca order statuses, grouped the way the order lifecycle needs them, and this service's client
 * order ids (pure, no imports): the one set of status groups the machines, the runtime, the store
 * and the stop worker use.
 */

/**
 * The one place order statuses are grouped (alpaca-rules.md, "Any order"; docs "Orders", order
 * lifecycle). Only these five are final: the order can change no more.
 */
export const FINAL_ORDER_STATUSES = ['filled', 'canceled', 'expired', 'replaced', 'rejected'] as const;

/**
 * Statuses that keep an order live. `stopped` guarantees a fill still to come; `done_for_day` ends
 * today's trading, not the order (more fills may come next session); `suspended` is rare and not
 * final either. A status Alpaca adds later is live too until the order says it is final.
 */
export const LIVE_ORDER_STATUSES = [
  'new',
  'partially_filled',
  'done_for_day',
  'stopped',
  'calculated',
  'pending_new',
  'pending_cancel',
  'pending_replace',
  'accepted',
  'accepted_for_bidding',
  'held',
  'suspended',
] as const;

export type FinalOrderStatus = (typeof FINAL_ORDER_STATUSES)[number];

const FINAL: ReadonlySet<string> = new Set(FINAL_ORDER_STATUSES);

/** The order can change no more (filled, canceled, expired, replaced, rejected). */
export function isFinalStatus(status: string): status is FinalOrderStatus {
  return FINAL.has(status);
}

/** The order may still fill, be canceled or be replaced: every status that is not final. */
export function isLiveStatus(status: string): boolean {
  return !FINAL.has(status);
}

export type BrokerOutcome = 'working' | FinalOrderStatus;

/** What a status means for the order's lifecycle: still working, or its final outcome. */
export function brokerOutcome(status: string): BrokerOutcome {
  return isFinalStatus(status) ? status : 'working';
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
