import BetterSqlite3 from 'better-sqlite3';
import { D } from '../../src/decimal.js';
import type { Simulator } from '../../src/sim/index.js';

export interface LedgerCheck {
  orders: number;
  brokerFills: number;
  ledgerRows: number;
  mismatches: string[];
}

/**
 * Invariant 1 against the simulator's ground truth: for every broker order with fills, the
 * ledger's Σ qty equals filled_qty and its VWAP equals filled_avg_price to the broker's precision.
 */
/** The checker reads the truth through the same faulty simulator: it retries what a fault refused. */
async function truthPage(url: string, headers: Record<string, string>): Promise<any[]> {
  for (let attempt = 0; ; attempt++) {
    const res = await fetch(url, { headers });
    if (res.status === 200) return (await res.json()) as any[];
    if (attempt >= 20) throw new Error(`${url} → ${res.status}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function compareLedger(sim: Simulator, dbPath: string, headers: Record<string, string>): Promise<LedgerCheck> {
  const orders: any[] = [];
  let after: string | undefined;
  for (;;) {
    const q = new URLSearchParams({ status: 'all', limit: '500', direction: 'asc', ...(after ? { after_order_id: after } : {}) });
    const page = await truthPage(`${sim.url}/v2/orders?${q}`, headers);
    orders.push(...page);
    if (page.length < 500) break;
    after = page[page.length - 1].id;
  }
  const db = new BetterSqlite3(dbPath, { readonly: true });
  const rows = db.prepare('select order_id, qty, price from fills').all() as Array<{ order_id: string; qty: string; price: string }>;
  db.close();
  const byOrder = new Map<string, Array<{ qty: string; price: string }>>();
  for (const r of rows) byOrder.set(r.order_id, [...(byOrder.get(r.order_id) ?? []), r]);
  const mismatches: string[] = [];
  for (const o of orders) {
    const fills = byOrder.get(o.id) ?? [];
    const qty = fills.reduce((s, f) => s.plus(f.qty), new D(0));
    if (!qty.eq(o.filled_qty)) mismatches.push(`${o.id}: ledger qty ${qty} != broker ${o.filled_qty}`);
    if (qty.gt(0)) {
      const dp = (String(o.filled_avg_price).split('.')[1] ?? '').length;
      const vwap = fills.reduce((s, f) => s.plus(new D(f.qty).times(f.price)), new D(0)).div(qty).toDecimalPlaces(dp);
      if (!vwap.eq(o.filled_avg_price)) mismatches.push(`${o.id}: ledger VWAP ${vwap} != broker ${o.filled_avg_price}`);
    }
  }
  return { orders: orders.length, brokerFills: sim.engine.fills.length, ledgerRows: rows.length, mismatches };
}
