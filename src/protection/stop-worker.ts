import { ApiError, NotFoundError, RateLimitError } from '@alpacahq/alpaca-trade-api';
import type { BrokerClient } from '../broker/client.js';
import { parseOrder } from '../broker/adapter.js';
import type { Database } from '../store/database.js';
import { dueIntents, type IntentRow } from '../store/intents.js';
import type { Logger } from '../log.js';
import type { OrderActors } from '../runtime/order-actors.js';
import { crashPoint } from '../runtime/crash-points.js';
import { isFinalStatus } from '../domain/orders.js';
import { stopAsk } from '../domain/protection.js';
import { isCrypto } from '../domain/symbols.js';
import { currentCid, replaceTarget, stopBasis, stopStateOf, type StopEffect, type StopEvent } from '../../machines/stop-model.js';
import { classifyRefusal, isDuplicateClientOrderId, isUnchangedReplace, sameAsPlaced } from '../../machines/stop-policy.js';
import { RefusedRetryBudget } from './stop-budget.js';
import { StopSizing } from './stop-sizing.js';
import { AssetGrids } from '../broker/asset-grids.js';
import { qtyOnGrid } from '../domain/grid.js';
import { D, normalize } from '../decimal.js';
import { cryptoStopPrice, equityStopPrice, newStopOrder, rearmChange, replaceStopOrder, trailOf, type StopSettings } from './stop-order.js';
import { AgingScan, type AgingClock } from './stop-aging.js';
import { LeadershipLost } from '../store/leadership-lost.js';
import { applyStopTransition, type StopTransition } from './stop-transitions.js';
import { isFractionPart } from '../../machines/fraction-stop.js';

export interface StopWorkerDeps {
  db: Database;
  log: Logger;
  client: BrokerClient;
  actors: OrderActors;
  settings: StopSettings;
  /** Latest trade price of a crypto symbol (the SDK's market data). */
  latestPrice: (symbol: string) => Promise<string>;
  /** How long a sent order may stay invisible by client order id before it counts as absent. */
  graceMs?: number;
  /** The ledger's signed position in a symbol (no request); the broker is asked only when it falls short. */
  ledgerPosition?: (symbol: string) => string;
  /** Crypto order grids (shared with the ratchet); one is made when not given. */
  grids?: AssetGrids;
  /** A send was fenced off (PostgreSQL: another instance took the account over). The worker has stopped. */
  onLeadershipLost?: (err: LeadershipLost) => void;
  /** Alpaca's time and CT_REARM_BEFORE_H: working stops near their aged-order deadline are re-armed. Absent: never. */
  aging?: AgingClock;
}

type Request = Extract<StopEffect, { type: 'lookup' | 'fetchOrder' | 'place' | 'post' | 'patch' | 'delete' }>;
const REQUESTS = new Set<StopEffect['type']>(['lookup', 'fetchOrder', 'place', 'post', 'patch', 'delete']);
const isRequest = (e: StopEffect): e is Request => REQUESTS.has(e.type);
/** Transitions one stop may take in one pass (a placement with a lookup, a duplicate and an adoption takes 8). */
const MAX_STEPS = 12;
/** How long a wash-trade refusal holds its symbol's stops back when no order of the symbol ends. */
const WASH_BLOCK_MS = 60_000;

/**
 * Carries protective stops out exactly once (DESIGN §3.3) by doing what each stop's machine
 * (machines/stop.ts) asks for and reporting what came of it as the machine's next event; it decides
 * nothing about the stop's state itself. The machine guarantees that every step is safe to repeat
 * after a crash: an order that may have been sent is looked up by its deterministic client order id
 * first; `sent_at` is committed (`sendStarted`) before a request leaves; a 422 "client_order_id must
 * be unique" is adopted; a network error is "unknown" and probed, and only a definite 404 past the
 * grace period counts as absent. What the worker decides is what the broker can take: how much a
 * stop may cover now (stop-sizing.ts), and (refused stops) whether the symbol's retry budget
 * (stop-budget.ts) allows a request.
 */
export class StopWorker {
  private running: Promise<void> | null = null;
  private again = false;
  private timer: ReturnType<typeof setInterval> | null = null;
  private stopped = false;
  private readonly budget = new RefusedRetryBudget();
  /**
   * Symbols whose stops Alpaca refuses as a wash trade (a crossing order of the account rests on the
   * other side): the refusal is the symbol's, not one stop's, so none of its stops is sent until the
   * crossing order ends (`orderEnded`) or a minute has passed — rather than each retrying on its own
   * and spending the symbol's budget (10 a minute) before the blocker is gone.
   */
  private readonly washBlocked = new Map<string, number>();
  private readonly sizing: StopSizing;
  private readonly grids: AssetGrids;
  private readonly aging: AgingScan | null;

  constructor(private readonly deps: StopWorkerDeps) {
    this.sizing = new StopSizing(deps);
    this.grids = deps.grids ?? new AssetGrids(deps);
    this.aging = deps.aging ? new AgingScan(deps.db, deps.aging) : null;
  }

  /** Passes every `intervalMs`, the first now (at restart, after src/runtime/restart.ts has resumed the stops). */
  start(intervalMs = 1000): void {
    this.timer = setInterval(() => this.kick(), intervalMs);
    this.kick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.running;
  }

  /** An order of `symbol` that was not one of our stops ended: a wash-trade block of the symbol is lifted. */
  orderEnded(symbol: string): void {
    if (this.washBlocked.delete(symbol)) void this.kick();
  }

  /** Runs a pass now, or once more after the pass in progress. */
  kick(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      do {
        this.again = false;
        await this.pass();
      } while (this.again && !this.stopped);
    })().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  private async pass(): Promise<void> {
    // Stops near Alpaca's aged-order deadline first (read from the rows, every few seconds): re-armed.
    const aging = this.aging?.due(Date.now()) ?? null;
    for (const clientOrderId of aging?.clientOrderIds ?? []) if (!(await this.attempt(clientOrderId, aging!.event))) return;
    for (const row of dueIntents(this.deps.db, Date.now())) if (!(await this.attempt(row.client_order_id, { type: 'due' }))) return;
  }

  /** Drives one stop from `first`; false once the worker has stopped (or was fenced off). */
  private async attempt(clientOrderId: string, first: StopEvent): Promise<boolean> {
    if (this.stopped) return false;
    try {
      await this.drive(clientOrderId, first);
    } catch (err) {
      if (err instanceof LeadershipLost) {
        // Another instance leads the account now: send nothing more, and let the runtime step down.
        this.stopped = true;
        this.deps.log.warn({ event: 'stop_send_fenced', client_order_id: clientOrderId, err: err.message }, 'not sending: another instance leads the account');
        this.deps.onLeadershipLost?.(err);
        return false;
      }
      // Something failed before a request left (a price, a position): nothing was sent.
      const t = this.apply(clientOrderId, { type: 'deferred', reason: String(err) });
      this.deps.log.warn({ event: 'stop_intent_error', client_order_id: clientOrderId, attempts: t.row?.attempts, err: String(err) }, 'stop intent will be retried');
    }
    return true;
  }

  /**
   * One stop: its `due` step, then each request its machine asks for, whose outcome is the next
   * event. The pass's list is stale by the time an earlier stop's requests return: the machine
   * acts on the row as it is now, and refuses a send prepared from a row that changed since.
   */
  private async drive(clientOrderId: string, first: StopEvent): Promise<void> {
    let t = this.apply(clientOrderId, first);
    const ctx = { partial: false };
    for (let i = 0; t.applied && t.row && i < MAX_STEPS; i++) {
      const request = t.effects.find(isRequest);
      if (!request) return;
      const event = await this.perform(t.row, request, ctx);
      if (!event) return;
      t = this.apply(clientOrderId, event);
      // A fill resized it or an exit asked for its cancel while the send was prepared: look again now.
      if (!t.applied && event.type === 'sendStarted') this.again = true;
    }
  }

  private perform(row: IntentRow, effect: Request, ctx: { partial: boolean }): Promise<StopEvent | null> {
    switch (effect.type) {
      case 'lookup':
        return this.lookup(effect.clientOrderId);
      case 'fetchOrder':
        return this.fetchOrder(effect);
      case 'place':
        return this.prepare(row, effect.clientOrderId, effect.rearm);
      case 'post':
      case 'patch':
        return this.send(row, effect, ctx);
      case 'delete':
        return this.cancelOrder(effect);
    }
  }

  private apply(clientOrderId: string, event: StopEvent): StopTransition {
    const t = applyStopTransition(this.deps.db, clientOrderId, event);
    if (t.applied && t.row) this.report(t, t.row, event);
    return t;
  }

  /** Logs what happened to the stop; tells the entry's order actor when its stop works, or is not needed. */
  private report(t: StopTransition, row: IntentRow, event: StopEvent): void {
    const { log, actors } = this.deps;
    for (const e of t.effects) if (e.type === 'announce') this.announce(row, e);
    // The entry's lifecycle follows its own stop; its fraction stop is the position's business (coverage).
    const ownStop = !isFractionPart(row);
    if (ownStop && t.to === 'working' && t.from !== 'working' && row.broker_order_id) actors.stopWorking(row.entry_order_id, row.broker_order_id);
    if (ownStop && event.type === 'notNeeded') actors.positionClosed(row.entry_order_id);
    const ids = { entry_order_id: row.entry_order_id, symbol: row.symbol };
    if (event.type === 'aging') {
      log.info({ event: 'stop_rearm', ...ids, client_order_id: currentCid(row), stop_order_id: row.broker_order_id, expires_at: row.expires_at }, `protective stop for ${row.symbol} nears Alpaca's aged-order expiry: replacing it`);
    } else if (event.type === 'outcomeUnknown') {
      log.warn({ event: 'stop_outcome_unknown', client_order_id: row.client_order_id, attempts: row.attempts, reason: event.reason }, 'stop order state unknown; probing again');
    } else if (event.type === 'unchanged') {
      log.debug({ event: 'stop_unchanged', ...ids, client_order_id: row.client_order_id, qty: row.placed_qty }, 'protective stop already as wanted; nothing sent');
    } else if (event.type === 'notNeeded') {
      log.info({ event: 'stop_not_needed', ...ids }, 'no position left to protect');
    } else if (t.from === 'cancelling' && t.to === 'done') {
      const stopOrderId = event.type === 'cancelConfirmed' ? event.orderId : event.type === 'lookupFound' ? event.order.orderId : row.broker_order_id;
      log.info({ event: 'stop_canceled', ...ids, stop_order_id: stopOrderId }, `position closed: protective stop for ${row.symbol} canceled`);
    } else if (event.type === 'cancelConfirmed') {
      // The order that owns the stop opened a new position while the cancel was in flight.
      log.info({ event: 'stop_rearmed', ...ids }, `protective stop for ${row.symbol} placed again`);
    }
  }

  private announce(row: IntentRow, e: Extract<StopEffect, { type: 'announce' }>): void {
    const { log } = this.deps;
    if (e.outcome === 'rejected') {
      const retry = new Date(Math.min(row.next_attempt_at, 8.64e15)).toISOString();
      log.warn({ event: 'stop_rejected', entry_order_id: e.entryOrderId, client_order_id: currentCid(row), reason: row.last_error, attempts: row.attempts, retry_at: retry }, 'broker refused the protective stop');
      return;
    }
    const o = e.order;
    log.info(
      { event: e.how === 'placed' ? 'stop_placed' : 'stop_adopted', entry_order_id: e.entryOrderId, stop_order_id: o.orderId, client_order_id: o.clientOrderId, symbol: row.symbol, qty: e.placedQty, type: o.type, stop_price: o.stopPrice, trail_percent: o.trailPercent },
      e.how === 'placed' ? `protective stop placed for ${row.symbol}` : `existing protective stop adopted for ${row.symbol}`,
    );
  }

  /** GET by client order id: found, absent on a definite 404; anything else is "unknown". */
  private async lookup(cid: string): Promise<StopEvent> {
    try {
      const parsed = parseOrder(await this.deps.client.orders.getOrderByClientOrderId({ clientOrderId: cid }));
      if (parsed.ok) return { type: 'lookupFound', clientOrderId: cid, order: parsed.value };
      return { type: 'outcomeUnknown', clientOrderId: cid, reason: `lookup of ${cid} failed: ${parsed.reason}` };
    } catch (err) {
      if (err instanceof NotFoundError) return { type: 'lookupAbsent', clientOrderId: cid, graceMs: this.deps.graceMs ?? 10_000 };
      return { type: 'outcomeUnknown', clientOrderId: cid, reason: `lookup of ${cid} failed: ${String(err)}` };
    }
  }

  /** GET by order id: a found order's replacement, or the order a refused replace was for (if it ended). */
  private async fetchOrder(effect: Extract<StopEffect, { type: 'fetchOrder' }>): Promise<StopEvent | null> {
    const { orderId, clientOrderId } = effect;
    const parsed = await this.deps.client.orders
      .getOrderByOrderID({ orderId })
      .then(parseOrder)
      .catch((err: unknown) => ({ ok: false as const, reason: String(err) }));
    if (effect.purpose === 'replacement') {
      if (parsed.ok) return { type: 'lookupFound', clientOrderId, order: parsed.value, replacement: true };
      return { type: 'outcomeUnknown', clientOrderId, reason: `lookup of ${orderId} failed: ${parsed.reason}` };
    }
    if (!parsed.ok || !isFinalStatus(parsed.value.status)) return null;
    return { type: 'orderFinished', orderId, clientOrderId: parsed.value.clientOrderId, outcome: parsed.value.status };
  }

  /** What to send: the protectable quantity and (crypto) the stop price; a refused stop only within its symbol's budget. */
  private async prepare(row: IntentRow, clientOrderId: string, rearm: boolean): Promise<StopEvent> {
    const blocked = this.washBlocked.get(row.symbol);
    if (blocked !== undefined && blocked > Date.now()) {
      if (stopStateOf(row) === 'refused') return { type: 'postponed', until: blocked };
      return { type: 'deferred', reason: `wash trade: a crossing order of the account blocks ${row.symbol} stops` };
    }
    if (stopStateOf(row) === 'refused') {
      const until = this.budget.take(row.symbol, Date.now());
      if (until !== null) return { type: 'postponed', until };
    }
    const ask = stopAsk(row);
    const sized = await this.sizing.protectableQty(row);
    if (typeof sized !== 'string') return sized;
    if (!isCrypto(ask.symbol, ask.assetClass)) return this.unlessUnchanged(row, await this.prepareEquity(row, clientOrderId, sized), rearm);
    // Crypto: the quantity and the prices on the asset's grids (off them, Alpaca refuses the order).
    const grid = await this.grids.of(ask.symbol);
    const qty = qtyOnGrid(sized, grid);
    if (!qty.ok) return { type: 'deferred', reason: qty.reason };
    // A re-arm keeps the stop where it is (then moves it one increment), not where the latest price would put it.
    const kept = row.target_stop_price ?? (rearm ? row.placed_stop_price : null);
    const stopPrice = kept ?? cryptoStopPrice(await this.deps.latestPrice(ask.symbol), trailOf(ask, this.deps.settings), grid.priceIncrement);
    const increment = grid.minTradeIncrement ?? undefined;
    return this.unlessUnchanged(row, { type: 'sendStarted', clientOrderId, basis: stopBasis(row), qty: qty.qty, stopPrice, ...(increment ? { qtyIncrement: increment } : {}) }, rearm);
  }

  /**
   * A replace that would send what the working order has is not sent (Alpaca refuses it: 403 "order
   * parameters are not changed"). One that would grow a stop placed short is sent only when the
   * position has more free now (one read, `qty_available`), not to be refused again for held shares.
   * A re-arm that would change nothing changes something harmless instead (`rearmChange`).
   */
  private async unlessUnchanged(row: IntentRow, ev: StopEvent, rearm: boolean): Promise<StopEvent> {
    if (ev.type !== 'sendStarted' || replaceTarget(row) === null) return ev;
    const unchanged = async (same: typeof ev): Promise<StopEvent> => (rearm ? this.rearmed(row, same) : { type: 'unchanged', clientOrderId: ev.clientOrderId });
    const send = { qty: ev.qty, stopPrice: ev.stopPrice, trailPercent: ev.stopPrice === null ? trailOf(stopAsk(row), this.deps.settings) : null };
    if (sameAsPlaced(row, send)) return unchanged(ev);
    const placed = row.placed_qty === null ? null : new D(row.placed_qty);
    if (placed === null || !new D(ev.qty).gt(placed)) return ev;
    const free = await this.sizing.partialQty(row);
    if (free === null || new D(free).gt(placed)) return free === null ? ev : { ...ev, qty: free };
    const kept = { ...ev, qty: normalize(placed) };
    return sameAsPlaced(row, { ...send, qty: kept.qty }) ? unchanged(kept) : kept;
  }

  /** The re-arm of an order as wanted: its trail or stop price moved harmlessly, so Alpaca takes the replace. */
  private async rearmed(row: IntentRow, ev: Extract<StopEvent, { type: 'sendStarted' }>): Promise<StopEvent> {
    const ask = stopAsk(row);
    const increment = isCrypto(ask.symbol, ask.assetClass) ? (await this.grids.of(ask.symbol)).priceIncrement : null;
    const placed = { side: ask.side, trailPercent: row.placed_trail_percent, stopPrice: ev.stopPrice === null ? null : (row.placed_stop_price ?? ev.stopPrice) };
    return { ...ev, ...rearmChange(placed, trailOf(ask, this.deps.settings), increment) };
  }

  /**
   * Equities: whole shares get the gtc trailing stop; a position under one share gets a `day` stop
   * priced from the latest trade (fractional orders are day-only and cannot trail: docs "Fractional
   * trading"). Above one share the fraction is its fraction stop's (machines/fraction-stop.ts), a
   * `day` stop too; if the broker holds less than the whole shares wanted, what it holds is covered.
   */
  private async prepareEquity(row: IntentRow, clientOrderId: string, sized: string): Promise<StopEvent> {
    const whole = new D(sized).floor();
    if (whole.eq(sized) || whole.gte(1)) return { type: 'sendStarted', clientOrderId, basis: stopBasis(row), qty: normalize(whole), stopPrice: null };
    const price = row.target_stop_price ?? equityStopPrice(await this.deps.latestPrice(stopAsk(row).symbol), trailOf(stopAsk(row), this.deps.settings));
    return { type: 'sendStarted', clientOrderId, basis: stopBasis(row), qty: sized, stopPrice: price };
  }

  private async send(row: IntentRow, effect: Extract<StopEffect, { type: 'post' | 'patch' }>, ctx: { partial: boolean }): Promise<StopEvent> {
    const { client, settings } = this.deps;
    // A re-arm's trail, when it is not the stop's own.
    const ask = effect.trailPercent === undefined ? stopAsk(row) : { ...stopAsk(row), trailPercent: effect.trailPercent };
    const cid = effect.clientOrderId;
    const increment = isCrypto(ask.symbol, ask.assetClass) ? (await this.grids.of(ask.symbol)).priceIncrement : null;
    let raw: unknown;
    try {
      raw =
        effect.type === 'patch'
          ? await client.orders.patchOrderByOrderId({ orderId: effect.orderId, patchOrderRequest: replaceStopOrder(ask, effect.qty, cid, effect.stopPrice, settings, increment) })
          : await client.orders.postOrder({ postOrderRequest: newStopOrder(ask, effect.qty, cid, effect.stopPrice, settings, increment) });
    } catch (err) {
      if (err instanceof LeadershipLost) throw err;
      return this.sendFailed(row, effect, err, ctx);
    }
    crashPoint('after_stop_post');
    const parsed = parseOrder(raw);
    if (!parsed.ok) return { type: 'outcomeUnknown', clientOrderId: cid, reason: `unreadable response: ${parsed.reason}` };
    return { type: 'accepted', clientOrderId: cid, order: parsed.value };
  }

  /** A failed send as the machine's event: a duplicate, a classified refusal, or an unknown outcome. */
  private async sendFailed(row: IntentRow, effect: Extract<StopEffect, { type: 'post' | 'patch' }>, err: unknown, ctx: { partial: boolean }): Promise<StopEvent> {
    const cid = effect.clientOrderId;
    const unknown: StopEvent = { type: 'outcomeUnknown', clientOrderId: cid, reason: `send of ${cid} failed: ${String(err)}` };
    // Network trouble, a timeout, 429 or 5xx: the order may or may not exist. Probe, never assume.
    if (!(err instanceof ApiError) || err instanceof RateLimitError) return unknown;
    if (isDuplicateClientOrderId(err.status, err.message)) return { type: 'duplicate', clientOrderId: cid };
    if (effect.type === 'patch' && isUnchangedReplace(err.status, err.message)) return { type: 'unchanged', clientOrderId: cid };
    const kind = classifyRefusal(err.status, err.message);
    if (kind === null) return unknown;
    if (kind === 'wash_trade') this.washBlocked.set(stopAsk(row).symbol, Date.now() + WASH_BLOCK_MS);
    if (kind === 'insufficient_qty' && !ctx.partial) {
      const free = await this.sizing.partialQty(row);
      const ask = stopAsk(row);
      const onGrid = free === null || !isCrypto(ask.symbol, ask.assetClass) ? null : qtyOnGrid(free, await this.grids.of(ask.symbol));
      const qty = onGrid === null ? free : onGrid.ok ? onGrid.qty : null;
      if (qty !== null && effect.type === 'patch' && sameAsPlaced(row, { qty, stopPrice: effect.stopPrice, trailPercent: effect.stopPrice === null ? trailOf(ask, this.deps.settings) : null })) {
        return { type: 'unchanged', clientOrderId: cid };
      }
      if (qty !== null) {
        ctx.partial = true;
        return { type: 'sendStarted', clientOrderId: cid, basis: stopBasis(row), qty, stopPrice: effect.stopPrice };
      }
    }
    return { type: 'refused', clientOrderId: cid, kind, message: err.message };
  }

  /** The position is closed: DELETE the stop's order; 404/422 mean it is gone already. */
  private async cancelOrder(effect: Extract<StopEffect, { type: 'delete' }>): Promise<StopEvent> {
    try {
      await this.deps.client.orders.deleteOrderByOrderID({ orderId: effect.orderId });
    } catch (err) {
      if (err instanceof LeadershipLost) throw err;
      // 404/422: already gone (filled, canceled, replaced); anything else: try again later.
      if (!(err instanceof ApiError) || err.status >= 500 || err instanceof RateLimitError) {
        return { type: 'outcomeUnknown', clientOrderId: effect.clientOrderId, reason: `cancel of ${effect.orderId} failed: ${String(err)}` };
      }
    }
    return { type: 'cancelConfirmed', clientOrderId: effect.clientOrderId, orderId: effect.orderId };
  }
}
