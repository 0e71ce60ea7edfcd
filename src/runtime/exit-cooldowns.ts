import type { Database } from '../store/database.js';
import type { Logger } from '../log.js';
import { endExitCooldown, startExitCooldown, type StartedCooldown } from '../store/cooldowns.js';
import { fillsSince } from '../store/ledger.js';
import { listFees } from '../store/fees.js';
import { inLedgerOrder } from '../domain/fees.js';
import { readSyncState, writeSyncState } from '../store/sync-state.js';
import { endingFills } from '../../machines/exit-walk.js';
import { notifyCooldownStarted } from '../notify/events.js';
import { isOption } from '../domain/symbols.js';

/** sync_state key: the symbols whose exits are still to be walked, each from the time of its earliest new move. */
const KEY = 'late_exits_from';

/**
 * Cooldowns are decided here and nowhere else, in the broker's order of fills, from the ledger.
 * Every recorded fill (and every crypto fee whose moment is known) marks its symbol from its time,
 * in the transaction that records it; after the batch in progress (a reconcile page, a burst of
 * stream reports) each marked symbol's fills and fees from that time on are walked in fill-time
 * order, and every fill that closed or crossed the position starts its cooldown, once (keyed by
 * the exit fill). A fill learned late (older than fills already recorded) is walked with all that
 * came after it, so arrival order never decides. The mark is durable: a crash before the walk only
 * delays it to the next start (docs/architecture.md, "Restart"). Option contracts are never marked:
 * they have no cooldowns.
 */
export class ExitCooldowns {
  /** The marks as committed (a mirror of the sync_state row, so an unchanged mark is not written again). */
  private marks: Record<string, string>;

  constructor(
    private readonly db: Database,
    private readonly minutes: number,
    private readonly log?: Logger,
  ) {
    this.marks = this.read();
  }

  /** Inside the move's transaction: walk `symbol` from `at` (unless it is marked from earlier already). */
  mark(symbol: string, at: string): void {
    // An option contract never cools down (issue 26 item 5): its fills are not walked.
    if (isOption(symbol)) return;
    const from = this.marks[symbol];
    if (from !== undefined && from <= at) return;
    this.marks = { ...this.marks, [symbol]: at };
    writeSyncState(this.db, KEY, JSON.stringify(this.marks));
  }

  /**
   * Inside a bust's transaction: the exit fill `<order>:<cum_qty>` was taken back, so the cooldown it
   * started ends now (the walk from its time, marked with it, starts the cooldowns of the exits that
   * end the position without it).
   */
  forget(exitFillId: string, now: Date): boolean {
    return endExitCooldown(this.db, exitFillId, now);
  }

  hasPending(): boolean {
    return Object.keys(this.marks).length > 0;
  }

  /**
   * Walks every marked symbol (`position`: its signed position now, as the ledger has it) and starts
   * the cooldowns its exits call for, in one transaction that also clears the marks. Returns them.
   */
  walk(position: (symbol: string) => string, now = new Date()): StartedCooldown[] {
    const started: StartedCooldown[] = [];
    this.db.transaction(() => {
      const marks = this.read();
      for (const [symbol, from] of Object.entries(marks)) {
        const fills = fillsSince(this.db, symbol, from);
        // Crypto fees of that time on move the position too (a fee's time is only to the millisecond).
        const fees = listFees(this.db, { symbol, from: from.slice(0, 23) });
        const moves = inLedgerOrder(fills, fees).map((m) => ('fill' in m ? m.fill : { feeQty: m.fee.qty }));
        for (const f of endingFills(position(symbol), moves)) {
          const cd = startExitCooldown(this.db, { orderId: f.order_id, cumQty: f.cum_qty, symbol }, this.minutes, now);
          if (!cd) continue;
          notifyCooldownStarted(this.db, cd, now);
          started.push(cd);
        }
      }
      if (Object.keys(marks).length > 0) writeSyncState(this.db, KEY, '{}');
    });
    this.marks = {};
    // Said once the cooldowns are on disk (a batch that rolls back started none).
    for (const cd of started) {
      this.db.afterCommit(() =>
        this.log?.info({ event: 'cooldown_started', symbol: cd.symbol, exit_fill_id: cd.exitFillId, until: cd.until.toISOString() }, `${cd.symbol} cooling down`),
      );
    }
    return started;
  }

  private read(): Record<string, string> {
    return JSON.parse(readSyncState(this.db, KEY) ?? '{}') as Record<string, string>;
  }
}
