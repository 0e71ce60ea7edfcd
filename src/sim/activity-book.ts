/**
 * What the activities endpoints publish beyond the fills themselves: the CFEE activities of crypto
 * buys (crypto-fees.ts), and late activities. Alpaca staff confirmed activities can be missing and
 * show up later (alpacahq/Alpaca-API#176); with the late-activity fault (`late_activity_*` in
 * POST /_sim/faults) a FILL activity (and its CFEE) keeps the id made at fill time but is only
 * served after a delay, so when it appears it sorts BEFORE ids that were already served: a client
 * that pages on with `page_token` = the last id it saw never gets it. A CFEE's id is its day at
 * midnight, so it sorts before that day's fills anyway; `fee_delay_ms` posts it later still.
 */
import type { Asset } from './assets.js';
import type { FeeRecord, FillFees } from './crypto-fees.js';
import type { IdFactory } from './ids.js';
import type { FillRecord } from './types.js';
import type { OptionActivity } from './option-events.js';

export class ActivityBook {
  private readonly feeList: FeeRecord[] = [];
  private readonly optionList: OptionActivity[] = [];
  /** Activity id → wall-clock ms from which it is served (absent: served at once). */
  private readonly publishAt = new Map<string, number>();
  /** How late (ms) the FILL activity being made now is published; the simulator wires the faults in. */
  lateDelayMs: () => number = () => 0;
  /** How long after its fill a CFEE is posted (the `fee_delay_ms` crypto setting). */
  feeDelayMs: () => number = () => 0;

  constructor(
    private readonly ids: IdFactory,
    private readonly nowMs: () => number = () => Date.now(),
  ) {}

  /** Every CFEE activity, in creation (= id) order. */
  get fees(): readonly FeeRecord[] {
    return this.feeList;
  }

  /** Called by the engine right after a fill is recorded; returns its CFEE (if any) and in how many ms it is posted. */
  recordFill(fill: FillRecord, asset: Asset, fees: FillFees): { record: FeeRecord; postedInMs: number } | null {
    const delay = this.lateDelayMs();
    const at = delay > 0 ? this.nowMs() + delay : null;
    if (at !== null) this.publishAt.set(fill.id, at);
    if (fees.coin.gt(0)) {
      // A late fill's fee is no earlier than its fill; a fee posted later is created then.
      const feeDelay = Math.max(delay, this.feeDelayMs());
      const id = this.ids.dayActivityId(fill.micros);
      const record: FeeRecord = { id, fillId: fill.id, micros: fill.micros, createdMicros: fill.micros + feeDelay * 1000, asset, qty: fees.coin, price: fill.price };
      this.feeList.push(record);
      if (feeDelay > 0) this.publishAt.set(id, this.nowMs() + feeDelay);
      return { record, postedInMs: feeDelay };
    }
    return null;
  }

  /** OPEXC / OPASN / OPTRD activities of option exercises and assignments (option-events.ts), in id order. */
  get optionActivities(): readonly OptionActivity[] {
    return this.optionList;
  }

  /** A full activity id `YYYYMMDDHHMMSSmmm::<uuid>` for a non-trade activity made now. */
  newActivityId(micros: number): string {
    return this.ids.activityId(micros).id;
  }

  recordOptionActivity(a: OptionActivity): void {
    this.optionList.push(a);
  }

  /** Whether the activity with this id is served yet. */
  isPublished(id: string): boolean {
    const at = this.publishAt.get(id);
    return at === undefined || at <= this.nowMs();
  }

  /** Ids made but not served yet (GET /_sim/state). */
  pendingIds(): string[] {
    return [...this.publishAt.entries()].filter(([, at]) => at > this.nowMs()).map(([id]) => id).sort();
  }
}
