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

/**
 * The client_order_id of the `day` stop that protects the fractional part of an equity entry of one
 * share or more (`<base>-f`): its whole shares trail under the base id, and a fractional quantity
 * cannot trail (alpaca-rules.md, "Fractional trading").
 */
export function fractionStopClientOrderId(entryOrderId: string): string {
  return `${stopClientOrderId(entryOrderId)}-f`;
}

/** The client_order_id of a replacement of that stop: `<base>-v<version>`. */
export function stopVersionClientOrderId(entryOrderId: string, version: number): string {
  return versionedStopClientOrderId(stopClientOrderId(entryOrderId), version);
}

/** The client_order_id of version `version` of the stop whose row is `rowId` (`ct-stop-<entry>` or its `-f`). */
export function versionedStopClientOrderId(rowId: string, version: number): string {
  return version === 0 ? rowId : `${rowId}-v${version}`;
}

/** The entry order a protective stop (or one of its replacements, or its fraction's stop) belongs to, from its client_order_id. */
export function entryOfStop(clientOrderId: string): string | null {
  const m = /^ct-stop-(.+?)(?:-f)?(?:-v\d+)?$/.exec(clientOrderId);
  return m ? m[1]! : null;
}

/** The stop row (`stops.client_order_id`) an order of ours belongs to: its client_order_id without the version. */
export function stopRowIdOf(clientOrderId: string): string | null {
  const m = /^(ct-stop-.+?(?:-f)?)(?:-v\d+)?$/.exec(clientOrderId);
  return m ? m[1]! : null;
}

/** Whether a stop's client_order_id is the one of an entry's fraction stop (or a replacement of it). */
export function isFractionStop(clientOrderId: string): boolean {
  return /^ct-stop-.+-f(?:-v\d+)?$/.test(clientOrderId);
}

/** Orders this service placed carry the ct- prefix; everything else was placed elsewhere. */
export function placedByUs(clientOrderId: string): boolean {
  return clientOrderId.startsWith('ct-');
}
