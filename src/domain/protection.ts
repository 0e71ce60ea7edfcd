import type { Side } from './reports.js';

/**
 * What the machines, the runtime and the store all speak of when an order is recorded and its
 * position protected (pure, no I/O): an order's role, the fills ledger's rows, a protective stop's
 * ask (the `stops` row's payload) and its status groups.
 */

/** An order's role at its first fill (machines/position.ts `roleAtFirstFill` decides it). */
export type OrderRole = 'entry' | 'stop' | 'exit';

/** The widest trail a stop may have, in percent: one bound for CT_TRAIL_PERCENT, an account's trail_percent and `PATCH /stops/:id`. */
export const MAX_TRAIL_PERCENT = 50;

/** The fill ledger of one order: what machines/fill-plan.ts adds to, what src/store/ledger.ts sums. */
export interface OrderLedger {
  /** Cumulative quantity recorded so far. */
  filledQty: string;
  /** Σ qty × price over the recorded fills (busted ones out, corrected ones at their new terms). */
  notional: string;
  /**
   * What trade busts and corrections moved the broker's filled_qty by (signed; absent: 0): the broker's
   * cum_qty is `filledQty` + this, while `filledQty` stays the highest cum_qty recorded (the fills'
   * identity). A report's cum_qty is read less this.
   */
  changed?: string;
  /**
   * The highest cum_qty recorded when the last bust or correction was applied (absent: none was).
   * An execution made before it is reported in the broker's numbering of then — the REST FILL list
   * keeps it as it was, and a stream replays it so — so a report of one execution at or below this is
   * a fill recorded already, not a new one read less `changed` (machines/fill-plan.ts).
   */
  changedAt?: string;
}

export type FillSource = 'stream' | 'activity' | 'order' | 'inferred' | 'event';

/** One row of the fills ledger; identity is (orderId, cumQty). */
export interface FillRecord {
  orderId: string;
  symbol: string;
  side: Side;
  cumQty: string;
  qty: string;
  price: string;
  source: FillSource;
  execId: string | null;
  /** The broker's execution id, when the report that brought it told it (not an inferred fill's). */
  executionId?: string | null;
  at: string;
}

/** What a protective stop is asked to cover: the `payload` of its `stops` row. */
export interface StopAsk {
  entryOrderId: string;
  clientOrderId: string;
  symbol: string;
  assetClass: string;
  /** The stop's side: opposite of the entry. */
  side: Side;
  qty: string;
  /**
   * Equities: which part of the entry's quantity this stop covers. Absent: the whole shares (a
   * trailing stop), or all of it when under one share; `fraction`: the fractional part of an entry
   * of one share or more, as a `day` stop (fractional orders cannot trail).
   */
  part?: 'fraction';
  /** The operator's trail for this stop (PATCH /stops/:entry_order_id); absent: CT_TRAIL_PERCENT. */
  trailPercent?: string;
  /** Crypto: the asset's `min_trade_increment`, learned at the first send; what the stop wants is floored to it. */
  qtyIncrement?: string;
}

/** Payloads parsed lately (a stop's transition reads its ask a dozen times): frozen, since they are shared. */
const asks = new Map<string, Readonly<StopAsk>>();

/** A stop row's ask, from its payload (read-only: spread it to change a field). */
export function stopAsk(row: { payload: string }): StopAsk {
  let ask = asks.get(row.payload);
  if (ask === undefined) {
    ask = Object.freeze(JSON.parse(row.payload) as StopAsk);
    if (asks.size >= 2048) asks.clear();
    asks.set(row.payload, ask);
  }
  return ask as StopAsk;
}

/** The `status` column of an `stops` row (machines/stop-model.ts `stopStateOf` reads the state from it and the other columns). */
export type StopStatus = 'pending' | 'unknown' | 'confirmed' | 'rejected' | 'done';

/** Statuses of a stop that is not done (pending, sending / unknown / replacing, working, refused). */
export const LIVE_STOP_STATUSES: readonly StopStatus[] = ['pending', 'unknown', 'confirmed', 'rejected'];

/** A protective stop as the `stops` table keeps it: the columns the stop machine reads and writes. */
export interface StopRow {
  /** Deterministic client_order_id of the order the stop places (e.g. ct-stop-<entry id>). */
  client_order_id: string;
  entry_order_id: string;
  symbol: string;
  /** The ask (a StopAsk, JSON). */
  payload: string;
  status: StopStatus;
  broker_order_id: string | null;
  attempts: number;
  last_error: string | null;
  /** The client order id of the order being placed now: the base id, or `<base>-v<version>` for a replacement. */
  current_client_order_id: string | null;
  version: number;
  /** Set before a request is sent: a crash after sending is found again by client order id. */
  sent_at: string | null;
  placed_qty: string | null;
  placed_stop_price: string | null;
  /** A trailing stop's trail percent as placed (null: not a trailing stop, or placed before this was kept). */
  placed_trail_percent: string | null;
  /**
   * When Alpaca cancels the working order under its aged-order policy (a GTC order's `expires_at`,
   * 90 days after it was created), as Alpaca last said; null: no order, a `day` order, or not read yet.
   */
  expires_at: string | null;
  /** Crypto: the stop price the ratchet wants (null: derive from the latest price). */
  target_stop_price: string | null;
  /** Epoch ms before which the worker leaves the stop alone (backoff). */
  next_attempt_at: number;
  cancel_requested: number;
  cut_qty: string;
}
