import { LeadershipLost } from '../store/leadership-lost.js';
import { randomUUID } from 'node:crypto';
import { ApiError, NotFoundError, RateLimitError, type trading } from '@alpacahq/alpaca-trade-api';
import type { BrokerClient } from '../broker/client.js';
import { parseOrder } from '../broker/adapter.js';
import type { OrderReport, Side } from '../domain/reports.js';
import { canonicalSymbol, isCrypto } from '../domain/symbols.js';
import { isFinalStatus } from '../domain/orders.js';
import { D } from '../decimal.js';
import type { Database } from '../store/database.js';
import { activeCooldown } from '../store/cooldowns.js';
import { entriesPaused } from '../store/entries-paused.js';
import { knownOrder, orderByClientOrderId, type KnownOrder } from '../store/order-rows.js';
import { classifyRefusal, isDuplicateClientOrderId, type RefusalKind } from '../../machines/stop-policy.js';
import type { Logger } from '../log.js';

export type EntryOrderType = 'market' | 'limit' | 'stop' | 'stop_limit';
export type EntryTimeInForce = 'day' | 'gtc' | 'ioc' | 'fok' | 'opg' | 'cls';

export interface EntryRequest {
  symbol: string;
  side: Side;
  /** One of qty and notional (decimal strings). */
  qty?: string;
  notional?: string;
  type?: EntryOrderType;
  limitPrice?: string;
  stopPrice?: string;
  timeInForce?: EntryTimeInForce;
  /** The caller's id for this entry: a retry with the same id returns the same order, never a second one. */
  clientOrderId?: string;
}

/** An entry the service would not send, and why (the API answers 409). */
export class EntryRefused extends Error {
  constructor(
    readonly reason: 'cooldown' | 'paused',
    readonly symbol: string,
    readonly until: string | null,
  ) {
    super(reason === 'cooldown' ? `entry refused: ${symbol} is cooling down until ${until} after an exit` : `entry refused: entries are paused`);
    this.name = 'EntryRefused';
  }
}

/** The broker refused the entry (nothing was placed): its status, Alpaca's message and the refusal's kind. */
export class EntryBrokerRefused extends Error {
  constructor(
    readonly status: number,
    readonly kind: RefusalKind,
    message: string,
  ) {
    super(message);
    this.name = 'EntryBrokerRefused';
  }
}

/** The request may or may not have reached the broker (network, timeout, 429, 5xx): retry with the same client_order_id. */
export class EntryOutcomeUnknown extends Error {
  constructor(readonly clientOrderId: string, reason: string) {
    super(`entry ${clientOrderId}: outcome unknown (${reason}); send it again with the same client_order_id`);
    this.name = 'EntryOutcomeUnknown';
  }
}

/** A client_order_id placed before with another body (the API answers 409 `client_order_id_conflict`). */
export class EntryConflict extends Error {
  constructor(
    readonly clientOrderId: string,
    /** The fields that differ from the order placed under that id. */
    readonly fields: string[],
  ) {
    super(`client_order_id ${clientOrderId} was placed before with another ${fields.join(', ')}: send a new client_order_id for a different entry`);
    this.name = 'EntryConflict';
  }
}

/** Which of symbol, side, qty, notional and type an entry request gives otherwise than the order placed under its id. */
export function entryConflicts(req: EntryRequest, known: Pick<KnownOrder, 'symbol' | 'side' | 'qty' | 'notional' | 'type'>): string[] {
  const same = (a: string | null | undefined, b: string | null | undefined) => (a == null || b == null ? (a ?? null) === (b ?? null) : D(a).eq(D(b)));
  const out: string[] = [];
  if (canonicalSymbol(req.symbol) !== canonicalSymbol(known.symbol)) out.push('symbol');
  if (req.side !== known.side) out.push('side');
  // A notional order's qty is the broker's to fill in: compared only for orders given in qty.
  if (req.notional === undefined && !same(req.qty, known.qty)) out.push('qty');
  if (!same(req.notional, known.notional)) out.push('notional');
  if ((req.type ?? 'market') !== known.type) out.push('type');
  return out;
}

export interface EntryPlaced {
  order: KnownOrder;
  /** True: this client_order_id was placed before; the same order is returned. */
  replayed: boolean;
}

/** The broker's client_order_id of an entry: the caller's id under the service's prefix, else a random one. */
export function entryClientOrderId(given: string | undefined): string {
  return `ct-entry-${given ?? randomUUID()}`;
}

/**
 * Entries through the service (POST /entries, and library users): refused while entries are paused
 * or the symbol cools down after an exit (DESIGN §3.5); otherwise sent with a `ct-entry-` client
 * order id, so the service knows it as its own (tracked) and protects it once it fills. Idempotent
 * by client order id: an id seen before returns its order (from the ledger, else from the broker
 * when Alpaca answers the POST with a duplicate), whatever happened in between (a crash, a
 * cooldown that started since). The order is handed to the order actors (`track`) the moment the
 * broker confirms it, so no stream event or poll has to discover it first.
 */
export class EntryGate {
  constructor(private readonly deps: { db: Database; client: BrokerClient; log: Logger; track?: (order: OrderReport) => void }) {}

  async submit(req: EntryRequest, now = new Date()): Promise<EntryPlaced> {
    const { db, log } = this.deps;
    const symbol = canonicalSymbol(req.symbol);
    const cid = entryClientOrderId(req.clientOrderId);
    if (req.clientOrderId !== undefined) {
      const known = orderByClientOrderId(db, cid);
      if (known) return { order: await this.current(this.sameBody(req, known)), replayed: true };
    }
    const paused = entriesPaused(db);
    if (paused.paused) {
      log.info({ event: 'entry_refused', symbol, reason: 'paused', paused_by: paused.by }, `entry refused: entries are paused`);
      throw new EntryRefused('paused', symbol, null);
    }
    const cooling = activeCooldown(db, symbol, now);
    if (cooling) {
      log.info({ event: 'entry_refused', symbol, reason: 'cooldown', until: cooling.until, exit_fill_id: cooling.exit_fill_id }, `entry refused: ${symbol} cooling down`);
      throw new EntryRefused('cooldown', symbol, cooling.until);
    }
    const crypto = isCrypto(symbol);
    const body: trading.PostOrderRequest = {
      symbol,
      qty: req.qty,
      notional: req.notional,
      side: req.side,
      type: req.type ?? 'market',
      timeInForce: req.timeInForce ?? (crypto ? 'gtc' : 'day'),
      limitPrice: req.limitPrice,
      stopPrice: req.stopPrice,
      clientOrderId: cid,
    };
    let raw: unknown;
    let replayed = false;
    // Fencing (PostgreSQL): only the account's leader sends; a stale one answers 503.
    this.deps.db.assertLeading();
    try {
      raw = await this.deps.client.orders.postOrder({ postOrderRequest: body });
    } catch (err) {
      if (err instanceof LeadershipLost) throw err;
      if (!(err instanceof ApiError) || err instanceof RateLimitError) throw new EntryOutcomeUnknown(cid, String(err));
      if (!isDuplicateClientOrderId(err.status, err.message)) {
        const kind = classifyRefusal(err.status, err.message);
        if (kind === null) throw new EntryOutcomeUnknown(cid, String(err));
        log.warn({ event: 'entry_rejected', symbol, client_order_id: cid, status: err.status, kind, reason: err.message }, `broker refused the entry for ${symbol}`);
        throw new EntryBrokerRefused(err.status, kind, err.message);
      }
      // Placed before (a retry after a crash or a lost answer): the same order, never a second one.
      raw = await this.deps.client.orders.getOrderByClientOrderId({ clientOrderId: cid }).catch((e: unknown) => {
        throw new EntryOutcomeUnknown(cid, e instanceof NotFoundError ? 'duplicate client_order_id, but no order found by it' : String(e));
      });
      replayed = true;
    }
    const parsed = parseOrder(raw);
    if (!parsed.ok) throw new EntryOutcomeUnknown(cid, `unreadable order: ${parsed.reason}`);
    this.deps.track?.(parsed.value);
    const o = parsed.value;
    const order = replayed ? this.sameBody(req, knownOrder(o)) : knownOrder(o);
    log.info({ event: replayed ? 'entry_replayed' : 'entry_submitted', order_id: o.orderId, client_order_id: o.clientOrderId, symbol, side: req.side, qty: req.qty, notional: req.notional }, `entry ${replayed ? 'found (sent before)' : 'submitted'} for ${symbol}`);
    return { order, replayed };
  }

  /**
   * A replayed entry as the broker has it now (its status and filled qty: the caller retries to
   * learn what became of it); the ledger's view when the broker cannot say, or the order is over.
   */
  private async current(known: KnownOrder): Promise<KnownOrder> {
    if (isFinalStatus(known.status)) return known;
    try {
      const parsed = parseOrder(await this.deps.client.orders.getOrderByClientOrderId({ clientOrderId: known.clientOrderId }));
      return parsed.ok && parsed.value.orderId === known.orderId ? knownOrder(parsed.value) : known;
    } catch {
      return known;
    }
  }

  /** A replay returns the order placed under the id only for the same body. */
  private sameBody(req: EntryRequest, known: KnownOrder): KnownOrder {
    const fields = entryConflicts(req, known);
    if (fields.length === 0) return known;
    this.deps.log.warn({ event: 'entry_conflict', client_order_id: known.clientOrderId, order_id: known.orderId, fields }, 'client_order_id reused with another body: refused');
    throw new EntryConflict(known.clientOrderId, fields);
  }
}
