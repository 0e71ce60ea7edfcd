import type { Database } from '../store/database.js';
import { cryptoBuysSince } from '../store/ledger.js';

/**
 * Whether the reconciler's poll may be relaxed now (sync/poll-timer.ts), beside the pushed sources'
 * health. Crypto fees (CFEE) come only from the activity reads the poll makes: a crypto position
 * whose fee is not recorded has stops sized to more coin than it holds. So the poll keeps its plain
 * interval while a fee may be due:
 * - for `FEE_DUE_MS` after a crypto buy fill is recorded (Alpaca can post a fee with its fill; the
 *   fee window reads right after new buys, fee-window.ts), counted from when this process first saw
 *   the fill, so a fill recorded late (a catch-up) counts from then;
 * - while the last drift check saw a crypto long larger in the ledger than at the broker (a fee
 *   taken, not recorded: sync/drift.ts `feeOwed`).
 * Otherwise nothing the poll alone brings is due, and the streams bring the rest.
 */
export const FEE_DUE_MS = 60_000;
/** How far back a recorded crypto buy is looked for (a fill older than this is not a new one's fee). */
const LOOK_BACK_MS = 36 * 3600_000;

export class PollRelaxGate {
  private lastBuyId = 0;
  private dueUntil = Number.NEGATIVE_INFINITY;

  constructor(private readonly deps: { db: Database; feeOwed(): boolean }) {}

  /** True when no crypto fee can be due now (see above). */
  feesSettled(now = Date.now()): boolean {
    const fresh = cryptoBuysSince(this.deps.db, new Date(now - LOOK_BACK_MS).toISOString(), this.lastBuyId);
    if (fresh !== null) {
      this.lastBuyId = fresh.lastId;
      this.dueUntil = now + FEE_DUE_MS;
    }
    return now >= this.dueUntil && !this.deps.feeOwed();
  }
}
