import { D, normalize } from '../decimal.js';
import type { FillRecord } from './protection.js';

/**
 * Option exercise and assignment as the ledger keeps them (pure). Alpaca reports them as non-trade
 * activities, never FILL activities (docs "Non-trade activities for option events"; alpaca-rules.md,
 * "Streams and activities"): `OPEXC` (n long contracts exercised, qty −n) or `OPASN` (n short contracts
 * assigned, qty +n) on the contract at no cash, and `OPTRD` for the n × 100 shares of the underlying
 * that trade at the strike (qty signed: + bought, − sold). They reach the service by REST
 * (`GET /v2/account/activities?activity_types=…,OPEXC,OPASN,OPTRD`) and by the activity event stream.
 *
 * Each is recorded as one row of the fills ledger of an order of its own that no broker knows
 * (`optionEventOrderId`): `<kind>-<key>` with the activity's key, quantity |qty|, side from its sign.
 * The identity (order id, cum qty) is the same whichever source brings it, so it is recorded exactly
 * once; positions, drift, P&L and the position actors then follow it like any fill. The shares of an
 * OPTRD are followed and protected like an outside order's fill (CT_ADOPT); the contracts leaving
 * never get stops (an option is never protected).
 */

export type OptionEventKind = 'OPEXC' | 'OPASN' | 'OPTRD';

export const OPTION_EVENT_TYPES: readonly OptionEventKind[] = ['OPEXC', 'OPASN', 'OPTRD'];

export interface OptionEventReport {
  kind: OptionEventKind;
  /**
   * The activity's identity across sources: the uuid part of a REST activity id
   * (`<time>::<uuid>`), which the event stream sends as `ref_id` ("for other activities the trns_id
   * is used", SDK ActivityEventV2).
   */
  key: string;
  /** OPEXC / OPASN: the contract (OCC symbol); OPTRD: the underlying's. */
  symbol: string;
  /** Signed: + the account received it, − it gave it up. Never zero. */
  qty: string;
  /** OPTRD: the strike the shares traded at; the contracts: "0" (no cash). */
  price: string;
  /** When it happened, canonical UTC. */
  at: string;
  source: 'activity' | 'event';
  /** The REST activity id, or the event id. */
  sourceId: string;
  /** The contract an OPTRD's shares came from, when the source names it. */
  contractSymbol: string | null;
}

/** The key of a REST activity id: its uuid part (the whole id when it has no `::`). */
export function activityKey(activityId: string): string {
  const i = activityId.indexOf('::');
  return i < 0 ? activityId : activityId.slice(i + 2);
}

/** The order id an option event is recorded under: no broker order has it (`opexc-…`, `opasn-…`, `optrd-…`). */
export function optionEventOrderId(kind: OptionEventKind, key: string): string {
  return `${kind.toLowerCase()}-${key}`;
}

/** Whether a ledger order id is an option event's (exercise, assignment, their share trade). */
export function isOptionEventOrderId(orderId: string): boolean {
  return /^op(?:exc|asn|trd)-/.test(orderId);
}

/** The fills-ledger row an option event is recorded as (its identity: the order id above, cum qty |qty|). */
export function optionEventFill(e: OptionEventReport): FillRecord {
  const qty = normalize(new D(e.qty).abs());
  return {
    orderId: optionEventOrderId(e.kind, e.key),
    symbol: e.symbol,
    side: new D(e.qty).isNegative() ? 'sell' : 'buy',
    cumQty: qty,
    qty,
    price: e.price,
    source: e.source,
    execId: e.sourceId,
    executionId: null,
    at: e.at,
  };
}
