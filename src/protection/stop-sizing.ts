import { fetchPositionQty } from '../broker/positions.js';
import { parseOrder } from '../broker/adapter.js';
import type { BrokerClient } from '../broker/client.js';
import { D, normalize } from '../decimal.js';
import type { Logger } from '../log.js';
import type { IntentRow } from '../store/intents.js';
import { stopAsk, type StopIntent } from '../domain/protection.js';
import { isCrypto } from '../domain/symbols.js';
import type { StopEvent } from '../../machines/stop.js';
import { wantedOf } from '../../machines/stop-policy.js';

/**
 * How much a stop may cover now, as the broker can take it (the stop worker asks before each send):
 * never more than the position holds, and (crypto, which cannot be sold twice) not what another
 * open sell already holds.
 */
export class StopSizing {
  constructor(
    private readonly deps: {
      client: BrokerClient;
      log: Logger;
      /** The ledger's signed position in a symbol (no request); the broker is asked only when it falls short. */
      ledgerPosition?: (symbol: string) => string;
    },
  ) {}

  /**
   * How much of the entry the position still holds (a stop never exceeds it), or the event when
   * there is none: not needed when flat. The ledger answers the common case; the broker is asked
   * when the ledger falls short. "Flat" needs both: a broker that says flat while the ledger (read
   * after its answer) holds the position is behind or wrong, and the send is deferred, not given up.
   */
  async protectableQty(row: IntentRow): Promise<string | StopEvent> {
    const intent = stopAsk(row);
    const wanted = wantedOf(row);
    if (new D(wanted).lte(0)) return { type: 'notNeeded' };
    if (this.ledgerHeld(intent)?.gte(wanted)) return wanted;
    const position = await fetchPositionQty(this.deps.client, intent.symbol);
    const held = intent.side === 'sell' ? position : position.negated();
    if (held.gt(0)) return normalize(D.min(held, wanted));
    const ledger = this.ledgerHeld(intent);
    if (!ledger?.gt(0)) return { type: 'notNeeded' };
    const reason = `broker position ${normalize(position)}, ledger ${normalize(ledger)}`;
    this.deps.log.warn(
      { event: 'stop_position_unconfirmed', entry_order_id: intent.entryOrderId, symbol: intent.symbol, reason, attempts: row.attempts + 1 },
      'broker and ledger disagree on the position; stop retried',
    );
    return { type: 'deferred', reason };
  }

  /**
   * Crypto cannot be sold twice: another open sell holds part of the position. What is free now
   * can be protected (nothing was placed, so the same client order id is still unused); the stop
   * grows later, when the rest is free again. Null when that is not the case.
   */
  async partialQty(row: IntentRow): Promise<string | null> {
    const ask = stopAsk(row);
    if (!isCrypto(ask.symbol, ask.assetClass)) return null;
    const free = await this.freeToSell(ask, row.broker_order_id).catch(() => null);
    const wanted = wantedOf(row);
    if (free === null || !free.gt(0) || !free.lt(wanted)) return null;
    const qty = normalize(free);
    this.deps.log.info({ event: 'stop_partial', entry_order_id: ask.entryOrderId, symbol: ask.symbol, qty, wanted }, 'part of the position is held by another sell order');
    return qty;
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
}

type D = InstanceType<typeof D>;
