import type { Database } from '../store/database.js';
import { countOrders } from '../store/order-counts.js';
import { readSyncState } from '../store/sync-state.js';
import type { Mode } from '../config.js';

export type StreamState = 'connected' | 'reconnecting' | 'down';

export interface DriftEntry {
  kind: 'order' | 'position';
  /** The order whose ledger disagrees with the broker's filled_qty (kind "order"). */
  order_id: string | null;
  symbol: string;
  ledger_qty: string;
  broker_qty: string;
  since: string;
}

/** What /health reads from the running service besides the store. */
export interface HealthSource {
  mode: Mode;
  streamState(): StreamState;
  drift(): DriftEntry[];
}

export function healthReport(db: Database, source: HealthSource) {
  const stream = source.streamState();
  const drift = source.drift();
  return {
    status: stream === 'connected' && drift.length === 0 ? 'ok' : 'degraded',
    mode: source.mode,
    stream,
    last_reconcile_at: readSyncState(db, 'last_reconcile_at'),
    watermark: readSyncState(db, 'fill_watermark'),
    actors: countOrders(db),
    drift,
  };
}
