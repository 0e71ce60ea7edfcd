import { D, normalize } from '../src/decimal.js';
import type { ExecutionReport } from '../src/domain/reports.js';
import type { FillRecord, OrderLedger } from '../src/domain/protection.js';

/**
 * The fill ledger's arithmetic (DESIGN §3.1–3.2), pure: given what an order has recorded and a new
 * execution report, which fill rows to write. Identity is (order_id, cum_qty); cum_qty only grows.
 */

export type FillPlan =
  | { kind: 'duplicate' }
  /** The report jumps past what was recorded and nothing prices the gap: ask for the order. */
  | { kind: 'unpricedGap' }
  | { kind: 'record'; fills: FillRecord[]; ledger: OrderLedger };

/** Prices derived by division are kept to crypto precision. */
const PRICE_DP = 9;

export const EMPTY_LEDGER: OrderLedger = { filledQty: '0', notional: '0' };

/** The broker's filled_qty the ledger accounts for: its highest cum_qty moved by busts and corrections. */
export function brokerFilledOf(ledger: OrderLedger): string {
  return normalize(new D(ledger.filledQty).plus(ledger.changed ?? '0'));
}

export function planFills(ledger: OrderLedger, exec: ExecutionReport): FillPlan {
  // After a bust or correction, one execution's report (not an order's totals) at or below what was
  // recorded when it was applied, in the numbering of then, is an execution of before it: recorded
  // already — the REST FILL list keeps it as it was, and the streams replay it so. Where the report
  // tells its execution id, only one the ledger holds is (a new id is a fill after the change, read
  // less `changed`); a REST activity tells none, and a fill after a bust that reuses such a cum_qty
  // is taken for the old one until the order's next read, in its current terms, records it.
  if (ledger.changedAt !== undefined && exec.qty !== null && new D(exec.cumQty).lte(ledger.changedAt) && (exec.executionId === null || exec.executionRecorded === true)) {
    return { kind: 'duplicate' };
  }
  // After a bust or correction the broker's cum_qty is off the ledger's by `changed`: read in the ledger's terms.
  const changed = new D(ledger.changed ?? '0');
  const cum = new D(exec.cumQty).minus(changed);
  const recorded = new D(ledger.filledQty);
  if (cum.lte(recorded)) return { kind: 'duplicate' };
  const delta = cum.minus(recorded);
  const base = { orderId: exec.orderId, symbol: exec.symbol, side: exec.side, at: exec.at };
  const fills: FillRecord[] = [];

  // What the order's VWAP says the unrecorded quantity up to `upTo` cost in total (the VWAP is over
  // the broker's quantity, busts and corrections included, as the ledger's notional is).
  const vwapRemainder = (upTo: InstanceType<typeof D>, minus: InstanceType<typeof D>) =>
    new D(exec.avgPrice!).times(upTo.plus(changed)).minus(ledger.notional).minus(minus);

  if (exec.qty !== null && exec.price !== null) {
    const qty = new D(exec.qty);
    if (qty.gte(delta)) {
      // Everything unrecorded belongs to this execution (it may overlap an inferred fill).
      fills.push({ ...base, cumQty: normalize(cum), qty: normalize(delta), price: exec.price, source: exec.source, execId: exec.execId, executionId: exec.executionId });
    } else {
      const gap = delta.minus(qty);
      if (exec.avgPrice === null) return { kind: 'unpricedGap' };
      const gapNotional = vwapRemainder(cum, qty.times(exec.price));
      if (gapNotional.lte(0)) return { kind: 'unpricedGap' };
      fills.push({
        ...base,
        cumQty: normalize(cum.minus(qty)),
        qty: normalize(gap),
        price: normalize(gapNotional.div(gap).toDecimalPlaces(PRICE_DP)),
        source: 'inferred',
        execId: null,
      });
      fills.push({ ...base, cumQty: normalize(cum), qty: normalize(qty), price: exec.price, source: exec.source, execId: exec.execId, executionId: exec.executionId });
    }
  } else {
    // An order snapshot knows only totals: the unrecorded part is priced from the VWAP difference.
    if (exec.avgPrice === null) return { kind: 'unpricedGap' };
    const notional = vwapRemainder(cum, new D(0));
    const price = notional.gt(0) ? notional.div(delta).toDecimalPlaces(PRICE_DP) : new D(exec.avgPrice);
    fills.push({ ...base, cumQty: normalize(cum), qty: normalize(delta), price: normalize(price), source: exec.source, execId: exec.execId, executionId: exec.executionId });
  }

  let notional = new D(ledger.notional);
  for (const f of fills) notional = notional.plus(new D(f.qty).times(f.price));
  return { kind: 'record', fills, ledger: { ...ledger, filledQty: normalize(cum), notional: normalize(notional) } };
}

/**
 * A trade bust or correction of one of the order's recorded fills: the broker's filled_qty moves by
 * `qty` (signed: a bust takes the fill's qty off) and its value by `notional`; the highest cum_qty
 * recorded stays (the fills' identity), so later reports are read less what moved.
 */
export function changeLedger(ledger: OrderLedger, change: { qty: string; notional: string }): OrderLedger {
  const changed = new D(ledger.changed ?? '0').plus(change.qty);
  return {
    filledQty: ledger.filledQty,
    notional: normalize(new D(ledger.notional).plus(change.notional)),
    ...(changed.isZero() ? {} : { changed: normalize(changed) }),
    changedAt: ledger.filledQty,
  };
}

/** The ledger's VWAP for an order, or null before any fill. */
export function ledgerAvgPrice(ledger: OrderLedger): string | null {
  const qty = new D(brokerFilledOf(ledger));
  return qty.isZero() ? null : normalize(new D(ledger.notional).div(qty).toDecimalPlaces(PRICE_DP));
}
