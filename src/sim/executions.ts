/**
 * Trade busts and corrections (`POST /_sim/bust`, `POST /_sim/correct`): an execution the venue cancels
 * or changes after the fact. Alpaca reports them on the activity event stream as trades with
 * `execution_type` `trade_bust` / `trade_correct` and `previous_id` = the execution they change (SDK 4.0.2
 * ActivityV2DetailTRD, ActivityEventV2 `previous_id`: "presented if this activity corrects or cancels a
 * previous trade"). Each gets a new execution id (its `ref_id`); a corrected execution can be busted or
 * corrected again under the correction's id, the replaced id no more (422).
 * The simulator's books follow: a bust takes the execution back (position and cash as if it had not
 * happened, the average entry left as it is: **simplification**), a correction takes the old terms back
 * and applies the new ones; the order's `filled_qty` and `filled_avg_price` follow, its status does not
 * change (**ours**: no source says whether Alpaca reopens an order whose fill was busted). No trade_updates
 * event is sent (the trading stream's event list has none for busts). **REST:** `GET /v2/account/activities`
 * keeps the FILL activity as it was: the spec's TradingActivities has no execution id, execution type or
 * previous id (and `type` is only fill / partial_fill), so the REST list cannot say it; Alpaca's Activity
 * SSE guide sends corrections and busts to the event stream ("Trade fills, corrections, and busts are
 * available on the Activity SSE"). **Not done:** crypto executions (their coin fee would need undoing
 * too): 422.
 */
import { tradeEventBody } from './activity-event-json.js';
import type { ActivityEvent } from './activity-events.js';
import { type Dec, ZERO } from './decimal.js';
import type { Engine } from './engine.js';
import { notFound, unprocessable } from './errors.js';
import type { FillRecord, SimOrder } from './types.js';

interface Live {
  fill: FillRecord;
  qty: Dec;
  price: Dec;
}

export class ExecutionDesk {
  /** Executions in effect that were changed once at least, by their current id. */
  private readonly changed = new Map<string, Live>();
  /** Ids that were busted or replaced by a correction. */
  private readonly gone = new Set<string>();

  constructor(private readonly engine: Engine) {}

  private live(executionId: string): { id: string; live: Live; order: SimOrder } {
    const id = executionId.toLowerCase();
    if (this.gone.has(id)) throw unprocessable(`execution ${id} was already busted or corrected`);
    let live = this.changed.get(id);
    if (!live) {
      const fill = this.engine.fills.find((f) => f.executionId === id);
      if (!fill) throw notFound(`execution ${id} not found`);
      live = { fill, qty: fill.qty, price: fill.price };
    }
    const order = this.engine.getOrder(live.fill.orderId);
    if (!order) throw notFound(`execution ${id} not found`);
    if (order.asset.assetClass === 'crypto') throw unprocessable('the simulator does not bust or correct crypto executions');
    return { id, live, order };
  }

  bust(executionId: string): ActivityEvent {
    const { id, live, order } = this.live(executionId);
    this.undo(order, live);
    this.gone.add(id);
    this.changed.delete(id);
    return this.publish(order, live.fill, id, 'trade_bust', live.qty, live.price);
  }

  correct(executionId: string, qty: Dec | null, price: Dec | null): ActivityEvent {
    const { id, live, order } = this.live(executionId);
    const next: Live = { fill: live.fill, qty: qty ?? live.qty, price: price ?? live.price };
    if (next.qty.eq(live.qty) && next.price.eq(live.price)) throw unprocessable('a correction must change qty or price');
    this.undo(order, live);
    this.apply(order, next);
    this.gone.add(id);
    this.changed.delete(id);
    const ev = this.publish(order, live.fill, id, 'trade_correct', next.qty, next.price);
    this.changed.set(String(ev.json.ref_id), next);
    return ev;
  }

  private undo(order: SimOrder, live: Live): void {
    this.engine.portfolio.apply(order.asset, live.fill.side === 'buy' ? 'sell' : 'buy', live.qty, live.price);
    order.filledQty = order.filledQty.minus(live.qty);
    order.filledValue = order.filledValue.minus(live.qty.times(live.price));
  }

  private apply(order: SimOrder, live: Live): void {
    this.engine.portfolio.apply(order.asset, live.fill.side, live.qty, live.price);
    order.filledQty = order.filledQty.plus(live.qty);
    order.filledValue = order.filledValue.plus(live.qty.times(live.price));
  }

  private publish(order: SimOrder, fill: FillRecord, previousId: string, type: 'trade_bust' | 'trade_correct', qty: Dec, price: Dec): ActivityEvent {
    const now = this.engine.nowMicros();
    order.updatedAt = now;
    const leaves = order.qty === null ? ZERO : order.qty.minus(order.filledQty);
    return this.engine.events.append('TRD', tradeEventBody({
      executionId: this.engine.newUuid(), previousId, executionType: type, executedMicros: now, order, symbol: fill.symbol,
      side: fill.side, qty, price, cumQty: order.filledQty, leavesQty: leaves.isNegative() ? ZERO : leaves, orderStatus: order.status,
    }));
  }
}
