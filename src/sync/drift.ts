import { D, normalize } from '../decimal.js';
import type { BrokerClient } from '../broker/client.js';
import { fetchOrder } from '../broker/fetch-order.js';
import { listPositions } from '../broker/positions.js';
import type { DriftEntry } from '../api/health.js';
import type { Database } from '../store/database.js';
import { ledgerOf, ledgerPositions } from '../store/ledger.js';
import { orderRow } from '../store/order-rows.js';
import { readSyncState, writeSyncState } from '../store/sync-state.js';
import type { Logger } from '../log.js';
import type { OrderActors } from '../runtime/order-actors.js';
import { positionPathSymbol } from '../domain/symbols.js';
import { notifyLedgerDrift } from '../notify/events.js';

/**
 * Positions are compared by symbol without the slash: Alpaca lists crypto positions as BTCUSD (and
 * older fills in the ledger may carry BTCUSD too), orders as BTC/USD.
 */
const symbolKey = positionPathSymbol;

/**
 * Drift is loud (DESIGN §3.6): after each reconciliation, the ledger's quantity per order is
 * compared with the broker's filled_qty, and the ledger's positions with the broker's. A mismatch
 * is confirmed before it is reported — an order is fetched once more (a fill may have landed
 * between the two reads), a position must disagree the same way on two runs in a row — then it is
 * logged once as `ledger_drift` and listed on /health until it clears.
 */
export class DriftCheck {
  private entries = new Map<string, DriftEntry>();
  private suspectPositions = new Map<string, string>();

  constructor(private readonly deps: { db: Database; log: Logger; client: BrokerClient; actors: OrderActors }) {}

  current(): DriftEntry[] {
    return [...this.entries.values()];
  }

  async check(brokerFilled: Map<string, string>): Promise<void> {
    for (const [orderId, filled] of brokerFilled) await this.checkOrder(orderId, filled);
    await this.checkPositions();
  }

  private async checkOrder(orderId: string, brokerFilled: string): Promise<void> {
    const { db, log, client, actors } = this.deps;
    const key = `order:${orderId}`;
    let ledger = ledgerOf(db, orderId).filledQty;
    if (new D(ledger).eq(brokerFilled)) {
      this.clear(key);
      return;
    }
    // Re-read the broker: a report in between may explain it, and routing it fixes the ledger.
    const order = await fetchOrder(client, log, orderId).catch(() => null);
    if (order) {
      actors.handleOrder(order);
      ledger = ledgerOf(db, orderId).filledQty;
      if (new D(ledger).eq(order.filledQty)) {
        this.clear(key);
        return;
      }
    }
    this.report(key, {
      kind: 'order',
      order_id: orderId,
      symbol: order?.symbol ?? orderRow(db, orderId)?.symbol ?? '',
      ledger_qty: ledger,
      broker_qty: order?.filledQty ?? brokerFilled,
      since: new Date().toISOString(),
    });
  }

  private async checkPositions(): Promise<void> {
    const { db, client } = this.deps;
    const broker = new Map<string, { symbol: string; qty: string }>();
    for (const p of await listPositions(client)) broker.set(symbolKey(p.symbol), { symbol: p.symbol, qty: p.qty });
    const ledger = new Map([...ledgerPositions(db)].map(([s, q]) => [symbolKey(s), { symbol: s, qty: q }]));

    // Positions that predate the ledger's history are the baseline, taken on the first run.
    const stored = readSyncState(db, 'position_baseline');
    let baseline: Record<string, string>;
    if (stored === null) {
      baseline = {};
      for (const key of new Set([...broker.keys(), ...ledger.keys()])) {
        const diff = new D(broker.get(key)?.qty ?? 0).minus(ledger.get(key)?.qty ?? 0);
        if (!diff.isZero()) baseline[key] = normalize(diff);
      }
      writeSyncState(db, 'position_baseline', JSON.stringify(baseline));
    } else {
      baseline = JSON.parse(stored) as Record<string, string>;
    }

    const keys = new Set([...broker.keys(), ...ledger.keys(), ...Object.keys(baseline)]);
    for (const key of keys) {
      const expected = new D(ledger.get(key)?.qty ?? 0).plus(baseline[key] ?? 0);
      const actual = new D(broker.get(key)?.qty ?? 0);
      const id = `position:${key}`;
      if (expected.eq(actual)) {
        this.suspectPositions.delete(id);
        this.clear(id);
        continue;
      }
      const signature = `${normalize(expected)}/${normalize(actual)}`;
      if (this.suspectPositions.get(id) !== signature) {
        this.suspectPositions.set(id, signature);
        continue;
      }
      this.report(id, {
        kind: 'position',
        order_id: null,
        symbol: broker.get(key)?.symbol ?? ledger.get(key)?.symbol ?? key,
        ledger_qty: normalize(expected),
        broker_qty: normalize(actual),
        since: new Date().toISOString(),
      });
    }
  }

  private report(key: string, entry: DriftEntry): void {
    const known = this.entries.get(key);
    if (known && known.ledger_qty === entry.ledger_qty && known.broker_qty === entry.broker_qty) return;
    const since = known?.since ?? entry.since;
    this.entries.set(key, { ...entry, since });
    this.deps.log.warn({ event: 'ledger_drift', ...entry }, `ledger disagrees with the broker on ${entry.kind} ${entry.order_id ?? entry.symbol}`);
    // Once per episode (its id carries the episode's start): a quantity that moves again is not news.
    try {
      notifyLedgerDrift(this.deps.db, { key, ...entry, since }, new Date());
    } catch (err) {
      this.deps.log.warn({ event: 'notification_write_failed', kind: 'ledger_drift', err: String(err) }, 'could not record a drift notification');
    }
  }

  private clear(key: string): void {
    if (this.entries.delete(key)) this.deps.log.info({ event: 'ledger_drift_cleared', key }, 'drift cleared');
  }
}
