import type { BrokerClient } from '../broker/client.js';
import { parseFeeActivity } from '../broker/adapter.js';
import { D } from '../decimal.js';
import type { FeeReport } from '../domain/reports.js';
import type { Database } from '../store/database.js';
import { hasFee } from '../store/fees.js';
import { cryptoBuysSince } from '../store/ledger.js';
import { readSyncState, writeSyncState } from '../store/sync-state.js';
import type { Logger } from '../log.js';
import type { OrderActors } from '../runtime/order-actors.js';
import { newYorkDayStart } from '../time.js';

/**
 * Crypto fees read by date. A CFEE's id carries its day at midnight (Alpaca's example,
 * `20220812000000000::…`) and Alpaca has posted fees at the end of the day, so a fee sorts before
 * fills already read: the forward read from the watermark does not see it. CFEEs are read again
 * with `after=` a time (the spec filters on the posting time; the start of a New York day is before
 * the id's midnight too, whichever Alpaca uses):
 * - once a minute while the ledger holds crypto buys since the start of the New York day before the
 *   last such read (`fees_read_at`, so a bot that was down reads back to where it stopped);
 * - sooner while the last drift check saw a crypto long larger in the ledger than at the broker (a
 *   fee taken, not recorded): after 1 s, then doubling up to the minute;
 * - right after new crypto buy fills, from a minute before the oldest (a fee posted with its fill).
 * Recording is once per activity id (commitFee); a fee is never taken before its fill (heldFees).
 */
const OWED_FIRST_MS = 1_000;
/** How far before a new buy's fill time its fee's posting time is looked for. */
const FILL_MARGIN_MS = 60_000;

export class FeeWindow {
  private lastDayReadAt = Number.NEGATIVE_INFINITY;
  private owedReadAt = Number.NEGATIVE_INFINITY;
  private owedBackoffMs = OWED_FIRST_MS;
  /** The highest fills row id of a crypto buy already followed by a read. */
  private lastBuyId = 0;
  /** Fees read before their fill was in the ledger, by activity id (logged once). */
  private readonly waiting = new Set<string>();

  constructor(
    private readonly deps: { db: Database; log: Logger; client: BrokerClient; actors: OrderActors; feeOwed: () => boolean; everyMs?: number },
  ) {}

  /** Reads CFEEs when one of the reasons above holds; returns the pages read and the fees recorded. */
  async maybeRun(now = Date.now()): Promise<{ pages: number; recorded: number }> {
    const { db } = this.deps;
    const everyMs = this.deps.everyMs ?? 60_000;
    const readAt = readSyncState(db, 'fees_read_at');
    const dayStart = newYorkDayStart(readAt === null ? now : Math.min(now, Date.parse(readAt)), 1);
    const fresh = cryptoBuysSince(db, dayStart.toISOString(), this.lastBuyId);
    const owed = this.deps.feeOwed();
    if (!owed) this.owedBackoffMs = OWED_FIRST_MS;

    let after: Date | null = null;
    if (now - this.lastDayReadAt >= everyMs && (fresh !== null || cryptoBuysSince(db, dayStart.toISOString()) !== null)) {
      after = dayStart;
    } else if (owed && now - this.owedReadAt >= this.owedBackoffMs) {
      after = dayStart;
      this.owedReadAt = now;
      this.owedBackoffMs = Math.min(this.owedBackoffMs * 2, everyMs);
    } else if (fresh !== null) {
      after = new Date(Math.max(dayStart.getTime(), Date.parse(fresh.first) - FILL_MARGIN_MS));
    }
    if (after === null) return { pages: 0, recorded: 0 };
    if (fresh !== null) this.lastBuyId = Math.max(this.lastBuyId, fresh.lastId);

    const result = await this.read(after);
    for (const id of this.waiting) if (hasFee(db, id)) this.waiting.delete(id);
    if (after === dayStart) {
      this.lastDayReadAt = now;
      // Not past a fee still waiting for its fill: the next bot reads back to it.
      if (this.waiting.size === 0) writeSyncState(db, 'fees_read_at', new Date(now).toISOString());
    }
    return result;
  }

  private async read(after: Date): Promise<{ pages: number; recorded: number }> {
    const { db, log, client, actors } = this.deps;
    let pages = 0;
    let recorded = 0;
    for await (const page of client.activityPages(null, ['CFEE'], after)) {
      pages += 1;
      const fees: FeeReport[] = [];
      for (const raw of page) {
        const parsed = parseFeeActivity(raw);
        if (parsed.ok) fees.push(parsed.value);
        else log.warn({ event: 'broker_payload_rejected', source: 'activity', id: (raw as { id?: unknown }).id, reason: parsed.reason }, 'skipped a malformed CFEE activity');
      }
      db.transaction(() => {
        const held = heldFees(db, actors, fees);
        recorded += held.recorded;
        for (const fee of held.waiting) this.noteWaiting(fee);
      });
    }
    return { pages, recorded };
  }

  /** A fee read (here, or by the forward or trailing read) before its fill was recorded. */
  noteWaiting(fee: FeeReport): void {
    if (this.waiting.has(fee.activityId)) return;
    this.waiting.add(fee.activityId);
    this.deps.log.info(
      { event: 'fee_waiting_for_fill', activity_id: fee.activityId, symbol: fee.symbol, qty: fee.qty, position: this.deps.actors.ledgerPosition(fee.symbol) },
      'a crypto fee larger than the ledger\'s position: its fill is not recorded yet, the fee is read again later',
    );
  }
}

/**
 * Records the fees the ledger can take now; returns how many were new and those that must wait. A
 * crypto long never goes below zero at the broker, so a fee larger than the ledger's position (less
 * the fees recorded) belongs to a fill not recorded yet (a CFEE sorts before its fill, or its FILL
 * was published late): taking it first would make a short out of nothing. It is read again later.
 */
export function heldFees(db: Database, actors: OrderActors, fees: readonly FeeReport[]): { recorded: number; waiting: FeeReport[] } {
  let recorded = 0;
  const waiting: FeeReport[] = [];
  for (const fee of fees) {
    if (hasFee(db, fee.activityId)) continue;
    if (new D(actors.ledgerPosition(fee.symbol)).lt(fee.qty)) {
      waiting.push(fee);
      continue;
    }
    if (actors.recordFee(fee)) recorded += 1;
  }
  return { recorded, waiting };
}
