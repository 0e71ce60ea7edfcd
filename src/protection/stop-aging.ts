import type { Database } from '../store/database.js';
import { agingStops } from '../store/stops.js';
import type { StopEvent } from '../../machines/stop-model.js';

/**
 * Alpaca cancels a GTC order 90 days after it was created (aged-order policy, `expires_at`). Which
 * working stops are within `rearmBeforeMs` of that, read from their rows against Alpaca's time (the
 * market clock), at most every `everyMs`: no broker request. Each is sent the stop machine's `aging`
 * event, which decides the re-arm; the stop worker sends it.
 */
export interface AgingClock {
  /** Alpaca's time now (epoch ms); null until its clock was read. */
  brokerNow: () => number | null;
  /** CT_REARM_BEFORE_H, in ms. */
  rearmBeforeMs: number;
  /** How often the rows are read (default 5 s). */
  everyMs?: number;
}

export class AgingScan {
  private last = -Infinity;

  constructor(
    private readonly db: Database,
    private readonly clock: AgingClock,
  ) {}

  /** The stops to re-arm now and the event for them; null between scans, before Alpaca's clock was read, or when none is due. */
  due(localNow: number): { clientOrderIds: string[]; event: Extract<StopEvent, { type: 'aging' }> } | null {
    if (localNow - this.last < (this.clock.everyMs ?? 5000)) return null;
    this.last = localNow;
    const brokerNow = this.clock.brokerNow();
    if (brokerNow === null) return null;
    const clientOrderIds = agingStops(this.db, new Date(brokerNow + this.clock.rearmBeforeMs).toISOString());
    return clientOrderIds.length === 0 ? null : { clientOrderIds, event: { type: 'aging', brokerNow, rearmBeforeMs: this.clock.rearmBeforeMs } };
  }
}
