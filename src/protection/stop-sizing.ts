import { fetchAvailableQty, fetchPositionQty } from '../broker/positions.js';
import type { BrokerClient } from '../broker/client.js';
import { D, normalize } from '../decimal.js';
import type { Logger } from '../log.js';
import type { StoredStopRow } from '../store/stops.js';
import { stopAsk, type StopAsk } from '../domain/protection.js';
import { isCrypto } from '../domain/symbols.js';
import type { StopEvent } from '../../machines/stop-model.js';
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
   * when the ledger falls short, and for a crypto stop an exit cut. "Flat" needs both: a broker that says flat while the ledger (read
   * after its answer) holds the position is behind or wrong, and the send is deferred, not given up.
   */
  async protectableQty(row: StoredStopRow): Promise<string | StopEvent> {
    const ask = stopAsk(row);
    const wanted = wantedOf(row);
    if (new D(wanted).lte(0)) return { type: 'notNeeded' };
    // A crypto stop an exit cut: the ledger may still count its buy's fee, which only the fee's
    // activity (CFEE, read by the poll) takes off; after an exit of all the broker held, what the
    // ledger says is left may be that fee alone. The broker's position says what is left to sell.
    // The ledger stays the answer when the broker cannot be read: a failed read must not hold back a
    // stop the ledger says is needed (each failure would back it off further, up to a minute).
    const cutCrypto = isCrypto(ask.symbol, ask.assetClass) && new D(row.cut_qty).gt(0);
    const ledgerEnough = this.ledgerHeld(ask)?.gte(wanted) ?? false;
    if (!cutCrypto && ledgerEnough) return wanted;
    const position = await fetchPositionQty(this.deps.client, ask.symbol).catch((err: unknown) => {
      if (cutCrypto && ledgerEnough) return null;
      throw err;
    });
    if (position === null) return wanted;
    const held = ask.side === 'sell' ? position : position.negated();
    if (held.gt(0)) return normalize(D.min(held, wanted));
    const ledger = this.ledgerHeld(ask);
    if (!ledger?.gt(0)) return { type: 'notNeeded' };
    const reason = `broker position ${normalize(position)}, ledger ${normalize(ledger)}`;
    this.deps.log.warn(
      { event: 'stop_position_unconfirmed', entry_order_id: ask.entryOrderId, symbol: ask.symbol, reason, attempts: row.attempts + 1 },
      'broker and ledger disagree on the position; stop retried',
    );
    return { type: 'deferred', reason };
  }

  /**
   * Nothing can be sold twice: other open orders hold part of the position (Alpaca: 403
   * held_for_orders for shares, insufficient balance for coins; the crypto fee leaves less than was
   * bought). What is free now can be protected (nothing was placed, so the same client order id is
   * still unused); the stop grows later, when the rest is free again. Null when that is not the case.
   * One request: the position's `qty_available`, plus what this stop's own working order holds (a resize).
   */
  async partialQty(row: StoredStopRow): Promise<string | null> {
    const ask = stopAsk(row);
    const available = await fetchAvailableQty(this.deps.client, ask.symbol).catch(() => null);
    if (available === null) return null;
    // A resize (PATCH) of the stop's working order: what that order holds is its own to keep.
    const own = row.broker_order_id !== null && row.status !== 'done' ? new D(row.placed_qty ?? 0) : new D(0);
    let free = available.plus(own);
    // Equities: a trailing stop takes whole shares only.
    if (!isCrypto(ask.symbol, ask.assetClass) && !new D(wantedOf(row)).lt(1)) free = free.floor();
    const wanted = wantedOf(row);
    if (!free.gt(0) || !free.lt(wanted)) return null;
    const qty = normalize(free);
    this.deps.log.info(
      { event: 'stop_partial', entry_order_id: ask.entryOrderId, symbol: ask.symbol, qty, wanted, reason: 'held_for_orders' },
      `only ${qty} of ${wanted} ${ask.symbol} is available: the rest is held by other open orders (or taken by a fee)`,
    );
    return qty;
  }

  /** What the committed ledger says the stop's side holds (a sell stop protects a long), or null when unknown. */
  private ledgerHeld(ask: StopAsk): D | null {
    const known = this.deps.ledgerPosition?.(ask.symbol);
    if (known === undefined) return null;
    return ask.side === 'sell' ? new D(known) : new D(known).negated();
  }
}

type D = InstanceType<typeof D>;
