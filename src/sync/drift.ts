import { D, normalize } from '../decimal.js';
import type { BrokerClient } from '../broker/client.js';
import { fetchOrder } from '../broker/fetch-order.js';
import { listPositions } from '../broker/positions.js';
import type { DriftEntry } from '../api/health.js';
import type { Database } from '../store/database.js';
import { ledgerNetFilled, ledgerPositions } from '../store/ledger.js';
import { orderRow } from '../store/order-rows.js';
import type { Logger } from '../log.js';
import type { OrderActors } from '../runtime/order-actors.js';
import { isCrypto, positionPathSymbol } from '../domain/symbols.js';
import { notifyLedgerDrift } from '../notify/events.js';

/**
 * Positions are compared by symbol without the slash: Alpaca lists crypto positions as BTCUSD (and
 * older fills in the ledger may carry BTCUSD too), orders as BTC/USD.
 */
const symbolKey = positionPathSymbol;

/** CT_PROTECT_GRACE_S's default: how long a difference must last before it is reported. */
export const DEFAULT_DRIFT_GRACE_S = 10;

/** A difference seen by a check: since when (ms), as last seen, and whether it was reported. */
interface Difference {
  firstSeen: number;
  entry: DriftEntry;
  reported: boolean;
}

/**
 * Drift is loud (DESIGN §3.6): after each reconciliation, the ledger's quantity per order is
 * compared with the broker's filled_qty (an order is fetched once more first: a fill may have landed
 * between the two reads), and the ledger's positions (fills less fees, whenever the fees came) with
 * the broker's, every time, against nothing stored. A difference that lasts `graceS`
 * (CT_PROTECT_GRACE_S) is reported: logged as `ledger_drift`, told once per episode, listed on
 * /health; one that resolves sooner (a fee read a few seconds after its fill) never is. Either way
 * it is gone from /health at the first check that finds ledger and broker agreeing.
 */
export class DriftCheck {
  private differences = new Map<string, Difference>();
  private owed = false;
  private readonly graceMs: number;

  constructor(private readonly deps: { db: Database; log: Logger; client: BrokerClient; actors: OrderActors; graceS?: number }) {
    this.graceMs = (deps.graceS ?? DEFAULT_DRIFT_GRACE_S) * 1000;
  }

  /** The differences reported (past the grace), for /health. */
  current(): DriftEntry[] {
    return [...this.differences.values()].filter((d) => d.reported).map((d) => d.entry);
  }

  /** Whether the last check saw a crypto long larger in the ledger than at the broker: a fee taken, not recorded. */
  feeOwed(): boolean {
    return this.owed;
  }

  async check(brokerFilled: Map<string, string>, now = Date.now()): Promise<void> {
    for (const [orderId, filled] of brokerFilled) await this.checkOrder(orderId, filled, now);
    // An order that differed and that this run's reads did not bring: asked again, so it can clear.
    for (const key of [...this.differences.keys()]) {
      if (key.startsWith('order:') && !brokerFilled.has(key.slice('order:'.length))) await this.checkOrder(key.slice('order:'.length), null, now);
    }
    await this.checkPositions(now);
  }

  private async checkOrder(orderId: string, brokerFilled: string | null, now: number): Promise<void> {
    const { db, log, client, actors } = this.deps;
    const key = `order:${orderId}`;
    // What the order's fills add up to now (busted ones out, corrected ones at their new qty), as the
    // broker's filled_qty does after a bust or correction.
    let ledger = ledgerNetFilled(db, orderId);
    if (brokerFilled !== null && new D(ledger).eq(brokerFilled)) {
      this.clear(key, now);
      return;
    }
    // Re-read the broker: a report in between may explain it, and routing it fixes the ledger.
    const order = await fetchOrder(client, log, orderId).catch(() => null);
    if (order) {
      actors.handleOrder(order);
      ledger = ledgerNetFilled(db, orderId);
      if (new D(ledger).eq(order.filledQty)) {
        this.clear(key, now);
        return;
      }
    }
    const broker = order?.filledQty ?? brokerFilled;
    // Not read this time and not found: nothing new to tell.
    if (broker === null) return;
    this.note(key, { kind: 'order', order_id: orderId, symbol: order?.symbol ?? orderRow(db, orderId)?.symbol ?? '', ledger_qty: ledger, broker_qty: broker }, now);
  }

  private async checkPositions(now: number): Promise<void> {
    const { db, client } = this.deps;
    const broker = new Map<string, { symbol: string; qty: string }>();
    for (const p of await listPositions(client)) broker.set(symbolKey(p.symbol), { symbol: p.symbol, qty: p.qty });
    const ledger = new Map([...ledgerPositions(db)].map(([s, q]) => [symbolKey(s), { symbol: s, qty: q }]));

    let owed = false;
    const known = [...this.differences.keys()].filter((k) => k.startsWith('position:')).map((k) => k.slice('position:'.length));
    for (const key of new Set([...broker.keys(), ...ledger.keys(), ...known])) {
      const expected = new D(ledger.get(key)?.qty ?? 0);
      const actual = new D(broker.get(key)?.qty ?? 0);
      const id = `position:${key}`;
      if (expected.eq(actual)) {
        this.clear(id, now);
        continue;
      }
      const symbol = ledger.get(key)?.symbol ?? broker.get(key)?.symbol ?? key;
      if (isCrypto(symbol) && expected.gt(actual) && actual.gte(0)) owed = true;
      this.note(id, { kind: 'position', order_id: null, symbol: broker.get(key)?.symbol ?? symbol, ledger_qty: normalize(expected), broker_qty: normalize(actual) }, now);
    }
    this.owed = owed;
  }

  /** A difference seen now: kept from its first sighting, reported once it has lasted the grace. */
  private note(key: string, seen: Omit<DriftEntry, 'since'>, now: number): void {
    const known = this.differences.get(key);
    const firstSeen = known?.firstSeen ?? now;
    const entry: DriftEntry = { ...seen, since: new Date(firstSeen).toISOString() };
    const moved = known !== undefined && (known.entry.ledger_qty !== entry.ledger_qty || known.entry.broker_qty !== entry.broker_qty);
    const due = now - firstSeen >= this.graceMs;
    const report = due && (!known?.reported || moved);
    this.differences.set(key, { firstSeen, entry, reported: known?.reported === true || due });
    if (report) this.report(key, entry);
  }

  private report(key: string, entry: DriftEntry): void {
    this.deps.log.warn({ event: 'ledger_drift', ...entry }, `ledger disagrees with the broker on ${entry.kind} ${entry.order_id ?? entry.symbol}`);
    // Once per episode (its id carries the episode's start): a quantity that moves again is not news.
    try {
      notifyLedgerDrift(this.deps.db, { key, ...entry }, new Date());
    } catch (err) {
      this.deps.log.warn({ event: 'notification_write_failed', kind: 'ledger_drift', err: String(err) }, 'could not record a drift notification');
    }
  }

  private clear(key: string, now: number): void {
    const known = this.differences.get(key);
    if (!known) return;
    this.differences.delete(key);
    // (`key` is a redacted log field name: `drift_key`.)
    if (known.reported) this.deps.log.info({ event: 'ledger_drift_cleared', drift_key: key }, 'drift cleared');
    else this.deps.log.debug({ event: 'ledger_drift_transient', drift_key: key, lasted_ms: now - known.firstSeen }, 'ledger and broker agree again within the grace');
  }
}
