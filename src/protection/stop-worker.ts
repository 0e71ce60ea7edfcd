import { ApiError, NotFoundError, RateLimitError } from '@alpacahq/alpaca-trade-api';
import { fetchPositionQty } from '../broker/positions.js';
import { D, normalize } from '../decimal.js';
import type { BrokerClient } from '../broker/client.js';
import { parseOrder } from '../broker/adapter.js';
import type { OrderReport } from '../broker/reports.js';
import type { Database } from '../store/database.js';
import { dueIntents, intentRow, updateIntent, wantedQty, type IntentRow } from '../store/intents.js';
import type { Logger } from '../log.js';
import type { OrderActors } from '../runtime/order-actors.js';
import { crashPoint } from '../runtime/crash-points.js';
import type { StopIntent } from '../../machines/order.machine.js';
import { isFinalStatus, isLiveStatus, stopVersionClientOrderId } from '../../machines/order-status.js';
import { cryptoStopPrice, isCrypto, newStopOrder, replaceStopOrder, type StopSettings } from './stop-order.js';

/** Nothing to do until an intent changes (an upsert or the ratchet sets next_attempt_at to 0). */
const IDLE = 8_640_000_000_000_000;

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
}

/** Thrown to leave an intent for a later pass without calling it failed. */
class Later extends Error {}

/**
 * Carries out stop intents exactly once (DESIGN §3.3). Every step is safe to repeat after a crash:
 * the order is looked up by its deterministic client order id before anything is sent; `sent_at`
 * is committed before a request leaves, so a crash after sending is found again; a 422
 * "client_order_id must be unique" means it exists and is adopted; a network error is "unknown"
 * and probed, and only a definite 404 past the grace period counts as absent.
 */
export class StopWorker {
  private running: Promise<void> | null = null;
  private again = false;
  private timer: ReturnType<typeof setInterval> | null = null;
  private stopped = false;

  constructor(private readonly deps: StopWorkerDeps) {}

  start(intervalMs = 1000): void {
    // A (re)start is a natural retry point: intents backing off from an earlier life are due now.
    this.deps.db.run(
      this.deps.db.kysely.updateTable('intents').set({ next_attempt_at: 0 }).where('status', 'in', ['pending', 'unknown', 'confirmed']),
    );
    this.timer = setInterval(() => this.kick(), intervalMs);
    this.kick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.running;
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
    for (const row of dueIntents(this.deps.db, Date.now())) {
      if (this.stopped) return;
      try {
        await this.process(row);
      } catch (err) {
        if (err instanceof Later) continue;
        const attempts = row.attempts + 1;
        this.deps.log.warn({ event: 'stop_intent_error', client_order_id: row.client_order_id, attempts, err: String(err) }, 'stop intent will be retried');
        updateIntent(this.deps.db, row.client_order_id, { attempts, last_error: String(err), next_attempt_at: Date.now() + backoff(attempts) });
      }
    }
  }

  private async process(listed: IntentRow): Promise<void> {
    // The pass's list is stale by the time an earlier intent's requests return (a fill may have
    // asked for a cancel or a resize meanwhile): always act on the row as it is now.
    const fresh = intentRow(this.deps.db, listed.client_order_id);
    if (!fresh || fresh.next_attempt_at > Date.now() || !['pending', 'unknown', 'confirmed'].includes(fresh.status)) return;
    let row = fresh;
    const intent = JSON.parse(row.payload) as StopIntent;
    if (row.cancel_requested) return this.cancel(row, intent);
    if (row.status === 'confirmed') {
      if (this.satisfied(row, intent)) {
        updateIntent(this.deps.db, row.client_order_id, { next_attempt_at: IDLE });
        return;
      }
      // Resize (more filled) or ratchet (price rose): a replacement with the next client order id,
      // committed before it is sent.
      row = this.nextVersion(row, row.broker_order_id);
    }
    const cid = row.current_client_order_id ?? row.client_order_id;

    // sent_at is committed before any request leaves, so an id never sent needs no lookup; one
    // that may have been sent is looked up first, and only a 404 past the grace period is absent.
    if (row.sent_at) {
      const found = await this.lookup(row, cid);
      if (found) return this.onFound(row, intent, found);
      if (Date.now() - Date.parse(row.sent_at) < (this.deps.graceMs ?? 10_000)) {
        updateIntent(this.deps.db, row.client_order_id, { next_attempt_at: Date.now() + 1000 });
        return;
      }
    }
    await this.send(row, intent, cid);
  }

  private satisfied(row: IntentRow, intent: StopIntent): boolean {
    if (row.placed_qty === null || !new D(row.placed_qty).eq(wantedQty(row))) return false;
    if (!isCrypto(intent) || row.target_stop_price === null) return true;
    return row.placed_stop_price !== null && new D(row.placed_stop_price).gte(row.target_stop_price);
  }

  private nextVersion(row: IntentRow, replaceOf: string | null): IntentRow {
    const version = row.version + 1;
    const entry = (JSON.parse(row.payload) as StopIntent).entryOrderId;
    updateIntent(this.deps.db, row.client_order_id, {
      version,
      current_client_order_id: stopVersionClientOrderId(entry, version),
      status: 'pending',
      sent_at: null,
      broker_order_id: replaceOf,
    });
    return intentRow(this.deps.db, row.client_order_id)!;
  }

  /** GET by client order id: the order, null on a definite 404; anything else is "unknown". */
  private async lookup(row: IntentRow, cid: string): Promise<OrderReport | null> {
    try {
      const parsed = parseOrder(await this.deps.client.orders.getOrderByClientOrderId({ clientOrderId: cid }));
      if (!parsed.ok) throw new Error(parsed.reason);
      return parsed.value;
    } catch (err) {
      if (err instanceof NotFoundError) return null;
      this.unknown(row, `lookup of ${cid} failed: ${String(err)}`);
      throw new Later();
    }
  }

  private unknown(row: IntentRow, reason: string): void {
    const attempts = row.attempts + 1;
    this.deps.log.warn({ event: 'stop_outcome_unknown', client_order_id: row.client_order_id, attempts, reason }, 'stop order state unknown; probing again');
    updateIntent(this.deps.db, row.client_order_id, { status: row.sent_at ? 'unknown' : row.status, attempts, last_error: reason, next_attempt_at: Date.now() + backoff(attempts) });
  }

  private async onFound(row: IntentRow, intent: StopIntent, order: OrderReport): Promise<void> {
    if (isLiveStatus(order.status)) return this.confirm(row, intent, order, 'stop_adopted');
    if (order.status === 'filled') {
      updateIntent(this.deps.db, row.client_order_id, { status: 'done', broker_order_id: order.orderId, next_attempt_at: IDLE });
      return;
    }
    if (order.status === 'replaced' && order.replacedBy) {
      // Replaced by someone else: protect through the replacement.
      const repl = await this.deps.client.orders.getOrderByOrderID({ orderId: order.replacedBy }).then(parseOrder);
      if (repl.ok && isLiveStatus(repl.value.status)) return this.confirm(row, intent, repl.value, 'stop_adopted');
    }
    // Canceled, expired or rejected: that order is gone; place a new one under the next id.
    this.nextVersion(row, null);
    updateIntent(this.deps.db, row.client_order_id, { next_attempt_at: 0 });
    throw new Later();
  }

  private async send(row: IntentRow, intent: StopIntent, cid: string, onlyQty?: string): Promise<void> {
    const { client, db, log, settings } = this.deps;
    const qty = onlyQty ?? (await this.protectableQty(row, intent));
    if (qty === null) {
      log.info({ event: 'stop_not_needed', entry_order_id: intent.entryOrderId, symbol: intent.symbol }, 'no position left to protect');
      updateIntent(db, row.client_order_id, { status: 'done', next_attempt_at: IDLE });
      return;
    }
    const stopPrice = isCrypto(intent)
      ? (row.target_stop_price ?? cryptoStopPrice(await this.deps.latestPrice(intent.symbol), settings.trailPercent))
      : null;
    // The requests above gave fills time to change what the stop must be: never send a stale one.
    this.assertUnchanged(row);
    // Committed before the request leaves: after a crash from here on, the order is looked up.
    updateIntent(db, row.client_order_id, { sent_at: new Date().toISOString(), status: 'unknown', target_stop_price: stopPrice });
    const sentRow = intentRow(db, row.client_order_id)!;
    let raw: unknown;
    try {
      raw =
        row.broker_order_id && row.version > 0
          ? await client.orders.patchOrderByOrderId({
              orderId: row.broker_order_id,
              patchOrderRequest: replaceStopOrder(intent, qty, cid, stopPrice, settings),
            })
          : await client.orders.postOrder({ postOrderRequest: newStopOrder(intent, qty, cid, stopPrice, settings) });
    } catch (err) {
      return this.onSendError(sentRow, intent, cid, err, onlyQty !== undefined);
    }
    crashPoint('after_stop_post');
    const parsed = parseOrder(raw);
    if (!parsed.ok) {
      this.unknown(sentRow, `unreadable response: ${parsed.reason}`);
      return;
    }
    this.confirm(sentRow, intent, parsed.value, 'stop_placed');
  }

  private async onSendError(row: IntentRow, intent: StopIntent, cid: string, err: unknown, partialAlready: boolean): Promise<void> {
    const { db, log } = this.deps;
    if (err instanceof ApiError && err.status === 403 && isCrypto(intent) && !partialAlready) {
      // Crypto cannot be sold twice: another open sell holds part of the position. Protect what
      // is free now (nothing was placed, so the same client order id is still unused); the worker
      // grows the stop later, when the rest is free again.
      const free = await this.freeToSell(intent, row.broker_order_id).catch(() => null);
      if (free !== null && free.gt(0) && free.lt(wantedQty(row))) {
        log.info({ event: 'stop_partial', entry_order_id: intent.entryOrderId, symbol: intent.symbol, qty: normalize(free), wanted: wantedQty(row) }, 'part of the position is held by another sell order');
        return this.send(row, intent, cid, normalize(free));
      }
    }
    if (err instanceof ApiError && err.status === 422 && /client_order_id must be unique/i.test(err.message)) {
      const found = await this.lookup(row, cid);
      if (found) return this.onFound(row, intent, found);
    }
    if (err instanceof ApiError && err.status >= 400 && err.status < 500 && !(err instanceof RateLimitError)) {
      // A definite refusal: nothing was placed. A replace of an order that can no longer be
      // replaced (it filled or went away) is settled by looking at that order next time.
      const attempts = row.attempts + 1;
      log.warn({ event: 'stop_rejected', entry_order_id: intent.entryOrderId, client_order_id: cid, status: err.status, reason: err.message, attempts }, 'broker refused the protective stop');
      this.deps.actors.stopRejected(intent.entryOrderId, err.message);
      if (row.broker_order_id && row.version > 0) {
        const old = await this.deps.client.orders.getOrderByOrderID({ orderId: row.broker_order_id }).then(parseOrder).catch(() => null);
        if (old?.ok && old.value.status === 'filled') {
          updateIntent(db, row.client_order_id, { status: 'done', next_attempt_at: IDLE });
          return;
        }
        if (old?.ok && isFinalStatus(old.value.status)) this.nextVersion(row, null);
      }
      updateIntent(db, row.client_order_id, { status: 'pending', sent_at: null, attempts, last_error: err.message, next_attempt_at: Date.now() + backoff(attempts) });
      return;
    }
    // Network trouble, a timeout, 429 or 5xx: the order may or may not exist. Probe, never assume.
    this.unknown(row, `send of ${cid} failed: ${String(err)}`);
  }

  private confirm(row: IntentRow, intent: StopIntent, order: OrderReport, event: 'stop_placed' | 'stop_adopted'): void {
    const placedQty = order.qty ?? wantedQty(row);
    updateIntent(this.deps.db, row.client_order_id, {
      status: 'confirmed',
      broker_order_id: order.orderId,
      current_client_order_id: order.clientOrderId,
      placed_qty: placedQty,
      placed_stop_price: order.stopPrice,
      attempts: 0,
      last_error: null,
      // Short of what it wants (another order holds the rest): try to grow it now and then.
      next_attempt_at: new D(placedQty).lt(wantedQty(row)) ? Date.now() + 30_000 : 0,
    });
    this.deps.log.info(
      { event, entry_order_id: intent.entryOrderId, stop_order_id: order.orderId, client_order_id: order.clientOrderId, symbol: intent.symbol, qty: placedQty, type: order.type, stop_price: order.stopPrice, trail_percent: order.trailPercent },
      event === 'stop_placed' ? `protective stop placed for ${intent.symbol}` : `existing protective stop adopted for ${intent.symbol}`,
    );
    this.deps.actors.stopAccepted(intent.entryOrderId, order.orderId, placedQty);
  }

  /** The position is closed: take the stop (whatever version is live) off the book. */
  private async cancel(row: IntentRow, intent: StopIntent): Promise<void> {
    const cid = row.current_client_order_id ?? row.client_order_id;
    const order = row.broker_order_id ? { orderId: row.broker_order_id } : await this.lookup(row, cid);
    if (order) {
      try {
        await this.deps.client.orders.deleteOrderByOrderID({ orderId: order.orderId });
      } catch (err) {
        // 404/422: already gone (filled, canceled, replaced); anything else: try again later.
        if (!(err instanceof ApiError) || err.status >= 500 || err instanceof RateLimitError) throw err;
      }
    }
    // The order that owns the stop may have opened a new position while the cancel was in flight.
    if (intentRow(this.deps.db, row.client_order_id)?.cancel_requested === 0) {
      this.nextVersion(row, null);
      updateIntent(this.deps.db, row.client_order_id, { next_attempt_at: 0 });
      this.deps.log.info({ event: 'stop_rearmed', entry_order_id: intent.entryOrderId, symbol: intent.symbol }, `protective stop for ${intent.symbol} placed again`);
      throw new Later();
    }
    updateIntent(this.deps.db, row.client_order_id, { status: 'done', next_attempt_at: IDLE });
    this.deps.log.info({ event: 'stop_canceled', entry_order_id: intent.entryOrderId, stop_order_id: order?.orderId ?? null, symbol: intent.symbol }, `position closed: protective stop for ${intent.symbol} canceled`);
  }

  /**
   * Throws Later (and runs another pass at once) when the intent changed since `row` was read: a
   * fill resized it, an exit asked for its cancel, or another step moved it on.
   */
  private assertUnchanged(row: IntentRow): void {
    const now = intentRow(this.deps.db, row.client_order_id);
    if (now && now.status === row.status && now.version === row.version && now.cancel_requested === row.cancel_requested && wantedQty(now) === wantedQty(row)) return;
    this.again = true;
    throw new Later();
  }

  /** Crypto: the position less what open sell orders (other than `except`) already hold. */
  private async freeToSell(intent: StopIntent, except: string | null): Promise<D> {
    const position = await fetchPositionQty(this.deps.client, intent.symbol);
    const open = await this.deps.client.orders.getAllOrders({ status: 'open', symbols: intent.symbol, limit: 500 });
    let held = new D(0);
    for (const raw of open) {
      const o = parseOrder(raw);
      if (o.ok && o.value.side === 'sell' && o.value.orderId !== except) held = held.plus(new D(o.value.qty ?? 0).minus(o.value.filledQty));
    }
    return position.minus(held);
  }

  /** What the committed ledger says the stop's side holds (a sell stop protects a long), or null when unknown. */
  private ledgerHeld(intent: StopIntent): D | null {
    const known = this.deps.ledgerPosition?.(intent.symbol);
    if (known === undefined) return null;
    return intent.side === 'sell' ? new D(known) : new D(known).negated();
  }

  /**
   * How much of the entry the position still holds (a stop never exceeds it); null when flat. The
   * ledger answers the common case; the broker is asked when the ledger falls short. "Flat" needs
   * both: a broker that says flat while the ledger (read after its answer) holds the position is
   * behind or wrong, and the intent is retried rather than given up.
   */
  private async protectableQty(row: IntentRow, intent: StopIntent): Promise<string | null> {
    const wanted = wantedQty(row);
    if (new D(wanted).lte(0)) return null;
    if (this.ledgerHeld(intent)?.gte(wanted)) return wanted;
    const position = await fetchPositionQty(this.deps.client, intent.symbol);
    const held = intent.side === 'sell' ? position : position.negated();
    if (held.gt(0)) return normalize(D.min(held, wanted));
    const ledger = this.ledgerHeld(intent);
    if (ledger?.gt(0)) {
      const attempts = row.attempts + 1;
      const reason = `broker position ${normalize(position)}, ledger ${normalize(ledger)}`;
      this.deps.log.warn({ event: 'stop_position_unconfirmed', entry_order_id: intent.entryOrderId, symbol: intent.symbol, reason, attempts }, 'broker and ledger disagree on the position; stop retried');
      updateIntent(this.deps.db, row.client_order_id, { attempts, last_error: reason, next_attempt_at: Date.now() + backoff(attempts) });
      throw new Later();
    }
    return null;
  }
}

type D = InstanceType<typeof D>;

function backoff(attempts: number): number {
  return Math.min(60_000, 500 * 2 ** Math.min(attempts, 7));
}
