import { ApiError, NotFoundError, RateLimitError } from '@alpacahq/alpaca-trade-api';
import type { BrokerClient } from '../broker/client.js';
import { parseOrder } from '../broker/adapter.js';
import type { AssetGrids } from '../broker/asset-grids.js';
import type { StoredStopRow } from '../store/stops.js';
import { LeadershipLost } from '../store/leadership-lost.js';
import { crashPoint } from '../runtime/crash-points.js';
import { isFinalStatus } from '../domain/orders.js';
import { D } from '../decimal.js';
import { stopAsk } from '../domain/protection.js';
import { isCrypto } from '../domain/symbols.js';
import { qtyOnGrid } from '../domain/grid.js';
import { stopBasis, type StopEffect, type StopEvent } from '../../machines/stop-model.js';
import { classifyRefusal, isDuplicateClientOrderId, isUnchangedReplace, sameAsPlaced } from '../../machines/stop-policy.js';
import type { StopSizing } from './stop-sizing.js';
import type { WashBlocks } from './stop-wash-blocks.js';
import { newStopOrder, replaceStopOrder, trailOf, type StopSettings } from './stop-order.js';
import { crossingOrders, washAdvice, type RefusedStop } from './wash-crossing.js';

/**
 * The broker requests a stop's machine asks for — GET by client order id or by order id, POST,
 * PATCH, DELETE — each answer told as the machine's next event. Nothing is assumed: a network
 * error, a timeout, 429 or 5xx is `outcomeUnknown` (probed later), only a definite 404 is absent,
 * a 422 duplicate is adopted; `LeadershipLost` (the fence) is thrown on, never turned into an event.
 */
export interface StopRequestDeps {
  client: BrokerClient;
  settings: StopSettings;
  sizing: StopSizing;
  grids: AssetGrids;
  washBlocks: WashBlocks;
  /** How long a sent order may stay invisible by client order id before it counts as absent. */
  graceMs?: number;
  /** When this process began (epoch ms; default: when these requests were made). */
  startedAt?: number;
}

export type SendEffect = Extract<StopEffect, { type: 'post' | 'patch' }>;

export class StopRequests {
  private readonly startedAt: number;

  constructor(private readonly deps: StopRequestDeps) {
    this.startedAt = deps.startedAt ?? Date.now();
  }

  /**
   * GET by client order id: found, absent on a definite 404; anything else is "unknown". The grace
   * (an order that may still appear) is for a send this process made: one an earlier process made
   * (a crash, a restart, a takeover) was answered or lost with that process, so its 404 is final at
   * once. Sending again is safe either way: the client order id is the same, and a duplicate is adopted.
   */
  async lookup(cid: string, sentAt: string | null = null): Promise<StopEvent> {
    const earlier = sentAt !== null && Date.parse(sentAt) < this.startedAt;
    try {
      const parsed = parseOrder(await this.deps.client.orders.getOrderByClientOrderId({ clientOrderId: cid }));
      if (parsed.ok) return { type: 'lookupFound', clientOrderId: cid, order: parsed.value };
      return { type: 'outcomeUnknown', clientOrderId: cid, reason: `lookup of ${cid} failed: ${parsed.reason}` };
    } catch (err) {
      if (err instanceof NotFoundError) return { type: 'lookupAbsent', clientOrderId: cid, graceMs: earlier ? 0 : (this.deps.graceMs ?? 10_000) };
      return { type: 'outcomeUnknown', clientOrderId: cid, reason: `lookup of ${cid} failed: ${String(err)}` };
    }
  }

  /** GET by order id: a found order's replacement, or the order a refused replace was for (if it ended). */
  async fetchOrder(effect: Extract<StopEffect, { type: 'fetchOrder' }>): Promise<StopEvent | null> {
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
    // An order that filled, even in part, is told by its fill, through the ledger: the position actor
    // cuts the stop by what it sold in the same commit. Told from here first, the stop would be armed
    // again for a position the ledger does not yet know is smaller, and sell what its order sold.
    if (!new D(parsed.value.filledQty).isZero()) return null;
    return { type: 'orderFinished', orderId, clientOrderId: parsed.value.clientOrderId, outcome: parsed.value.status };
  }

  /** POST or PATCH the stop's order; `ctx.partial`: a send already cut to what is free (not cut again). */
  async send(row: StoredStopRow, effect: SendEffect, ctx: { partial: boolean }): Promise<StopEvent> {
    const { client, settings } = this.deps;
    // A re-arm's trail, when it is not the stop's own.
    const ask = effect.trailPercent === undefined ? stopAsk(row) : { ...stopAsk(row), trailPercent: effect.trailPercent };
    const cid = effect.clientOrderId;
    const increment = isCrypto(ask.symbol, ask.assetClass) ? (await this.deps.grids.of(ask.symbol)).priceIncrement : null;
    const patch = effect.type === 'patch' ? replaceStopOrder(ask, effect.qty, cid, effect.stopPrice, settings, increment) : null;
    const post = effect.type === 'patch' ? null : newStopOrder(ask, effect.qty, cid, effect.stopPrice, settings, increment);
    let raw: unknown;
    try {
      raw =
        effect.type === 'patch'
          ? await client.orders.patchOrderByOrderId({ orderId: effect.orderId, patchOrderRequest: patch! })
          : await client.orders.postOrder({ postOrderRequest: post! });
    } catch (err) {
      if (err instanceof LeadershipLost) throw err;
      return this.sendFailed(row, effect, err, ctx, { side: ask.side, limitPrice: (patch ?? post)!.limitPrice ?? null });
    }
    crashPoint('after_stop_post');
    const parsed = parseOrder(raw);
    if (!parsed.ok) return { type: 'outcomeUnknown', clientOrderId: cid, reason: `unreadable response: ${parsed.reason}` };
    return { type: 'accepted', clientOrderId: cid, order: parsed.value };
  }

  /** A failed send as the machine's event: a duplicate, a classified refusal, or an unknown outcome. */
  private async sendFailed(row: StoredStopRow, effect: SendEffect, err: unknown, ctx: { partial: boolean }, sent: RefusedStop): Promise<StopEvent> {
    const cid = effect.clientOrderId;
    const unknown: StopEvent = { type: 'outcomeUnknown', clientOrderId: cid, reason: `send of ${cid} failed: ${String(err)}` };
    // Network trouble, a timeout, 429 or 5xx: the order may or may not exist. Probe, never assume.
    if (!(err instanceof ApiError) || err instanceof RateLimitError) return unknown;
    if (isDuplicateClientOrderId(err.status, err.message)) return { type: 'duplicate', clientOrderId: cid };
    if (effect.type === 'patch' && isUnchangedReplace(err.status, err.message)) return { type: 'unchanged', clientOrderId: cid };
    const kind = classifyRefusal(err.status, err.message);
    if (kind === null) return unknown;
    if (kind === 'wash_trade') {
      this.deps.washBlocks.block(stopAsk(row).symbol, Date.now());
      const advice = await this.washAdvice(stopAsk(row).symbol, sent);
      if (advice !== null) return { type: 'refused', clientOrderId: cid, kind, message: `${err.message}; ${advice}` };
    }
    if (kind === 'insufficient_qty' && !ctx.partial) {
      const free = await this.deps.sizing.partialQty(row);
      const ask = stopAsk(row);
      const onGrid = free === null || !isCrypto(ask.symbol, ask.assetClass) ? null : qtyOnGrid(free, await this.deps.grids.of(ask.symbol));
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

  /**
   * Which of the account's open orders crosses a stop refused as a wash trade, and what to do about
   * it (wash-trade.ts): one read of the open orders on the symbol's other side, made once per
   * refusal (the wash block then holds the symbol's stops back until an order of it ends, or a
   * minute). Null when that read fails or finds none: the refusal is told as Alpaca worded it.
   */
  private async washAdvice(symbol: string, stop: RefusedStop): Promise<string | null> {
    try {
      const raw = await this.deps.client.orders.getAllOrders({ status: 'open', symbols: symbol, side: stop.side === 'sell' ? 'buy' : 'sell', limit: 50, direction: 'asc' });
      const open = raw.map(parseOrder).flatMap((p) => (p.ok && p.value.symbol === symbol ? [p.value] : []));
      return washAdvice(stop, crossingOrders(stop, open));
    } catch (err) {
      if (err instanceof LeadershipLost) throw err;
      return null;
    }
  }

  /** The position is closed: DELETE the stop's order; 404/422 mean it is gone already. */
  async cancelOrder(effect: Extract<StopEffect, { type: 'delete' }>): Promise<StopEvent> {
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
