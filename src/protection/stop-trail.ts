import type { Database } from '../store/database.js';
import { readStopRow, type StoredStopRow } from '../store/stops.js';
import { stopClientOrderId } from '../domain/orders.js';
import { stopAsk } from '../domain/protection.js';
import { stopStateOf } from '../../machines/stop-model.js';
import { applyStopTransition } from './stop-transitions.js';

export type RetrailOutcome = { ok: true; row: StoredStopRow } | { ok: false; code: 'no_stop' | 'stop_ended' };

/**
 * PATCH /stops/:entry_order_id {trail_percent}: the entry's stop asked again with the operator's
 * trail (its fraction stop follows). A working trailing stop is replaced with it (its machine sees
 * the placed trail differ); a `day` stop (a fraction) takes it at its next placement, a crypto
 * stop-limit as the ratchet next moves it (the ratchet never lowers a stop).
 */
export function retrailStop(db: Database, entryOrderId: string, trailPercent: string, now = new Date()): RetrailOutcome {
  const cid = stopClientOrderId(entryOrderId);
  const row = readStopRow(db, cid);
  if (!row) return { ok: false, code: 'no_stop' };
  if (stopStateOf(row) === 'done' || row.cancel_requested) return { ok: false, code: 'stop_ended' };
  const t = applyStopTransition(db, cid, { type: 'asked', ask: { ...stopAsk(row), trailPercent } }, now);
  return { ok: true, row: t.row ?? row };
}
