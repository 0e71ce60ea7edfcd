import type { Database } from '../store/database.js';
import { startExitCooldown, type StartedCooldown } from '../store/cooldowns.js';
import { fillsSince } from '../store/ledger.js';
import { listFees } from '../store/fees.js';
import { inLedgerOrder } from '../domain/fees.js';
import { readSyncState, writeSyncState } from '../store/sync-state.js';
import { endingFills } from '../../machines/position.js';
import { notifyCooldownStarted } from '../notify/events.js';

/**
 * Cooldowns follow the broker's order of fills, not the order they reached us in. A fill learned
 * late (from activities after a restart, while the stream had already brought newer ones) may have
 * closed a position that, in arrival order, never looked closed. Such a fill marks its symbol, in
 * the same transaction that records it; the symbol's fills from that time on are then walked in
 * fill-time order and every one that closed or crossed the position starts its cooldown (once:
 * cooldowns are keyed by the exit fill). The mark is durable, so a crash before the walk only
 * delays it to the next start.
 */
export class LateExits {
  /** The newest fill time recorded per symbol. */
  private readonly latest: Map<string, string>;

  constructor(
    private readonly db: Database,
    initial: Map<string, string>,
  ) {
    this.latest = new Map(initial);
  }

  /** Inside the fill's transaction: is it older than what was already recorded for its symbol? */
  isLate(symbol: string, at: string): boolean {
    const last = this.latest.get(symbol);
    return last !== undefined && at < last;
  }

  /** Inside the fill's transaction: remember to walk `symbol` from `at`. */
  mark(symbol: string, at: string): void {
    const pending = this.pending();
    if (!pending[symbol] || at < pending[symbol]) pending[symbol] = at;
    writeSyncState(this.db, 'late_exits_from', JSON.stringify(pending));
  }

  /** After the commit: the newest fill time per symbol moves on. */
  committed(symbol: string, at: string): void {
    const last = this.latest.get(symbol);
    if (last === undefined || at > last) this.latest.set(symbol, at);
  }

  /**
   * Walks every marked symbol (its position now, as the ledger has it, comes from `position`) and
   * starts the cooldowns the broker's order calls for. Returns the ones it started.
   */
  replay(position: (symbol: string) => string, minutes: number, now = new Date()): StartedCooldown[] {
    const started: StartedCooldown[] = [];
    this.db.transaction(() => {
      const pending = this.pending();
      for (const [symbol, from] of Object.entries(pending)) {
        const fills = fillsSince(this.db, symbol, from);
        // Crypto fees of that time on move the position too (a fee's time is only to the millisecond).
        const fees = listFees(this.db, { symbol, from: from.slice(0, 23) });
        const moves = inLedgerOrder(fills, fees).map((m) => ('fill' in m ? m.fill : { feeQty: m.fee.qty }));
        for (const f of endingFills(position(symbol), moves)) {
          const cd = startExitCooldown(this.db, { orderId: f.order_id, cumQty: f.cum_qty, symbol }, minutes, now);
          if (cd) notifyCooldownStarted(this.db, cd, now);
          if (cd) started.push(cd);
        }
      }
      if (Object.keys(pending).length > 0) writeSyncState(this.db, 'late_exits_from', '{}');
    });
    return started;
  }

  hasPending(): boolean {
    return Object.keys(this.pending()).length > 0;
  }

  private pending(): Record<string, string> {
    return JSON.parse(readSyncState(this.db, 'late_exits_from') ?? '{}') as Record<string, string>;
  }
}
