import type { Database } from '../store/database.js';
import { countOrders } from '../store/order-counts.js';
import { readSyncState } from '../store/sync-state.js';
import { entriesPaused } from '../store/entries-paused.js';
import type { Mode } from '../config.js';
import type { ProtectionView } from '../protection/coverage-watch.js';

import type { StreamState } from '../domain/stream.js';

export type { StreamState };

/** ok: nothing wrong; degraded: stream/drift trouble (HTTP 200); critical: an unprotected position (HTTP 503). */
export type HealthStatus = 'ok' | 'degraded' | 'critical';

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
  /** The activity event stream (src/sync/event-stream.ts): its state, and its one reason while unavailable. */
  eventStream?(): { state: string; reason: string | null };
  drift(): DriftEntry[];
  /** The coverage watch (absent: protection is not watched and reported as null). */
  protection?(): ProtectionView;
}

export type HealthReport = ReturnType<typeof healthReport>;

export function healthReport(db: Database, source: HealthSource) {
  const stream = source.streamState();
  const drift = source.drift();
  const protection = source.protection?.() ?? null;
  const events = source.eventStream?.() ?? null;
  // An event stream that is unavailable is a reason (degraded, HTTP 200), never an alarm: the sources it backs up still run.
  const reasons = [...streamReasons(stream), ...(events?.reason ? [events.reason] : []), ...driftReasons(drift), ...protectionReasons(protection)];
  const status: HealthStatus = protection?.critical ? 'critical' : reasons.length > 0 ? 'degraded' : 'ok';
  return {
    status,
    reasons,
    mode: source.mode,
    entries_paused: entriesPaused(db).paused,
    stream,
    event_stream: events?.state ?? 'off',
    event_cursor: readSyncState(db, 'event_cursor'),
    last_reconcile_at: readSyncState(db, 'last_reconcile_at'),
    watermark: readSyncState(db, 'fill_watermark'),
    actors: countOrders(db),
    drift,
    protection: protection && { unprotected: protection.unprotected, overprotected: protection.overprotected, grace_s: protection.grace_s, session: protection.session ?? null, ...(protection.guard_exits?.length ? { guard_exits: protection.guard_exits } : {}) },
  };
}

function streamReasons(stream: StreamState): string[] {
  return stream === 'connected' ? [] : [`stream ${stream}`];
}

function driftReasons(drift: DriftEntry[]): string[] {
  const out: string[] = [];
  for (const kind of ['order', 'position'] as const) {
    const n = drift.filter((d) => d.kind === kind).length;
    if (n > 0) out.push(`ledger drift on ${n} ${kind}${n === 1 ? '' : 's'}`);
  }
  return out;
}

/** Positions uncovered past the grace period (within it, a stop is normally on its way). */
function protectionReasons(p: ProtectionView | null): string[] {
  return (p?.unprotected ?? [])
    .filter((u) => u.past_grace)
    .map((u) => `position ${u.symbol} uncovered ${u.uncovered} of ${u.position.replace('-', '')} for ${u.uncovered_for_s} s: ${u.reason}`);
}
