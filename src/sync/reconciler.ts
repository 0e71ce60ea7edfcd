import { WATERMARK_KINDS, type BrokerClient } from '../broker/client.js';
import { parseOptionActivity } from '../broker/option-activity-adapter.js';
import { parseActivity, parseFeeActivity, parseOrder } from '../broker/adapter.js';
import { fetchOrder } from '../broker/fetch-order.js';
import type { OrderReport } from '../domain/reports.js';
import type { Database } from '../store/database.js';
import { deleteSyncState, readSyncState, writeSyncState } from '../store/sync-state.js';
import { confirmedStopOrdersUnknown } from '../store/stops.js';
import { ledgerNetFilled } from '../store/ledger.js';
import { D } from '../decimal.js';
import type { Logger } from '../log.js';
import type { OrderActors } from '../runtime/order-actors.js';
import type { FeeReport } from '../domain/reports.js';
import { ResyncWindow } from './resync-window.js';
import { FeeWindow, heldFees } from './fee-window.js';
import type { DriftCheck } from './drift.js';

export const OPEN_ORDERS_PAGE = 500;

/** Actor states whose broker order may still change: the ones worth a lookup when not open. */
const WORKING_STATES = new Set(['pending', 'partiallyFilled']);

export type ReconcileTrigger = 'start' | 'stream' | 'poll';

export interface ReconcileResult {
  trigger: ReconcileTrigger;
  pages: number;
  requests: number;
  fills_new: number;
  /** Crypto fees (CFEE activities) recorded by the run. */
  fees_new: number;
  /** Activities the watermark had passed, found by the trailing re-read. */
  late_recovered: number;
  lookups: number;
  duration_ms: number;
}

/**
 * Lossless sync (DESIGN §4): FILL and CFEE activities from the persisted watermark to the end, CFEEs
 * again by date (fee-window.ts), every open order, then a lookup of each working actor's order that is not open. The watermark moves only
 * after the fills up to it are committed (actor transitions persist synchronously). Runs never
 * overlap: a trigger during a run queues exactly one more run.
 */
export class Reconciler {
  private running: Promise<ReconcileResult | null> | null = null;
  private again: ReconcileTrigger | null = null;
  private stopped = false;

  constructor(
    private readonly deps: {
      db: Database;
      log: Logger;
      client: BrokerClient;
      actors: OrderActors;
      drift: DriftCheck;
      onDone?: (result: ReconcileResult) => void;
      /** CT_RESYNC_WINDOW_S: the trailing window re-read once a minute (0: never). */
      resyncWindowS?: number;
    },
  ) {
    this.fees = new FeeWindow({ ...deps, feeOwed: () => deps.drift.feeOwed() });
    this.resync = new ResyncWindow({ ...deps, windowS: deps.resyncWindowS ?? 900, feeWaiting: (fee) => this.fees.noteWaiting(fee) });
  }

  private readonly resync: ResyncWindow;
  private readonly fees: FeeWindow;

  /** Starts a run, or queues one after the run in progress. Resolves when that run is done. */
  trigger(trigger: ReconcileTrigger): Promise<ReconcileResult | null> {
    if (this.stopped) return Promise.resolve(null);
    if (this.running) {
      // The loop below picks this up before the running promise settles.
      this.again = this.again ?? trigger;
      return this.running;
    }
    const run = async (): Promise<ReconcileResult | null> => {
      let current: ReconcileTrigger | null = trigger;
      let last: ReconcileResult | null = null;
      while (current && !this.stopped) {
        this.again = null;
        last = await this.runOnce(current);
        current = this.again;
      }
      return last;
    };
    this.running = run().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  /** No new runs; waits for the one in flight (it stops at its next page). */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.running;
  }

  private checkStopped(): void {
    if (this.stopped) throw new Error('stopping');
  }

  /**
   * A database whose watermark was written when only FILL activities were read (migration 0006
   * leaves `fee_backfill_until` = that watermark): the CFEE activities up to it are read once, from
   * the start; later ones come with the FILLs. Recording a fee twice is a no-op. Returns the pages read.
   */
  private async backfillFees(): Promise<number> {
    const { db, log, client, actors } = this.deps;
    const until = readSyncState(db, 'fee_backfill_until');
    if (until === null) return 0;
    let pages = 0;
    for await (const page of client.activityPages(null, ['CFEE'])) {
      pages += 1;
      let past = false;
      db.transaction(() => {
        for (const raw of page) {
          const id = (raw as { id?: unknown }).id;
          if (typeof id === 'string' && id > until) {
            past = true;
            break;
          }
          const parsed = parseFeeActivity(raw);
          if (parsed.ok) actors.recordFee(parsed.value, { backfill: true });
          else log.warn({ event: 'broker_payload_rejected', source: 'activity', id, reason: parsed.reason }, 'skipped a malformed CFEE activity');
        }
      });
      this.checkStopped();
      if (past) break;
    }
    deleteSyncState(db, 'fee_backfill_until');
    log.info({ event: 'fee_backfill_done', until, pages }, 'crypto fees before the watermark read');
    return pages;
  }

  /**
   * Orders submitted since `since` (less a minute for clocks apart) that are closed with fills the
   * ledger lacks, routed as the broker reports them (their fills recorded from the order's VWAP).
   * One page (500); an order submitted earlier was open at that run, and its actor asks for it.
   */
  private async closedSince(since: string | null): Promise<OrderReport[]> {
    const { db, log, client, actors } = this.deps;
    const after = new Date((since ? Date.parse(since) : Date.now()) - 60_000);
    const raw = await client.orders.getAllOrders({ status: 'closed', limit: OPEN_ORDERS_PAGE, direction: 'asc', after: after.toISOString() });
    const out: OrderReport[] = [];
    for (const item of raw) {
      const parsed = parseOrder(item);
      if (!parsed.ok) {
        log.warn({ event: 'broker_payload_rejected', source: 'order', reason: parsed.reason }, 'skipped a malformed order');
        continue;
      }
      const o = parsed.value;
      // Nothing new: what the fills add up to (after busts and corrections, the broker's filled_qty) covers it.
      if (new D(o.filledQty).lte(ledgerNetFilled(db, o.orderId))) continue;
      actors.handleOrder(o);
      out.push(o);
    }
    return out;
  }

  private async runOnce(trigger: ReconcileTrigger): Promise<ReconcileResult | null> {
    const { db, log, client, actors, drift } = this.deps;
    const started = Date.now();
    const requestsBefore = client.requestCount();
    const fillsBefore = actors.fillsRecorded;
    const feesBefore = actors.feesRecorded;
    try {
      // 0. Once, after the upgrade that added fees: the CFEEs a FILL-only watermark went past.
      let pages = await this.backfillFees();

      // 1. FILL, CFEE and option (OPEXC, OPASN, OPTRD) activities after the watermark, oldest first (one id order), to the end
      //    (no cap). Each page commits in one transaction with the watermark that points past it.
      //    Fees go after the fills read so far: a CFEE's id is its day at midnight, before its fill.
      const brokerCum = new Map<string, string>();
      let fees: FeeReport[] = [];
      for await (const page of client.activityPages(readSyncState(db, 'fill_watermark'), WATERMARK_KINDS)) {
        pages += 1;
        const failuresBefore = actors.commitFailures;
        db.transaction(() => {
          let watermark: string | null = null;
          for (const raw of page) {
            const id = (raw as { id?: unknown }).id;
            // An option exercise or assignment (OPEXC / OPASN / OPTRD): recorded once (option-commit.ts).
            const option = parseOptionActivity(raw);
            if (option) {
              if (option.ok) actors.recordOptionEvent(option.value);
              else log.warn({ event: 'broker_payload_rejected', source: 'activity', id, reason: option.reason }, 'skipped a malformed option activity');
            } else {
              const parsed = parseActivity(raw);
              if (!parsed.ok) {
                log.warn({ event: 'broker_payload_rejected', source: 'activity', id, reason: parsed.reason }, 'skipped a malformed activity');
              } else if (parsed.value.type === 'fee') {
                fees.push(parsed.value.fee);
              } else {
                actors.handleExecution(parsed.value.fill, null);
                brokerCum.set(parsed.value.fill.orderId, parsed.value.fill.cumQty);
              }
            }
            if (typeof id === 'string') watermark = id;
          }
          fees = heldFees(db, actors, fees).waiting;
          // A fill whose commit failed (the actors stop the process on it) is not past the watermark:
          // the page's transaction rolls back, so the next run reads it again.
          if (actors.commitFailures !== failuresBefore) throw new Error('a fill of this activity page was not committed; the watermark stays before it');
          if (watermark) writeSyncState(db, 'fill_watermark', watermark);
        });
        this.checkStopped();
      }
      // Fees whose fill is not recorded: the read by date below (or a later one) takes them.
      for (const fee of fees) this.fees.noteWaiting(fee);

      // 1b. Once a minute: the window behind the watermark again, for activities published late.
      //     Not in a catch-up (more than a page read): that run has its request budget, and the
      //     next steady-state run re-reads the window.
      this.resync.noteFirstRead();
      const resync = pages <= 1 ? await this.resync.maybeRun(readSyncState(db, 'fill_watermark')) : { pages: 0, recovered: 0 };
      pages += resync.pages;
      this.checkStopped();

      // 1c. Crypto fees by date (fee-window.ts): a fee posted late sorts before the watermark.
      pages += (await this.fees.maybeRun()).pages;
      this.checkStopped();

      // 2. Every open order (paged by order id).
      const open = new Set<string>();
      const seen: OrderReport[] = [];
      let after: string | undefined;
      for (;;) {
        const page = await client.orders.getAllOrders({ status: 'open', limit: OPEN_ORDERS_PAGE, direction: 'asc', afterOrderId: after });
        for (const raw of page) {
          const parsed = parseOrder(raw);
          if (!parsed.ok) {
            log.warn({ event: 'broker_payload_rejected', source: 'order', reason: parsed.reason }, 'skipped a malformed order');
            continue;
          }
          open.add(parsed.value.orderId);
          seen.push(parsed.value);
          actors.handleOrder(parsed.value);
        }
        this.checkStopped();
        if (page.length < OPEN_ORDERS_PAGE) break;
        after = (page[page.length - 1] as { id?: string }).id;
        if (!after) break;
      }

      // 2b. At start and after a stream reconnect, orders submitted since the last run and closed
      //     already: a fill whose activity is published late and that no stream brought (the bot
      //     was down) is recorded from the order now, not when the trailing window finds it.
      if (trigger !== 'poll') {
        for (const order of await this.closedSince(readSyncState(db, 'last_reconcile_at'))) {
          if (!open.has(order.orderId)) seen.push(order);
        }
      }

      // 3. Orders not open any more whose end no actor has seen: ask for their final state.
      //    a. Working actors' orders.
      //    b. Confirmed stops' orders no actor knows: placed just before a crash, then expired or
      //       canceled while down. Their final state routes to the stop, which is placed again;
      //       without this the row says "covered" forever.
      const working = actors.liveStates().filter(({ orderId, state }) => WORKING_STATES.has(state) && !open.has(orderId));
      const unseenStops = confirmedStopOrdersUnknown(db).filter((orderId) => !open.has(orderId));
      let lookups = 0;
      for (const orderId of [...working.map((w) => w.orderId), ...unseenStops]) {
        this.checkStopped();
        lookups += 1;
        const order = await fetchOrder(client, log, orderId);
        if (order) {
          seen.push(order);
          actors.handleOrder(order);
        } else {
          log.warn({ event: 'order_unknown_at_broker', order_id: orderId }, 'an order the service knows is unknown to the broker');
        }
      }

      // 4. Compare what the broker says with the ledger; then record the run.
      for (const o of seen) brokerCum.set(o.orderId, o.filledQty);
      await drift.check(brokerCum);
      const now = new Date();
      writeSyncState(db, 'last_reconcile_at', now.toISOString(), now);
      const result: ReconcileResult = {
        trigger,
        pages,
        requests: client.requestCount() - requestsBefore,
        fills_new: actors.fillsRecorded - fillsBefore,
        fees_new: actors.feesRecorded - feesBefore,
        late_recovered: resync.recovered,
        lookups,
        duration_ms: Date.now() - started,
      };
      this.deps.onDone?.(result);
      log.info({ event: 'reconcile_done', ...result }, `reconciled (${trigger}): ${result.fills_new} new fills, ${result.requests} requests`);
      return result;
    } catch (err) {
      log.warn({ event: 'reconcile_failed', trigger, err: String(err), duration_ms: Date.now() - started }, 'reconciliation failed; the next run resumes from the watermark');
      return null;
    }
  }
}
