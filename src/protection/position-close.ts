import { LeadershipLost } from '../store/leadership-lost.js';
import { ApiError, RateLimitError, type trading } from '@alpacahq/alpaca-trade-api';
import type { BrokerClient } from '../broker/client.js';
import { parseOrder } from '../broker/adapter.js';
import { fetchAvailableQty } from '../broker/positions.js';
import type { AssetGrids } from '../broker/asset-grids.js';
import { D, normalize } from '../decimal.js';
import { qtyOnGrid } from '../domain/grid.js';
import type { OrderReport } from '../domain/reports.js';
import { canonicalSymbol, isCrypto } from '../domain/symbols.js';
import type { Database } from '../store/database.js';
import { fillCount } from '../store/ledger.js';
import { positionStopRows, readStopRow } from '../store/stops.js';
import { knownOrder, orderByClientOrderId, type KnownOrder } from '../store/order-rows.js';
import { classifyRefusal, isDuplicateClientOrderId } from '../../machines/stop-policy.js';
import type { Logger } from '../log.js';
import { applyStopTransition } from './stop-transitions.js';

export interface CloseResult {
  symbol: string;
  /** `flat`: nothing to close; `closing`: the exit order is placed (or was, by an earlier request). */
  status: 'flat' | 'closing';
  /** The protective stops whose cancel this close asked for. */
  canceledStops: string[];
  exit: KnownOrder | null;
}

/** The close could not be completed; `unprotected` says whether the stops are already gone. */
export class CloseFailed extends Error {
  constructor(
    readonly code: 'stops_not_canceled' | 'broker_refused' | 'broker_unavailable',
    message: string,
    readonly unprotected: boolean,
  ) {
    super(message);
    this.name = 'CloseFailed';
  }
}

const STOP_WAIT_MS = 15_000;

/**
 * POST /positions/:symbol/close: the symbol's protective stops canceled (their shares are held
 * while they live: Alpaca refuses a sell of them), then the position closed at market with a
 * `ct-close-<symbol>-<n>` client order id, n the ledger's fill count of the symbol: a retry (a
 * second click, a crash in between) finds the same order instead of selling twice. The exit's fill
 * closes the position like any exit: its stops end and its cooldown starts (position following).
 * Idempotent: flat answers `flat`; a close in flight answers its order.
 */
export class PositionCloser {
  private readonly running = new Map<string, Promise<CloseResult>>();

  constructor(
    private readonly deps: {
      db: Database;
      client: BrokerClient;
      log: Logger;
      grids: AssetGrids;
      ledgerPosition: (symbol: string) => string;
      kickStops: () => unknown;
      track?: (order: OrderReport) => void;
    },
  ) {}

  close(rawSymbol: string, who: string): Promise<CloseResult> {
    const symbol = canonicalSymbol(rawSymbol);
    const inFlight = this.running.get(symbol);
    if (inFlight) return inFlight;
    const run = this.run(symbol, who).finally(() => this.running.delete(symbol));
    this.running.set(symbol, run);
    return run;
  }

  private async run(symbol: string, who: string): Promise<CloseResult> {
    const { db, log } = this.deps;
    const position = new D(this.deps.ledgerPosition(symbol));
    const cid = `ct-close-${symbol.replace('/', '')}-${fillCount(db, symbol)}`;
    const earlier = orderByClientOrderId(db, cid);
    if (earlier) return { symbol, status: 'closing', canceledStops: [], exit: earlier };
    if (position.isZero()) return { symbol, status: 'flat', canceledStops: [], exit: null };

    // The stops go first: while they live they hold the position.
    const stops = db.transaction(() => {
      const ids: string[] = [];
      for (const row of positionStopRows(db, symbol, [])) {
        if (!row.cancel_requested) applyStopTransition(db, row.client_order_id, { type: 'cancelRequested' });
        ids.push(row.client_order_id);
      }
      return ids;
    });
    log.warn({ event: 'position_close_started', symbol, qty: normalize(position), stops, by: who }, `closing ${symbol}: its stops are canceled first`);
    await this.stopsGone(stops, symbol);

    const available = await fetchAvailableQty(this.deps.client, symbol).catch((err: unknown) => {
      throw new CloseFailed('broker_unavailable', `could not read the ${symbol} position: ${String(err)}`, true);
    });
    let qty = normalize(D.min(available, position.abs()));
    if (new D(qty).isZero()) return { symbol, status: 'flat', canceledStops: stops, exit: null };
    const crypto = isCrypto(symbol);
    if (crypto) {
      const onGrid = qtyOnGrid(qty, await this.deps.grids.of(symbol));
      if (!onGrid.ok) throw new CloseFailed('broker_refused', `${symbol}: ${onGrid.reason}`, true);
      qty = onGrid.qty;
    }
    const body: trading.PostOrderRequest = { symbol, qty, side: position.isPositive() ? 'sell' : 'buy', type: 'market', timeInForce: crypto ? 'gtc' : 'day', clientOrderId: cid };
    let raw: unknown;
    // Fencing (PostgreSQL): only the account's leader sends; a stale one answers 503.
    this.deps.db.assertLeading();
    try {
      raw = await this.deps.client.orders.postOrder({ postOrderRequest: body });
    } catch (err) {
      if (err instanceof LeadershipLost) throw err;
      const answered = err instanceof ApiError && !(err instanceof RateLimitError);
      if (answered && isDuplicateClientOrderId(err.status, err.message)) {
        // Sent before (a retry after a crash or a lost answer): that order, never a second one.
        raw = await this.deps.client.orders.getOrderByClientOrderId({ clientOrderId: cid }).catch((e: unknown) => {
          throw new CloseFailed('broker_unavailable', `the close ${cid} was sent before, but could not be read back: ${String(e)}`, true);
        });
      } else {
        const refused = answered && classifyRefusal(err.status, err.message) !== null;
        log.error({ event: 'position_close_failed', symbol, client_order_id: cid, err: String(err) }, `close of ${symbol} not placed: its stops are canceled, the position is unprotected`);
        throw new CloseFailed(refused ? 'broker_refused' : 'broker_unavailable', `the close of ${symbol} was not placed (${String(err)}); its stops are canceled: the position is unprotected until it is closed`, true);
      }
    }
    const parsed = parseOrder(raw);
    if (!parsed.ok) throw new CloseFailed('broker_unavailable', `unreadable order: ${parsed.reason}`, true);
    this.deps.track?.(parsed.value);
    const o = parsed.value;
    log.info({ event: 'position_close_placed', symbol, order_id: o.orderId, client_order_id: cid, qty, by: who }, `close of ${symbol} placed`);
    return {
      symbol,
      status: 'closing',
      canceledStops: stops,
      exit: knownOrder(o),
    };
  }

  /** Waits (kicking the stop worker) until every stop's order is gone; a stop that filled meanwhile is gone too. */
  private async stopsGone(ids: string[], symbol: string): Promise<void> {
    const deadline = Date.now() + STOP_WAIT_MS;
    for (;;) {
      const left = ids.filter((id) => readStopRow(this.deps.db, id)?.status !== 'done');
      if (left.length === 0) return;
      if (Date.now() > deadline) {
        throw new CloseFailed('stops_not_canceled', `the stops of ${symbol} (${left.join(', ')}) are not canceled yet; nothing was sold: send the close again`, true);
      }
      await this.deps.kickStops();
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}
