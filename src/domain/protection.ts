import type { Side } from './reports.js';

/**
 * What the machines, the runtime and the store all speak of when an order is recorded and its
 * position protected (pure, no I/O): an order's role, the fills ledger's rows, a protective stop's
 * ask (the `intents` row's payload) and its status groups.
 */

/** An order's role at its first fill (machines/position.ts `roleAtFirstFill` decides it). */
export type OrderRole = 'entry' | 'stop' | 'exit';

/** The fill ledger of one order: what machines/fill-plan.ts adds to, what src/store/ledger.ts sums. */
export interface OrderLedger {
  /** Cumulative quantity recorded so far. */
  filledQty: string;
  /** Σ qty × price over the recorded fills. */
  notional: string;
}

export type FillSource = 'stream' | 'activity' | 'order' | 'inferred';

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
  at: string;
}

/** What a protective stop is asked to cover: the `payload` of its `intents` row. */
export interface StopIntent {
  entryOrderId: string;
  clientOrderId: string;
  symbol: string;
  assetClass: string;
  /** The stop's side: opposite of the entry. */
  side: Side;
  qty: string;
}

/** A stop row's ask, from its payload. */
export function stopAsk(row: { payload: string }): StopIntent {
  return JSON.parse(row.payload) as StopIntent;
}

/** The `status` column of an `intents` row (machines/stop.ts `stopStateOf` reads the state from it and the other columns). */
export type StopStatus = 'pending' | 'unknown' | 'confirmed' | 'rejected' | 'done';

/** Statuses of a stop that is not done (pending, sending / unknown / replacing, working, refused). */
export const LIVE_STOP_STATUSES: readonly StopStatus[] = ['pending', 'unknown', 'confirmed', 'rejected'];
