import { WATERMARK_KINDS, type BrokerClient } from '../broker/client.js';
import { parseOptionActivity } from '../broker/option-activity-adapter.js';
import { parseActivity } from '../broker/adapter.js';
import type { FeeReport } from '../domain/reports.js';
import type { Database } from '../store/database.js';
import { hasFill } from '../store/ledger.js';
import type { Logger } from '../log.js';
import type { OrderActors } from '../runtime/order-actors.js';
import { activityIdTime } from '../time.js';
import { readSyncState, writeSyncState } from '../store/sync-state.js';
import { heldFees } from './fee-window.js';

/**
 * Alpaca has confirmed that activities can be missing and show up later (alpacahq/Alpaca-API#176),
 * with ids before ones already served: a watermark alone never sees them. Once a minute (not every
 * poll) the activities of a trailing window behind the watermark (`CT_RESYNC_WINDOW_S`) are read
 * again; what is recorded already is skipped before it reaches an actor (no log line, no write),
 * so the re-read is free of duplicates; what is new goes the normal way. The watermark does not move.
 *
 * An activity is safe once a read that covers its time ran at least the window after it (it was
 * published by then). `late_safe_until` (sync_state) is the time up to which every activity is safe:
 * a re-read starts there when that is before the trailing window, so one that comes late (a bot
 * that crash-looped for longer than the window, a re-read skipped in catch-ups) still covers every
 * activity not yet safe, and then moves it to its own start time less the window.
 */
const FIRST_AFTER_MS = 15_000;

export class ResyncWindow {
  /**
   * The first re-read comes 15 s after start (not with the start's catch-up, which reads everything
   * after the watermark anyway and has its request budget); then once a minute.
   */
  private lastAt: number;

  constructor(
    private readonly deps: {
      db: Database;
      log: Logger;
      client: BrokerClient;
      actors: OrderActors;
      windowS: number;
      everyMs?: number;
      /** A fee read before its fill was recorded (fee-window.ts reads it again). */
      feeWaiting?: (fee: FeeReport) => void;
    },
  ) {
    this.lastAt = Date.now() - (deps.everyMs ?? 60_000) + FIRST_AFTER_MS;
  }

  /** Re-reads the window if a minute has passed since the last re-read; returns the pages read. */
  async maybeRun(watermark: string | null, now = Date.now()): Promise<{ pages: number; recovered: number }> {
    const { db, log, client, actors, windowS } = this.deps;
    if (watermark === null || windowS <= 0 || now - this.lastAt < (this.deps.everyMs ?? 60_000)) return { pages: 0, recovered: 0 };
    const at = activityIdTime(watermark);
    if (at === null) return { pages: 0, recovered: 0 };
    this.lastAt = now;
    const trailing = Date.parse(at) - windowS * 1000;
    const safe = readSyncState(db, 'late_safe_until');
    const since = new Date(safe !== null && Date.parse(safe) < trailing ? Date.parse(safe) : trailing);
    let pages = 0;
    let recovered = 0;
    let fees: FeeReport[] = [];
    const failuresBefore = actors.commitFailures;
    for await (const page of client.activityPages(null, WATERMARK_KINDS, since)) {
      pages += 1;
      db.transaction(() => {
        for (const raw of page) {
          // An option exercise or assignment the watermark passed: recorded now (once: option-commit.ts).
          const option = parseOptionActivity(raw);
          if (option) {
            if (option.ok && actors.recordOptionEvent(option.value)) {
              recovered += 1;
              log.warn({ event: 'late_activity_recovered', id: (raw as { id?: unknown }).id, kind: option.value.kind }, 'an activity the watermark had passed: recorded now');
            }
            continue;
          }
          const parsed = parseActivity(raw);
          if (!parsed.ok) continue;
          if (parsed.value.type === 'fee') {
            // After the fills read so far: a CFEE sorts before its fill.
            fees.push(parsed.value.fee);
          } else if (!hasFill(db, parsed.value.fill.orderId, parsed.value.fill.cumQty)) {
            recovered += 1;
            log.warn({ event: 'late_activity_recovered', id: (raw as { id?: unknown }).id, order_id: parsed.value.fill.orderId, cum_qty: parsed.value.fill.cumQty }, 'an activity the watermark had passed: recorded now');
            actors.handleExecution(parsed.value.fill, null);
          }
        }
        const held = heldFees(db, actors, fees);
        recovered += held.recorded;
        fees = held.waiting;
      });
    }
    for (const fee of fees) this.deps.feeWaiting?.(fee);
    // A fill recovered here whose commit failed (the process stops on it) leaves the window unsafe: read again.
    if (actors.commitFailures === failuresBefore) this.markSafe(now);
    return { pages, recovered };
  }

  /**
   * A full read ran at `now` (the first catch-up of a database: everything after no watermark):
   * what is older than the window before it is safe, if nothing was before.
   */
  noteFirstRead(now = Date.now()): void {
    if (this.deps.windowS > 0 && readSyncState(this.deps.db, 'late_safe_until') === null) this.markSafe(now);
  }

  private markSafe(now: number): void {
    const until = new Date(now - this.deps.windowS * 1000).toISOString();
    const had = readSyncState(this.deps.db, 'late_safe_until');
    if (had === null || had < until) writeSyncState(this.deps.db, 'late_safe_until', until);
  }
}
