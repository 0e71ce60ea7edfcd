import { D, normalize } from '../decimal.js';
import type { FeeReport } from '../domain/reports.js';
import type { Database } from './database.js';

/**
 * The fees ledger: crypto fees taken in the coin (CFEE activities), one row per activity id. A
 * symbol's position is its fills less its fees (ledger.ts `ledgerPositions`).
 */

/** Records a fee; false when its activity is recorded already (a page read again). */
export function insertFee(db: Database, fee: FeeReport, now = new Date()): boolean {
  const { changes } = db.run(
    db.kysely
      .insertInto('fees')
      .values({ activity_id: fee.activityId, symbol: fee.symbol, qty: fee.qty, price: fee.price, at: fee.at, created_at: now.toISOString() })
      .onConflict((oc) => oc.column('activity_id').doNothing()),
  );
  return changes > 0;
}

/** The coin taken per symbol, over every recorded fee. */
export function feeTotals(db: Database): Map<string, string> {
  const out = new Map<string, InstanceType<typeof D>>();
  for (const r of db.all(db.kysely.selectFrom('fees').select(['symbol', 'qty']))) out.set(r.symbol, (out.get(r.symbol) ?? new D(0)).plus(r.qty));
  return new Map([...out].map(([k, v]) => [k, normalize(v)]));
}

/** A symbol's fees (every symbol's without one), optionally from a time on, in time order. */
export function listFees(db: Database, opts: { symbol?: string; from?: string } = {}) {
  let q = db.kysely.selectFrom('fees').select(['activity_id', 'symbol', 'qty', 'price', 'at']).orderBy('at').orderBy('activity_id');
  if (opts.symbol !== undefined) q = q.where('symbol', '=', opts.symbol);
  if (opts.from !== undefined) q = q.where('at', '>=', opts.from);
  return db.all(q);
}

/** Whether the fee of this CFEE activity is recorded already. */
export function hasFee(db: Database, activityId: string): boolean {
  return db.first(db.kysely.selectFrom('fees').select('activity_id').where('activity_id', '=', activityId)) !== undefined;
}
